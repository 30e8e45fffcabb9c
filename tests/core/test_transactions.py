"""A client event applies completely or not at all; a bug of the fake is one server_error; errors keep their cause."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _core import NOW, drain, expire, make_session, next_step, send, send_text, start

from fake_server import speech
from fake_server.core.policy import DefaultPolicy
from fake_server.core.responder import Reply, ResponseContext
from fake_server.core.session import Session, SessionState
from fake_server.strategies import SchemaWalker, client_events


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def say(session: Session, text: str) -> list[dict[str, Any]]:
    return send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})


def state(session: Session) -> tuple[Any, ...]:
    """What a refused client event must leave as it was."""
    return (session.conversation(), json.dumps(session.config), session.input_audio, session.active_response,
            list(session.responses), [(r.status, r.finished) for r in session.responses])


# --- issue 12, item 4: two utterances in one append -------------------------------------------------------
TWO_UTTERANCES = (speech.synthesize("first thing") + speech.silence(600) + speech.synthesize("second thing")
                  + speech.silence(600))


def test_one_append_holding_two_utterances_answers_like_100_ms_chunks() -> None:
    whole, chunked = make_session(seed=7), make_session(seed=7)
    for session in (whole, chunked):
        start(session)
        say(session, "hi")
    at_once = send(whole, {"type": "input_audio_buffer.append", "audio": b64(TWO_UTTERANCES)})
    in_chunks: list[dict[str, Any]] = []
    for offset in range(0, len(TWO_UTTERANCES), 4800):  # 100 ms of PCM16 at 24 kHz
        in_chunks += send(chunked, {"type": "input_audio_buffer.append",
                                    "audio": b64(TWO_UTTERANCES[offset:offset + 4800])})
    assert at_once == in_chunks
    types = [e["type"] for e in at_once]
    assert types.count("input_audio_buffer.speech_started") == types.count("input_audio_buffer.speech_stopped") == 2
    assert types.count("input_audio_buffer.committed") == 2 and types.count("response.created") == 2
    # the first turn's response was running when the second turn started: its response.done is not lost
    assert [e["response"]["status"] for e in at_once if e["type"] == "response.done"] == ["cancelled"]
    assert whole.conversation() == chunked.conversation()
    assert [bytes(i.audio.get(0, b"")) for i in whole.history] == [bytes(i.audio.get(0, b"")) for i in chunked.history]
    assert drain(whole) == drain(chunked)
    said = [whole.hear(item, 0) for item in whole.history if item.role == "user" and item.audio]
    assert said == ["first thing", "second thing"]


def test_an_append_refused_half_way_changes_nothing_and_the_running_response_still_ends() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "audio": {
        "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 0, "prefix_padding_ms": 0}}}}})
    say(session, "hello")
    [created] = send(session, {"type": "response.create"})
    before = state(session)
    blip = b"\x10\x27" * 240 + speech.silence(30)  # 10 ms loud: a turn of 20 ms, too short to commit
    [error] = send(session, {"type": "input_audio_buffer.append", "event_id": "a1", "audio": b64(blip)})
    assert error["error"]["code"] == "input_audio_buffer_commit_empty" and error["error"]["event_id"] == "a1"
    assert state(session) == before  # not cancelled, nothing committed, nothing buffered
    done = [e for e in drain(session) if e["type"] == "response.done"]
    assert [(d["response"]["id"], d["response"]["status"]) for d in done] == [(created["response"]["id"], "completed")]


# --- the property: every error leaves the state as it was ---------------------------------------------------
EVENTS = client_events([t for t in SchemaWalker().event_schemas if t != "session.close"])
REFUSED: list[str] = []


@settings(max_examples=60, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(EVENTS, st.booleans()), min_size=1, max_size=12))
def test_every_client_event_answered_by_an_error_changes_nothing(steps: list[tuple[dict[str, Any], bool]]) -> None:
    session = make_session()
    say(session, "hello")
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    for event, step in steps:
        before = state(session)
        answer = send(session, event)
        if any(e["type"] == "error" for e in answer):
            REFUSED.append(answer[0]["error"]["code"])
            assert state(session) == before, (event, answer)
            assert [e["type"] for e in answer] == ["error"], answer
        if step:
            next_step(session)
    assert session.state is SessionState.OPEN


def test_the_property_saw_refusals_of_many_kinds() -> None:
    if not REFUSED:
        test_every_client_event_answered_by_an_error_changes_nothing()
    assert len(set(REFUSED)) >= 3, REFUSED


def test_a_refused_event_of_each_kind_changes_nothing() -> None:
    session = make_session()
    say(session, "hello")
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    refused = [
        {"type": "conversation.item.create", "previous_item_id": "nowhere", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}},
        {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c", "output": "o"}},
        {"type": "conversation.item.delete", "item_id": "nope"},
        {"type": "conversation.item.truncate", "item_id": session.conversation()[0]["id"], "content_index": 0,
         "audio_end_ms": 10},
        {"type": "input_audio_buffer.append", "audio": "***"},
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create"},
        {"type": "response.create", "response": {"conversation": "none", "input": [
            {"type": "item_reference", "id": "nope"}]}},
        {"type": "response.cancel", "response_id": "resp_nope"},
        {"type": "session.update", "session": {"type": "transcription"}},
    ]
    for event in refused:
        before = state(session)
        [error] = send(session, event)
        assert error["type"] == "error", (event, error)
        assert state(session) == before, event


# --- one error contract: a bug is one server_error, rolled back, reported ------------------------------------
class _BrokenSecondReply(DefaultPolicy):
    """A policy with a bug that shows on the second response."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def respond(self, context: ResponseContext) -> Reply:
        self.calls += 1
        if self.calls == 2:
            raise ZeroDivisionError("a bug in the policy")
        return super().respond(context)


def test_a_bug_half_way_through_a_client_event_is_one_server_error_and_is_rolled_back() -> None:
    failures: list[BaseException] = []
    session = make_session(script=_BrokenSecondReply())
    session.on_failure = failures.append
    start(session)
    say(session, "hello")
    send(session, {"type": "response.create"})
    before = state(session)
    # a turn: its speech start cancels the running response, its end asks the (broken) policy for a reply
    answer = send(session, {"type": "input_audio_buffer.append", "audio": b64(
        speech.synthesize("stop") + speech.silence(400))})
    assert [e["type"] for e in answer] == ["error"]
    assert answer[0]["error"]["type"] == "server_error" and session.id in answer[0]["error"]["message"]
    assert [type(f) for f in failures] == [ZeroDivisionError]
    assert state(session) == before
    assert [e["response"]["status"] for e in drain(session) if e["type"] == "response.done"] == ["completed"]
    [entry] = [e for e in session.journal.entries() if e.type == "error"]
    assert entry.cause is not None and entry.cause.rule == "server_error"
    assert entry.cause.event is not None and entry.cause.event["type"] == "input_audio_buffer.append"


def test_a_bug_inside_a_stream_is_one_server_error_and_the_session_stays_usable() -> None:
    failures: list[BaseException] = []
    session = make_session()
    session.on_failure = failures.append
    say(session, "hello")
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    stream = session.responses[0]

    def broken() -> Any:
        raise RuntimeError("a bug in a stream")

    stream.next_step = broken  # type: ignore[method-assign]
    assert session.next_deadline() == NOW  # the failure is made at once
    assert [e["error"]["type"] for e in session.events_to_send()] == ["server_error"]
    assert [type(f) for f in failures] == [RuntimeError]
    assert session.state is SessionState.OPEN and say(session, "again")[0]["type"] == "conversation.item.added"


# --- the state machine -----------------------------------------------------------------------------------
def test_a_close_request_ends_reading_and_streaming() -> None:
    session = make_session()
    start(session)
    say(session, "hello")
    send(session, {"type": "response.create"})
    assert send(session, {"type": "session.close"}) == []
    assert session.state is SessionState.CLOSING and session.close_requested is not None
    assert session.next_deadline() is None and session.advance(NOW + 10) == 0
    assert say(session, "ignored") == [] and len(session.conversation()) == 1
    session.connection_lost()
    assert session.state is SessionState.CLOSED


def test_time_drives_streams_and_expiry() -> None:
    session = make_session()
    assert session.next_deadline() == session.expires_at  # nothing streams: only expiry is ahead
    say(session, "hello")
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert session.next_deadline() == NOW
    assert session.advance(NOW, max_batches=2) == 2 and len(session.events_to_send()) >= 2
    [error] = expire(session)
    assert error["error"]["code"] == "session_expired" and session.state is SessionState.CLOSING


# --- errors recorded with their cause --------------------------------------------------------------------
def test_errors_are_journaled_with_the_frame_they_answer_and_the_rule() -> None:
    session = make_session()
    start(session)
    send(session, {"type": "conversation.item.delete", "event_id": "d1", "item_id": "nope"})
    send_text(session, "{not json")
    expire(session)
    entries = session.journal.entries()
    errors = [(position, entry) for position, entry in enumerate(entries) if entry.type == "error"]
    (delete_at, delete), (json_at, bad_json), (_, expired) = errors
    assert delete.cause is not None and delete.cause.rule == "item_delete_invalid_item_id"
    assert delete.cause.event == {"type": "conversation.item.delete", "event_id": "d1", "item_id": "nope"}
    assert entries[delete.cause.position].event is delete.cause.event and delete.cause.position < delete_at
    assert bad_json.cause is not None and (bad_json.cause.rule, bad_json.cause.raw) == ("invalid_json", "{not json")
    assert entries[bad_json.cause.position].raw == "{not json"
    assert expired.cause is not None and expired.cause.rule == "session_expired" and expired.cause.position is None
    assert all(entry.cause is None for entry in entries if entry.type != "error")


@pytest.mark.parametrize("query, rule", [("", "missing_model"), ("?model=nope", "invalid_model")])
def test_a_rejected_handshake_has_a_journal_with_its_cause(query: str, rule: str) -> None:
    from fake_server.core.handshake import HandshakeRequest, ServerPolicy, open_session
    from fake_server.protocol.ids import IdGenerator

    request = HandshakeRequest.from_target("/v1/realtime" + query, {"Authorization": "Bearer sk"})
    opening = open_session(request, ServerPolicy(), ids=IdGenerator(1), clock=lambda: NOW)
    assert opening.session is None and opening.close is not None
    [entry] = opening.journal.entries()
    assert entry.event == opening.events[0]
    assert entry.cause is not None and entry.cause.handshake and entry.cause.rule == rule

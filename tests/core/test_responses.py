"""Responses, turn detection and transcription in the sans-I/O core (FACTS §5.5-5.7)."""

from __future__ import annotations

import base64
import json
from typing import Any

import _core
from _core import NOW, drain, expire, next_due, next_step, send, start

from fake_server import speech
from fake_server.protocol.ids import IdGenerator
from fake_server.core.session import Session, SessionLimits
AUDIO_ORDER_HEAD = ["response.output_item.added", "conversation.item.added", "response.content_part.added"]
TAIL = ["response.content_part.done", "conversation.item.done", "response.output_item.done", "response.done",
        "rate_limits.updated"]


def make_session(**limits: Any) -> Session:
    return _core.make_session(3, **limits)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def collapse(names: list[str]) -> list[str]:
    """Delta runs folded to one entry, so orders can be compared exactly."""
    out: list[str] = []
    for name in names:
        if not (out and out[-1] == name and name.endswith(".delta")):
            out.append(name)
    return out


def say(session: Session, text: str) -> None:
    send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})


def text_mode(session: Session) -> None:
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})


def test_text_turn_follows_the_live_event_order() -> None:
    session = make_session()
    text_mode(session)
    say(session, "hi there")
    [created] = send(session, {"type": "response.create"})
    assert created["type"] == "response.created"
    r = created["response"]
    assert (r["status"], r["output"], r["usage"], r["conversation_id"]) == (
        "in_progress", [], None, session.conversation_id)
    assert list(r) == ["object", "id", "status", "status_details", "output", "conversation_id", "output_modalities",
                       "max_output_tokens", "audio", "usage", "metadata"]
    events = drain(session)
    assert collapse(types(events)) == [
        "response.output_item.added", "conversation.item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.done", *TAIL]
    part_added = events[2]
    assert part_added["part"] == {"type": "text", "text": ""}
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(e["obfuscation"] for e in deltas)
    text = "".join(e["delta"] for e in deltas)
    assert text == "You said: hi there"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "completed" and done["status_details"] is None
    assert done["output"][0]["content"] == [{"type": "output_text", "text": text}]
    assert session.conversation()[-1]["content"] == [{"type": "output_text", "text": text}]
    assert session.active_response is None


def test_audio_turn_streams_real_audio_that_decodes_to_the_transcript() -> None:
    session = make_session(audio_chunk_ms=50)
    say(session, "tell me a story")
    send(session, {"type": "response.create"})
    events = drain(session)
    assert collapse(types(events))[:3] == AUDIO_ORDER_HEAD
    assert collapse(types(events))[-7:] == ["response.output_audio.done", "response.output_audio_transcript.done",
                                            *TAIL]
    assert events[2]["part"] == {"type": "audio", "transcript": ""}
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == "You said: tell me a story"
    assert speech.transcribe(audio) == transcript
    assert len(audio) % 2 == 0 and len(audio) > 48 * 50
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    assert all(len(base64.b64decode(e["delta"])) <= 48 * 50 for e in deltas)
    item = session.conversation()[-1]
    assert item["content"] == [{"type": "output_audio", "transcript": transcript}]
    usage = next(e for e in events if e["type"] == "response.done")["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] == -(-len(audio) // (48 * 50))  # 20 tokens/s

    # the audio is real: truncation works against its duration
    duration = speech.duration_ms(len(audio))
    error = send(session, {"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0,
                           "audio_end_ms": int(duration) + 500})[0]["error"]
    assert error["message"] == f"Audio content of {int(duration)}ms is already shorter than {int(duration) + 500}ms"
    assert send(session, {"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0,
                          "audio_end_ms": 300})[0]["type"] == "conversation.item.truncated"
    # and the voice is now locked
    error = send(session, {"type": "session.update", "session": {"type": "realtime",
                                                                  "audio": {"output": {"voice": "echo"}}}})[0]
    assert error["error"]["code"] == "cannot_update_voice"


def test_g711_output_audio() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime",
                                                          "audio": {"output": {"format": {"type": "audio/pcmu"}}}}})
    say(session, "mu law")
    send(session, {"type": "response.create"})
    events = drain(session)
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert speech.transcribe(audio, {"type": "audio/pcmu"}) == "You said: mu law"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["audio"]["output"]["format"] == {"type": "audio/pcmu"}


def test_second_create_while_active_conflicts_with_the_live_message() -> None:
    session = make_session()
    say(session, "hello")
    [created] = send(session, {"type": "response.create"})
    [error] = send(session, {"type": "response.create", "event_id": "second"})
    rid = created["response"]["id"]
    assert error["error"] == {
        "type": "invalid_request_error", "code": "conversation_already_has_active_response",
        "message": f"Conversation already has an active response in progress: {rid}. Wait until the response is "
                   "finished before creating a new one.",
        "param": None, "event_id": "second"}
    drain(session)
    assert send(session, {"type": "response.create"})[0]["type"] == "response.created"


def test_active_until_response_done_is_handed_out() -> None:
    session = make_session()
    text_mode(session)
    say(session, "hello")
    send(session, {"type": "response.create"})
    while (step := next_step(session)) is not None:
        if any(e["type"] == "response.done" for e in step.events):
            break
        assert session.active_response is not None
    assert session.active_response is None


def test_cancel_mid_stream_closes_open_parts_with_partial_output() -> None:
    session = make_session(audio_chunk_ms=20)
    say(session, "a fairly long sentence to speak out loud")
    send(session, {"type": "response.create"})
    seen = []
    for _ in range(5):
        step = next_step(session)
        assert step is not None
        seen += step.events
    cancelled = send(session, {"type": "response.cancel"})
    assert types(cancelled) == ["response.output_audio.done", "response.output_audio_transcript.done",
                                "response.content_part.done", "conversation.item.done", "response.output_item.done",
                                "response.done", "rate_limits.updated"]
    said = "".join(e["delta"] for e in seen if e["type"] == "response.output_audio_transcript.delta")
    assert cancelled[1]["transcript"] == said
    done = cancelled[5]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert next_step(session) is None
    assert send(session, {"type": "response.cancel"})[0]["error"]["code"] == "response_cancel_not_active"


def test_function_call_round_trip() -> None:
    session = make_session()
    text_mode(session)
    send(session, {"type": "session.update", "session": {"type": "realtime", "tools": [{
        "type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                        "unit": {"type": "string", "enum": ["c", "f"]}},
                       "required": ["city"]}}]}})
    say(session, "What is the weather? Use get_weather please.")
    send(session, {"type": "response.create"})
    events = drain(session)
    assert collapse(types(events)) == [
        "response.output_item.added", "conversation.item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "conversation.item.done", "response.output_item.done",
        "response.done", "rate_limits.updated"]
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert args_done["name"] == "get_weather"
    assert json.loads(args_done["arguments"]) == {"city": "example", "unit": "c"}
    assert "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta") == (
        args_done["arguments"])
    call = session.conversation()[-1]
    assert call["type"] == "function_call" and call["status"] == "completed"
    send(session, {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": args_done["call_id"], "output": "sunny, 21C"}})
    send(session, {"type": "response.create"})
    text = "".join(e["delta"] for e in drain(session) if e["type"] == "response.output_text.delta")
    assert text == "The get_weather tool returned: sunny, 21C"


def test_out_of_band_response_runs_alongside_and_never_touches_the_conversation() -> None:
    session = make_session()
    text_mode(session)
    say(session, "first")
    first_id = session.conversation()[0]["id"]
    send(session, {"type": "response.create"})  # default conversation response, active
    [oob] = send(session, {"type": "response.create", "response": {
        "conversation": "none", "metadata": {"topic": "summary"}, "output_modalities": ["text"],
        "input": [{"type": "item_reference", "id": first_id},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "summarize"}]}]}})
    assert oob["type"] == "response.created"
    assert oob["response"]["conversation_id"] is None and oob["response"]["metadata"] == {"topic": "summary"}
    events = drain(session)
    oob_id = oob["response"]["id"]
    oob_events = [e for e in events if e.get("response_id") == oob_id or
                  e.get("response", {}).get("id") == oob_id]
    assert "conversation.item.added" not in types(oob_events)
    assert "".join(e["delta"] for e in oob_events if e["type"] == "response.output_text.delta") == (
        "You said: summarize")
    # the user item and the default response's reply; nothing from the out-of-band response
    assert [i["content"][0].get("text") for i in session.conversation()] == ["first", "You said: first"]
    error = send(session, {"type": "response.create", "response": {
        "conversation": "none", "input": [{"type": "item_reference", "id": "nope"}]}})[0]
    assert error["error"]["param"] == "response.input"
    error = send(session, {"type": "response.create", "response": {"conversation": "none", "input": [
        {"type": "function_call_output", "call_id": "call_x", "output": "1"}]}})[0]
    assert error["error"]["code"] == "invalid_tool_call_id"


def test_per_response_overrides_and_max_output_tokens() -> None:
    session = make_session()
    say(session, "a long request that needs a long answer with many many words in it")
    [created] = send(session, {"type": "response.create", "response": {
        "output_modalities": ["text"], "max_output_tokens": 3, "metadata": {"k": "v"}}})
    assert created["response"]["output_modalities"] == ["text"]
    assert created["response"]["max_output_tokens"] == 3
    done = next(e for e in drain(session) if e["type"] == "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["usage"]["output_tokens"] <= 3
    assert done["output"][0]["status"] == "incomplete"
    assert done["metadata"] == {"k": "v"}
    assert session.config["output_modalities"] == ["audio"]  # overrides do not stick


def test_usage_counts_history_and_caches_the_repeated_prefix() -> None:
    session = make_session()
    text_mode(session)
    for n in range(30):
        say(session, f"message number {n} with some words to make it count " * 2)
    send(session, {"type": "response.create"})
    first = next(e for e in drain(session) if e["type"] == "response.done")["response"]["usage"]
    assert first["input_token_details"]["cached_tokens"] == 0
    assert first["total_tokens"] == first["input_tokens"] + first["output_tokens"]
    say(session, "one more")
    send(session, {"type": "response.create"})
    second = next(e for e in drain(session) if e["type"] == "response.done")["response"]["usage"]
    cached = second["input_token_details"]["cached_tokens"]
    assert cached > 0 and cached % 64 == 0 and cached <= first["input_tokens"]
    for item in session.conversation()[:20]:
        send(session, {"type": "conversation.item.delete", "item_id": item["id"]})
    send(session, {"type": "response.create"})
    third = next(e for e in drain(session) if e["type"] == "response.done")["response"]["usage"]
    assert third["input_tokens"] < second["input_tokens"]
    assert third["input_token_details"]["cached_tokens"] < cached  # the prefix changed


def test_server_vad_turn_from_codec_audio() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                          "audio": {"input": {"transcription": {
                                                              "model": "gpt-4o-mini-transcribe"}}}}})
    stream = speech.silence(500) + speech.synthesize("what time is it") + speech.silence(600)
    events: list[dict[str, Any]] = []
    for offset in range(0, len(stream), 960):  # 20 ms chunks
        events += send(session, {"type": "input_audio_buffer.append",
                                 "audio": base64.b64encode(stream[offset:offset + 960]).decode()})
    assert types(events)[:6] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                 "input_audio_buffer.committed", "conversation.item.added",
                                 "conversation.item.done", "response.created"]
    started, stopped, committed = events[0], events[1], events[2]
    assert started["audio_start_ms"] == 200  # 500 ms of silence minus 300 ms prefix padding
    assert stopped["audio_end_ms"] > started["audio_start_ms"]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    later = drain(session)
    transcript = next(e for e in later if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert transcript["transcript"] == "what time is it" and transcript["item_id"] == committed["item_id"]
    assert "".join(e["delta"] for e in later if e["type"] == "response.output_text.delta") == (
        "You said: what time is it")


def test_speech_during_a_response_interrupts_it() -> None:
    session = make_session()
    say(session, "talk to me")
    send(session, {"type": "response.create"})
    next_step(session)
    speech_audio = speech.synthesize("stop")
    events = send(session, {"type": "input_audio_buffer.append",
                            "audio": base64.b64encode(speech_audio).decode()})
    assert events[0]["type"] == "input_audio_buffer.speech_started"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_manual_turns_with_turn_detection_off() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                          "audio": {"input": {"turn_detection": None}}}})
    audio = speech.synthesize("hello codec") + speech.silence(300)
    assert send(session, {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}) == []
    assert types(send(session, {"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"
    send(session, {"type": "response.create"})
    assert "".join(e["delta"] for e in drain(session) if e["type"] == "response.output_text.delta") == (
        "You said: hello codec")


def test_unrecognized_audio_gets_the_placeholder_and_its_transcription_fails() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                          "audio": {"input": {"turn_detection": None,
                                                                              "transcription": {"model": "whisper-1"}}}}})
    noise = bytes((i * 7919) % 251 for i in range(48 * 300))
    send(session, {"type": "input_audio_buffer.append", "audio": base64.b64encode(noise).decode()})
    send(session, {"type": "input_audio_buffer.commit"})
    send(session, {"type": "response.create"})
    events = drain(session)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == f"You said: {speech.UNRECOGNIZED}"
    [failed] = [e for e in events if e["type"].startswith("conversation.item.input_audio_transcription")]
    assert failed["type"] == "conversation.item.input_audio_transcription.failed"
    assert failed["error"] == {"type": "transcription_error", "code": "audio_unintelligible",
                               "message": "The audio could not be transcribed.", "param": None}


def test_transcription_session_transcribes_commits_and_refuses_responses() -> None:
    clock = lambda: NOW  # noqa: E731
    session = Session(model="gpt-realtime", kind="transcription", ids=IdGenerator(4, clock), clock=clock,
                      limits=SessionLimits(validate_server_events=True))
    send(session, {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
        "transcription": {"model": "gpt-4o-transcribe"}, "turn_detection": None}}}})
    send(session, {"type": "input_audio_buffer.append",
                   "audio": base64.b64encode(speech.synthesize("hello from the probe")).decode()})
    send(session, {"type": "input_audio_buffer.commit"})
    events = drain(session)
    assert collapse(types(events)) == ["conversation.item.input_audio_transcription.delta",
                                       "conversation.item.input_audio_transcription.completed"]
    assert events[-1]["transcript"] == "hello from the probe"
    assert send(session, {"type": "response.create"})[0]["error"]["param"] == "type"


def test_expiry_reports_the_live_error_and_asks_for_close_1001() -> None:
    session = make_session()
    [error] = expire(session)
    assert error["error"]["code"] == "session_expired"
    assert error["error"]["message"] == "Your session hit the maximum duration of 60 minutes."
    assert session.close_requested is not None and session.close_requested.code == 1001
    assert session.close_requested.reason == error["error"]["message"]
    assert session.expires_at == NOW + 3600


def test_pacing_spreads_steps_over_the_audio_duration() -> None:
    session = make_session(pacing=1.0, audio_chunk_ms=100)
    say(session, "pace me")
    send(session, {"type": "response.create"})
    dues = []
    while (step := next_step(session)) is not None:
        dues.append(step.due)
    assert dues[0] == NOW and dues[-1] > NOW + 0.3
    assert dues == sorted(dues)


def test_create_response_false_commits_without_answering_and_semantic_vad_detects_turns() -> None:
    for detection in ({"type": "server_vad", "create_response": False},
                      {"type": "semantic_vad", "eagerness": "high", "create_response": False}):
        session = make_session()
        send(session, {"type": "session.update", "session": {"type": "realtime",
                                                              "audio": {"input": {"turn_detection": detection}}}})
        stream = speech.synthesize("no reply please") + speech.silence(1200)
        events = send(session, {"type": "input_audio_buffer.append", "audio": base64.b64encode(stream).decode()})
        assert types(events) == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                 "input_audio_buffer.committed", "conversation.item.added",
                                 "conversation.item.done"], detection
        assert session.active_response is None and drain(session) == []


def test_truncating_assistant_audio_lowers_the_next_input_tokens() -> None:
    session = make_session()
    say(session, "say something long enough to have plenty of audio in the answer")
    send(session, {"type": "response.create"})
    drain(session)
    reply = session.conversation()[-1]
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    before = next(e for e in drain(session) if e["type"] == "response.done")["response"]["usage"]
    send(session, {"type": "conversation.item.delete", "item_id": session.conversation()[-1]["id"]})
    send(session, {"type": "conversation.item.truncate", "item_id": reply["id"], "content_index": 0,
                   "audio_end_ms": 500})
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
    after = next(e for e in drain(session) if e["type"] == "response.done")["response"]["usage"]
    assert after["input_token_details"]["audio_tokens"] == 10  # 500 ms of assistant audio at 20 tokens/s
    assert after["input_tokens"] < before["input_tokens"]


# --- streamed batches: prepared, then taken when due ---------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def paced_session(clock: _Clock, **settings: Any) -> Session:
    """A text-mode session streaming in real time on a clock the test moves."""
    session = Session(model="gpt-realtime", ids=IdGenerator(5, clock), clock=clock,
                      limits=SessionLimits(validate_server_events=True, pacing=1.0), **settings)
    start(session)
    text_mode(session)
    say(session, "one two three four five six")
    send(session, {"type": "response.create"})
    return session


def test_a_prepared_batch_is_journaled_only_when_taken() -> None:
    clock = _Clock()
    session = paced_session(clock)
    while (due := next_due(session)) is not None and due <= clock.now:
        next_step(session)
    assert due is not None and due > clock.now  # a delta waits for its time
    journaled = len(session.journal.entries())
    assert next_due(session) == due  # asking again prepares nothing new
    assert len(session.journal.entries()) == journaled  # nothing of it is recorded before it is sent
    clock.now = due
    step = next_step(session)
    assert step is not None and types(step.events) == ["response.output_text.delta"]
    [entry] = session.journal.entries()[journaled:]
    assert entry.event == step.events[0] and entry.time == due


def test_a_cancel_drops_the_batch_waiting_for_its_time() -> None:
    clock = _Clock()
    session = paced_session(clock)
    while (due := next_due(session)) is not None and due <= clock.now:
        next_step(session)
    cancelled = send(session, {"type": "response.cancel"})
    assert types(cancelled)[-2:] == ["response.done", "rate_limits.updated"]
    assert next_due(session) is None and next_step(session) is None  # no delta after response.done
    sent = [e["type"] for e in session.journal.events("server")]
    assert sent.index("response.done") == len(sent) - 2


def test_the_response_done_waiting_for_its_time_keeps_the_response_active() -> None:
    clock = _Clock()
    session = paced_session(clock)
    while (due := next_due(session)) is not None:
        step = next_step(session) if due <= clock.now else None
        if step is None:
            clock.now = due
        elif "response.done" in types(step.events):
            break
        assert session.active_response is not None
    assert session.active_response is None


def _stream_under_faults(talk: bool, **faults: Any) -> list[tuple[str, Any]]:
    """A response's events under seeded faults; with ``talk``, the client sends an item between every step."""
    from fake_server.script import Script

    session = _core.make_session(4, script=Script().inject(seed=11, **faults))
    start(session)
    text_mode(session)
    say(session, "tell me something with quite a few words in it please")
    events = send(session, {"type": "response.create"})
    while (step := next_step(session)) is not None:
        events += step.events
        if talk:
            say(session, "meanwhile")
    return [(e["type"], e.get("delta")) for e in events if e["type"].startswith(("response.", "rate_limits"))]


def test_a_streams_faults_do_not_depend_on_what_the_client_sends_meanwhile() -> None:
    quiet = _stream_under_faults(False, drop=0.2, duplicate=0.2, reorder=0.3)
    talking = _stream_under_faults(True, drop=0.2, duplicate=0.2, reorder=0.3)
    assert quiet == talking
    clean = _stream_under_faults(False)
    assert quiet != clean


def test_reorder_swaps_deltas_across_steps_and_loses_nothing() -> None:
    clean = _stream_under_faults(False)
    shuffled = _stream_under_faults(False, reorder=0.5)
    assert sorted(shuffled, key=repr) == sorted(clean, key=repr)  # the same events ...
    deltas = [d for t, d in shuffled if t == "response.output_text.delta"]
    assert deltas != [d for t, d in clean if t == "response.output_text.delta"]  # ... deltas out of order


def test_close_after_events_counts_an_event_reordered_past_its_streams_end() -> None:
    from fake_server.script import Script

    def run(seed: int, **faults: Any) -> Session:
        session = _core.make_session(4, script=Script().inject(seed=seed, reorder=0.5, **faults))
        start(session)
        text_mode(session)
        say(session, "one two three")
        send(session, {"type": "response.create"})
        drain(session)
        return session

    for seed in range(20):
        sent = len(run(seed).journal.events("server"))
        closing = run(seed, close_after_events=(sent, 4000, ""))
        assert closing.close_requested is not None and len(closing.journal.events("server")) == sent, seed
        assert run(seed, close_after_events=(sent + 1, 4000, "")).close_requested is None

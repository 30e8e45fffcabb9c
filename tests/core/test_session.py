"""The sans-I/O session against the live behaviour in FACTS (no sockets here)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from _live_verdicts import WRONG_CONTENT_TYPES

from _core import NOW, make_session, send, send_binary, send_text, start

from fake_server.core.session import Item

UNKNOWN_TYPE_TAIL = (
    "Supported values are: 'session.update', 'session.close', 'input_audio_buffer.append', "
    "'session.input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', "
    "'conversation.item.create', 'conversation.item.truncate', 'conversation.item.delete', "
    "'conversation.item.retrieve', 'response.create', and 'response.cancel'."
)


def only_error(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert [e["type"] for e in events] == ["error"], events
    return events[0]["error"]


def user_text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **extra}


def pcm(ms: int) -> str:
    return base64.b64encode(b"\x01\x00" * (24 * ms)).decode()


# ---------------------------------------------------------------- session.created / update
def test_session_created_has_the_live_shape_and_id_formats() -> None:
    session = make_session()
    [created] = start(session)
    assert list(created) == ["type", "event_id", "session"]
    assert re.fullmatch(r"event_[A-Za-z0-9]{21}", created["event_id"])
    s = created["session"]
    assert re.fullmatch(r"sess_[A-Za-z0-9]{21}", s["id"])
    assert list(s) == ["type", "object", "id", "model", "output_modalities", "instructions", "tools", "tool_choice",
                       "max_output_tokens", "tracing", "truncation", "prompt", "expires_at", "audio", "include"]
    assert s["expires_at"] == int(NOW) + 3600
    assert s["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert s["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0}


def test_transcription_session_shape() -> None:
    [created] = start(make_session(kind="transcription"))
    s = created["session"]
    assert (s["type"], s["object"]) == ("transcription", "realtime.transcription_session")
    assert list(s) == ["type", "object", "id", "expires_at", "audio", "include"]


def test_session_update_applies_present_fields_and_echoes_everything() -> None:
    session = make_session()
    [updated] = send(session, {"type": "session.update", "event_id": "evt_1", "session": {
        "type": "realtime", "instructions": "Be brief.", "audio": {"output": {"voice": "marin"},
                                                                   "input": {"turn_detection": None}}}})
    assert updated["type"] == "session.updated"
    assert "evt_1" not in json.dumps(updated)  # success events never echo the client's event_id
    s = updated["session"]
    assert s["instructions"] == "Be brief."
    assert s["audio"]["output"]["voice"] == "marin"
    assert s["audio"]["output"]["speed"] == 1.0  # untouched
    assert s["audio"]["input"]["turn_detection"] is None
    assert session.config == s


def test_session_update_fills_turn_detection_defaults() -> None:
    session = make_session()
    [updated] = send(session, {"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}})
    assert updated["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True}


@pytest.mark.parametrize(
    ("session_field", "code", "param", "message"),
    [
        ({"type": "realtime", "bogus_field": 1}, "unknown_parameter", "session.bogus_field",
         "Unknown parameter: 'session.bogus_field'."),
        ({"type": "realtime", "turn_detection": None}, "unknown_parameter", "session.turn_detection",
         "Unknown parameter: 'session.turn_detection'."),
        ({"instructions": "x"}, "missing_required_parameter", "session.type",
         "Missing required parameter: 'session.type'."),
        ({"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
         "integer_below_min_value", "session.audio.input.format.rate",
         "Invalid 'session.audio.input.format.rate': integer below minimum value. Expected a value >= 24000, "
         "but got 16000 instead."),
    ],
)
def test_rejected_session_update_changes_nothing(session_field: dict[str, Any], code: str, param: str,
                                                 message: str) -> None:
    session = make_session()
    before = json.dumps(session.config)
    error = only_error(send(session, {"type": "session.update", "event_id": "e7", "session": {
        **session_field, "instructions": "changed"} if "instructions" not in session_field else session_field}))
    assert (error["code"], error["param"], error["message"], error["event_id"]) == (code, param, message, "e7")
    assert error["type"] == "invalid_request_error"
    assert json.dumps(session.config) == before


def test_voice_is_locked_once_assistant_audio_is_present() -> None:
    session = make_session()
    session.history.items.append(Item({"id": "item_a", "type": "message", "status": "completed", "role": "assistant",
                               "content": [{"type": "output_audio", "transcript": "hi"}]}, {0: b"\0" * 4800}))
    error = only_error(send(session, {"type": "session.update", "session": {
        "type": "realtime", "audio": {"output": {"voice": "echo"}}}}))
    assert error["code"] == "cannot_update_voice"
    assert error["message"] == "Cannot update a conversation's voice if assistant audio is present."
    # same voice again is fine
    assert send(session, {"type": "session.update", "session": {
        "type": "realtime", "audio": {"output": {"voice": "alloy"}}}})[0]["type"] == "session.updated"


def test_transcription_update_on_realtime_session_is_refused() -> None:
    error = only_error(send(make_session(), {"type": "session.update", "session": {"type": "transcription"}}))
    assert error["message"] == "Passing a transcription session update event to a realtime session is not allowed."


def test_model_in_an_update_is_applied() -> None:
    # openai-agents sends its own session.model in every update, whatever model the URL named
    session = make_session()
    [updated] = send(session, {"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime-2.1"}})
    assert updated["session"]["model"] == "gpt-realtime-2.1" == session.model


# ---------------------------------------------------------------- envelope errors
def test_unknown_event_type_lists_the_accepted_types_in_live_order() -> None:
    session = make_session()
    error = only_error(send(session, {"type": "session.reset", "event_id": "r1"}))
    assert error == {"type": "invalid_request_error", "code": "invalid_value",
                     "message": f"Invalid value: 'session.reset'. {UNKNOWN_TYPE_TAIL}", "param": "type",
                     "event_id": "r1"}


def test_frame_level_errors_keep_the_session_usable() -> None:
    session = make_session()
    assert only_error(send_text(session, "{not json"))["code"] == "invalid_json"
    assert only_error(send_text(session, "{not json"))["message"].startswith(
        "Invalid event: failed to parse JSON value. ")
    binary = only_error(send_binary(session, b"\x00\x01"))
    assert (binary["code"], binary["message"]) == (
        "invalid_event", "Expected a text WebSocket message; binary frames are not supported.")
    assert only_error(send(session, {"event_id": "x"}))["message"] == "The 'type' field is missing."
    assert only_error(send_text(session, "[1, 2]"))["code"] == "invalid_event"
    assert only_error(send(session, {"type": "ping"}))["event_id"] is None
    assert [e["type"] for e in send(session, {"type": "conversation.item.create", "item": user_text("hi")})] == [
        "conversation.item.added", "conversation.item.done"]


# ---------------------------------------------------------------- conversation items
def test_history_with_correct_content_types_loads_in_order() -> None:
    session = make_session()
    items = [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "sys"}]},
        user_text("hello"),
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi there"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": pcm(50)}]},
    ]
    previous = None
    for item in items:
        added, done = send(session, {"type": "conversation.item.create", "item": item})
        assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
        assert added["previous_item_id"] == previous
        assert added["item"] == done["item"]
        assert added["item"]["status"] == "completed" and "object" not in added["item"]
        assert list(added["item"]) == ["id", "type", "status", "role", "content"]
        previous = added["item"]["id"]
    snapshot = session.conversation()
    assert [i["role"] for i in snapshot] == ["system", "user", "assistant", "user"]
    assert snapshot[3]["content"] == [{"type": "input_audio", "transcript": None}]


@pytest.mark.parametrize(("role", "part_type", "message"), WRONG_CONTENT_TYPES)
def test_wrong_content_type_per_role(role: str, part_type: str, message: str) -> None:
    session = make_session()
    error = only_error(send(session, {"type": "conversation.item.create", "event_id": "bad_1", "item": {
        "type": "message", "role": role, "content": [{"type": part_type, "text": "x"}]}}))
    assert error == {"type": "invalid_request_error", "code": "invalid_value", "message": message,
                     "param": "item.content[0].type", "event_id": "bad_1"}
    assert session.conversation() == []


def test_assistant_audio_cannot_be_seeded() -> None:
    error = only_error(send(make_session(), {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hi", "audio": None}]}}))
    assert (error["code"], error["param"]) == ("missing_required_parameter", "item.content[0].text")


def test_previous_item_id_root_existing_unknown_and_duplicates() -> None:
    session = make_session()
    send(session, {"type": "conversation.item.create", "item": user_text("a", id="msg_a")})
    send(session, {"type": "conversation.item.create", "item": user_text("c", id="msg_c")})
    added, _ = send(session, {"type": "conversation.item.create", "previous_item_id": "msg_a",
                              "item": user_text("b", id="msg_b")})
    assert added["previous_item_id"] == "msg_a"
    added, _ = send(session, {"type": "conversation.item.create", "previous_item_id": "root",
                              "item": user_text("first", id="msg_0")})
    assert added["previous_item_id"] is None
    assert [i["id"] for i in session.conversation()] == ["msg_0", "msg_a", "msg_b", "msg_c"]
    error = only_error(send(session, {"type": "conversation.item.create", "previous_item_id": "nope",
                                      "item": user_text("x")}))
    assert error["code"] == "item_create_invalid_previous_item_id"
    assert error["message"] == "Error adding item: the previous item with id 'nope' does not exist."
    added, _ = send(session, {"type": "conversation.item.create", "item": user_text("again", id="msg_c")})
    assert added["previous_item_id"] == "msg_c"  # duplicates are accepted, as live
    assert len(session.conversation()) == 5


def test_function_call_round_trip_and_unknown_call_id() -> None:
    session = make_session()
    added, _ = send(session, {"type": "conversation.item.create", "item": {
        "type": "function_call", "name": "get_weather", "arguments": "{}", "call_id": "call_1"}})
    assert added["item"]["call_id"] == "call_1"
    [ok, _] = send(session, {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1", "output": "sunny"}})
    assert ok["item"]["output"] == "sunny"
    error = only_error(send(session, {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_zzz", "output": "x"}}))
    assert (error["code"], error["message"]) == ("invalid_tool_call_id",
                                                 "Tool call ID 'call_zzz' not found in conversation.")
    missing = only_error(send(session, {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "output": "x"}}))
    assert (missing["code"], missing["param"]) == ("missing_required_parameter", "item.call_id")


def test_delete_retrieve_errors_use_live_wording() -> None:
    session = make_session()
    assert only_error(send(session, {"type": "conversation.item.delete", "item_id": "gone"}))["message"] == (
        "Error deleting item: the item with id 'gone' does not exist.")
    assert only_error(send(session, {"type": "conversation.item.retrieve", "item_id": "gone"}))["message"] == (
        "Error retrieving item: the item with id 'gone' does not exist.")
    assert only_error(send(session, {"type": "conversation.item.truncate", "item_id": "gone", "content_index": 0,
                                     "audio_end_ms": 0}))["code"] == "item_truncate_invalid_item_id"


def test_truncate_rules() -> None:
    session = make_session()
    send(session, {"type": "conversation.item.create", "item": user_text("hi", id="u1")})
    error = only_error(send(session, {"type": "conversation.item.truncate", "item_id": "u1", "content_index": 0,
                                      "audio_end_ms": 10}))
    assert (error["code"], error["message"]) == ("unsupported_content_type",
                                                 "Only model output audio messages can be truncated")
    session.history.items.append(Item({"id": "a1", "type": "message", "status": "completed", "role": "assistant",
                               "content": [{"type": "output_audio", "transcript": "hello"}]},
                              {0: b"\0" * 48 * 3700}))
    too_long = only_error(send(session, {"type": "conversation.item.truncate", "item_id": "a1", "content_index": 0,
                                         "audio_end_ms": 5000}))
    assert too_long["message"] == "Audio content of 3700ms is already shorter than 5000ms"
    [truncated] = send(session, {"type": "conversation.item.truncate", "item_id": "a1", "content_index": 0,
                                 "audio_end_ms": 1000})
    assert truncated == {"type": "conversation.item.truncated", "event_id": truncated["event_id"],
                         "item_id": "a1", "content_index": 0, "audio_end_ms": 1000}
    [retrieved] = send(session, {"type": "conversation.item.retrieve", "item_id": "a1"})
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == 48 * 1000


# ---------------------------------------------------------------- input audio
def test_commit_too_small_reports_buffered_ms_with_two_decimals() -> None:
    session = make_session()
    assert only_error(send(session, {"type": "input_audio_buffer.commit"}))["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only "
        "has 0.00ms of audio.")
    send(session, {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\0" * 2403).decode()})
    error = only_error(send(session, {"type": "input_audio_buffer.commit", "event_id": "c1"}))
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert "buffer only has 50.06ms of audio." in error["message"] and error["event_id"] == "c1"


def test_commit_then_retrieve_then_delete_the_audio_item() -> None:
    session = make_session()
    send(session, {"type": "conversation.item.create", "item": user_text("before", id="t1")})
    assert send(session, {"type": "input_audio_buffer.append", "audio": pcm(60)}) == []
    assert send(session, {"type": "input_audio_buffer.append", "audio": pcm(60)}) == []
    committed, added, done = send(session, {"type": "input_audio_buffer.commit"})
    assert committed["type"] == "input_audio_buffer.committed"
    assert list(committed) == ["type", "event_id", "previous_item_id", "item_id"]
    assert committed["previous_item_id"] == "t1" == added["previous_item_id"]
    assert added["item"] == {"id": committed["item_id"], "type": "message", "status": "completed", "role": "user",
                             "content": [{"type": "input_audio", "transcript": None}]} == done["item"]
    [retrieved] = send(session, {"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == b"\x01\x00" * 24 * 120
    assert session.input_audio_ms == 0
    [deleted] = send(session, {"type": "conversation.item.delete", "item_id": committed["item_id"]})
    assert deleted["item_id"] == committed["item_id"]
    assert [i["id"] for i in session.conversation()] == ["t1"]


def test_g711_audio_is_8_bytes_per_ms_and_clear_empties_the_buffer() -> None:
    session = make_session()
    send(session, {"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None}}}})
    send(session, {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\xff" * 800).decode()})
    assert session.input_audio_ms == 100
    assert [e["type"] for e in send(session, {"type": "input_audio_buffer.clear"})] == ["input_audio_buffer.cleared"]
    assert [e["type"] for e in send(session, {"type": "input_audio_buffer.clear"})] == ["input_audio_buffer.cleared"]
    assert only_error(send(session, {"type": "input_audio_buffer.commit"}))["code"] == "input_audio_buffer_commit_empty"


def test_bad_base64_is_a_clear_error_and_buffers_nothing() -> None:
    session = make_session()
    error = only_error(send(session, {"type": "input_audio_buffer.append", "audio": "not base64!!"}))
    assert (error["code"], error["param"]) == ("invalid_value", "audio")
    assert session.input_audio_ms == 0
    error = only_error(send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "%%%"}]}}))
    assert error["param"] == "item.content[0].audio"


def test_reset_by_deleting_every_item_leaves_an_empty_conversation() -> None:
    session = make_session()
    for text in ("one", "two", "three"):
        send(session, {"type": "conversation.item.create", "item": user_text(text)})
    send(session, {"type": "input_audio_buffer.append", "audio": pcm(200)})
    send(session, {"type": "input_audio_buffer.commit"})
    for item in session.conversation():
        assert send(session, {"type": "conversation.item.delete", "item_id": item["id"]})[0]["type"] == (
            "conversation.item.deleted")
    assert session.conversation() == []


# ---------------------------------------------------------------- responses (issue 3) and misc
def test_response_cancel_with_nothing_active() -> None:
    error = only_error(send(make_session(), {"type": "response.cancel", "event_id": "c9"}))
    assert (error["code"], error["message"], error["event_id"]) == (
        "response_cancel_not_active", "Cancellation failed: no active response found", "c9")


def test_session_close_asks_the_transport_to_close() -> None:
    session = make_session()
    assert send(session, {"type": "session.close"}) == []
    assert session.close_requested is not None and session.close_requested.code == 1000


def test_seeded_sessions_are_reproducible() -> None:
    def run() -> list[dict[str, Any]]:
        session = make_session(seed=42)
        out = start(session)
        out += send(session, {"type": "conversation.item.create", "item": user_text("x")})
        out += send(session, {"type": "nope"})
        return out

    assert run() == run()
    assert make_session(seed=1).id != make_session(seed=2).id

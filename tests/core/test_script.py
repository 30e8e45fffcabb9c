"""Scripted replies, states, errors, failures, closes, delays and quirks, on the sans-I/O core."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _core
from _bad_scripts import BAD_SCRIPTS
from _core import NOW, drain, next_step, send, start

from fake_server import script as s
from fake_server import speech
from fake_server.core.session import Session


def make_session(script: s.Script, index: int = 0, **limits: Any) -> Session:
    return _core.make_session(index, script=script, index=index, **limits)


def turn(session: Session, user: str | None = None, **response: Any) -> list[dict[str, Any]]:
    if user is not None:
        send(session, {"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}})
    first = send(session, {"type": "response.create", "event_id": "rc", **({"response": response} if response else {})})
    return first + drain(session)


def said(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] in (
        "response.output_text.delta", "response.output_audio_transcript.delta"))


def test_queue_then_fallback() -> None:
    script = s.Script().reply(s.say("first"), s.say("second"))
    session = make_session(script)
    assert said(turn(session, "a")) == "first"
    assert said(turn(session, "b")) == "second"
    assert said(turn(session, "c")) == "You said: c"  # the default responder again
    assert script.pending() == []


def test_rules_match_user_text_regex_turn_and_tool_output() -> None:
    script = s.Script()
    script.on(s.user_says("weather"), s.call("get_weather", {"city": "Oslo"}))
    script.on(s.tool_output("get_weather", contains="rain"), s.say("Take an umbrella."))
    script.on(s.user_says(re.compile(r"^bye\b")), s.say("Goodbye!"))
    script.on(s.turn(5), s.say("fifth"))
    session = make_session(script)
    events = turn(session, "What's the WEATHER like?")
    call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "Oslo"})
    send(session, {"type": "conversation.item.create", "item": {"type": "function_call_output",
                                                                "call_id": call["call_id"], "output": "rain"}})
    assert said(turn(session)) == "Take an umbrella."
    assert said(turn(session, "bye now")) == "Goodbye!"
    assert said(turn(session, "weather again")) == ""  # repeating rule: another call
    assert said(turn(session, "anything")) == "fifth"


def test_named_states_move_a_scenario_along() -> None:
    script = s.Script()
    script.on(s.always, s.say("What would you like to order?"), state="start", then_state="ordering")
    script.on(s.user_says("pizza"), s.say("One pizza. Anything else?"), state="ordering", then_state="confirm")
    script.on(s.always, s.say("Order placed."), state="confirm", then_state="done")
    session = make_session(script)
    assert said(turn(session, "hi")) == "What would you like to order?"
    assert said(turn(session, "pasta")) == "You said: pasta"  # no rule for this in "ordering"
    assert said(turn(session, "a pizza")) == "One pizza. Anything else?"
    assert said(turn(session, "no")) == "Order placed."
    assert script.state(0) == "done"


def test_per_connection_rules_and_states() -> None:
    script = s.Script()
    script.reply(s.say("only for the second connection"), connection=1)
    first, second = make_session(script, 0), make_session(script, 1)
    assert said(turn(first, "x")) == "You said: x"
    assert said(turn(second, "x")) == "only for the second connection"


def test_error_reply_answers_response_create_with_an_error_and_no_response() -> None:
    script = s.Script().reply(s.error("rate_limit_exceeded", "Slow down.", type="rate_limit_error"))
    session = make_session(script)
    events = turn(session, "x")
    assert [e["type"] for e in events] == ["error"]
    assert events[0]["error"] == {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "Slow down.",
                                  "param": None, "event_id": "rc"}
    assert session.active_response is None


@pytest.mark.parametrize(("reply", "code", "kind"), [
    (s.server_error(), None, "server_error"),
    (s.rate_limited(), "rate_limit_exceeded", "tokens"),
])
def test_failed_responses(reply: s.Reply, code: str | None, kind: str) -> None:
    session = make_session(s.Script().reply(reply))
    events = turn(session, "x")
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "failed" and done["output"] == []
    assert done["status_details"]["type"] == "failed"
    assert (done["status_details"]["error"]["code"], done["status_details"]["error"]["type"]) == (code, kind)


def test_failed_after_partial_output_and_incomplete_content_filter() -> None:
    session = make_session(s.Script().reply(s.combine(s.say("Partial answer"), s.server_error()),
                                            s.incomplete("I can't", reason="content_filter")))
    done = next(e for e in turn(session, "x") if e["type"] == "response.done")["response"]
    assert done["status"] == "failed" and len(done["output"]) == 1
    done = next(e for e in turn(session, "y") if e["type"] == "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "content_filter"}
    assert done["output"][0]["status"] == "incomplete"


def test_combine_text_then_function_call() -> None:
    session = make_session(s.Script().reply(s.combine(s.say("Let me check."), s.call("lookup", {"q": "x"}))))
    done = next(e for e in turn(session, "x", output_modalities=["text"]) if e["type"] == "response.done")
    assert [o["type"] for o in done["response"]["output"]] == ["message", "function_call"]


def test_close_instead_of_a_response_and_mid_response() -> None:
    session = make_session(s.Script().reply(s.close(1011, "internal")))
    assert turn(session, "x") == []
    closing = session.close_requested
    assert closing is not None and (closing.code, closing.reason) == (1011, "internal")

    session = make_session(s.Script().reply(s.combine(s.say("a long answer with many words"),
                                                      s.close(1006, "", after_events=4))))
    events = turn(session, "x")
    assert len(events) == 4 and events[0]["type"] == "response.created"
    assert session.close_requested is not None and session.close_requested.code == 1006
    assert next_step(session) is None


def delta_dues(session: Session, user: str, **response: Any) -> tuple[str, list[float]]:
    """What one text response says, and when each of its deltas is due (seconds after it starts)."""
    send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}})
    send(session, {"type": "response.create", "response": {"output_modalities": ["text"], **response}})
    text, dues = "", []
    while (step := next_step(session)) is not None:
        if step.events and step.events[0]["type"] == "response.output_text.delta":
            text += step.events[0]["delta"]
            dues.append(round(step.due - NOW, 3))
    return text, dues


def test_delays_move_due_times_without_pacing() -> None:
    session = make_session(s.Script().reply(s.combine(s.say("one two three"), s.delays(500, 100))))
    assert delta_dues(session, "x") == ("one two three", [0.5, 0.6, 0.7])


@pytest.mark.parametrize("script", [
    lambda: s.Script().reply(s.delays(first_delta_ms=500, per_delta_ms=100)),
    lambda: s.Script().reply(s.Reply(first_delta_delay_ms=500, delta_delay_ms=100)),
    lambda: s.parse_script_text('{"rules": [{"reply": {"delays": {"first_delta_ms": 500, "per_delta_ms": 100}}}]}'),
], ids=["builder", "Reply", "file"])
def test_delays_alone_delay_the_default_answer(script: Any) -> None:
    assert delta_dues(make_session(script()), "a b") == ("You said: a b", [0.5, 0.6, 0.7, 0.8])


def test_a_close_after_events_alone_cuts_the_default_answer() -> None:
    session = make_session(s.Script().reply(s.close(1011, "cut", after_events=3)))
    events = turn(session, "a long enough sentence", output_modalities=["text"])
    assert [e["type"] for e in events] == ["response.created", "response.output_item.added",
                                          "conversation.item.added"]
    closing = session.close_requested
    assert closing is not None and (closing.code, closing.reason) == (1011, "cut")


@pytest.mark.parametrize("value", [-1, "5", float("inf"), True])
def test_delays_and_pacing_must_be_numbers_of_0_or_more(value: Any) -> None:
    with pytest.raises(ValueError, match="first_delta_ms: expected milliseconds"):
        s.delays(first_delta_ms=value)
    with pytest.raises(ValueError, match="pacing: expected a number"):
        s.Script().pace(value)


def test_pacing_from_python_and_script_files() -> None:
    assert s.Script().pacing is None
    assert s.Script().pace(1).pacing == 1.0 and s.Script().pace(2).pace(None).pacing is None
    assert s.parse_script_text("pacing: 0.5\n", yaml=True).pacing == 0.5


BAD_CLOSE_CODES = [0, 999, 1004, 1005, 1015, 1016, 2999, 5000, 99999]
GOOD_CLOSE_CODES = [1000, 1001, 1002, 1003, 1006, 1007, 1011, 1014, 3000, 4000, 4999]


def test_close_codes_are_those_a_server_may_send_and_1006() -> None:
    for code in BAD_CLOSE_CODES + ["1011", True, None]:
        with pytest.raises(ValueError, match="expected a close code a server may send"):
            s.close(code)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a close code"):
            s.Faults(close_before_created=(code, ""))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a close code"):
            s.Faults(close_after_events=(3, code, ""))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a close code"):
            s.Script().reply(s.Reply(close=(code, "")))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a close code"):
            s.Script().on_event("session.update", s.Reply(close=(code, "")))  # type: ignore[arg-type]
    for code in GOOD_CLOSE_CODES:
        s.Script().reply(s.close(code)).inject(close_before_created=(code, ""), close_after_events=(1, code, "x"))
    with pytest.raises(ValueError, match="at most 123 bytes"):
        s.close(1000, "\u00e9" * 62)
    s.close(1000, "\u00e9" * 61 + "x")


def test_the_script_schema_and_check_close_agree_on_every_code() -> None:
    def file_accepts(code: int) -> bool:
        try:
            s.script_from_data({"faults": {"close_before_created": [code, ""]}})
        except s.ScriptFileError:
            return False
        return True

    def python_accepts(code: int) -> bool:
        try:
            s.check_close(code)
        except ValueError:
            return False
        return True

    assert [c for c in range(900, 5100) if file_accepts(c) != python_accepts(c)] == []


def test_the_script_schema_is_valid_and_lists_the_quirks() -> None:
    from jsonschema import Draft202012Validator

    from fake_server.protocol.schema import schemas_root

    schema = json.loads((schemas_root() / "script.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["quirks"]["items"]["enum"] == sorted(s.QUIRKS)


@pytest.mark.parametrize(("times", "connection"), [(0, None), ("2", None), (1.5, None), (1, -1), (1, "0")])
def test_rules_refuse_counts_that_would_never_match(times: Any, connection: Any) -> None:
    with pytest.raises(ValueError, match="times|connection"):
        s.Script().on(s.always, s.say("x"), times=times, connection=connection)


@pytest.mark.parametrize("in_file", [False, True])
def test_speak_with_given_pcm_and_write_forces_text(in_file: bool) -> None:
    pcm = speech.synthesize("custom audio")
    script = s.Script().reply(s.speak("custom audio", pcm=pcm), s.write("just text"))
    if in_file:
        script = s.script_from_data({"rules": [
            {"reply": {"speak": {"text": "custom audio", "pcm_base64": base64.b64encode(pcm).decode()}}, "times": 1},
            {"reply": {"write": "just text"}, "times": 1}]})
    session = make_session(script)
    events = turn(session, "x")
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert audio == pcm
    events = turn(session, "y")
    assert "response.output_audio.delta" not in [e["type"] for e in events]
    assert said(events) == "just text"


def test_client_event_rules_answer_with_an_error_or_a_close() -> None:
    script = s.Script()
    script.on_event("session.update", s.error("invalid_value", "No updates today.", param="session"))
    script.on_event("conversation.item.create", s.close(4000, "invalid_request_error"),
                    match={"item": {"role": "system"}})
    session = make_session(script)
    [error] = send(session, {"type": "session.update", "event_id": "u1", "session": {"type": "realtime"}})
    assert error["error"] == {"type": "invalid_request_error", "code": "invalid_value",
                              "message": "No updates today.", "param": "session", "event_id": "u1"}
    assert send(session, {"type": "session.update", "session": {"type": "realtime"}})[0]["type"] == "session.updated"
    assert len(send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "fine"}]}})) == 2
    assert send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "system", "content": [{"type": "input_text", "text": "x"}]}}) == []
    assert session.close_requested is not None and session.close_requested.code == 4000
    with pytest.raises(ValueError, match="a session.update event can only be answered with error"):
        script.on_event("session.update", s.say("no"))
    with pytest.raises(ValueError, match="expected a client event type"):
        script.on_event("session.updated", s.close())


def test_a_response_create_rule_answers_the_matching_request_with_any_reply() -> None:
    script = s.Script()
    weather = {"response": {"metadata": {"topic": "weather"}}}
    script.on_event("response.create", s.say("Sunny all week."), match=weather, times=None)
    script.on_event("response.create", s.error("invalid_value", "No jokes."), match={"response": {"metadata": {
        "topic": "jokes"}}})
    script.on_event("response.create", s.delays(first_delta_ms=250), match={"response": {"metadata": {
        "topic": "slow"}}})
    session = make_session(script)
    assert said(turn(session, "hi", metadata={"topic": "weather"})) == "Sunny all week."
    assert said(turn(session, "hi", metadata={"topic": "weather"})) == "Sunny all week."
    assert said(turn(session, "hi")) == "You said: hi"  # no metadata: not matched
    [error] = turn(session, "x", metadata={"topic": "jokes"})
    assert error["type"] == "error" and error["error"]["message"] == "No jokes."
    assert delta_dues(session, "a", metadata={"topic": "slow"}) == ("You said: a", [0.25, 0.25, 0.25])
    assert [rule.event_type for rule in script.rules] == ["response.create"] * 3


def test_quirk_text_history_answers_in_text() -> None:
    script = s.Script().quirk("text_history_answers_in_text")
    session = make_session(script)
    send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Seeded."}]}})
    events = turn(session, "and now?")
    types = [e["type"] for e in events]
    assert "response.output_audio.delta" not in types and "response.output_text.delta" in types
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["output_modalities"] == ["audio"]  # audio was requested
    assert done["output"][0]["content"][0]["type"] == "output_text"
    # without text-only assistant history the quirk does not apply
    assert "response.output_audio.delta" in [e["type"] for e in turn(make_session(script), "hi")]
    with pytest.raises(ValueError):
        script.quirk("no_such_quirk")


def fault_run(faults: s.Faults, index: int = 0) -> list[tuple[str, str]]:
    session = make_session(s.Script().inject(faults), index)
    events = start(session)
    events += turn(session, "a fairly long sentence so that there are many deltas to play with",
                   output_modalities=["text"])
    return [(e["type"], e.get("delta", "")) for e in events]


def test_faults_drop_duplicate_reorder_are_reproducible_from_the_seed() -> None:
    faults = s.Faults(seed=11, drop=0.2, duplicate=0.2, reorder=0.3)
    first, again = fault_run(faults), fault_run(faults)
    assert first == again
    clean = fault_run(s.Faults())
    assert first != clean
    assert first[0][0] == "session.created"  # never dropped
    assert fault_run(s.Faults(seed=12, drop=0.2, duplicate=0.2, reorder=0.3)) != first
    assert fault_run(faults, index=1) != first  # each connection draws its own sequence
    only_deltas = fault_run(s.Faults(seed=1, drop=1.0, types=frozenset({"response.output_text.delta"})))
    assert "response.output_text.delta" not in [t for t, _ in only_deltas] and ("response.done", "") in only_deltas


def test_close_before_session_created_and_after_n_events() -> None:
    session = make_session(s.Script().inject(close_before_created=(1011, "boom")))
    assert start(session) == []
    assert session.close_requested is not None and session.close_requested.code == 1011
    session = make_session(s.Script().inject(close_after_events=(5, 1006, "")))
    start(session)
    turn(session, "hello there", output_modalities=["text"])
    sent = [e for e in session.journal.entries() if e.direction == "server"]
    assert [e.type for e in sent] == ["session.created", "conversation.item.added", "conversation.item.done",
                                      "response.created", "response.output_item.added"]
    assert session.close_requested is not None and session.close_requested.code == 1006


def test_jitter_delays_streamed_steps_reproducibly() -> None:
    def dues(seed: int) -> list[float]:
        session = make_session(s.Script().inject(seed=seed, jitter_ms=50))
        turn(session, "x")  # drains: look at a second response's due times instead
        send(session, {"type": "response.create", "response": {"output_modalities": ["text"]}})
        out = []
        while (step := next_step(session)) is not None:
            out.append(round(step.due - NOW, 6))
        return out

    assert dues(3) == dues(3) != dues(4)
    assert all(0 <= d <= 0.05 for d in dues(3))


def test_script_files_in_json_and_yaml(tmp_path: Any) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    loaded = s.load_script(str(root / "scenarios" / "pizza_order.yaml"))
    session = make_session(loaded)
    assert said(turn(session, "hi")) == "Welcome to Pizza Place! What can I get you?"
    events = turn(session, "one pizza", output_modalities=["text"])
    assert said(events) == "Let me order that."
    call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(call["arguments"]) == {"size": "large"}
    assert "text_history_answers_in_text" in loaded.quirks

    path = tmp_path / "faulty.json"
    path.write_text(json.dumps({"faults": {"seed": 3, "drop": 1.0, "types": ["response.output_text.delta"]},
                                "rules": [{"when": {"turn": 1}, "reply": {"fail": {"code": "x", "message": "m"}}}]}))
    session = make_session(s.load_script(str(path)))
    done = next(e for e in turn(session, "x") if e["type"] == "response.done")["response"]
    assert done["status"] == "failed"


@pytest.mark.parametrize(("data", "message"), BAD_SCRIPTS)
def test_script_file_mistakes_say_where_and_what_is_expected(data: Any, message: str) -> None:
    with pytest.raises(s.ScriptFileError) as raised:
        s.script_from_data(data)
    assert str(raised.value).startswith(message)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=False) | st.text(max_size=4)
                     | st.sampled_from(["say", "(", "response.create", "session.update", "aGk="]),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                     max_leaves=8)


def _shaped(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={key: _JSON for key in keys})


_REPLY = st.one_of(_JSON, st.dictionaries(st.sampled_from(
    ["say", "speak", "call", "error", "fail", "rate_limited", "incomplete", "close", "delays"]), _JSON, max_size=1))
_SCRIPTS = st.fixed_dictionaries({}, optional={
    "rules": st.lists(_shaped(["when", "times", "connection", "state"]).flatmap(
        lambda rule: st.fixed_dictionaries({"reply": _REPLY}).map(lambda reply: {**rule, **reply})), max_size=2),
    "events": st.lists(_shaped(["event", "match", "reply", "times"]), max_size=2),
    "faults": _shaped(["seed", "drop", "close_before_created", "close_after_events", "connections"]) | _JSON,
    "pacing": st.floats(0, 5) | _JSON, "quirks": st.just(["text_history_answers_in_text"]) | _JSON,
})


@settings(max_examples=300)
@given(_SCRIPTS | _JSON)
def test_any_data_is_a_script_or_a_script_file_error(data: Any) -> None:
    try:
        s.script_from_data(data)
    except s.ScriptFileError as exc:
        assert re.match(r"^[\w\[\]. ]+: ", str(exc)), str(exc)  # starts with where


def test_the_documented_script_file_loads() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "scripting.md").read_text()
    example = docs[docs.index("```yaml\n") + len("```yaml\n"):]
    loaded = s.parse_script_text(example[:example.index("```")], yaml=True)
    assert (len(loaded.rules), loaded.pacing, loaded.faults.jitter_ms) == (4, 1.0, 50)


def test_a_server_script_file_is_restored_fresh_by_reset() -> None:
    from pathlib import Path

    from fake_server import FakeRealtimeServer

    path = str(Path(__file__).resolve().parents[2] / "scenarios" / "pizza_order.yaml")
    server = FakeRealtimeServer(script_file=path)
    first = server.script
    first.rules[0].used = 1  # as if the welcome rule had fired
    server.reset()
    assert server.script is not first and server.script.rules[0].used == 0
    assert len(server.script.rules) == len(first.rules) and server.script.quirks == first.quirks


def test_output_text_tokens_add_up_over_every_output_of_a_response() -> None:
    from fake_server.core.usage import text_tokens

    first, second = "the first message of two", "and the second one, a bit longer"
    session = make_session(s.Script().reply(s.combine(s.call("lookup", '{"q": "x"}'), s.say(first), s.say(second))))
    done = next(e for e in turn(session, "x", output_modalities=["text"]) if e["type"] == "response.done")
    usage = done["response"]["usage"]
    expected = text_tokens('{"q": "x"}') + text_tokens(first) + text_tokens(second)
    assert usage["output_token_details"]["text_tokens"] == expected == usage["output_tokens"]


@pytest.mark.parametrize("settings", [
    {"jitter_ms": float("inf")}, {"jitter_ms": float("nan")}, {"jitter_ms": -1}, {"drop": float("nan")},
    {"drop": 5}, {"reorder": -1}, {"duplicate": True},
])
def test_faults_refuse_chances_out_of_range_and_endless_jitter(settings: dict) -> None:
    with pytest.raises(ValueError):
        s.Script().inject(**settings)
    name = next(iter(settings))
    with pytest.raises(s.ScriptFileError, match=f"faults.*{name}"):
        s.script_from_data({"faults": settings})


def test_a_reply_function_that_returns_no_reply_is_named() -> None:
    script = s.Script()
    script.on(s.always, lambda context: "hello")
    with pytest.raises(TypeError, match="reply function returned 'hello', not a Reply"):
        script.respond(s.ResponseContext(items=[], instructions="", tools=[], tool_choice="auto",
                                       output_modalities=["text"]))


def test_the_script_package_exports_every_name_of_its_rooms() -> None:
    """``fake_server.script`` is a package (replies, rules, files) that shows one face: every public name is
    there, the core's reply types too, and the facts it re-exports are the protocol's and the core's."""
    from fake_server.core.faults import Faults
    from fake_server.core.responder import Reply, ResponseContext
    from fake_server.protocol.wire import CLOSE_CODES, check_close
    from fake_server.script import files, replies, rules

    for name in s.__all__:
        assert getattr(s, name) is not None, name
    for room in (replies, rules, files):
        assert set(room.__all__) - {"check_event_type"} <= set(s.__all__), room.__name__
    assert (s.Faults, s.check_close, s.CLOSE_CODES) == (Faults, check_close, CLOSE_CODES)
    assert (s.Reply, s.ResponseContext) == (Reply, ResponseContext)
    assert s.say("hi") == replies.say("hi") and s.Script is rules.Script and s.load_script is files.load_script


def test_yaml_is_read_by_the_script_files_module_only() -> None:
    import ast
    from pathlib import Path

    package = Path(s.__file__).resolve().parents[1]
    readers = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "yaml" for name in names):
                readers.append(path.relative_to(package).as_posix())
    assert readers == ["script/files.py"]

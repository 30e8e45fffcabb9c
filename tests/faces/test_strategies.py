"""The properties of issue 5, proven over the sans-I/O core with ``fake_server.strategies``."""

from __future__ import annotations

import base64
import copy
import inspect
import itertools
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest
from _core import drain, make_session, send
from _live_verdicts import WRONG_CONTENT_TYPES
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

from fake_server.protocol.schema import Schemas, load_schemas, schemas_root
from fake_server.strategies import (
    History,
    InvalidEvent,
    SchemaWalker,
    ServerStream,
    SessionMachine,
    client_events,
    histories,
    invalid_events,
    invalid_items,
    server_streams,
    unknown_event_types,
)
from fake_server.strategies._invalid import (
    EVENT_KINDS,
    ITEM_KINDS,
    NEVER_VALID_AFTER_A_HISTORY,
    wrong_part_type_error,
)


def quick(examples: int) -> settings:
    """Deterministic and quick: the suite's budget for these properties is a few seconds each."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load(history: History) -> Any:
    session = make_session()
    for event, previous in zip(history.events(), history.previous or [None] * len(history)):
        answer = send(session, event)
        assert [e["type"] for e in answer] == ["conversation.item.added", "conversation.item.done"], answer
        if history.previous:
            assert answer[0]["previous_item_id"] == previous
    return session


def state(session: Any) -> tuple[Any, ...]:
    return (session.conversation(), json.dumps(session.config), bytes(session.input_audio), session.active_response)


# --- histories ---------------------------------------------------------------------------------
@quick(60)
@given(histories())
def test_the_fake_accepts_every_history_and_its_snapshot_is_the_history(history: History) -> None:
    session = load(history)
    assert session.conversation() == history.snapshot()
    assert history.matches(session.conversation())


@quick(30)
@given(histories(ids=False, max_items=5))
def test_histories_without_client_ids_match_whatever_ids_the_server_gave(history: History) -> None:
    session = load(history)
    assert history.matches(session.conversation(), ids=False)
    assert all(item["id"].startswith("item_") for item in session.conversation())


@quick(60)
@given(histories(roles=("user",), audio=False, tool_calls=False, min_items=2, max_items=4, extras=False))
def test_history_options_are_obeyed(history: History) -> None:
    assert 2 <= len(history) <= 4
    for item in history.items:
        assert item["role"] == "user" and set(item) == {"id", "type", "role", "content"}
        assert {part["type"] for part in item["content"]} == {"input_text"}


@quick(60)
@given(histories(any_order=True, min_items=3))
def test_out_of_order_loads_use_previous_item_id_and_keep_tool_outputs_after_their_calls(history: History) -> None:
    sent = [event["item"]["id"] for event in history.events()]
    for index, item in enumerate(history.items):
        if item["type"] == "function_call_output":
            call = next(i for i in history.items if i["type"] == "function_call" and i["call_id"] == item["call_id"])
            assert sent.index(call["id"]) < sent.index(item["id"])
    assert sorted(sent) == sorted(history.item_ids())


@quick(10)
@given(histories(min_items=1))
def test_a_wrong_history_does_not_match(history: History) -> None:
    snapshot = history.snapshot()
    snapshot[0]["status"] = "incomplete"
    assert not history.matches(snapshot)
    assert not history.matches(history.snapshot()[1:] if len(history) > 1 else [])


def test_histories_reject_impossible_options() -> None:
    with pytest.raises(ValueError):
        histories(roles=("tool",)).example()
    with pytest.raises(ValueError):
        histories(min_items=3, max_items=2).example()
    with pytest.raises(ValueError, match="even"):  # tool calls only: a call and its output, so an even count
        histories(roles=(), min_items=3, max_items=3)


@pytest.mark.parametrize(("low", "high", "sizes"), [(4, 4, {4}), (3, 5, {4}), (1, 6, {2, 4, 6}), (0, 1, {0})])
def test_tool_call_only_histories_obey_min_items(low: int, high: int, sizes: set[int]) -> None:
    seen: set[int] = set()

    @quick(20)
    @given(histories(roles=(), min_items=low, max_items=high))
    def pairs(history: History) -> None:
        assert {item["type"] for item in history.items} <= {"function_call", "function_call_output"}
        seen.add(len(history))

    pairs()
    assert seen == sizes


def test_chat_messages_are_the_chat_completions_shape() -> None:
    history = History(
        items=({"id": "msg_001", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
               {"id": "fc_002", "type": "function_call", "name": "f", "call_id": "c1", "arguments": "{}"},
               {"id": "fco_003", "type": "function_call_output", "call_id": "c1", "output": "ok"}),
        load=(), previous=(), expected=())
    assert history.chat_messages() == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]


# --- invalid events --------------------------------------------------------------------------------
def check_rejected(case: InvalidEvent) -> None:
    session = load(case.history)
    for event in case.setup:
        assert all(e["type"] != "error" for e in send(session, event))
    before = state(session)
    answer = send(session, case.event)
    assert answer == [{"type": "error", "event_id": answer[0]["event_id"], "error": case.error.body()}], (case, answer)
    assert drain(session) == []
    assert state(session) == before


def check_base_accepted(case: InvalidEvent) -> None:
    """The event with its break undone is accepted in the same state: the case breaks exactly one rule."""
    assert case.base is not None and case.base != case.event
    session = load(case.history)
    for event in case.setup:
        send(session, event)
    answer = send(session, case.base)
    assert [e for e in answer if e["type"] == "error"] == [], (case, case.base, answer)


def rule_kind(case: InvalidEvent) -> str:
    """The sort of schema rule a case breaks; ``nested`` when the field is not at the top of the event."""
    if case.broken.endswith(" at type"):
        return "event type"
    param = case.error.param or ""
    if param.startswith("item.content[") and param.endswith("].type"):
        return f"{case.error.rule} (part type)"
    return case.error.rule + (" (nested)" if "." in param or "[" in param else "")


#: The kinds where undoing the break always gives an event the state accepts (``base``).
ALWAYS_A_BASE = ("schema", "item_schema", "wrong_part_type", "dangling_previous", "bad_audio", "append")


@pytest.mark.parametrize("kind", ITEM_KINDS + EVENT_KINDS)
def test_the_fake_rejects_every_invalid_event_with_exactly_the_attached_error(kind: str) -> None:
    """Each kind, and each case breaks one rule only: its ``base`` is accepted, or it has none because no
    single change makes it valid in that state; a truncate of a non-audio item names one of its parts."""

    @quick(12)
    @given(invalid_events(kinds=(kind,), max_items=3))
    def rejected(case: InvalidEvent) -> None:
        assert case.kind == kind
        check_rejected(case)
        if case.base is not None:
            check_base_accepted(case)
        else:
            assert kind not in ALWAYS_A_BASE and (kind != "unknown_call" or not case.history.call_ids())
        if kind == "truncate_not_audio":
            item = next(i for i in case.history.items if i.get("id") == case.event["item_id"])
            assert case.event["content_index"] < max(1, len(item.get("content", ())))

    rejected()


def test_invalid_events_offer_every_kind_by_default() -> None:
    """The kind is drawn first, among all of them (the item kinds too, not one ``item`` in nine)."""
    assert inspect.signature(invalid_events).parameters["kinds"].default == ITEM_KINDS + EVENT_KINDS
    assert inspect.signature(invalid_items).parameters["kinds"].default == ITEM_KINDS
    with pytest.raises(ValueError):
        invalid_events(kinds=("nope",))
    with pytest.raises(ValueError):
        invalid_items(kinds=("schema",))  # an event kind, not an item kind
    with pytest.raises(ValueError):
        invalid_events(kinds=("truncate_not_audio",), ids=False)  # no item to truncate


@quick(60)
@given(invalid_items(max_items=3))
def test_the_fake_rejects_every_invalid_item_with_exactly_the_attached_error(case: InvalidEvent) -> None:
    assert case.event["type"] == "conversation.item.create" and case.kind in ITEM_KINDS
    check_rejected(case)


@quick(20)
@given(invalid_events(kinds=("item",), max_items=3))
def test_the_item_kind_is_every_item_kind(case: InvalidEvent) -> None:
    assert case.kind in ITEM_KINDS


def test_item_schema_breaks_cover_every_sort_of_rule() -> None:
    seen: set[str] = set()

    @quick(60)
    @given(invalid_items(kinds=("item_schema",), max_items=3))
    def rejected(case: InvalidEvent) -> None:
        check_rejected(case)
        seen.add(rule_kind(case))

    rejected()
    # Drawn by sort of rule, then place: an unknown field and a bad enum that is not a part type come up.
    assert {"unknown_parameter (nested)", "invalid_value (nested)", "invalid_type (nested)"} <= seen, seen


def test_schema_breaks_cover_every_sort_of_rule() -> None:
    kinds: list[str] = []

    @quick(100)
    @given(invalid_events(kinds=("schema",), max_items=3))
    def rejected(case: InvalidEvent) -> None:
        check_rejected(case)
        check_base_accepted(case)
        kinds.append(rule_kind(case))

    rejected()
    assert {"event type", "unknown_parameter", "invalid_value (nested)", "invalid_type"} <= set(kinds), kinds
    # Sort of rule first, then place: the event's own type no longer takes most breaks (it took 64% when
    # drawn from the list of places), and bad enums deep in an event come up (they were under 1%).
    assert kinds.count("event type") < 0.35 * len(kinds) and kinds.count("invalid_value (nested)") > 0.08 * len(kinds)


def test_schema_breaks_are_of_events_valid_in_the_history() -> None:
    """Deletes and retrieves name an item there, tool outputs a call there, a commit has audio enough;
    a truncate (no assistant audio in a history) and a cancel (no response) are never the base."""
    items = ({"id": "msg_001", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
             {"id": "fc_002", "type": "function_call", "name": "f", "call_id": "c1", "arguments": "{}"})
    history = History(items=items, load=tuple({"type": "conversation.item.create", "item": i} for i in items),
                      previous=(None, "msg_001"), expected=tuple({**i, "status": "completed"} for i in items))
    types: set[str] = set()

    @quick(80)
    @given(invalid_events(history, kinds=("schema",)))
    def valid_base(case: InvalidEvent) -> None:
        base = case.base
        assert base is not None
        types.add(base["type"])
        if base["type"] in ("conversation.item.delete", "conversation.item.retrieve"):
            assert base["item_id"] in ("msg_001", "fc_002")
        if base["type"] == "conversation.item.create" and base["item"]["type"] == "function_call_output":
            assert base["item"]["call_id"] == "c1"
        check_base_accepted(case)

    valid_base()
    assert not types & set(NEVER_VALID_AFTER_A_HISTORY)
    assert {"conversation.item.delete", "conversation.item.retrieve", "input_audio_buffer.commit"} <= types, types


@pytest.mark.parametrize(("role", "part_type", "message"), WRONG_CONTENT_TYPES)
def test_wrong_part_types_carry_the_live_verdict_table_wording(role: str, part_type: str, message: str) -> None:
    """The expected errors are built from the schema and the rules table; FACTS §5.3 has the live texts."""
    event = {"type": "conversation.item.create", "event_id": "e1", "item": {
        "type": "message", "role": role, "content": [{"type": part_type, "text": "hi"}]}}
    assert wrong_part_type_error(role, part_type, 0, event).body() == {
        "type": "invalid_request_error", "code": "invalid_value", "message": message,
        "param": "item.content[0].type", "event_id": "e1"}


def test_breakages_cover_every_kind_of_schema_rule() -> None:
    walker = SchemaWalker()
    rules: set[str] = set()
    for event_type in walker.event_schemas:
        @quick(40)
        @given(walker.event_strategy(event_type))
        def each(event: dict[str, Any]) -> None:
            rules.update(b.rule for b in walker.breakages(event))

        each()
    assert {"missing_type", "missing_required_parameter", "unknown_parameter", "invalid_value", "invalid_type",
            "integer_below_min_value", "integer_above_max_value", "decimal_below_min_value",
            "string_above_max_length"} <= rules


# --- valid client events from the schemas --------------------------------------------------------
@quick(300)
@given(client_events())
def test_generated_client_events_satisfy_the_schemas(event: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = load_schemas()
    schemas.validate_client_event(event)  # the fake's compiled validator: raises the live error otherwise
    registry = Registry().with_resources((uri, Resource.from_contents(doc)) for uri, doc in schemas.documents.items())
    Draft202012Validator(schemas.document("client_events.json"), registry=registry).validate(event)


@quick(40)
@given(client_events())
def test_the_fake_answers_every_schema_valid_event_with_schema_valid_events(event: dict[str, Any]) -> None:
    """Whatever it answers (an error for a state it does not like, too), every server event matches schemas/."""
    session = make_session()  # checks every server event it emits against schemas/
    send(session, event)
    drain(session)


def test_regression_transcription_without_a_model_is_echoed_with_a_null_model() -> None:
    """Found by the property above: the client schema lets ``transcription`` leave out ``model``; the
    echo then says ``model: null`` (unset fields are null), which the server schema used to refuse."""
    session = make_session()
    [updated] = send(session, {"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"transcription": {"language": "en"}}}}})
    assert updated["session"]["audio"]["input"]["transcription"] == {"model": None, "language": "en", "prompt": None}


def test_regression_noise_reduction_without_a_type_is_echoed_as_set() -> None:
    """Found by the same property: ``noise_reduction: {}`` is a valid client setting (``type`` is optional in
    the spec) and is echoed as set; the server schema used to require ``type``."""
    session = make_session()
    [updated] = send(session, {"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"noise_reduction": {}}}}})
    assert updated["session"]["audio"]["input"]["noise_reduction"] == {}


def test_regression_negative_vad_durations_are_refused() -> None:
    """Found by the same property: a negative ``prefix_padding_ms`` was accepted (and echoed where the server
    schema says >= 0). Now it is refused like any value below a minimum, and nothing changes."""
    session = make_session()
    before = state(session)
    [error] = send(session, {"type": "session.update", "event_id": "u1", "session": {
        "type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "prefix_padding_ms": -1}}}}})
    path = "session.audio.input.turn_detection.prefix_padding_ms"
    assert error["error"] == {"type": "invalid_request_error", "code": "integer_below_min_value", "message":
                              f"Invalid '{path}': integer below minimum value. Expected a value >= 0, but got -1 "
                              "instead.", "param": path, "event_id": "u1"}
    assert state(session) == before


def test_every_client_event_type_is_generated() -> None:
    seen: set[str] = set()

    @quick(300)
    @given(client_events())
    def collect(event: dict[str, Any]) -> None:
        seen.add(event["type"])

    collect()
    assert seen == set(load_schemas().client_event_types)


def test_a_field_added_to_a_schema_is_generated_and_broken_without_new_code(tmp_path: Path) -> None:
    shutil.copytree(schemas_root(), tmp_path / "schemas")
    path = tmp_path / "schemas" / "ga" / "client" / "response.cancel.json"
    doc = json.loads(path.read_text())
    doc["properties"]["priority"] = {"type": "string", "enum": ["low", "high"]}
    doc["required"].append("priority")
    path.write_text(json.dumps(doc))
    walker = SchemaWalker(Schemas(root=tmp_path / "schemas"))

    @quick(30)
    @given(client_events(["response.cancel"], walker=walker))
    def generated(event: dict[str, Any]) -> None:
        assert event["priority"] in ("low", "high")
        walker.schemas.validate_client_event(event)
        by_path = {(b.rule, b.fields["path"]) for b in walker.breakages(event)}
        assert ("missing_required_parameter", "priority") in by_path
        assert ("invalid_value", "priority") in by_path

    generated()


def test_client_events_refuse_unknown_types() -> None:
    with pytest.raises(ValueError):
        client_events(["ping"])


# --- server streams ------------------------------------------------------------------------------
def live_order(outputs: list[tuple[str, bool]], in_conversation: bool) -> list[str]:
    """The live GA order of one response's events (FACTS §5.6), for outputs ``(kind, with deltas)`` where kind
    is ``audio``, ``text`` or ``function_call``; ``deltas`` stands for a run of delta events (audio and
    transcript deltas interleave)."""
    order = ["response.created"]
    for kind, deltas in outputs:
        order += ["response.output_item.added"] + ["conversation.item.added"] * in_conversation
        if kind != "function_call":
            order.append("response.content_part.added")
        order += ["deltas"] * deltas
        order += {"audio": ["response.output_audio.done", "response.output_audio_transcript.done",
                            "response.content_part.done"],
                  "text": ["response.output_text.done", "response.content_part.done"],
                  "function_call": ["response.function_call_arguments.done"]}[kind]
        order += ["conversation.item.done"] * in_conversation + ["response.output_item.done"]
    return order + ["response.done"]


def check_live_order(events: list[dict[str, Any]], outputs: list[tuple[str, str, bool]], in_conversation: bool,
                     ) -> None:
    """``events`` (one response's, noise left out) are in the live order, each output's events name its item
    and index. ``outputs``: ``(item_id, kind, with deltas)``."""
    collapsed: list[str] = []
    for event in events:
        kind = "deltas" if event["type"].endswith(".delta") else event["type"]
        if not (kind == "deltas" and collapsed[-1:] == ["deltas"]):
            collapsed.append(kind)
    assert collapsed == live_order([(kind, deltas) for _, kind, deltas in outputs], in_conversation)
    index = -1
    for event in events[1:-1]:
        index += event["type"] == "response.output_item.added"
        item_id = event["item"]["id"] if "item" in event else event["item_id"]
        assert item_id == outputs[index][0], (index, event)
        assert event.get("output_index", index) == index and event.get("content_index", 0) == 0, (index, event)


@quick(40)
@given(server_streams(max_responses=2))
def test_server_streams_validate_and_keep_the_live_order(stream: ServerStream) -> None:
    schemas = load_schemas()
    for event in stream.known_events():
        schemas.check_server_event(event)
    known = [e for e in stream.known_events() if e["type"] not in ("rate_limits.updated", "error")]
    for outcome in stream.responses:
        mine = [e for e in known if outcome.response_id in (e.get("response_id"), e.get("response", {}).get("id"))
                or e["type"].startswith("conversation.item.") and e["item"]["id"] in
                {o.item_id for o in outcome.outputs}]
        check_live_order(mine, [(o.item_id, o.kind, bool(o.text or o.audio)) for o in outcome.outputs],
                         outcome.in_conversation)
        assert mine[-1]["response"]["status"] == outcome.status
        for output in outcome.outputs:
            deltas = [e for e in mine if e.get("item_id") == output.item_id and e["type"].endswith(".delta")]
            text = "".join(e["delta"] for e in deltas if e["type"] != "response.output_audio.delta")
            assert text == output.text
            audio = b"".join(base64.b64decode(e["delta"]) for e in deltas if e["type"] == "response.output_audio.delta")
            assert audio == output.audio
            done = next(e for e in mine
                        if e["type"] == "response.output_item.done" and e["item"]["id"] == output.item_id)
            assert done["item"]["status"] == output.status
    assert [e["error"] for e in stream.events if e["type"] == "error"] == list(stream.errors)


@pytest.mark.parametrize("modality", ["audio", "text"])
@pytest.mark.parametrize("in_conversation", [True, False])
def test_the_fakes_own_responses_keep_the_same_live_order(modality: str, in_conversation: bool) -> None:
    """The order the streams are checked against is the order the fake itself streams (a message, then a call)."""
    from fake_server.script import Script, call, combine, say

    session = make_session(script=Script().reply(combine(say("Let me look that up."), call("lookup", {"q": "x"}))))
    request: dict[str, Any] = {"output_modalities": [modality]}
    if not in_conversation:
        request["conversation"] = "none"
    events = [e for e in send(session, {"type": "response.create", "response": request}) + drain(session)
              if e["type"] != "rate_limits.updated"]
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call"]
    check_live_order(events, [(output[0]["id"], modality, True), (output[1]["id"], "function_call", True)],
                     in_conversation)


def test_unknown_event_types_are_never_documented_ones() -> None:
    server = [path.name.removesuffix(".json") for path in (schemas_root() / "ga" / "server").iterdir()]
    documented = set(server) | set(load_schemas().client_event_types)
    seen: set[str] = set()

    @quick(200)
    @given(unknown_event_types())
    def unknown(event_type: str) -> None:
        assert event_type not in documented
        seen.add(event_type)

    unknown()
    # Many are close to documented ones (a documented prefix, a documented ending), as new event types are.
    prefixes, endings = {d.rsplit(".", 1)[0] for d in documented}, {d.rsplit(".", 1)[-1] for d in documented}
    assert sum(t.rsplit(".", 1)[0] in prefixes and t.rsplit(".", 1)[1] in endings for t in seen) > len(seen) / 4


def test_server_stream_options_turn_the_noise_off() -> None:
    @quick(40)
    @given(server_streams(rate_limits=False, errors=False, unknown_events=False, modalities=("text",),
                          tool_calls=False))
    def quiet(stream: ServerStream) -> None:
        types = {e["type"] for e in stream.events}
        assert not stream.unknown_types and not stream.errors
        assert "response.output_audio.delta" not in types and "response.function_call_arguments.delta" not in types
        assert all(t.startswith(("response.", "conversation.", "rate_limits.")) for t in types)

    quiet()


def test_server_streams_carry_unknown_types_errors_and_extra_rate_limits() -> None:
    seen: dict[str, int] = {"unknown": 0, "error": 0, "cancelled": 0, "failed": 0, "interleaved": 0}

    @quick(100)
    @given(server_streams())
    def collect(stream: ServerStream) -> None:
        seen["unknown"] += bool(stream.unknown_types)
        seen["error"] += bool(stream.errors)
        seen["cancelled"] += any(o.status == "cancelled" for o in stream.responses)
        seen["failed"] += any(o.status == "failed" for o in stream.responses)
        types = [e["type"] for e in stream.events]
        seen["interleaved"] += any(a == "response.output_audio_transcript.delta" and b == "response.output_audio.delta"
                                   for a, b in itertools.pairwise(types))

    collect()
    assert all(count > 0 for count in seen.values()), seen


# --- the stateful model ----------------------------------------------------------------------------
#: The paths the machine must reach in a run: each success, and schema breaks of events valid where they are sent.
MACHINE_PATHS = ("commit: committed", "commit: too short", "truncate: truncated", "truncate: too long",
                 "truncate: not assistant audio", "truncate: unknown id", "retrieve: message user with audio",
                 "delete: deleted", "cancel: cancelled", "invalid: schema break")


def reached(outcomes: Counter[str], path: str) -> int:
    return sum(count for outcome, count in outcomes.items() if outcome.startswith(path))


def test_the_state_machine_finds_no_divergence_over_the_core() -> None:
    class Counted(SessionMachine):
        outcomes: ClassVar[Counter[str]] = Counter()

    run_state_machine_as_test(Counted, settings=settings(
        max_examples=60, stateful_step_count=30, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
    outcomes = Counted.outcomes
    assert all(reached(outcomes, path) for path in MACHINE_PATHS), outcomes
    assert reached(outcomes, "retrieve: ") > reached(outcomes, "retrieve: unknown id"), outcomes
    assert reached(outcomes, "truncate: schema break") and reached(outcomes, "cancel: schema break"), outcomes


def wrong_committed_item(key: str, value: str) -> Any:
    """``Session._commit`` with one field of the committed item wrong (in the conversation and the events)."""
    from fake_server.core.session import Session

    commit = Session._commit

    def wrong(self: Session, item_id: str | None = None) -> list[dict[str, Any]]:
        events = commit(self, item_id)
        self.history.get(events[0]["item_id"]).data[key] = value
        for event in events[1:]:
            event["item"][key] = value
        return events

    return "_commit", wrong


def wrong_truncated_event(key: str, change: Any) -> Any:
    """``Session._item_truncate`` that truncates right but says something else in its event."""
    from fake_server.core.session import Session

    truncate = Session._item_truncate

    def wrong(self: Session, event: dict[str, Any]) -> list[dict[str, Any]]:
        events = truncate(self, event)
        events[0][key] = change(events[0][key])
        return events

    return "_item_truncate", wrong


def truncate_keeping_the_audio() -> Any:
    """``Session._item_truncate`` that answers right but keeps all the audio."""
    from fake_server.core.session import Session

    truncate = Session._item_truncate

    def wrong(self: Session, event: dict[str, Any]) -> list[dict[str, Any]]:
        item = self.history.get(event["item_id"])
        audio = dict(item.audio) if item is not None else {}
        events = truncate(self, event)
        if item is not None:
            item.audio.update(audio)
        return events

    return "_item_truncate", wrong


def commit_dropping_a_sample() -> Any:
    """``Session._commit`` whose item loses the last sample of the buffer."""
    from fake_server.core.session import Session

    commit = Session._commit

    def wrong(self: Session, item_id: str | None = None) -> list[dict[str, Any]]:
        events = commit(self, item_id)
        item = self.history.get(events[0]["item_id"])
        item.audio[0] = item.audio[0][:-2]
        return events

    return "_commit", wrong


@pytest.mark.parametrize("bug", [
    pytest.param(lambda: wrong_committed_item("role", "WRONG"), id="committed role WRONG"),
    pytest.param(lambda: wrong_committed_item("status", "incomplete"), id="committed status incomplete"),
    pytest.param(lambda: wrong_committed_item("type", "function_call"), id="committed type function_call"),
    pytest.param(commit_dropping_a_sample, id="committed audio short of a sample"),
    pytest.param(lambda: wrong_truncated_event("audio_end_ms", lambda ms: ms + 1), id="truncated audio_end_ms + 1"),
    pytest.param(lambda: wrong_truncated_event("item_id", lambda _: "item_other"), id="truncated another item_id"),
    pytest.param(truncate_keeping_the_audio, id="truncate keeps the audio"),
])
def test_the_state_machine_catches_a_broken_fake(monkeypatch: pytest.MonkeyPatch, bug: Any) -> None:
    """A fake with one of these bugs fails the machine over the core. The server events are not checked
    against the schemas here (a role ``WRONG`` would fail that check first): the machine's model alone judges."""
    from fake_server.protocol.schema import ServerEventError
    from fake_server.core.session import Session
    from fake_server.strategies import CoreDriver

    monkeypatch.setattr(Session, *bug())

    class Unchecked(SessionMachine):
        def make_driver(self) -> CoreDriver:
            return CoreDriver(validate=False)

    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(Unchecked, settings=settings(
            max_examples=60, stateful_step_count=30, derandomize=True, database=None, deadline=None,
            phases=[Phase.generate], report_multiple_bugs=False))
    assert not isinstance(failure.value, ServerEventError)


def test_the_state_machine_catches_a_divergence() -> None:
    """A fake that appends every item, whatever its ``previous_item_id``, must fail the machine
    (the reference model is not a mirror of the fake)."""
    from fake_server.strategies import CoreDriver

    class AppendingDriver(CoreDriver):
        def send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
            if event.get("type") == "conversation.item.create" and event.get("previous_item_id") != "nowhere":
                event = {k: v for k, v in event.items() if k != "previous_item_id"}
            return super().send(event)

    class Appending(SessionMachine):
        def make_driver(self) -> CoreDriver:
            return AppendingDriver()

    with pytest.raises(AssertionError):
        run_state_machine_as_test(Appending, settings=settings(
            max_examples=50, stateful_step_count=20, derandomize=True, database=None, deadline=None,
            phases=[Phase.generate], report_multiple_bugs=False))


# --- playing a stream, and the import boundary ----------------------------------------------------
@quick(5)
@given(server_streams(max_responses=1))
def test_a_session_plays_given_events_instead_of_its_answer_and_changes_nothing(stream: ServerStream) -> None:
    session = make_session()
    session.play(stream.events)
    before = state(session)
    assert send(session, {"type": "response.create"}) == list(stream.events)
    assert state(session) == before and session.responses == []
    assert [e["type"] for e in send(session, {"type": "response.create"})] == ["response.created"]


def test_a_play_waits_for_its_event_type() -> None:
    session = make_session()
    session.play([{"type": "x.future_event", "event_id": "event_1"}], on="input_audio_buffer.clear")
    assert [e["type"] for e in send(session, {"type": "response.cancel"})] == ["error"]
    assert send(session, {"type": "input_audio_buffer.clear"}) == [{"type": "x.future_event", "event_id": "event_1"}]
    assert [e["type"] for e in send(session, {"type": "input_audio_buffer.clear"})] == ["input_audio_buffer.cleared"]


def test_the_readme_example_is_the_property_based_howto_test() -> None:
    """README.md's section shows tests/examples/test_howto_property_based.py word for word (imports and
    test), between "Recorded scenarios" and "What happened on the wire", and links docs/strategies.md."""
    root = Path(__file__).resolve().parents[2]
    body = (root / "tests" / "examples" / "test_howto_property_based.py").read_text()
    example = body[body.index("from hypothesis import"):].strip()
    readme = (root / "README.md").read_text()
    start = readme.index("## Property-based tests: `fake_server.strategies`")
    assert readme.index("## Recorded scenarios") < start < readme.index("## What happened on the wire")
    section = readme[start:readme.index("## What happened on the wire")]
    assert f"```python\n{example}\n```" in section
    assert "](docs/strategies.md)" in section


def test_importing_fake_server_does_not_import_hypothesis() -> None:
    code = "import sys, fake_server, fake_server.pytest_plugin; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_is_small_and_documented() -> None:
    from fake_server import strategies

    for name in strategies.__all__:
        assert getattr(strategies, name).__doc__, name
    assert copy.copy(strategies.__all__) == strategies.__all__

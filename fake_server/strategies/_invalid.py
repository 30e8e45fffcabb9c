"""Invalid client events, each breaking exactly one rule, each carrying the live error.

The expected error is filled in from the rules table (:data:`fake_server.protocol.rules.ERRORS`)
and the facts behind it (FACTS §5.3, §5.6, §8): which rule is broken decides the row, the
broken value fills the template. Nothing here runs the fake.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..protocol.rules import quote_values
from ._history import History, histories
from ._schema import Breakage, SchemaWalker, expected_error

Event = dict[str, Any]

#: Bytes per millisecond of the default input format, PCM16 at 24 kHz (FACTS §4).
PCM_BYTES_PER_MS = 48
#: Content part types clients get wrong (the bare ``text`` of the beta dialect, other roles' types).
WRONG_PART_TYPES = ("text", "input_text", "output_text", "input_audio", "audio", "output_audio", "input_image")


@dataclass(frozen=True)
class ExpectedError:
    """The ``error`` object the live service answers, and the rules-table row it comes from."""

    rule: str
    type: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None

    @classmethod
    def of(cls, rule: str, fields: Mapping[str, Any], event: Any) -> ExpectedError:
        type_, code, message, param = expected_error(rule, fields)
        event_id = event.get("event_id") if isinstance(event, dict) else None
        return cls(rule, type_, code, message, param, event_id if type(event_id) is str else None)

    def body(self) -> dict[str, Any]:
        """The ``error`` object of the server event, in the live key order."""
        return {"type": self.type, "code": self.code, "message": self.message, "param": self.param,
                "event_id": self.event_id}

    def matches(self, server_event: Mapping[str, Any]) -> bool:
        """Whether ``server_event`` is exactly this error."""
        return server_event.get("type") == "error" and server_event.get("error") == self.body()


@dataclass(frozen=True, repr=False)
class InvalidEvent:
    """A client event that breaks one rule, in a known state.

    Send ``history.events()`` and ``setup`` first (all valid), then ``event``: the server
    answers with exactly one ``error`` event equal to ``error`` and changes nothing.
    """

    event: Event
    error: ExpectedError
    broken: str
    """What is wrong, in words (``missing item.call_id``, ``unknown previous_item_id``...)."""
    history: History = field(compare=False)
    setup: tuple[Event, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"InvalidEvent({self.broken}: {self.event!r} -> {self.error.code}: {self.error.message!r})"


def _walker(walker: SchemaWalker | None) -> SchemaWalker:
    global _DEFAULT_WALKER
    if walker is not None:
        return walker
    if _DEFAULT_WALKER is None:
        _DEFAULT_WALKER = SchemaWalker()
    return _DEFAULT_WALKER


_DEFAULT_WALKER: SchemaWalker | None = None


def _from_breakage(event: Event, breakage: Breakage, history: History) -> InvalidEvent:
    broken = breakage.apply(event)
    words = f"{breakage.rule} at {breakage.fields['path'] or 'type'}"
    return InvalidEvent(broken, ExpectedError.of(breakage.rule, breakage.fields, broken), words, history)


def _event_ids() -> st.SearchStrategy[str]:
    return st.from_regex(r"evt_[a-z0-9]{1,8}", fullmatch=True)


def _unknown_id(history: History) -> st.SearchStrategy[str]:
    taken = set(history.item_ids()) | {"root", ""}
    return st.text(min_size=1, max_size=12).filter(lambda s: s not in taken)


def _role_part_types(walker: SchemaWalker, role: str) -> list[str]:
    """The part types a role's error message lists (the schema's ``x-error-values`` or enum)."""
    uri, common = walker.resolve(walker.index_uri, "common.json")
    base, item = walker.deref(uri, common["$defs"][f"{role.capitalize()}MessageItem"])
    base, part = walker.deref(base, item["properties"]["content"]["items"])
    if "oneOf" in part:
        values = part.get("x-error-values") or [walker.const_of(base, b, "type") for b in part["oneOf"]]
        return list(values)
    return list(part["properties"]["type"]["enum"])


def _allowed_part_types(walker: SchemaWalker, role: str) -> set[str]:
    uri, common = walker.resolve(walker.index_uri, "common.json")
    base, item = walker.deref(uri, common["$defs"][f"{role.capitalize()}MessageItem"])
    base, part = walker.deref(base, item["properties"]["content"]["items"])
    if "oneOf" in part:
        return {walker.const_of(base, b, "type") for b in part["oneOf"]}
    return set(part["properties"]["type"]["enum"])


def wrong_part_type_error(role: str, given: str, index: int, event: Event,
                          walker: SchemaWalker | None = None) -> ExpectedError:
    """The live error for a ``role`` message whose part ``index`` has the type ``given`` (FACTS §5.3).

    The allowed types come from the role's schema (its ``x-error-values`` when the live
    message lists fewer types than the schema accepts), the wording from the rules table.
    """
    allowed = quote_values(_role_part_types(_walker(walker), role))
    fields = {"path": f"item.content[{index}].type", "given": given, "allowed": allowed}
    return ExpectedError.of("invalid_value", fields, event)


@st.composite
def _new_item(draw: st.DrawFn, history: History) -> Event:
    """An item that could be added to ``history`` (a tool output only for one of its calls)."""
    if len(history.call_ids()) > 0 and draw(st.booleans()):
        return {"type": "function_call_output", "call_id": draw(st.sampled_from(history.call_ids())),
                "output": draw(st.text(max_size=8))}
    fresh = draw(histories(min_items=1, max_items=2, ids=False, any_order=False))
    return copy.deepcopy(fresh.items[0])  # a message or a function call


@st.composite
def invalid_items(draw: st.DrawFn, history: History | None = None, *, walker: SchemaWalker | None = None,
                  **history_options: Any) -> InvalidEvent:
    """``conversation.item.create`` events that break one item rule.

    The rules: a content part type the role does not take, a missing required field, an
    unknown field, a value outside an enum, a wrong JSON type, a ``previous_item_id`` that is
    not in the conversation, a tool output for a call that is not in it, audio that is not
    base64. ``history`` (default: drawn with ``history_options``) is the conversation the
    event is sent to.
    """
    walker = _walker(walker)
    if history is None:
        history = draw(histories(**history_options))
    item = draw(_new_item(history))
    event: Event = {"type": "conversation.item.create", "event_id": draw(_event_ids()), "item": item}
    kinds = ["schema", "dangling_previous", "unknown_call", "bad_audio"]
    if item["type"] == "message":
        kinds.insert(0, "wrong_part_type")
    kind = draw(st.sampled_from(kinds))
    if kind == "wrong_part_type":
        role = item["role"]
        index = draw(st.integers(0, len(item["content"]) - 1))
        given = draw(st.sampled_from([t for t in WRONG_PART_TYPES if t not in _allowed_part_types(walker, role)]))
        item["content"][index] = {"type": given, "text": draw(st.text(max_size=8))}
        return InvalidEvent(event, wrong_part_type_error(role, given, index, event, walker),
                            f"{role} message with a {given!r} part", history)
    if kind == "dangling_previous":
        unknown = draw(_unknown_id(history))
        event["previous_item_id"] = unknown
        return InvalidEvent(event, ExpectedError.of("item_create_invalid_previous_item_id",
                                                    {"previous_item_id": unknown}, event),
                            "previous_item_id not in the conversation", history)
    if kind == "unknown_call":
        call_id = draw(st.text(min_size=1, max_size=12).filter(lambda c: c not in history.call_ids()))
        event["item"] = {"type": "function_call_output", "call_id": call_id, "output": draw(st.text(max_size=8))}
        return InvalidEvent(event, ExpectedError.of("invalid_tool_call_id", {"call_id": call_id}, event),
                            "tool output for a call not in the conversation", history)
    if kind == "bad_audio":
        index = draw(st.integers(0, 2))
        parts: list[Event] = [{"type": "input_text", "text": "x"}] * index
        event["item"] = {"type": "message", "role": "user",
                         "content": [*parts, {"type": "input_audio", "audio": draw(_not_base64())}]}
        path = f"item.content[{index}].audio"
        return InvalidEvent(event, ExpectedError.of("invalid_audio_base64", {"path": path}, event),
                            "input_audio that is not base64", history)
    breakages = [b for b in walker.breakages(event) if b.path[:1] == ("item",)]
    return _from_breakage(event, draw(st.sampled_from(breakages)), history)


def _not_base64() -> st.SearchStrategy[str]:
    return st.sampled_from(["not base64!", "@@@@", "abc$", "====x"])


_STATE_KINDS = ("item", "schema", "delete", "retrieve", "truncate_unknown", "truncate_not_audio",
                "cancel", "commit", "append")


@st.composite
def invalid_events(draw: st.DrawFn, history: History | None = None, *, kinds: tuple[str, ...] = _STATE_KINDS,
                   walker: SchemaWalker | None = None, **history_options: Any) -> InvalidEvent:
    """Client events of every type that break one rule, each with the live error.

    Besides :func:`invalid_items`: any client event generated from ``schemas/`` with one field
    broken (``schema``: missing, unknown, wrong type, bad enum, out of range, too long, unknown
    event type); delete, retrieve and truncate of an item that is not there; truncate of an
    item that is not assistant audio; ``response.cancel`` with no response; a commit of less
    than 100 ms of audio; an append that is not base64. ``kinds`` picks among these.
    """
    walker = _walker(walker)
    if history is None:
        history = draw(histories(**history_options))
    choices = [k for k in kinds if k != "truncate_not_audio" or history.item_ids()]
    kind = draw(st.sampled_from(choices))
    event_id = draw(_event_ids())
    if kind == "item":
        return draw(invalid_items(history, walker=walker))
    if kind == "schema":
        event_type = draw(st.sampled_from(sorted(walker.event_schemas)))
        event = draw(walker.event_strategy(event_type))
        return _from_breakage(event, draw(st.sampled_from(walker.breakages(event))), history)
    if kind in ("delete", "retrieve", "truncate_unknown"):
        unknown = draw(_unknown_id(history))
        if kind == "truncate_unknown":
            event = {"type": "conversation.item.truncate", "event_id": event_id, "item_id": unknown,
                     "content_index": 0, "audio_end_ms": draw(st.integers(0, 5000))}
            rule = "item_truncate_invalid_item_id"
        else:
            event = {"type": f"conversation.item.{kind}", "event_id": event_id, "item_id": unknown}
            rule = f"item_{kind}_invalid_item_id"
        return InvalidEvent(event, ExpectedError.of(rule, {"item_id": unknown}, event),
                            f"{event['type']} of an item not in the conversation", history)
    if kind == "truncate_not_audio":
        item_id = draw(st.sampled_from(history.item_ids()))
        event = {"type": "conversation.item.truncate", "event_id": event_id, "item_id": item_id,
                 "content_index": draw(st.integers(0, 3)), "audio_end_ms": draw(st.integers(0, 5000))}
        return InvalidEvent(event, ExpectedError.of("truncate_not_audio", {}, event),
                            "truncate of an item that is not assistant audio", history)
    if kind == "cancel":
        event = {"type": "response.cancel", "event_id": event_id}
        if draw(st.booleans()):
            event["response_id"] = draw(st.from_regex(r"resp_[A-Za-z0-9]{21}", fullmatch=True))
        return InvalidEvent(event, ExpectedError.of("response_cancel_not_active", {}, event),
                            "response.cancel with no response in progress", history)
    if kind == "commit":
        nbytes = 2 * draw(st.integers(0, 100 * PCM_BYTES_PER_MS // 2 - 1))
        setup: tuple[Event, ...] = ()
        if nbytes:
            setup = ({"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(nbytes)).decode()},)
        event = {"type": "input_audio_buffer.commit", "event_id": event_id}
        fields = {"buffered_ms": nbytes / PCM_BYTES_PER_MS}
        return InvalidEvent(event, ExpectedError.of("input_audio_buffer_commit_empty", fields, event),
                            f"commit of {fields['buffered_ms']:.2f} ms of audio", history, setup)
    event = {"type": "input_audio_buffer.append", "event_id": event_id, "audio": draw(_not_base64())}
    return InvalidEvent(event, ExpectedError.of("invalid_audio_base64", {"path": "audio"}, event),
                        "append of audio that is not base64", history)

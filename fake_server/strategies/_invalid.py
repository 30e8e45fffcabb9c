"""Invalid client events, each breaking exactly one rule, each carrying the live error.

The expected error is filled in from the rules table (:data:`fake_server.protocol.rules.ERRORS`)
and the facts behind it (FACTS §5.3, §5.6, §8): which rule is broken decides the row, the
broken value fills the template. Nothing here runs the fake.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..protocol.b64 import b64encode
from ..protocol.rules import RealtimeError, error_body, quote_values
from ..protocol.wire import Event
from ._history import History, histories
from ._schema import Breakage, SchemaWalker

#: Bytes per millisecond of the default input format, PCM16 at 24 kHz (FACTS §4).
PCM_BYTES_PER_MS = 48
#: Content part types no client message takes, that clients send by mistake: the bare ``text`` and ``audio``
#: of the beta dialect, the server's ``output_audio``. With every role's own types (from the schemas), they make
#: the wrong types a role's message is sent with (:func:`wrong_part_types`).
NEVER_CLIENT_PART_TYPES = ("text", "audio", "output_audio")


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
        error = RealtimeError(rule, **fields)
        event_id = event.get("event_id") if isinstance(event, dict) else None
        event_id = event_id if type(event_id) is str else None
        return cls(rule, error.type, error.code, error.message, error.param, event_id)

    def body(self) -> dict[str, Any]:
        """The ``error`` object of the server event, in the live key order."""
        return error_body(self.type, self.code, self.message, param=self.param, event_id=self.event_id)

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
    kind: str = field(default="", compare=False)
    """The kind of break: one of the ``kinds`` of :func:`invalid_items` and :func:`invalid_events`."""
    base: Event | None = field(default=None, compare=False)
    """The same event with the break undone: sent instead of ``event`` (after ``history`` and
    ``setup``), the server accepts it. ``None`` where no single change makes the event valid in
    this state (a cancel with no response, a truncate where no assistant audio can be)."""

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


def _from_breakage(base: Event, breakage: Breakage, history: History, kind: str,
                   setup: tuple[Event, ...] = ()) -> InvalidEvent:
    broken = breakage.apply(base)
    words = f"{breakage.rule} at {breakage.fields['path'] or 'type'}"
    return InvalidEvent(broken, ExpectedError.of(breakage.rule, breakage.fields, broken), words, history, setup,
                        kind, base)


def _event_ids() -> st.SearchStrategy[str]:
    return st.from_regex(r"evt_[a-z0-9]{1,8}", fullmatch=True)


def _unknown_id(history: History) -> st.SearchStrategy[str]:
    taken = set(history.item_ids()) | {"root", ""}
    return st.text(min_size=1, max_size=12).filter(lambda s: s not in taken)


def wrong_part_types(role: str, walker: SchemaWalker | None = None) -> tuple[str, ...]:
    """Content part types a ``role`` message does not take but clients send: other roles' types (from the
    schemas) and :data:`NEVER_CLIENT_PART_TYPES`."""
    accepted = _walker(walker).schemas.content_types()
    every = dict.fromkeys([*NEVER_CLIENT_PART_TYPES, *(t for types in accepted.values() for t in types)])
    return tuple(t for t in every if t not in accepted[role])


def wrong_part_type_error(role: str, given: str, index: int, event: Event,
                          walker: SchemaWalker | None = None) -> ExpectedError:
    """The live error for a ``role`` message whose part ``index`` has the type ``given`` (FACTS §5.3).

    The allowed types come from the role's schema (its ``x-error-values`` when the live
    message lists fewer types than the schema accepts), the wording from the rules table.
    """
    allowed = quote_values(_walker(walker).schemas.content_types(listed=True)[role])
    fields = {"path": f"item.content[{index}].type", "given": given, "allowed": allowed}
    return ExpectedError.of("invalid_value", fields, event)


@st.composite
def _new_item(draw: st.DrawFn, history: History, message: bool = False) -> Event:
    """An item that could be added to ``history`` (a tool output only for one of its calls)."""
    if not message and len(history.call_ids()) > 0 and draw(st.booleans()):
        return {"type": "function_call_output", "call_id": draw(st.sampled_from(history.call_ids())),
                "output": draw(st.text(max_size=8))}
    fresh = draw(_ONE_MESSAGE if message else _ONE_ITEM)
    return copy.deepcopy(fresh.items[0])  # a message or a function call


_ONE_ITEM = histories(min_items=1, max_items=2, ids=False, any_order=False)
_ONE_MESSAGE = histories(min_items=1, max_items=1, ids=False, any_order=False, tool_calls=False)


#: The kinds of :func:`invalid_items`.
ITEM_KINDS = ("wrong_part_type", "dangling_previous", "unknown_call", "bad_audio", "item_schema")


def _check_kinds(kinds: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    expanded = tuple(dict.fromkeys(k for kind in kinds for k in (ITEM_KINDS if kind == "item" else (kind,))))
    unknown = set(expanded) - set(known)
    if unknown or not expanded:
        raise ValueError(f"kinds must be a non-empty subset of {known}, got {kinds}")
    return expanded


def invalid_items(history: History | None = None, *, kinds: tuple[str, ...] = ITEM_KINDS,
                  walker: SchemaWalker | None = None, **history_options: Any) -> st.SearchStrategy[InvalidEvent]:
    """``conversation.item.create`` events that break one item rule.

    The kinds (:data:`ITEM_KINDS`; the kind is drawn first): ``wrong_part_type``, a content part type the
    role does not take; ``dangling_previous``, a ``previous_item_id`` that is not in the
    conversation; ``unknown_call``, a tool output for a call that is not in it; ``bad_audio``,
    audio that is not base64; ``item_schema``, one field of the item broken against the schema
    (missing, unknown, a value outside an enum, a wrong JSON type...: the sort of rule first, then the place).
    ``history`` (default: drawn with ``history_options``) is the conversation the event is sent to.
    """
    return _invalid_items(history, _check_kinds(kinds, ITEM_KINDS), _walker(walker), history_options)


@st.composite
def _invalid_items(draw: st.DrawFn, history: History | None, kinds: tuple[str, ...], walker: SchemaWalker,
                   history_options: dict[str, Any]) -> InvalidEvent:
    if history is None:
        history = draw(histories(**history_options))
    kind = draw(st.sampled_from(kinds))
    item = draw(_new_item(history, message=kind == "wrong_part_type"))
    event: Event = {"type": "conversation.item.create", "event_id": draw(_event_ids()), "item": item}
    base = copy.deepcopy(event)
    if kind == "wrong_part_type":
        role = item["role"]
        index = draw(st.integers(0, len(item["content"]) - 1))
        given = draw(st.sampled_from(wrong_part_types(role, walker)))
        item["content"][index] = {"type": given, "text": draw(st.text(max_size=8))}
        return InvalidEvent(event, wrong_part_type_error(role, given, index, event, walker),
                            f"{role} message with a {given!r} part", history, (), kind, base)
    if kind == "dangling_previous":
        unknown = draw(_unknown_id(history))
        event["previous_item_id"] = unknown
        return InvalidEvent(event, ExpectedError.of("item_create_invalid_previous_item_id",
                                                    {"previous_item_id": unknown}, event),
                            "previous_item_id not in the conversation", history, (), kind, base)
    if kind == "unknown_call":
        call_id = draw(st.text(min_size=1, max_size=12).filter(lambda c: c not in history.call_ids()))
        event["item"] = {"type": "function_call_output", "call_id": call_id, "output": draw(st.text(max_size=8))}
        valid = None
        if history.call_ids():
            valid = copy.deepcopy(event)
            valid["item"]["call_id"] = draw(st.sampled_from(history.call_ids()))
        return InvalidEvent(event, ExpectedError.of("invalid_tool_call_id", {"call_id": call_id}, event),
                            "tool output for a call not in the conversation", history, (), kind, valid)
    if kind == "bad_audio":
        index = draw(st.integers(0, 2))
        parts: list[Event] = [{"type": "input_text", "text": "x"}] * index
        event["item"] = {"type": "message", "role": "user",
                         "content": [*parts, {"type": "input_audio", "audio": draw(_not_base64())}]}
        valid = copy.deepcopy(event)
        valid["item"]["content"][index]["audio"] = _SILENCE
        path = f"item.content[{index}].audio"
        return InvalidEvent(event, ExpectedError.of("invalid_audio_base64", {"path": path}, event),
                            "input_audio that is not base64", history, (), kind, valid)
    return _from_breakage(event, draw(walker.breakage(event, under=("item",))), history, kind)


def _not_base64() -> st.SearchStrategy[str]:
    return st.sampled_from(["not base64!", "@@@@", "abc$", "====x"])


#: 10 ms of PCM16 silence, base64.
_SILENCE = b64encode(bytes(10 * PCM_BYTES_PER_MS))

#: The kinds :func:`invalid_events` adds to :data:`ITEM_KINDS`.
EVENT_KINDS = ("schema", "delete", "retrieve", "truncate_unknown", "truncate_not_audio", "cancel", "commit", "append")

#: Client event types never valid right after a history is loaded, so never the base of a ``schema``
#: break: a truncate needs assistant audio (a client cannot create it), a cancel a response in progress.
NEVER_VALID_AFTER_A_HISTORY = ("conversation.item.truncate", "response.cancel")


def _valid_types(walker: SchemaWalker, history: History) -> list[str]:
    """The event types :func:`_state_valid` can make valid in ``history``."""
    needs_items = ("conversation.item.delete", "conversation.item.retrieve")
    return [t for t in sorted(walker.event_schemas)
            if t not in NEVER_VALID_AFTER_A_HISTORY and (history.item_ids() or t not in needs_items)]


def _can_be_valid(event: Event, history: History) -> bool:
    kind = event["type"]
    if kind == "session.update":  # a realtime session refuses a transcription session's update
        return bool(event["session"].get("type") == "realtime")
    if kind == "conversation.item.create" and event["item"].get("type") == "function_call_output":
        return bool(history.call_ids())
    return True


def _state_valid(draw: st.DrawFn, event: Event, history: History) -> Event:
    """``event`` (schema-valid) made valid in ``history`` too: ids of items that are there, tool outputs
    for calls that are there. The rules are the fake's state rules (FACTS §5.2, §5.3, §8)."""
    ids = history.item_ids()
    kind = event["type"]
    if kind in ("conversation.item.delete", "conversation.item.retrieve"):
        event["item_id"] = draw(st.sampled_from(ids))
    elif kind == "conversation.item.create":
        previous = event.get("previous_item_id")
        if isinstance(previous, str) and previous not in ("", "root", *ids):
            event["previous_item_id"] = draw(st.sampled_from([*ids, "root"]))
        if event["item"].get("type") == "function_call_output":
            event["item"]["call_id"] = draw(st.sampled_from(history.call_ids()))
    elif kind == "response.create" and isinstance(event.get("response"), dict) and "input" in event["response"]:
        kept: list[Event] = []
        calls: list[str] = []  # the calls a tool output in the input may answer: those before it in the input
        by_id = {item["id"]: item for item in history.items if "id" in item}
        for entry in event["response"]["input"]:
            if entry.get("type") == "item_reference":
                if not ids:
                    continue
                entry["id"] = draw(st.sampled_from(ids))
                found = by_id[entry["id"]]
                if found["type"] == "function_call":
                    calls.append(found["call_id"])
            elif entry.get("type") == "function_call_output":
                if not calls:
                    continue
                entry["call_id"] = draw(st.sampled_from(calls))
            elif entry.get("type") == "function_call" and "call_id" in entry:
                calls.append(entry["call_id"])
            kept.append(entry)
        event["response"]["input"] = kept
    return event


@st.composite
def _schema_break(draw: st.DrawFn, walker: SchemaWalker, history: History) -> InvalidEvent:
    """A client event valid in ``history`` (schema and state), with one schema rule broken."""
    event_type = draw(st.sampled_from(_valid_types(walker, history)))
    base = _state_valid(draw, draw(walker.event_strategy(event_type).filter(
        lambda event: _can_be_valid(event, history))), history)
    setup: tuple[Event, ...] = ()
    if event_type == "input_audio_buffer.commit":  # enough audio to commit
        ms = draw(st.integers(100, 300))
        setup = ({"type": "input_audio_buffer.append", "audio": b64encode(bytes(ms * PCM_BYTES_PER_MS))},)
    return _from_breakage(base, draw(walker.breakage(base)), history, "schema", setup)


def invalid_events(history: History | None = None, *, kinds: tuple[str, ...] = ITEM_KINDS + EVENT_KINDS,
                   walker: SchemaWalker | None = None, **history_options: Any) -> st.SearchStrategy[InvalidEvent]:
    """Client events of every type that break one rule, each with the live error.

    The kinds (drawn first): those of :func:`invalid_items` (``"item"`` names them all), and
    :data:`EVENT_KINDS`: ``schema``, a client event generated from ``schemas/`` and valid in the
    history (ids of its items, tool outputs for its calls, enough audio in ``setup`` for a
    commit), with one field broken: missing, unknown, wrong type, bad enum, out of range, too
    long, the event ``type`` itself (the sort of rule first, then the place; truncate and cancel are never valid
    after a history, see :data:`NEVER_VALID_AFTER_A_HISTORY`); ``delete``, ``retrieve``,
    ``truncate_unknown``, an item that is not there; ``truncate_not_audio``, truncate of an item
    there that is not assistant audio (at one of its content indexes); ``cancel``, with no
    response; ``commit``, of less than 100 ms of audio; ``append``, audio that is not base64.
    """
    kinds = _check_kinds(kinds, ITEM_KINDS + EVENT_KINDS)
    if kinds == ("truncate_not_audio",):
        if history is not None and not history.item_ids() or history_options.get("ids") is False:
            raise ValueError("truncate_not_audio needs a history with item ids")
        history_options = {**history_options, "min_items": max(1, history_options.get("min_items", 0))}
    return _invalid_events(history, kinds, _walker(walker), history_options)


@st.composite
def _invalid_events(draw: st.DrawFn, history: History | None, kinds: tuple[str, ...], walker: SchemaWalker,
                    history_options: dict[str, Any]) -> InvalidEvent:
    if history is None:
        history = draw(histories(**history_options))
    kind = draw(st.sampled_from([k for k in kinds if k != "truncate_not_audio" or history.item_ids()]))
    event_id = draw(_event_ids())
    if kind in ITEM_KINDS:
        return draw(_invalid_items(history, (kind,), walker, {}))
    if kind == "schema":
        return draw(_schema_break(walker, history))
    if kind in ("delete", "retrieve", "truncate_unknown"):
        unknown = draw(_unknown_id(history))
        valid: Event | None = None
        if kind == "truncate_unknown":
            event = {"type": "conversation.item.truncate", "event_id": event_id, "item_id": unknown,
                     "content_index": 0, "audio_end_ms": draw(st.integers(0, 5000))}
            rule = "item_truncate_invalid_item_id"
        else:
            event = {"type": f"conversation.item.{kind}", "event_id": event_id, "item_id": unknown}
            rule = f"item_{kind}_invalid_item_id"
            if history.item_ids():
                valid = {**event, "item_id": draw(st.sampled_from(history.item_ids()))}
        return InvalidEvent(event, ExpectedError.of(rule, {"item_id": unknown}, event),
                            f"{event['type']} of an item not in the conversation", history, (), kind, valid)
    if kind == "truncate_not_audio":
        item = draw(st.sampled_from([item for item in history.items if "id" in item]))
        event = {"type": "conversation.item.truncate", "event_id": event_id, "item_id": item["id"],
                 "content_index": draw(st.integers(0, max(0, len(item.get("content", ())) - 1))),
                 "audio_end_ms": draw(st.integers(0, 5000))}
        return InvalidEvent(event, ExpectedError.of("truncate_not_audio", {}, event),
                            "truncate of an item that is not assistant audio", history, (), kind)
    if kind == "cancel":
        event = {"type": "response.cancel", "event_id": event_id}
        if draw(st.booleans()):
            event["response_id"] = draw(st.from_regex(r"resp_[A-Za-z0-9]{21}", fullmatch=True))
        return InvalidEvent(event, ExpectedError.of("response_cancel_not_active", {}, event),
                            "response.cancel with no response in progress", history, (), kind)
    if kind == "commit":
        nbytes = 2 * draw(st.integers(0, 100 * PCM_BYTES_PER_MS // 2 - 1))
        setup: tuple[Event, ...] = ()
        if nbytes:
            setup = ({"type": "input_audio_buffer.append", "audio": b64encode(bytes(nbytes))},)
        event = {"type": "input_audio_buffer.commit", "event_id": event_id}
        fields = {"buffered_ms": nbytes / PCM_BYTES_PER_MS}
        return InvalidEvent(event, ExpectedError.of("input_audio_buffer_commit_empty", fields, event),
                            f"commit of {fields['buffered_ms']:.2f} ms of audio", history, setup, kind)
    event = {"type": "input_audio_buffer.append", "event_id": event_id, "audio": draw(_not_base64())}
    return InvalidEvent(event, ExpectedError.of("invalid_audio_base64", {"path": "audio"}, event),
                        "append of audio that is not base64", history, (), kind, {**event, "audio": _SILENCE})

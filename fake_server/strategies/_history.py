"""Generated conversation histories, the events that load them, and the conversation they make."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..core.conversation import snapshot  # a fast deep copy of JSON-shaped dicts
from ..protocol.b64 import b64encode
from ..protocol.schema import load_schemas
from ..protocol.wire import Event
from ._schema import pcm16

ROLES = ("system", "user", "assistant")
_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


@dataclass(frozen=True, repr=False)
class History:
    """A valid conversation history under the GA rules.

    ``items`` are the client items in conversation order, as ``conversation.item.create``
    sends them. ``load`` are those events in the order a correct loader may send them (with
    ``previous_item_id`` where they are not appended), ``previous`` the ``previous_item_id``
    the server echoes for each of them (only known when the items carry ids), and ``expected``
    the conversation snapshot the server must end with: items as the server shows them
    (``status`` completed, no ``object``, no audio bytes).
    """

    items: tuple[Event, ...]
    load: tuple[Event, ...] = field(compare=False)
    previous: tuple[str | None, ...] = field(compare=False)
    expected: tuple[Event, ...] = field(compare=False)

    def __repr__(self) -> str:
        return f"History({list(self.items)!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis reports a failing history: its items only (the rest follows from them)."""
        with printer.group(8, "History(", ")"):
            printer.pretty(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def events(self) -> list[Event]:
        """The ``conversation.item.create`` events that load this history (copies)."""
        return [snapshot(event) for event in self.load]

    def snapshot(self, *, ids: bool = True) -> list[Event]:
        """The conversation snapshot after loading; ``ids=False`` leaves the item ids out."""
        out = [snapshot(item) for item in self.expected]
        if not ids:
            for item in out:
                item.pop("id", None)
        return out

    def matches(self, snapshot: Sequence[Event], *, ids: bool = True) -> bool:
        """Whether a server snapshot is this history (``ids=False``: whatever ids the server gave)."""
        actual = [dict(item) for item in snapshot]
        if not ids:
            for item in actual:
                item.pop("id", None)
        return actual == self.snapshot(ids=ids)

    def call_ids(self) -> list[str]:
        return [item["call_id"] for item in self.items if item["type"] == "function_call"]

    def item_ids(self) -> list[str]:
        return [item["id"] for item in self.items if "id" in item]

    def chat_messages(self) -> list[dict[str, Any]]:
        """The same history as a Chat Completions message list: the chat log many apps keep.

        A text-only message with one part becomes a plain ``content`` string; other messages
        become content part lists (``text``, and ``input_audio`` with ``format`` ``pcm16`` for
        audio). A function call becomes an assistant message with ``tool_calls``, its output a
        ``tool`` message.
        """
        out: list[dict[str, Any]] = []
        for item in self.items:
            if item["type"] == "function_call":
                out.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": item["call_id"], "type": "function",
                     "function": {"name": item["name"], "arguments": item["arguments"]}}]})
            elif item["type"] == "function_call_output":
                out.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
            else:
                parts = item["content"]
                if len(parts) == 1 and "text" in parts[0]:
                    out.append({"role": item["role"], "content": parts[0]["text"]})
                    continue
                content = [
                    {"type": "input_audio", "input_audio": {"data": p["audio"], "format": "pcm16"}}
                    if p["type"] == "input_audio" else {"type": "text", "text": p["text"]}
                    for p in parts
                ]
                out.append({"role": item["role"], "content": content})
        return out


def _server_item(item: Event) -> Event:
    """How the server shows a client-created item (FACTS §5.3; status always completed)."""
    kind = item["type"]
    head: Event = {"id": item.get("id"), "type": kind, "status": "completed"}
    if kind == "function_call":
        return {**head, "name": item["name"], "call_id": item["call_id"], "arguments": item["arguments"]}
    if kind == "function_call_output":
        return {**head, "call_id": item["call_id"], "output": item["output"]}
    content = []
    for part in item["content"]:
        if part["type"] == "input_audio":
            content.append({"type": "input_audio", "transcript": part.get("transcript")})
        else:
            content.append({"type": part["type"], "text": part["text"]})
    return {**head, "role": item["role"], "content": content}


_BOOLS = st.booleans()
_PCM = pcm16(96).map(b64encode)
_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
_ARGUMENTS = st.dictionaries(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6),
                             st.integers(-99, 99) | st.text(max_size=6), max_size=2).map(json.dumps)


class _Options:
    """What :func:`histories` was asked for, checked, with the strategies its draws use; shown as the call
    in hypothesis reports."""

    def __init__(self, min_items: int, max_items: int, roles: Sequence[str], audio: bool, tool_calls: bool,
                 transcripts: bool, ids: bool, extras: bool, any_order: bool,
                 text: st.SearchStrategy[str] | None) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not (roles or tool_calls):
            raise ValueError(f"roles must be a non-empty subset of {ROLES} (or tool_calls on), got {tuple(roles)}")
        if not 0 <= min_items <= max_items:
            raise ValueError(f"need 0 <= min_items <= max_items, got {min_items}, {max_items}")
        self.count = st.integers(min_items, max_items)
        if not roles:  # only call + output pairs: an even number of items
            pairs = (min_items + 1) // 2, max_items // 2
            if pairs[0] > pairs[1]:
                raise ValueError(f"with tool calls only (no roles) the count is even (a call and its output), and "
                                 f"no even count lies in min_items..max_items = {min_items}..{max_items}")
            self.count = st.integers(*pairs).map(lambda n: 2 * n)
        self.max_items, self.ids, self.extras, self.any_order = max_items, ids, extras, any_order
        self.transcripts = transcripts
        self.text = st.text(max_size=20) if text is None else text
        self.transcript = st.none() | self.text
        self.kind = st.sampled_from(tuple(roles) + (("tool",) if tool_calls else ()))
        accepted = load_schemas().content_types()
        self.parts: dict[str, st.SearchStrategy[list[Event]]] = {}
        for role in roles:  # each part: the role's text type (from the schemas), or audio where the role takes it
            text_type = next(t for t in accepted[role] if t in _TEXT_PARTS)
            spoken = audio and "input_audio" in accepted[role]
            self.parts[role] = st.lists(_part(text_type, spoken, self), min_size=1, max_size=3)
        self.call = (f"histories(min_items={min_items}, max_items={max_items}, roles={tuple(roles)}, audio={audio}, "
                     f"tool_calls={tool_calls}, transcripts={transcripts}, ids={ids}, extras={extras}, "
                     f"any_order={any_order})")

    def __repr__(self) -> str:
        return self.call


_TEXT_PARTS = ("input_text", "output_text")
"""The text part types; each role takes one of them."""


@st.composite
def _part(draw: st.DrawFn, text_type: str, spoken: bool, options: _Options) -> Event:
    """A content part of ``text_type``, or (``spoken``) as likely an ``input_audio`` part."""
    if not (spoken and draw(_BOOLS)):
        return {"type": text_type, "text": draw(options.text)}
    part: Event = {"type": "input_audio", "audio": draw(_PCM)}
    if options.transcripts and draw(_BOOLS):
        part["transcript"] = draw(options.transcript)
    return part


_EXTRAS = st.sampled_from([(None, None), (True, None), (None, "completed"), (True, "completed"),
                           (None, "incomplete"), (True, "incomplete"), (None, "in_progress"), (True, "in_progress")])


def _decorate(draw: st.DrawFn, item: Event, index: int, options: _Options) -> Event:
    """Optional fields a client may send: its own id, ``object``, a ``status`` (no effect)."""
    if options.ids:
        item = {"id": f"{_PREFIX[item['type']]}_{index:03d}", **item}
    if options.extras:
        with_object, status = draw(_EXTRAS)
        if with_object:
            item["object"] = "realtime.item"
        if status:
            item["status"] = status
    return item


def histories(
    *,
    min_items: int = 0,
    max_items: int = 8,
    roles: Sequence[str] = ROLES,
    audio: bool = True,
    tool_calls: bool = True,
    transcripts: bool = False,
    ids: bool = True,
    extras: bool = True,
    any_order: bool = True,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[History]:
    """Valid GA conversation histories, with the events that load them.

    :param min_items: / ``max_items``: how many items (a function call and its output count two; with
        tool calls only, ``roles=()``, the count is even, and a range without an even count is refused).
    :param roles: message roles to use, from ``system``, ``user``, ``assistant``.
    :param audio: user messages may carry ``input_audio`` parts (short PCM16 clips).
    :param tool_calls: ``function_call`` items, each followed by its ``function_call_output``.
    :param transcripts: ``input_audio`` parts may carry a ``transcript``.
    :param ids: items carry client ids (``msg_001``, ``fc_002``...); without them the server mints
        ids and the history is loaded by appending.
    :param extras: items may carry the optional ``object`` and ``status`` fields (no effect).
    :param any_order: the load events may insert items in any order, using ``previous_item_id``
        (``"root"`` or an earlier item's id) so the conversation still ends in history order;
        a tool output is always loaded after its call. Off: every item is appended in order.
    :param text: strategy for message texts (default: short unicode text).
    """
    return _histories(_Options(min_items, max_items, roles, audio, tool_calls, transcripts, ids, extras, any_order,
                               text))


@st.composite
def _histories(draw: st.DrawFn, options: _Options) -> History:
    ids, any_order, max_items = options.ids, options.any_order, options.max_items
    target = draw(options.count)
    items: list[Event] = []
    while len(items) < target:
        kind = draw(options.kind)
        if kind == "tool":
            if len(items) + 2 > max_items:
                continue  # a message fits (with tool calls only, the count is even)
            number = len(items) + 1
            call_id = f"call_{number:03d}"
            items.append(_decorate(draw, {"type": "function_call", "name": draw(_NAMES), "call_id": call_id,
                                          "arguments": draw(_ARGUMENTS)}, number, options))
            items.append(_decorate(draw, {"type": "function_call_output", "call_id": call_id,
                                          "output": draw(options.text)}, number + 1, options))
        else:
            content = draw(options.parts[kind])
            items.append(_decorate(draw, {"type": "message", "role": kind, "content": content},
                                   len(items) + 1, options))
    order = list(range(len(items)))
    if ids and any_order:
        order = draw(st.permutations(order))
        where = {index: position for position, index in enumerate(order)}
        calls = {item["call_id"]: i for i, item in enumerate(items) if item["type"] == "function_call"}
        for i, item in enumerate(items):  # a tool output is loaded after its call
            if item["type"] == "function_call_output":
                c = calls[item["call_id"]]
                if where[i] < where[c]:
                    order[where[i]], order[where[c]] = c, i
                    where[i], where[c] = where[c], where[i]
    loaded: list[int] = []  # final-order indexes, in conversation order so far
    load: list[Event] = []
    previous: list[str | None] = []
    for number, index in enumerate(order, 1):
        before = [i for i in loaded if i < index]
        event: Event = {"type": "conversation.item.create", "event_id": f"load_{number:03d}"}
        if before and not ids:
            pass  # appended; the server mints the ids, so the echoed previous id is its own
        elif before:
            after_id = items[before[-1]]["id"]
            if before[-1] != loaded[-1] or draw(_BOOLS):
                event["previous_item_id"] = after_id
            previous.append(after_id)
        elif loaded:
            event["previous_item_id"] = "root"
            previous.append(None)
        else:
            if ids and any_order and draw(_BOOLS):
                event["previous_item_id"] = "root"
            previous.append(None)
        event["item"] = copy.deepcopy(items[index])
        load.append(event)
        loaded.insert(len(before), index)
    expected = tuple(_server_item(item) for item in items)
    if not ids:
        expected = tuple({k: v for k, v in item.items() if k != "id"} for item in expected)
    return History(tuple(items), tuple(load), tuple(previous) if ids else (), expected)

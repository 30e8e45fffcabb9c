"""Server event streams for fuzzing a client's event handling.

A stream is one or more responses in the live GA order (FACTS §5.6): ``response.created``,
each output item opened (``response.output_item.added``, ``conversation.item.added``), its
deltas split at random places (audio and transcript deltas interleaved), its ``.done`` events,
``response.done``, then ``rate_limits.updated``. Between any two events the stream may carry
extra ``rate_limits.updated``, ``error`` events and event types the client has never seen
(the live service adds types over time; a robust client ignores them).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..protocol.b64 import b64encode
from ..protocol.ids import IdGenerator
from ..protocol.rules import RealtimeError, error_body
from ..protocol.schema import load_schemas
from ..protocol.wire import RATE_LIMIT_TOKENS, Event, server_event
from ._schema import pcm16

_KEEP_OPEN_ERRORS = ("item_delete_invalid_item_id", "item_retrieve_invalid_item_id", "response_cancel_not_active",
                     "invalid_tool_call_id", "conversation_already_has_active_response", "unknown_parameter",
                     "input_audio_buffer_commit_empty", "cannot_update_voice")
_HIGH_TIER_RATE_LIMIT_TOKENS = 15_000_000
"""The tokens-per-minute limit a high tier reports in ``rate_limits.updated`` (FACTS §5.4); the fake itself
reports the low tier's :data:`~fake_server.protocol.wire.RATE_LIMIT_TOKENS`."""
_SAMPLE_FIELDS: dict[str, Any] = {"item_id": "item_123", "call_id": "call_123", "response_id": "resp_123",
                                  "path": "session.x", "buffered_ms": 40.0}


@dataclass(frozen=True)
class Output:
    """One output item of a response, as a correct client ends up seeing it."""

    item_id: str
    kind: str
    """``text``, ``audio`` or ``function_call``."""
    status: str
    text: str = ""
    """The text (``text``), the transcript (``audio``) or the arguments (``function_call``)."""
    audio: bytes = b""
    name: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one response ended."""

    response_id: str
    status: str
    outputs: tuple[Output, ...]
    in_conversation: bool


@dataclass(frozen=True, repr=False)
class ServerStream:
    """Server events in order, and what a correct client makes of them."""

    events: tuple[Event, ...]
    responses: tuple[Outcome, ...]
    errors: tuple[dict[str, Any], ...] = field(default=())
    """The ``error`` objects of the stream's error events, in order."""
    unknown_types: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return f"ServerStream({[e['type'] for e in self.events]!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis reports a failing stream: its event types."""
        with printer.group(13, "ServerStream(", ")"):
            printer.pretty([e["type"] for e in self.events])

    def frames(self) -> list[str]:
        """The events as WebSocket text frames."""
        return [json.dumps(event) for event in self.events]

    def known_events(self) -> list[Event]:
        """The events of documented types (all but the unknown future ones)."""
        unknown = set(self.unknown_types)
        return [copy.deepcopy(e) for e in self.events if e["type"] not in unknown]


def _chunks(draw: st.DrawFn, data: Any, step: int = 1) -> list[Any]:
    """``data`` cut at random places into non-empty pieces (cuts on multiples of ``step``)."""
    if not data:
        return []
    slots = len(data) // step
    cuts = sorted(draw(st.sets(st.integers(1, max(1, slots - 1)), max_size=min(6, max(0, slots - 1))))) \
        if slots > 1 else []
    bounds = [0, *[c * step for c in cuts], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _usage(draw: st.DrawFn) -> dict[str, Any]:
    text_in, audio_in = draw(st.integers(0, 500)), draw(st.integers(0, 500))
    cached_text = draw(st.integers(0, text_in)) // 64 * 64
    text_out, audio_out = draw(st.integers(0, 300)), draw(st.integers(0, 300))
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
                                "cached_tokens": cached_text,
                                "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": 0,
                                                          "image_tokens": 0}},
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


class _Builder:
    def __init__(self, ids: IdGenerator, conversation_id: str) -> None:
        self.ids = ids
        self.conversation_id = conversation_id
        self.events: list[Event] = []
        self.last_item: str | None = None

    def emit(self, type_: str, **payload: Any) -> None:
        self.events.append(server_event(self.ids, type_, **copy.deepcopy(payload)))


@st.composite
def _response(draw: st.DrawFn, b: _Builder, modalities: Sequence[str], tool_calls: bool,
              text: st.SearchStrategy[str]) -> Outcome:
    ids = b.ids
    response_id = ids.new("resp")
    in_conversation = draw(st.integers(0, 3)) < 3  # one in four out of band
    modality = draw(st.sampled_from(list(modalities)))
    status = draw(st.sampled_from(["completed", "completed", "cancelled", "incomplete", "failed"]))
    response: dict[str, Any] = {
        "object": "realtime.response", "id": response_id, "status": "in_progress", "status_details": None,
        "output": [], "conversation_id": b.conversation_id if in_conversation else None,
        "output_modalities": [modality], "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
        "usage": None, "metadata": None,
    }
    b.emit("response.created", response=response)
    kinds = ["message"] + (["function_call"] if tool_calls else [])
    plan = [] if status == "failed" else draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=2))
    outputs: list[Output] = []
    done_items: list[dict[str, Any]] = []
    for index, kind in enumerate(plan):
        cut_short = status in ("cancelled", "incomplete") and index == len(plan) - 1
        where = _Place(response_id, index, ids.new("item"), in_conversation)
        if kind == "message":
            item, output = _message(draw, b, where, modality == "audio", cut_short, text)
        else:
            item, output = _function_call(draw, b, where, cut_short, text)
        outputs.append(output)
        item["status"] = output.status
        if in_conversation:
            b.emit("conversation.item.done", previous_item_id=item.get("_previous"), item=_clean(item))
        b.emit("response.output_item.done", response_id=response_id, output_index=index, item=_clean(item))
        done_items.append(_clean(item))
    b.emit("response.done", response={**response, "status": status, "status_details": _details(draw, status, ids),
                                      "output": done_items, "usage": _usage(draw)})
    if draw(st.integers(0, 4)) > 0:  # live: right after response.done
        b.emit("rate_limits.updated", rate_limits=[_rate_limit(draw)])
    return Outcome(response_id, status, tuple(outputs), in_conversation)


@dataclass(frozen=True)
class _Place:
    """Where an output item goes: its response, its index there, its id, and whether it joins the conversation."""

    response_id: str
    output_index: int
    item_id: str
    in_conversation: bool


def _message(draw: st.DrawFn, b: _Builder, at: _Place, audio: bool, cut_short: bool,
             text: st.SearchStrategy[str]) -> tuple[dict[str, Any], Output]:
    """One assistant message streamed: its part, its deltas (audio and transcript interleaved), its ``.done``s."""
    item: dict[str, Any] = {"id": at.item_id, "type": "message", "status": "in_progress", "role": "assistant",
                            "content": []}
    full = draw(text)
    said = full[:draw(st.integers(0, len(full)))] if cut_short else full
    pcm = draw(pcm16(96)) if audio else b""
    where = {"response_id": at.response_id, "item_id": at.item_id, "output_index": at.output_index,
             "content_index": 0}
    _open(b, at.response_id, at.output_index, item, at.in_conversation)
    b.emit("response.content_part.added", **where,
           part={"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""})
    words = _chunks(draw, said)
    if audio:
        sound = _chunks(draw, pcm, 2)
        spoken, heard = iter(words), iter(sound)
        for which in draw(st.permutations([0] * len(words) + [1] * len(sound))):
            if which == 0:
                b.emit("response.output_audio_transcript.delta", **where, delta=next(spoken),
                       obfuscation=b.ids.obfuscation())
            else:
                b.emit("response.output_audio.delta", **where, delta=b64encode(next(heard)))
        b.emit("response.output_audio.done", **where)
        b.emit("response.output_audio_transcript.done", **where, transcript=said)
        b.emit("response.content_part.done", **where, part={"type": "audio", "transcript": said})
        item["content"] = [{"type": "output_audio", "transcript": said}]
    else:
        for word in words:
            b.emit("response.output_text.delta", **where, delta=word, obfuscation=b.ids.obfuscation())
        b.emit("response.output_text.done", **where, text=said)
        b.emit("response.content_part.done", **where, part={"type": "text", "text": said})
        item["content"] = [{"type": "output_text", "text": said}]
    return item, Output(at.item_id, "audio" if audio else "text", _item_status(cut_short), said, pcm)


def _function_call(draw: st.DrawFn, b: _Builder, at: _Place, cut_short: bool,
                   text: st.SearchStrategy[str]) -> tuple[dict[str, Any], Output]:
    """One function call streamed: its argument deltas and ``.done``."""
    name = draw(st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True))
    call_id = b.ids.call_id()
    arguments = json.dumps(draw(st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                                                st.integers(-99, 99) | text, max_size=3)))
    if cut_short:
        arguments = arguments[:draw(st.integers(0, len(arguments)))]
    item = {"id": at.item_id, "type": "function_call", "status": "in_progress", "name": name,
            "call_id": call_id, "arguments": ""}
    _open(b, at.response_id, at.output_index, item, at.in_conversation)
    where = {"response_id": at.response_id, "item_id": at.item_id, "output_index": at.output_index,
             "call_id": call_id}
    for delta in _chunks(draw, arguments):
        b.emit("response.function_call_arguments.delta", **where, delta=delta)
    b.emit("response.function_call_arguments.done", **where, name=name, arguments=arguments)
    item["arguments"] = arguments
    return item, Output(at.item_id, "function_call", _item_status(cut_short), arguments, name=name, call_id=call_id)


def _item_status(cut_short: bool) -> str:
    """An output item's final status: the last item of a cancelled or incomplete response is cut short."""
    return "incomplete" if cut_short else "completed"


def _details(draw: st.DrawFn, status: str, ids: IdGenerator) -> dict[str, Any] | None:
    """The ``status_details`` of a response that ended with ``status``."""
    if status == "cancelled":
        return {"type": "cancelled", "reason": draw(st.sampled_from(["client_cancelled", "turn_detected"]))}
    if status == "incomplete":
        return {"type": "incomplete", "reason": draw(st.sampled_from(["max_output_tokens", "content_filter"]))}
    if status == "failed":
        error = RealtimeError("server_error", session_id=ids.new("sess"))
        return {"type": "failed", "error": error_body(error.type, error.code, error.message)}
    return None


def _open(b: _Builder, response_id: str, index: int, item: dict[str, Any], in_conversation: bool) -> None:
    b.emit("response.output_item.added", response_id=response_id, output_index=index, item=item)
    if in_conversation:
        item["_previous"] = b.last_item
        b.emit("conversation.item.added", previous_item_id=b.last_item, item=_clean(item))
        b.last_item = item["id"]


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}


def _rate_limit(draw: st.DrawFn) -> dict[str, Any]:
    limit = draw(st.sampled_from([RATE_LIMIT_TOKENS, _HIGH_TIER_RATE_LIMIT_TOKENS]))
    return {"name": "tokens", "limit": limit, "remaining": draw(st.integers(0, limit)),
            "reset_seconds": draw(st.floats(0, 60, allow_nan=False))}


def _error_body(draw: st.DrawFn) -> dict[str, Any]:
    error = RealtimeError(draw(st.sampled_from(_KEEP_OPEN_ERRORS)),
                          **{**_SAMPLE_FIELDS, "path": "session.x_unknown_field"})
    return error.body(draw(st.none() | st.from_regex(r"evt_[a-z0-9]{1,8}", fullmatch=True)))


def unknown_event_types(known: Collection[str] = ()) -> st.SearchStrategy[str]:
    """Event types the GA service does not send today (``response.output_video.delta``...).

    Never a type ``schemas/`` documents (a server or a client event), nor one of ``known``. About
    half are a documented type's prefix with another documented type's ending
    (``response.output_audio.created``), the way new event types are named; the others are made up
    (``session.xyz``).
    """
    excluded = _documented_types() | set(known)
    documented = sorted(_documented_types())
    prefixes = sorted({t.rsplit(".", 1)[0] for t in documented if "." in t})
    endings = sorted({t.rsplit(".", 1)[1] for t in documented if "." in t})
    recombined = st.tuples(st.sampled_from(prefixes), st.sampled_from(endings)).map(".".join)
    namespaces = st.sampled_from(["response", "conversation", "session", "input_audio_buffer", "output_audio_buffer"])
    name = st.from_regex(r"[a-z]{2,8}(\.[a-z]{2,8})?", fullmatch=True)
    made_up = st.tuples(namespaces, name).map(".".join)
    return st.one_of(recombined, made_up).filter(lambda t: t not in excluded)


def _documented_types() -> frozenset[str]:
    """Every event type of ``schemas/``: server events and client events."""
    schemas = load_schemas()
    return schemas.server_event_types | frozenset(schemas.client_event_types)


@st.composite
def server_streams(
    draw: st.DrawFn,
    *,
    min_responses: int = 1,
    max_responses: int = 3,
    modalities: Sequence[str] = ("audio", "text"),
    tool_calls: bool = True,
    rate_limits: bool = True,
    errors: bool = True,
    unknown_events: bool = True,
    text: st.SearchStrategy[str] | None = None,
) -> ServerStream:
    """Server event streams: responses in the live order, with noise in between.

    :param min_responses: / ``max_responses``: how many responses, one after the other.
    :param modalities: ``audio`` (audio and transcript deltas, interleaved) and/or ``text``.
    :param tool_calls: responses may call functions (argument deltas).
    :param rate_limits: extra ``rate_limits.updated`` anywhere (one usually follows ``response.done``).
    :param errors: ``error`` events anywhere, with live codes and messages.
    :param unknown_events: events of types the client does not know, anywhere.
    :param text: strategy for the model's texts (default: short unicode text).

    Responses end ``completed``, ``cancelled`` or ``incomplete`` (the last output cut short,
    status ``incomplete``) or ``failed`` (no outputs, the live ``server_error`` details). Some are
    out of band (``conversation_id`` null, no ``conversation.item.*``).
    """
    text = st.text(max_size=24) if text is None else text
    ids = IdGenerator(draw(st.integers(0, 2**32)))
    b = _Builder(ids, ids.new("conv"))
    outcomes = [draw(_response(b, modalities, tool_calls, text))
                for _ in range(draw(st.integers(min_responses, max_responses)))]
    events = b.events
    kinds = [k for k, on in (("rate", rate_limits), ("error", errors), ("unknown", unknown_events)) if on]
    extras: list[tuple[int, Event]] = []
    known = load_schemas().server_event_types
    if kinds:
        for kind in draw(st.lists(st.sampled_from(kinds), max_size=4)):
            at = draw(st.integers(0, len(events)))
            event_id = ids.new("event")
            if kind == "rate":
                extras.append((at, {"type": "rate_limits.updated", "event_id": event_id,
                                    "rate_limits": [_rate_limit(draw)]}))
            elif kind == "error":
                extras.append((at, {"type": "error", "event_id": event_id, "error": _error_body(draw)}))
            else:
                extras.append((at, {"type": draw(unknown_event_types(known)), "event_id": event_id,
                                    "payload": draw(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True),
                                                                    st.integers() | st.text(max_size=5),
                                                                    max_size=2))}))
    for at, event in sorted(extras, key=lambda pair: pair[0], reverse=True):
        events.insert(at, event)
    unknown = tuple(e["type"] for _, e in extras if e["type"] not in known)
    errs = tuple(e["error"] for e in events if e["type"] == "error")
    return ServerStream(tuple(events), tuple(outcomes), errs, unknown)


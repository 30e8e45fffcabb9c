"""A response as a stream of timed steps, in the live event order (FACTS §5.6).

The session creates a :class:`ResponseStream` on ``response.create`` and sends
``response.created`` at once; the rest goes out step by step as time advances (see
:class:`fake_server.core.schedule.Scheduler`), so a response stays in progress until its
``response.done`` has actually been handed out, as live, however fast the pacing.
Each step carries a media offset (ms since the response started): real-time pacing sends a
step when its audio would start playing; the default pacing sends at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator, Sequence

from . import speech
from ..protocol.b64 import b64encode
from ..protocol.wire import RATE_LIMIT_TOKENS, CloseConnection, Event, server_event
from .conversation import Conversation, Item, snapshot
from .responder import ModelOutput, Reply
from .usage import Segment, output_audio_tokens, text_tokens, usage_object

if TYPE_CHECKING:
    from ..protocol.ids import IdGenerator

__all__ = ["ResponseParams", "ResponseStream", "Step", "TEXT_CHARS_PER_SECOND"]

TEXT_CHARS_PER_SECOND = 15.0
_WORDS = re.compile(r"\s*\S+\s*|\s+")
_ARGUMENT_CHUNK = 12


@dataclass(frozen=True)
class Step:
    """Events to send together, ``offset_ms`` of media time after the stream started (scaled by
    the pacing) plus ``delay_ms`` of scripted delay (not scaled); ``close``: the connection is to
    close once they are sent (a script's close mid-response)."""

    offset_ms: float
    events: list[Event]
    delay_ms: float = 0.0
    close: CloseConnection | None = None


@dataclass
class ResponseParams:
    """The effective settings of one response (session settings with the overrides applied)."""

    output_modalities: list[str]
    instructions: str
    voice: Any
    output_format: dict[str, Any]
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_output_tokens: int | str
    metadata: dict[str, str] | None
    in_conversation: bool
    spoken: bool | None = None
    """Force spoken (True) or written (False) messages whatever ``output_modalities`` say."""

    @property
    def audio(self) -> bool:
        return "audio" in self.output_modalities if self.spoken is None else self.spoken


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


class ResponseStream:
    """One response, from ``response.created`` to ``response.done`` and ``rate_limits.updated``."""

    def __init__(
        self,
        *,
        ids: IdGenerator,
        conversation: Conversation,
        conversation_id: str,
        params: ResponseParams,
        reply: Reply,
        context: Sequence[Segment],
        cached: Segment,
        audio_chunk_ms: float,
    ) -> None:
        self.ids = ids
        self.conversation = conversation
        self.params = params
        self.reply = reply
        self.outputs = list(reply.outputs)
        self.sent = 0  # events handed out so far (the session counts them)
        self._delay_ms = 0.0
        self.context = list(context)
        self.cached = cached
        self.audio_chunk_ms = audio_chunk_ms
        self.id = ids.new("resp")
        self.conversation_id = conversation_id if params.in_conversation else None
        self.status = "in_progress"
        self.status_details: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.output: list[Item] = []
        self.finished = False  # response.done handed out
        self._out_text_tokens = 0
        self._text_tokens_before = 0  # the text tokens of the outputs before the open one
        self._out_audio_ms = 0.0
        # what is open right now, for a cancel
        self._item: Item | None = None
        self._previous_id: str | None = None
        self._part_open = False
        self._text = ""
        self._arguments = ""
        self._steps = self._run()

    # ------------------------------------------------------------------ events
    def _event(self, type_: str, **payload: Any) -> Event:
        return server_event(self.ids, type_, **payload)

    def _response_object(self) -> dict[str, Any]:
        p = self.params
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self.status_details,
            "output": [snapshot(item.data) for item in self.output],
            "conversation_id": self.conversation_id,
            "output_modalities": list(p.output_modalities),
            "max_output_tokens": p.max_output_tokens,
            "audio": {"output": {"format": dict(p.output_format), "voice": p.voice}},
            "usage": self.usage,
            "metadata": p.metadata,
        }

    def created(self) -> tuple[list[Event], CloseConnection | None]:
        """``response.created``, unless the script closes the connection before it (and that close)."""
        return self._until_scripted_close([self._event("response.created", response=self._response_object())])

    # ------------------------------------------------------------------ stepping
    def next_step(self) -> Step | None:
        """The next step, cut short where the script closes the connection."""
        step = next(self._steps, None)
        if step is None:
            return None
        events, close = self._until_scripted_close(step.events)
        return Step(step.offset_ms, events, step.delay_ms, close)

    def _until_scripted_close(self, events: list[Event]) -> tuple[list[Event], CloseConnection | None]:
        """Cut the events where the script closes the connection (and the close to make); count them as sent."""
        close = self.reply.close
        cut = close is not None and self.sent + len(events) >= self.reply.close_after
        if cut:
            events = events[:max(0, self.reply.close_after - self.sent)]
        self.sent += len(events)
        return events, CloseConnection(*close) if close is not None and cut else None

    def _run(self) -> Generator[Step, None, None]:
        at = 0.0
        budget = math.inf if self.params.max_output_tokens == "inf" else float(self.params.max_output_tokens)
        for index, output in enumerate(self.outputs):
            if output.kind == "function_call":
                yield from self._function_call(index, output, at)
            else:
                text, cut = self._fit(output.text, budget - self._spent())
                item_status = "incomplete" if cut or self.reply.status == "incomplete" else "completed"
                at = yield from self._message(index, text, at, item_status, output.pcm)
                if cut:
                    self.status_details = {"type": "incomplete", "reason": "max_output_tokens"}
                    break
        if self.status_details is None and self.reply.status != "completed":
            self.status_details = self.reply.status_details
        status = "incomplete" if self.status_details and self.status_details["type"] == "incomplete" else (
            self.reply.status if self.reply.status == "failed" else "completed")
        yield Step(at, self._finish(status), self._delay_ms)
        yield Step(at, [self._rate_limits()], self._delay_ms)

    def _delta_delay(self) -> float:
        """Scripted delay before the next delta: time to first delta, then per delta."""
        first = self._delay_ms == 0.0 and self.reply.first_delta_delay_ms > 0
        self._delay_ms += self.reply.first_delta_delay_ms if first else self.reply.delta_delay_ms
        return self._delay_ms

    def _spent(self) -> int:
        return self._out_text_tokens + output_audio_tokens(self._out_audio_ms)

    def _fit(self, text: str, budget: float) -> tuple[str, bool]:
        """The longest word prefix of ``text`` whose output tokens fit ``budget``."""
        if budget == math.inf or self._cost(text) <= budget:
            return text, False
        kept = ""
        for word in _words(text):
            if self._cost(kept + word) > budget:
                break
            kept += word
        return kept, True

    def _cost(self, text: str) -> int:
        tokens = text_tokens(text)
        if self.params.audio and text:
            fmt = self.params.output_format
            tokens += output_audio_tokens(speech.duration_ms(len(speech.synthesize(text, fmt)), fmt))
        return tokens

    def _open_item(self, index: int, data: dict[str, Any]) -> list[Event]:
        item = Item(data, audio_format=self.params.output_format if self.params.audio else None)
        self._item = item
        self._text_tokens_before = self._out_text_tokens
        self.output.append(item)
        events = [self._event("response.output_item.added", response_id=self.id, output_index=index,
                              item=snapshot(data))]
        if self.params.in_conversation:
            self._previous_id = self.conversation.insert(item)
            events.append(self._event("conversation.item.added", previous_item_id=self._previous_id,
                                      item=snapshot(data)))
        return events

    def _close_item(self, index: int, status: str) -> list[Event]:
        item = self._item
        assert item is not None
        item.data["status"] = status
        item.changed()
        events = []
        if self.params.in_conversation:
            position = self.conversation.position(item)
            previous = self._previous_id
            if position is not None:
                previous = self.conversation.items[position - 1].id if position > 0 else None
            events.append(self._event("conversation.item.done", previous_item_id=previous, item=snapshot(item.data)))
        events.append(self._event("response.output_item.done", response_id=self.id, output_index=index,
                                  item=snapshot(item.data)))
        self._item = None
        return events

    def _message(
        self, index: int, text: str, at: float, status: str, pcm: bytes | None = None
    ) -> Generator[Step, None, float]:
        audio = self.params.audio
        data: dict[str, Any] = {"id": self.ids.new("item"), "type": "message", "status": "in_progress",
                                "role": "assistant", "content": []}
        where = {"response_id": self.id, "item_id": data["id"], "output_index": index, "content_index": 0}
        events = self._open_item(index, data)
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        data["content"].append({"type": "output_audio", "transcript": ""} if audio else
                               {"type": "output_text", "text": ""})
        events.append(self._event("response.content_part.added", **where, part=part))
        self._part_open, self._text = True, ""
        yield Step(at, events, self._delay_ms)
        if audio:
            at = yield from self._audio_deltas(text, where, at, pcm)
        else:
            for word in _words(text):
                self._append_text(word)
                yield Step(at, [self._event("response.output_text.delta", **where, delta=word,
                                            obfuscation=self.ids.obfuscation())], self._delta_delay())
                at += len(word) / TEXT_CHARS_PER_SECOND * 1000
        yield Step(at, self._close_part(where) + self._close_item(index, status), self._delay_ms)
        return at

    def _append_text(self, delta: str) -> None:
        assert self._item is not None
        self._text += delta
        self._out_text_tokens = self._text_tokens_before + text_tokens(self._text)
        part = self._item.data["content"][0]
        part["transcript" if part["type"] == "output_audio" else "text"] = self._text
        self._item.changed()

    def _audio_deltas(
        self, text: str, where: dict[str, Any], at: float, given: bytes | None
    ) -> Generator[Step, None, float]:
        assert self._item is not None
        fmt = self.params.output_format
        pcm = given if given is not None else speech.synthesize(text, fmt)
        chunk = max(2, int(self.audio_chunk_ms * speech.bytes_per_ms(fmt)) // 2 * 2)
        chunks = [pcm[i:i + chunk] for i in range(0, len(pcm), chunk)] or [b""]
        words = _words(text)
        buffer = bytearray()
        self._item.audio[0] = buffer
        before_ms = self._out_audio_ms
        said = 0
        for number, piece in enumerate(chunks, start=1):
            events: list[Event] = []
            share = len(text) * number // len(chunks)
            while words and said + len(words[0]) <= share:
                word = words.pop(0)
                said += len(word)
                self._append_text(word)
                events.append(self._event("response.output_audio_transcript.delta", **where, delta=word,
                                          obfuscation=self.ids.obfuscation()))
            if piece:
                buffer += piece
                self._item.changed()
                self._out_audio_ms = before_ms + speech.duration_ms(len(buffer), fmt)
                events.append(self._event("response.output_audio.delta", **where,
                                          delta=b64encode(piece)))
            if events:
                yield Step(at, events, self._delta_delay())
            at += speech.duration_ms(len(piece), fmt)
        return at

    def _close_part(self, where: dict[str, Any]) -> list[Event]:
        if not self._part_open:
            return []
        self._part_open = False
        item = self._item
        assert item is not None
        if self.params.audio:
            if 0 in item.audio:
                item.audio[0] = bytes(item.audio[0])
            part = {"type": "audio", "transcript": self._text}
            return [
                self._event("response.output_audio.done", **where),
                self._event("response.output_audio_transcript.done", **where, transcript=self._text),
                self._event("response.content_part.done", **where, part=part),
            ]
        return [
            self._event("response.output_text.done", **where, text=self._text),
            self._event("response.content_part.done", **where, part={"type": "text", "text": self._text}),
        ]

    def _function_call(self, index: int, output: ModelOutput, at: float) -> Generator[Step, None, None]:
        call_id = self.ids.call_id()
        data = {"id": self.ids.new("item"), "type": "function_call", "status": "in_progress", "name": output.name,
                "call_id": call_id, "arguments": ""}
        events = self._open_item(index, data)
        self._arguments = ""
        yield Step(at, events, self._delay_ms)
        where = {"response_id": self.id, "item_id": data["id"], "output_index": index, "call_id": call_id}
        for start in range(0, len(output.arguments), _ARGUMENT_CHUNK):
            delta = output.arguments[start:start + _ARGUMENT_CHUNK]
            self._arguments += delta
            data["arguments"] = self._arguments
            assert self._item is not None
            self._item.changed()
            self._out_text_tokens = self._text_tokens_before + text_tokens(self._arguments)
            yield Step(at, [self._event("response.function_call_arguments.delta", **where, delta=delta)],
                       self._delta_delay())
        yield Step(at, self._close_call(index) + self._close_item(index, "completed"), self._delay_ms)

    def _close_call(self, index: int) -> list[Event]:
        item = self._item
        assert item is not None
        return [self._event("response.function_call_arguments.done", response_id=self.id, item_id=item.id,
                            output_index=index, call_id=item.data["call_id"], name=item.data["name"],
                            arguments=self._arguments)]

    def _finish(self, status: str) -> list[Event]:
        self.status = status
        self.usage = usage_object(self.context, self.cached, self._out_text_tokens,
                                  output_audio_tokens(self._out_audio_ms))
        self.finished = True
        return [self._event("response.done", response=self._response_object())]

    def _rate_limits(self) -> Event:
        limit = RATE_LIMIT_TOKENS
        used = self.usage["total_tokens"] if self.usage else 0
        return self._event("rate_limits.updated", rate_limits=[{
            "name": "tokens", "limit": limit, "remaining": max(0, limit - used),
            "reset_seconds": round(used * 60 / limit, 3)}])

    # ------------------------------------------------------------------ cancel
    def cancel(self, reason: str) -> list[Event]:
        """End now: close what is open (status ``incomplete``), then ``response.done`` cancelled.

        The steps not taken are simply never asked for (the session stops scheduling the stream), so a
        cancel made while handling a client event that is then rolled back can be undone (:meth:`save`).
        """
        events: list[Event] = []
        if self._item is not None:
            index = len(self.output) - 1
            if self._item.data["type"] == "function_call":
                events += self._close_call(index)
            else:
                events += self._close_part({"response_id": self.id, "item_id": self._item.id,
                                            "output_index": index, "content_index": 0})
            events += self._close_item(index, "incomplete")
        self.status_details = {"type": "cancelled", "reason": reason}
        events += self._finish("cancelled")
        events.append(self._rate_limits())
        return events

    # ------------------------------------------------------------------ rollback
    def save(self) -> tuple[dict[str, Any], Item | None, str | None, dict[int, bytes | bytearray]]:
        """What :meth:`cancel` changes (this stream's fields, and the status and audio of its open item)."""
        item = self._item
        if item is None:
            return dict(vars(self)), None, None, {}
        return dict(vars(self)), item, item.data["status"], dict(item.audio)

    def restore(self, saved: tuple[dict[str, Any], Item | None, str | None, dict[int, bytes | bytearray]]) -> None:
        """Undo a :meth:`cancel`: back to what :meth:`save` returned."""
        fields, item, status, audio = saved
        vars(self).update(fields)
        if item is not None:
            item.data["status"] = status
            item.audio = audio
            item.changed()

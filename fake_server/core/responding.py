"""The ``response.*`` handlers of a session, and the answers a policy gives instead of the normal handling.

A part of :class:`fake_server.core.session.Session` (it inherits these). A response asks the
session's policy (``fake_server.script.Script`` when scripted) what to say, then streams as a
:class:`~fake_server.core.responses.ResponseStream` through the session's scheduler.
"""

from __future__ import annotations

import copy
from typing import Any

from ..protocol.wire import CloseConnection, Event
from .conversation import Item, has_function_call
from .handling import SessionParts
from .responder import Reply, ResponseContext
from .responses import ResponseParams, ResponseStream
from .session_config import normalize_format
from .usage import cached_prefix, context_segments

__all__ = ["ResponseHandlers", "client_event_id"]


def client_event_id(event: Event | None) -> str | None:
    """The client's ``event_id``, echoed in ``error.event_id`` (``None`` when absent or not a string)."""
    event_id = event.get("event_id") if event is not None else None
    return event_id if type(event_id) is str else None


class ResponseHandlers(SessionParts):
    """Responses: creating, cancelling, and what the policy answers instead."""

    def _scripted(self, reply: Reply, client_event: Event | None) -> list[Event]:
        """A scripted answer instead of the normal handling: an ``error`` event and/or a close."""
        out = []
        if reply.error is not None:
            out.append(self._event("error", error={**reply.error, "event_id": client_event_id(client_event)}))
        if reply.close is not None:
            self._close(CloseConnection(*reply.close))
        return out

    def _response_create(self, event: Event) -> list[Event]:
        return self._start_response(event.get("response") or {}, event)

    def _start_response(self, request: dict[str, Any], client_event: Event | None = None) -> list[Event]:
        in_conversation = request.get("conversation", "auto") != "none"
        active = self._active
        self._require("no_active_response", not in_conversation or active is None,
                      response_id=active.id if active is not None else None)
        params = self._response_params(request, in_conversation)
        context = self._response_input(request["input"]) if "input" in request else list(self.history)
        reply = self.script.respond(ResponseContext(
            items=[item.data for item in context], instructions=params.instructions, tools=params.tools,
            tool_choice=params.tool_choice, output_modalities=params.output_modalities,
            hear=lambda data, index: self._hear_data(context, data, index),
            turn=len(self.responses) + 1, connection=self.index, session_id=self.id,
            in_conversation=in_conversation, client_event=client_event,
        ))
        if reply.error is not None or (reply.close is not None and reply.close_after == 0):
            return self._scripted(reply, client_event)
        params.spoken = reply.spoken
        if reply.spoken is None and params.audio and self.script.wants("text_history_answers_in_text") and any(
            item.role == "assistant" for item in self.history
        ) and not self.history.has_assistant_audio():
            params.spoken = False
        segments = context_segments(params.instructions, params.tools, context, self._input_format)
        cached = cached_prefix(self._last_context, segments)
        if in_conversation:
            self._last_context = segments
        stream = ResponseStream(
            ids=self.ids, conversation=self.history, conversation_id=self.conversation_id, params=params,
            reply=reply, context=segments, cached=cached, audio_chunk_ms=self.limits.audio_chunk_ms,
        )
        self.responses.append(stream)
        if in_conversation:
            self._active = stream
        self.scheduler.add(stream)
        events, close = stream.created()
        if close is not None:
            self._close(close)
        return events

    def _hear_data(self, context: list[Item], data: dict[str, Any], index: int) -> str:
        item = next((i for i in context if i.data is data), None)
        return "" if item is None else self.hear(item, index)

    def _response_params(self, request: dict[str, Any], in_conversation: bool) -> ResponseParams:
        config = self.config
        output = request.get("audio", {}).get("output", {})
        fmt = output.get("format")
        return ResponseParams(
            output_modalities=list(request.get("output_modalities", config["output_modalities"])),
            instructions=request.get("instructions", config["instructions"]),
            voice=output.get("voice", config["audio"]["output"]["voice"]),
            output_format=normalize_format(fmt) if fmt else dict(config["audio"]["output"]["format"]),
            tools=copy.deepcopy(request.get("tools", config["tools"])),
            tool_choice=copy.deepcopy(request.get("tool_choice", config["tool_choice"])),
            max_output_tokens=request.get("max_output_tokens", config["max_output_tokens"]),
            metadata=copy.deepcopy(request.get("metadata")),
            in_conversation=in_conversation,
        )

    def _response_input(self, given: list[dict[str, Any]]) -> list[Item]:
        """The context of a response that brings its own ``input`` (inline items and references)."""
        items: list[Item] = []
        for entry in given:
            if entry["type"] == "item_reference":
                found = self.history.get(entry["id"])
                self._require("input_items_exist", found is not None, item_id=entry["id"])
                assert found is not None
                items.append(found)
            else:
                items.append(self._server_item(entry, lambda call_id: has_function_call(items, call_id)))
        return items

    def _response_cancel(self, event: Event) -> list[Event]:
        response_id = event.get("response_id")
        if response_id:
            target = next((r for r in self.responses if r.id == response_id and not r.finished), None)
        else:
            target = self._active
        self._require("response_active", target is not None)
        assert target is not None
        return self._cancel(target, "client_cancelled")

    def _cancel(self, response: ResponseStream, reason: str) -> list[Event]:
        """End ``response`` now (kept undoable until the client event that caused it has applied)."""
        self._cancelled.append((response, response.save()))
        self.scheduler.drop(response)
        if response is self._active:
            self._active = None
        return response.cancel(reason)

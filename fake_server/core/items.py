"""The ``conversation.item.*`` handlers of a session: create, delete, retrieve, truncate.

A part of :class:`fake_server.core.session.Session` (it inherits these); each handler checks the
preconditions of its row in ``fake_server.protocol.legality`` before it changes anything.
"""

from __future__ import annotations

import binascii
import copy
from typing import Any, Callable

from . import speech
from ..protocol.b64 import b64decode, b64encode
from ..protocol.wire import Event
from .conversation import Item, snapshot
from .handling import SessionParts
from .turns import whole_samples

__all__ = ["ItemHandlers"]


class ItemHandlers(SessionParts):
    """Conversation items: what a session does with the client's items."""

    def _item_create(self, event: Event) -> list[Event]:
        item = self._server_item(event["item"], self.history.has_function_call)
        return self._add(item, event.get("previous_item_id") or None)

    def _add(self, item: Item, previous_item_id: str | None) -> list[Event]:
        """Insert a new item: ``conversation.item.added`` then ``conversation.item.done``."""
        self._require("previous_item_exists", previous_item_id in (None, "root") or
                      self.history.index(previous_item_id) is not None, previous_item_id=previous_item_id)
        previous = self.history.insert(item, previous_item_id)
        return [
            self._event("conversation.item.added", previous_item_id=previous, item=snapshot(item.data)),
            self._event("conversation.item.done", previous_item_id=previous, item=snapshot(item.data)),
        ]

    def _decode_audio(self, text: str, path: str) -> bytes:
        try:
            data = b64decode(text)
        except (binascii.Error, ValueError):
            data = None
        self._require("audio_base64", data is not None, path=path)
        assert data is not None
        limit = self.limits.max_append_bytes
        self._require("audio_size", len(data) <= limit, path=path, limit=limit, given=len(data))
        return data

    def _server_item(self, given: dict[str, Any], call_exists: Callable[[str], bool]) -> Item:
        """The item as the server stores and echoes it (no ``object``, status completed)."""
        kind = given["type"]
        item_id = given.get("id") or self.ids.new("item")
        if kind == "message":
            content: list[dict[str, Any]] = []
            audio: dict[int, bytes | bytearray] = {}
            for index, part in enumerate(given["content"]):
                if part["type"] == "input_audio":
                    audio[index] = self._decode_audio(part["audio"], f"item.content[{index}].audio")
                    content.append({"type": "input_audio", "transcript": part.get("transcript")})
                elif part["type"] == "input_image":
                    content.append({"type": "input_image", "image_url": part["image_url"],
                                    "detail": part.get("detail", "auto")})
                else:
                    content.append({"type": part["type"], "text": part["text"]})
            data = {"id": item_id, "type": "message", "status": "completed", "role": given["role"],
                    "content": content}
            return Item(data, audio, dict(self._input_format) if audio else None)
        if kind == "function_call":
            return Item({"id": item_id, "type": "function_call", "status": "completed", "name": given["name"],
                         "call_id": given.get("call_id") or self.ids.call_id(), "arguments": given["arguments"]})
        if kind == "function_call_output":
            call_id = given["call_id"]
            self._require("tool_call_exists", call_exists(call_id), call_id=call_id)
            return Item({"id": item_id, "type": "function_call_output", "status": "completed", "call_id": call_id,
                         "output": given["output"]})
        data = {"id": item_id, **{k: copy.deepcopy(v) for k, v in given.items() if k not in ("id", "object")}}
        return Item(data)

    def _item_delete(self, event: Event) -> list[Event]:
        item_id = event["item_id"]
        self._require("item_exists", self.history.index(item_id) is not None, item_id=item_id)
        self.history.remove(item_id)
        return [self._event("conversation.item.deleted", item_id=item_id)]

    def _item_retrieve(self, event: Event) -> list[Event]:
        item = self.history.get(event["item_id"])
        self._require("item_exists", item is not None, item_id=event["item_id"])
        assert item is not None
        data = snapshot(item.data)
        for part_index, audio in item.audio.items():
            data["content"][part_index]["audio"] = b64encode(audio)
        return [self._event("conversation.item.retrieved", item=data)]

    def _item_truncate(self, event: Event) -> list[Event]:
        item_id, content_index, audio_end_ms = event["item_id"], event["content_index"], event["audio_end_ms"]
        item = self.history.get(item_id)
        self._require("item_exists", item is not None, item_id=item_id)
        assert item is not None
        content = item.data.get("content") or []
        self._require("assistant_audio", item.role == "assistant" and any(
            part["type"] == "output_audio" for part in content) and any(item.audio.values()))
        self._require("content_index_audio", content_index < len(content) and
                      content[content_index]["type"] == "output_audio", content_index=content_index)
        audio = item.audio.get(content_index, b"")
        fmt = item.audio_format or self.config["audio"]["output"]["format"]
        actual_ms = speech.duration_ms(len(audio), fmt)
        self._require("within_audio", audio_end_ms <= actual_ms, actual_ms=int(actual_ms), audio_end_ms=audio_end_ms)
        keep = whole_samples(int(audio_end_ms * speech.bytes_per_ms(fmt)), fmt)
        self._touch(item)
        item.audio[content_index] = bytes(audio[:keep])
        content[content_index]["transcript"] = ""
        item.changed()
        return [self._event("conversation.item.truncated", item_id=item_id, content_index=content_index,
                            audio_end_ms=audio_end_ms)]

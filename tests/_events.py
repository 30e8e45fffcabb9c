"""Builders for the client events tests send, and for the items and audio inside them.

A test then shows only what it is about: ``item_create(user_text("hi"), event_id="e1")`` rather than four
levels of dicts. Each builder returns a new dict, fields in the order a client writes them: ``type``,
then ``event_id`` when one is given, then the rest. Anything a builder does not name can still be written
out by hand; a test about a malformed event should spell the event out.

The how-to tests in tests/examples do not use these: they are documents users copy, so they stay
self-contained.
"""

from __future__ import annotations

import base64
from typing import Any

Event = dict[str, Any]
Item = dict[str, Any]

SAMPLE_RATE = 24_000  # the default audio/pcm format: 24 kHz, 16-bit, mono
SAMPLE = b"\x01\x00"  # one 16-bit sample, far too quiet for the fake's VAD to take for speech


# ---------------------------------------------------------------- audio
def pcm(ms: int, sample: bytes = SAMPLE) -> bytes:
    """``ms`` milliseconds of PCM16 audio at 24 kHz, every sample ``sample``."""
    return sample * (SAMPLE_RATE // 1000 * ms)


def b64(data: bytes) -> str:
    """Audio as the wire carries it: base64 text."""
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- items
def message(role: str, *parts: dict[str, Any], **extra: Any) -> Item:
    """A message item of ``role`` with these content parts (any parts, right or wrong for the role)."""
    return {"type": "message", "role": role, "content": list(parts), **extra}


def user_text(text: str, **extra: Any) -> Item:
    return message("user", {"type": "input_text", "text": text}, **extra)


def system_text(text: str, **extra: Any) -> Item:
    return message("system", {"type": "input_text", "text": text}, **extra)


def assistant_text(text: str, **extra: Any) -> Item:
    return message("assistant", {"type": "output_text", "text": text}, **extra)


def user_audio(audio: bytes | str, **extra: Any) -> Item:
    """A user message with one ``input_audio`` part; raw PCM is base64-encoded."""
    return message("user", {"type": "input_audio", "audio": _text(audio)}, **extra)


def function_call(name: str, call_id: str, arguments: str = "{}", **extra: Any) -> Item:
    return {"type": "function_call", "name": name, "call_id": call_id, "arguments": arguments, **extra}


def function_call_output(call_id: str, output: str, **extra: Any) -> Item:
    return {"type": "function_call_output", "call_id": call_id, "output": output, **extra}


# ---------------------------------------------------------------- client events
def event(type: str, event_id: str | None = None, **fields: Any) -> Event:
    """Any client event: ``type``, the ``event_id`` if given, then ``fields`` as they are."""
    return {"type": type, **({} if event_id is None else {"event_id": event_id}), **fields}


def session_config(type: str = "realtime", *, vad: bool = True, **fields: Any) -> dict[str, Any]:
    """The ``session`` object of a ``session.update`` (also what the SDK's ``session.update`` takes).

    ``vad=False`` turns server VAD off (``audio.input.turn_detection: null``), kept beside any other
    ``audio`` settings given."""
    session: dict[str, Any] = {"type": type, **fields}
    if not vad:
        audio = dict(session.get("audio") or {})
        audio["input"] = {**(audio.get("input") or {}), "turn_detection": None}
        session["audio"] = audio
    return session


def session_update(event_id: str | None = None, *, vad: bool = True, **session: Any) -> Event:
    """``session.update`` with ``session_config(**session)``: ``type`` is ``realtime`` unless given."""
    return event("session.update", event_id, session=session_config(vad=vad, **session))


def item_create(item: Item, previous: str | None = None, event_id: str | None = None) -> Event:
    """``conversation.item.create``; ``previous`` is the ``previous_item_id`` (left out when ``None``)."""
    placed = {} if previous is None else {"previous_item_id": previous}
    return event("conversation.item.create", event_id, **placed, item=item)


def response_create(event_id: str | None = None, **response: Any) -> Event:
    """``response.create``, with a ``response`` object only when fields are given."""
    return event("response.create", event_id, **({"response": response} if response else {}))


def response_cancel(response_id: str | None = None, event_id: str | None = None) -> Event:
    return event("response.cancel", event_id, **({} if response_id is None else {"response_id": response_id}))


def append(audio: bytes | str, event_id: str | None = None) -> Event:
    """``input_audio_buffer.append``; raw PCM is base64-encoded, text is sent as it is."""
    return event("input_audio_buffer.append", event_id, audio=_text(audio))


def commit(event_id: str | None = None) -> Event:
    return event("input_audio_buffer.commit", event_id)


def clear(event_id: str | None = None) -> Event:
    return event("input_audio_buffer.clear", event_id)


def truncate(item_id: str, audio_end_ms: int, content_index: int = 0, event_id: str | None = None) -> Event:
    return event("conversation.item.truncate", event_id, item_id=item_id, content_index=content_index,
                 audio_end_ms=audio_end_ms)


def delete(item_id: str, event_id: str | None = None) -> Event:
    return event("conversation.item.delete", event_id, item_id=item_id)


def retrieve(item_id: str, event_id: str | None = None) -> Event:
    return event("conversation.item.retrieve", event_id, item_id=item_id)


def _text(audio: bytes | str) -> str:
    return b64(audio) if isinstance(audio, bytes) else audio

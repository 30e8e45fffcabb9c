"""``session.update`` and ``session.close``: the session object, as the live service stores it.

Top-level fields replace the stored ones; ``audio.input`` and ``audio.output`` merge field by
field, each leaf normalised the way the service echoes it (the defaults of a partially set
``turn_detection`` or ``transcription`` filled in, a PCM format given its rate).
:class:`ConfigHandlers` is a part of :class:`fake_server.core.session.Session` (it inherits them).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from ..protocol.wire import TRANSCRIPTION_DEFAULTS, TURN_DETECTION_DEFAULTS, CloseConnection, Event
from .conversation import snapshot
from .handling import SessionParts

__all__ = ["ConfigHandlers", "merged_config", "normalize_format"]


def normalize_format(value: Mapping[str, Any]) -> dict[str, Any]:
    """An audio format as stored: PCM always carries its rate."""
    return {"type": "audio/pcm", "rate": value.get("rate", 24000)} if value["type"] == "audio/pcm" else dict(value)


def _normalize_turn_detection(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {**TURN_DETECTION_DEFAULTS[value["type"]], **value}


def _normalize_transcription(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else {**TRANSCRIPTION_DEFAULTS, **value}


def _as_given(value: Any) -> Any:
    return value


# How each session.update field is stored: a normalizer for the leaf value.
_AUDIO_FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "input": {
        "format": normalize_format,
        "transcription": _normalize_transcription,
        "noise_reduction": _as_given,
        "turn_detection": _normalize_turn_detection,
    },
    "output": {
        "format": normalize_format,
        "voice": _as_given,
        "speed": _as_given,
    },
}


def merged_config(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The session object after ``update`` (a schema-valid ``session`` of ``session.update``); ``current``
    is left as it is."""
    new = copy.deepcopy(dict(current))
    for name, value in update.items():
        if name == "type":
            continue
        if name == "audio":
            for direction, fields in _AUDIO_FIELDS.items():
                for field, leaf in value.get(direction, {}).items():
                    new["audio"][direction][field] = fields[field](copy.deepcopy(leaf))
        else:
            new[name] = copy.deepcopy(value)
    return new


class ConfigHandlers(SessionParts):
    """The session's own events: updating its configuration, closing it."""

    def _session_update(self, event: Event) -> list[Event]:
        update = event["session"]
        self._require(f"session_type_{self.kind}", update["type"] == self.kind)
        current = self.config
        new = merged_config(current, update)
        if self.kind == "realtime":
            changed = new["audio"]["output"]["voice"] != current["audio"]["output"]["voice"]
            self._require("voice_unlocked", not changed or not self.history.has_assistant_audio())
        self.config = new
        if new["audio"]["input"] != current["audio"]["input"]:
            self.turns.configure(new["audio"]["input"]["format"], new["audio"]["input"]["turn_detection"])
        return [self._event("session.updated", session=snapshot(new))]

    def _session_close(self, event: Event) -> list[Event]:
        self._close(CloseConnection(1000, ""))
        return []

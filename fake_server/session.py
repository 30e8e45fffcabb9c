"""The sans-I/O Realtime session: one client event in, the server events out.

(Interface only for the moment; the behaviour is being written.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from .protocol.ids import IdGenerator

__all__ = ["Session", "SessionLimits", "CloseConnection"]


@dataclass(frozen=True)
class CloseConnection:
    """The session asks the transport to close the socket after sending its events."""

    code: int
    reason: str


@dataclass
class SessionLimits:
    max_append_bytes: int = 15 * 1024 * 1024
    max_duration_seconds: float = 3600.0
    validate_server_events: bool = False


class Session:
    def __init__(self, *, model: str, kind: str = "realtime", ids: IdGenerator,
                 clock: Callable[[], float], limits: SessionLimits | None = None) -> None:
        self.model = model
        self.kind = kind
        self.ids = ids
        self.clock = clock
        self.limits = limits or SessionLimits()
        self.id = ids.new("sess")
        self.closing: CloseConnection | None = None

    def start(self) -> list[dict[str, Any]]:
        return [{"type": "session.created", "event_id": self.ids.new("event"),
                 "session": {"type": self.kind, "id": self.id, "model": self.model}}]

    def receive_text(self, text: str | bytes) -> list[dict[str, Any]]:
        return self.receive_event(json.loads(text))

    def receive_binary(self, data: bytes) -> list[dict[str, Any]]:
        return []

    def receive_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return []

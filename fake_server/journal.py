"""What happened on one connection: every frame both ways, recorded on the way through.

The session records into its journal as it decodes client frames and emits server events;
the transport adds the handshake. Entries keep the decoded events (no second JSON parse)
and the journal is bounded (the oldest entries are dropped past ``max_entries``), so a
load test does not grow memory without limit.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Mapping, NamedTuple

__all__ = ["Entry", "Handshake", "Journal", "DEFAULT_MAX_ENTRIES"]

DEFAULT_MAX_ENTRIES = 10000


class Entry(NamedTuple):
    """One frame. ``event`` is the decoded JSON object; ``raw`` is set only for frames that did
    not decode to an object (invalid JSON, binary frames, JSON that is not an object)."""

    direction: Literal["client", "server"]
    time: float
    event: dict[str, Any] | None = None
    raw: str | bytes | None = None

    @property
    def type(self) -> str | None:
        value = self.event.get("type") if self.event is not None else None
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Handshake:
    """The upgrade request, with API keys redacted."""

    path: str
    query: str
    headers: Mapping[str, str]
    subprotocols: tuple[str, ...]
    time: float


class Journal:
    """The frames of one connection, in order. Safe to read from another thread while the server writes."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.handshake: Handshake | None = None
        self.dropped = 0
        """How many of the oldest entries were dropped to stay within ``max_entries``."""
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def client(self, time: float, event: dict[str, Any] | None = None, raw: str | bytes | None = None) -> None:
        entry = Entry("client", time, event, raw)
        with self._lock:
            if len(self._entries) == self.max_entries:
                self.dropped += 1
            self._entries.append(entry)

    def server(self, time: float, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._lock:
            entries = self._entries
            for event in events:
                if len(entries) == self.max_entries:
                    self.dropped += 1
                entries.append(Entry("server", time, event))

    def entries(self) -> list[Entry]:
        """A snapshot of the recorded frames, oldest first."""
        with self._lock:
            return list(self._entries)

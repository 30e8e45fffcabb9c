"""What happened on one connection: every frame both ways, recorded on the way through.

The session records into its journal as it decodes client frames and emits server events;
the transport adds the handshake. Entries keep the decoded events (no second JSON parse)
and the journal is bounded (the oldest entries are dropped past ``max_entries``), so a
load test does not grow memory without limit. Every ``error`` the fake sends is recorded with
its :class:`Cause`: what it answered and the rule it applied.

The journal knows no threads: the transport hands it a lock (any context manager) and a hook
to call after each recording, and does the waiting (``fake_server.transport.journal_wait``).
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Literal, Mapping, NamedTuple, Sequence

from ..protocol.secrets import redact, redact_header, redact_query, redact_subprotocols

__all__ = ["Cause", "Entry", "Handshake", "Journal", "DEFAULT_MAX_ENTRIES", "event_matches", "redact"]

DEFAULT_MAX_ENTRIES = 10000


class Cause(NamedTuple):
    """Why the fake sent an ``error``: the client frame it answered (if any) and the rule it applied.

    ``position`` is the journal position of that client frame (``None`` when no client frame
    caused it: a rejected handshake, expiry, a failure while streaming); ``event`` is the frame
    decoded, or ``raw`` the frame as received when it was no JSON object. ``rule`` names the row
    of ``fake_server.protocol.rules.ERRORS`` (``"script"`` for an error a script made).
    """

    rule: str
    position: int | None = None
    event: dict[str, Any] | None = None
    raw: str | bytes | None = None
    handshake: bool = False
    """The error rejected the WebSocket handshake."""


class Entry(NamedTuple):
    """One frame. ``event`` is the decoded JSON object; ``raw`` is set only for frames that did
    not decode to an object (invalid JSON, binary frames, JSON that is not an object); ``cause``
    only for the ``error`` events the fake sent."""

    direction: Literal["client", "server"]
    time: float
    event: dict[str, Any] | None = None
    raw: str | bytes | None = None
    cause: Cause | None = None

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

    @classmethod
    def redacted(
        cls, path: str, query: str, headers: Mapping[str, str], subprotocols: Sequence[str], time: float
    ) -> "Handshake":
        """The request as recorded: ``Authorization`` tokens, key headers, key query parameters and
        ``openai-insecure-api-key.<key>`` subprotocols masked."""
        return cls(
            path,
            redact_query(query),
            {name: redact_header(name, value) for name, value in headers.items()},
            tuple(redact_subprotocols(p) for p in subprotocols),
            time,
        )

    @property
    def target(self) -> str:
        """The request target as sent (path and query), keys masked."""
        return f"{self.path}?{self.query}" if self.query else self.path


def event_matches(event: Any, fields: Mapping[str, Any]) -> bool:
    """Whether ``event`` holds ``fields``: nested dicts match as subsets, lists item by item
    (same length), anything else by equality."""
    if not isinstance(event, dict):
        return False
    for key, want in fields.items():
        if key not in event or not _value_matches(event[key], want):
            return False
    return True


def _value_matches(value: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return event_matches(value, want)
    if isinstance(want, list):
        return isinstance(value, list) and len(value) == len(want) and all(
            _value_matches(v, w) for v, w in zip(value, want))
    return bool(value == want)


Direction = Literal["client", "server"]


class Journal:
    """The frames of one connection, in order.

    Positions count every entry ever recorded (dropped ones too), so a position taken
    earlier still means "after this point" once old entries are gone. ``lock`` guards every
    read and write (by default none: one thread); ``on_record`` is called, with the lock held,
    after each recording (a transport wakes its waiters there).
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, *, lock: ContextManager[Any] | None = None,
                 on_record: Callable[[], None] | None = None) -> None:
        self.max_entries = max_entries
        self.handshake: Handshake | None = None
        """The upgrade request, keys redacted (set by the transport)."""
        self.dropped = 0
        """How many of the oldest entries were dropped to stay within ``max_entries``."""
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self.lock: ContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
        self._on_record = on_record

    def client(self, time: float, event: dict[str, Any] | None = None, raw: str | bytes | None = None) -> int:
        """Record a client frame; its position."""
        entry = Entry("client", time, event, raw)
        with self.lock:
            if len(self._entries) == self.max_entries:
                self.dropped += 1
            self._entries.append(entry)
            if self._on_record is not None:
                self._on_record()
            return self.dropped + len(self._entries) - 1

    def server(self, time: float, events: list[dict[str, Any]], cause: Cause | None = None) -> None:
        """Record server events as sent; ``cause`` goes with each ``error`` among them."""
        if not events:
            return
        with self.lock:
            entries = self._entries
            for event in events:
                if len(entries) == self.max_entries:
                    self.dropped += 1
                entries.append(Entry("server", time, event, None,
                                     cause if cause is not None and event.get("type") == "error" else None))
            if self._on_record is not None:
                self._on_record()

    @property
    def position(self) -> int:
        """How many entries were ever recorded: pass it as ``since`` to look only at later ones."""
        with self.lock:
            return self.dropped + len(self._entries)

    def entries(self, since: int = 0) -> list[Entry]:
        """A snapshot of the recorded frames, oldest first (from position ``since`` on)."""
        with self.lock:
            skip = since - self.dropped
            if skip <= 0:
                return list(self._entries)
            return [self._entries[i] for i in range(skip, len(self._entries))]

    def events(self, direction: Direction, type: str | None = None) -> list[dict[str, Any]]:
        """The decoded events one way (raw frames left out), optionally of one ``type``."""
        return [
            entry.event for entry in self.entries()
            if entry.direction == direction and entry.event is not None
            and (type is None or entry.event.get("type") == type)
        ]

    def finder(
        self, direction: Direction | None, type: str | None, fields: Mapping[str, Any], since: int
    ) -> Callable[[], Entry | None]:
        """A check for a waiter: the first entry like this at or after ``since``, or ``None``. Call it with
        :attr:`lock` held; each call scans only the entries recorded since the previous one."""
        cursor = since

        def find() -> Entry | None:
            nonlocal cursor
            entries = self._entries
            start = max(cursor - self.dropped, 0)
            end = len(entries)
            cursor = self.dropped + end
            for i in range(start, end):
                entry = entries[i]
                if (direction is None or entry.direction == direction) and (
                        type is None or entry.type == type) and (not fields or event_matches(entry.event, fields)):
                    return entry
            return None

        return find

    def __repr__(self) -> str:
        with self.lock:
            count = len(self._entries)
        return f"<Journal {count} entries, {self.dropped} dropped, handshake={self.handshake!r}>"

"""Transport misbehaviour on demand: dropped, duplicated and reordered events, jitter, early closes.

:class:`Faults` is what a script asks for (``fake_server.script`` re-exports it);
:class:`FaultEngine` applies it to one connection's server events. Every draw is reproducible
from the fault seed and the connection's index, and each source of events (the answers to
client events, and each stream) draws from its own generator, so the faults a stream sees do
not depend on how its steps interleave with the answers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from ..protocol.wire import CloseConnection, Event, check_close

__all__ = ["Faults", "FaultSource", "FaultEngine", "check_count", "check_ms"]


def check_count(name: str, value: Any, least: int, *, optional: bool = True) -> None:
    """Raise :class:`ValueError` unless ``value`` is an integer of ``least`` or more (or ``None`` if ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name}: expected an integer of {least} or more{', or None' if optional else ''}, "
                         f"got {value!r}")


def check_ms(name: str, value: Any) -> None:
    """Raise :class:`ValueError` unless ``value`` is a finite number of milliseconds, 0 or more."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (0 <= value < math.inf):
        raise ValueError(f"{name}: expected milliseconds, 0 or more, got {value!r}")


@dataclass(frozen=True)
class Faults:
    """Transport misbehaviour, reproducible from ``seed`` (each connection draws from ``seed`` and its index).

    ``drop`` / ``duplicate``: the chance that a server event is not sent / sent twice;
    ``reorder``: the chance that an event swaps places with the next one of the same answer or stream;
    ``jitter_ms``: a random extra delay, up to this, before each streamed step;
    ``close_before_created``: ``(code, reason)`` to close right after the upgrade, before ``session.created``;
    ``close_after_events``: ``(n, code, reason)`` to close once ``n`` server events have been sent
    (codes as :func:`~fake_server.protocol.wire.check_close` allows: 1006 drops the connection without a
    close frame);
    ``types``: the event types drop/duplicate/reorder apply to (``None``: all but ``session.created``);
    ``connections``: the connection indexes affected (``None``: all).
    """

    seed: int | str = 0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    jitter_ms: float = 0.0
    close_before_created: tuple[int, str] | None = None
    close_after_events: tuple[int, int, str] | None = None
    types: frozenset[str] | None = None
    connections: frozenset[int] | None = None

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder"):
            chance = getattr(self, name)
            if not isinstance(chance, (int, float)) or isinstance(chance, bool) or not 0 <= chance <= 1:
                raise ValueError(f"{name}: expected a chance from 0 to 1, got {chance!r}")
        check_ms("jitter_ms", self.jitter_ms)
        if self.close_before_created is not None:
            check_close(*self.close_before_created)
        if self.close_after_events is not None:
            events, code, reason = self.close_after_events
            check_count("close_after_events events", events, 0, optional=False)
            check_close(code, reason)

    def applies_to(self, connection: int) -> bool:
        return self.connections is None or connection in self.connections


class FaultSource:
    """The fault draws of one source of server events: the answers to client events, or one stream.

    An event that ``reorder`` moves past the end of a batch is ``held`` and goes out after the
    first event of the source's next batch.
    """

    __slots__ = ("rng", "held")

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.held: Event | None = None


class FaultEngine:
    """The faults of one connection, applied to each batch of server events on its way out."""

    def __init__(self, faults: Faults, connection: int) -> None:
        self.faults = faults
        self._seed = f"{faults.seed}:{connection}"
        self.answers = FaultSource(f"{self._seed}:answers")
        """The source of the answers to client events (and of everything that is not a stream's)."""
        self._streams: dict[int, FaultSource] = {}  # by id() of the stream
        self._stream_count = 0
        self.sent = 0
        """Server events sent so far (what ``close_after_events`` counts)."""

    @classmethod
    def for_connection(cls, faults: Faults, connection: int) -> "FaultEngine | None":
        """The engine for a connection, or ``None`` when no fault applies to it (nothing to draw)."""
        return cls(faults, connection) if faults.applies_to(connection) and faults != Faults() else None

    def source(self, stream: object) -> FaultSource:
        """The draws of ``stream``, numbered in the order streams first ask."""
        found = self._streams.get(id(stream))
        if found is None:
            self._stream_count += 1
            found = self._streams[id(stream)] = FaultSource(f"{self._seed}:{self._stream_count}")
        return found

    def forget(self, stream: object) -> None:
        """``stream`` has ended or was cancelled: its draws are done."""
        self._streams.pop(id(stream), None)

    def jitter(self, source: FaultSource) -> float:
        """Seconds of random extra delay before a streamed step."""
        return source.rng.uniform(0, self.faults.jitter_ms) / 1000 if self.faults.jitter_ms else 0.0

    def save(self) -> tuple[dict[int, FaultSource], int]:
        """What a rolled-back client event may have changed (streams first asking, streams forgotten)."""
        return dict(self._streams), self._stream_count

    def restore(self, saved: tuple[dict[int, FaultSource], int]) -> None:
        self._streams, self._stream_count = dict(saved[0]), saved[1]

    def apply(self, events: list[Event], source: FaultSource | None, faulted: bool = True
              ) -> tuple[list[Event], CloseConnection | None]:
        """Drop, duplicate and reorder (unless ``faulted`` is False: the faults already had their say on
        these events), then count towards ``close_after_events``; the events to send, and the close it asks."""
        source = source or self.answers
        out = self._drop_and_duplicate(events, source) if faulted else list(events)
        if self.faults.reorder and faulted:
            self._reorder(out, source)
        closing = None
        if self.faults.close_after_events is not None:
            limit, code, reason = self.faults.close_after_events
            if self.sent + len(out) >= limit:
                out = out[:max(0, limit - self.sent)]
                closing = CloseConnection(code, reason)
            self.sent += len(out)
        return out, closing

    def _drop_and_duplicate(self, events: list[Event], source: FaultSource) -> list[Event]:
        faults, rng = self.faults, source.rng
        out: list[Event] = []
        for event in events:
            if event["type"] == "session.created" or (faults.types is not None and event["type"] not in faults.types):
                out.append(event)
                continue
            if faults.drop and rng.random() < faults.drop:
                continue
            out.append(event)
            if faults.duplicate and rng.random() < faults.duplicate:
                out.append(event)
        return out

    def _reorder(self, out: list[Event], source: FaultSource) -> None:
        """Swap neighbours at random, in place; a stream's last event may swap with its next batch's first."""
        rng = source.rng
        i = 0
        if source.held is not None:  # swapped past the end of the previous batch: after this one's first event
            out.insert(1 if out else 0, source.held)
            source.held = None
            i = 2
        while i < len(out):
            if rng.random() < self.faults.reorder:
                if i + 1 < len(out):
                    out[i], out[i + 1] = out[i + 1], out[i]
                    i += 1  # a swapped pair stays as swapped
                elif source is not self.answers:
                    source.held = out.pop()
            i += 1

"""When streamed events go out: responses and transcriptions, one step at a time, paced.

Each stream yields steps with a media offset and a scripted delay; a step is due at the
stream's start plus its offset scaled by the pacing, plus its delay, plus any fault jitter.
Streams take turns, one step each. The next batch is prepared when someone asks when it is
due, and waits here: nothing of it is journaled or counted as sent until it is taken, so a
transport that sleeps until it is due and then finds the socket gone has sent, and recorded,
nothing; a cancel meanwhile drops a prepared batch of the cancelled stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from ..protocol.wire import CloseConnection, Event
from .faults import FaultEngine, FaultSource
from .responses import Step

__all__ = ["Stream", "Batch", "Scheduler"]


class Stream(Protocol):
    """Anything that streams: a response, an input transcription."""

    def next_step(self) -> Step | None: ...


@dataclass
class Batch:
    """A prepared streamed batch, waiting for its time; journaled and faulted only when taken.

    ``source``: whose fault draws apply (``None``: no faults, or an event the faults already had
    their say on, sent late); ``close``: the connection is to close once it is sent.
    """

    due: float
    events: list[Event]
    stream: Stream
    source: FaultSource | None
    close: CloseConnection | None


class Scheduler:
    """The streams of one session and their next prepared batch."""

    def __init__(self, clock: Callable[[], float], pacing: Callable[[], float], faults: FaultEngine | None) -> None:
        self._clock = clock
        self._pacing = pacing
        self._faults = faults
        self._streams: list[tuple[float, Stream]] = []  # (start time, stream), in turn order
        self._pending: Batch | None = None

    def add(self, stream: Stream) -> None:
        """Start streaming ``stream`` now."""
        self._streams.append((self._clock(), stream))

    def drop(self, stream: Stream) -> None:
        """Stop streaming ``stream`` (a cancel), with its prepared batch if there is one."""
        self._streams = [(t, s) for t, s in self._streams if s is not stream]
        if self._faults is not None:
            self._faults.forget(stream)
        if self._pending is not None and self._pending.stream is stream:
            self._pending = None  # prepared but never sent: the cancel comes instead

    def clear(self) -> None:
        """Nothing streams any more (the connection is closing)."""
        self._streams.clear()
        self._pending = None

    def next_due(self) -> float | None:
        """When the next batch is due (preparing it), or ``None`` when nothing streams."""
        if self._pending is None:
            self._pending = self._prepare()
        return None if self._pending is None else self._pending.due

    def take(self) -> Batch | None:
        """Take the next batch (prepared, or prepared now), whether it is due or not; ``None`` if nothing streams."""
        pending = self._pending if self._pending is not None else self._prepare()
        self._pending = None
        return pending

    def save(self) -> tuple[list[tuple[float, Stream]], Batch | None]:
        """What handling a client event may change here (streams added or dropped), for :meth:`restore`."""
        return list(self._streams), self._pending

    def restore(self, saved: tuple[list[tuple[float, Stream]], Batch | None]) -> None:
        self._streams, self._pending = list(saved[0]), saved[1]

    def _prepare(self) -> Batch | None:
        faults = self._faults
        while self._streams:
            started, stream = self._streams.pop(0)
            source = faults.source(stream) if faults is not None else None
            step = stream.next_step()
            if step is None:
                if faults is not None:
                    faults.forget(stream)
                if source is not None and source.held is not None:  # a reordered event past the last batch
                    held, source.held = source.held, None
                    return Batch(self._clock(), [held], stream, None, None)
                continue
            self._streams.append((started, stream))
            due = started + step.offset_ms / 1000 * self._pacing() + step.delay_ms / 1000
            if faults is not None and source is not None:
                due += faults.jitter(source)
            return Batch(due, step.events, stream, source, step.close)
        return None

"""The session's one way out: every server event passes here on its way to the transport.

An event is checked against ``schemas/`` (when the limits ask for it), goes through the
connection's faults (dropped, duplicated, reordered, counted towards a close), is journaled with
the time it went out (``error`` events with their cause), and waits in the queue the transport
empties with :meth:`Outbox.take`.
"""

from __future__ import annotations

from typing import Callable

from ..protocol.wire import CloseConnection, Event
from .faults import FaultEngine, FaultSource
from .journal import Cause, Journal

__all__ = ["Outbox"]


class Outbox:
    """The server events of one session, from their making to the transport."""

    def __init__(self, journal: Journal, clock: Callable[[], float], check: Callable[[Event], None] | None,
                 faults: FaultEngine | None) -> None:
        self.journal = journal
        self._clock = clock
        self._check = check
        self._faults = faults
        self._queue: list[Event] = []

    def send(self, events: list[Event], *, source: FaultSource | None = None, faulted: bool = True,
             cause: Cause | None = None) -> CloseConnection | None:
        """Check, fault, journal and queue ``events``; the close the faults ask for, if any.

        ``source``: whose fault draws apply (by default the answers to client events);
        ``faulted=False`` for events the faults already had their say on (a reordered one, late): they still
        count towards ``close_after_events``.
        """
        if self._check is not None:
            for event in events:
                self._check(event)
        closing = None
        if self._faults is not None:
            events, closing = self._faults.apply(events, source, faulted)
        self.send_as_is(events, cause)
        return closing

    def send_as_is(self, events: list[Event], cause: Cause | None = None) -> None:
        """Journal and queue ``events`` unchecked and unfaulted (a played stream, a ``server_error``)."""
        self.journal.server(self._clock(), events, cause)
        self._queue += events

    def take(self) -> list[Event]:
        """Everything queued since the last call, in order (the transport sends it)."""
        out, self._queue = self._queue, []
        return out

"""Journals a test can wait on, from its own thread or from any event loop, while the server records.

The core's :class:`~fake_server.core.journal.Journal` knows no threads: it takes a lock and a
hook to call after each recording. :class:`WaitableJournal` gives it a real lock and a
:class:`~fake_server.transport.wake.Wake`, so waiters sleep until something is recorded and
nothing is paid while nobody waits. The server has the core open every session's journal
through it.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from .wake import Wake
from ..core.journal import DEFAULT_MAX_ENTRIES, Direction, Entry, Journal

__all__ = ["WaitableJournal"]


class WaitableJournal(Journal):
    """A journal safe to read and wait on from other threads and event loops while the server writes."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        lock = threading.Lock()
        self._wake = Wake(lock)
        super().__init__(max_entries, lock=lock, on_record=self._recorded)

    def _recorded(self) -> None:
        if self._wake.watched:
            self._wake.notify()

    def wait_for(
        self, type: str | None = None, fields: Mapping[str, Any] | None = None, *,
        direction: Direction | None = "server", since: int = 0, timeout: float = 5.0,
    ) -> Entry | None:
        """Block until an entry like this is recorded (or already was, at or after ``since``); ``None`` on timeout."""
        return self._wake.wait(self.finder(direction, type, fields or {}, since), timeout)

    async def wait_for_async(
        self, type: str | None = None, fields: Mapping[str, Any] | None = None, *,
        direction: Direction | None = "server", since: int = 0, timeout: float = 5.0,
    ) -> Entry | None:
        """:meth:`wait_for` for any event loop (it never blocks the loop)."""
        return await self._wake.wait_async(self.finder(direction, type, fields or {}, since), timeout)

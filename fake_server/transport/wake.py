"""Waiting for something another thread records, from a thread or from any event loop.

The recording side holds ``lock`` while it changes state and then calls :meth:`Wake.notify`
when :attr:`Wake.watched` is true, so nothing is paid while nobody waits. Waiters re-run a
``check`` under the lock until it returns something other than ``None``; no sleeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable, TypeVar

__all__ = ["Wake"]

T = TypeVar("T")


class Wake:
    """Wakes threads (a :class:`threading.Condition` on ``lock``) and event loops waiting on ``lock``'s owner."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.watched = 0
        """How many waiters there are; the recording side skips :meth:`notify` while it is 0."""
        self._condition = threading.Condition(lock)
        self._loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def notify(self) -> None:
        """Call with ``lock`` held, after a change."""
        self._condition.notify_all()
        for loop, event in self._loops:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that waiter's loop is closed; it is not waiting any more
                pass

    def wait(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Block this thread until ``check()`` (run with ``lock`` held) returns a value, or ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.lock:
            self.watched += 1
            try:
                while True:
                    found = check()
                    remaining = deadline - time.monotonic()
                    if found is not None or remaining <= 0:
                        return found
                    self._condition.wait(remaining)
            finally:
                self.watched -= 1

    async def wait_async(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Like :meth:`wait`, without blocking the running event loop (which may be any loop)."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        waiter = (loop, changed)
        deadline = loop.time() + timeout
        with self.lock:
            self.watched += 1
            self._loops.append(waiter)
        try:
            while True:
                changed.clear()
                with self.lock:
                    found = check()
                remaining = deadline - loop.time()
                if found is not None or remaining <= 0:
                    return found
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self.lock:
                self.watched -= 1
                self._loops.remove(waiter)

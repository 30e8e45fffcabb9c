"""One event loop for a server, and a way onto it from any thread.

A server of this package runs either on an event loop of its own, in a daemon thread
(``with server:``, so that sync tests can use it), or on the caller's loop (``async with
server:``). :class:`LoopRunner` is both: :meth:`LoopRunner.start` / :meth:`LoopRunner.stop`
for the thread, :meth:`LoopRunner.attach` / :meth:`LoopRunner.detach` for the caller's loop,
and :meth:`LoopRunner.call` / :meth:`LoopRunner.run` to do something on whichever loop it
is, from any thread (the fake's state is only touched on its loop, between two frames).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

__all__ = ["LoopRunner"]

_log = logging.getLogger("fake_server.transport.runner")

T = TypeVar("T")

Step = Callable[[], Awaitable[None]]
"""What runs on the loop when it starts (listening, say) or before it ends (closing)."""


class LoopRunner:
    """The event loop a server runs on: its own in a daemon thread named ``name``, or the caller's.

    ``start_timeout`` bounds how long :meth:`start` waits for the loop to be up and its setup
    done; ``stop_timeout`` how long :meth:`stop` waits for the thread, and :meth:`call` for an
    answer from the loop. ``raise_teardown_errors``: whether :meth:`stop` raises what the teardown
    raised in the thread that asked (a recorder's caller wants to know), or the thread logs it (a
    server stopping at the end of a test run keeps quiet, as it always has).
    """

    def __init__(self, name: str, *, start_timeout: float = 30.0, stop_timeout: float = 30.0,
                 raise_teardown_errors: bool = True) -> None:
        self.name = name
        self.raise_teardown_errors = raise_teardown_errors
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the server runs on, while it runs (``None`` before and after)."""
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def busy(self) -> bool:
        """Whether a server runs here already (in the thread, or on an attached loop)."""
        return self._thread is not None or self.loop is not None

    # --- the caller's loop ------------------------------------------------------------------

    def attach(self) -> None:
        """Run on the running loop (the caller's, for ``async with``) until :meth:`detach`."""
        if self.busy:
            raise RuntimeError("the server is already running")
        self.loop = asyncio.get_running_loop()

    def detach(self) -> None:
        self.loop = None

    # --- a loop of its own ------------------------------------------------------------------

    def start(self, setup: Step, teardown: Step) -> None:
        """Start a daemon thread running a new loop: ``setup()`` on it, then wait for :meth:`stop`,
        then ``teardown()``. Returns once ``setup()`` is done; what it raised is raised here."""
        if self.busy:
            raise RuntimeError("the server is already running")
        ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(target=self._main, args=(setup, teardown, ready), name=self.name,
                                        daemon=True)
        self._thread.start()
        if not ready.wait(self.start_timeout):
            raise RuntimeError(f"the event loop thread {self.name!r} did not start in time")
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._thread.join()
            self._thread = None
            raise failure

    def _main(self, setup: Step, teardown: Step, ready: threading.Event) -> None:
        async def run() -> None:
            self._stop = asyncio.Event()
            self.loop = asyncio.get_running_loop()
            try:
                await setup()
            except BaseException as exc:
                self._failure = exc
                self.loop = None
                return
            finally:
                ready.set()
            await self._stop.wait()
            try:
                await teardown()
            except BaseException as exc:  # stop() raises it in the thread that asked, or it is logged
                if not self.raise_teardown_errors:
                    raise
                self._failure = exc
            finally:
                self.loop = None

        try:
            asyncio.run(run())
        except BaseException as exc:  # ending the loop itself failed: keep the thread quiet
            _log.error("the event loop thread %r ended with an error", self.name, exc_info=exc)
        finally:
            ready.set()

    def stop(self) -> None:
        """Ask the thread's loop to run its teardown and end; wait for the thread (no-op when it
        does not run). Raises what the teardown raised, when :attr:`raise_teardown_errors` (else it was logged)."""
        thread, loop, stop = self._thread, self.loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        thread.join(self.stop_timeout)
        self._thread = None
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    # --- onto the loop from anywhere --------------------------------------------------------

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on the server's loop (where waiting for it would block it)."""
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def can_wait(self) -> bool:
        """Whether the caller may block on the loop: it runs, and the caller is not on it."""
        loop = self.loop
        return loop is not None and not loop.is_closed() and not self.on_loop_thread()

    def call(self, call: Callable[[], T]) -> T:
        """``call()`` on the loop (between two frames), from any thread; here and now when the
        caller is on the loop or no loop runs."""
        loop = self.loop
        if loop is None or loop.is_closed() or self.on_loop_thread():
            return call()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(call())
            except BaseException as exc:
                done.set_exception(exc)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop closed meanwhile: nothing runs on it any more
            return call()
        return done.result(self.stop_timeout)

    def call_soon(self, call: Callable[[], Any]) -> None:
        """``call()`` on the loop without waiting for it: now when the caller is on the loop, soon
        from another thread, never when no loop runs."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if self.on_loop_thread():
            call()
        else:
            loop.call_soon_threadsafe(call)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the loop from another thread and wait at most ``timeout`` for its result.

        Raises :class:`concurrent.futures.TimeoutError` past it, :class:`RuntimeError` when no loop runs.
        """
        loop = self.loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("no event loop runs")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

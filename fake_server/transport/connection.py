"""One WebSocket connection as a test sees it: its journal, its session, how it ended.

The server creates a :class:`Connection` for every upgrade it accepts at the WebSocket
level, rejected handshakes included (those have no session). Everything here is safe to
call from a sync test thread and from any event loop, the server's or another one: what
must happen on the server's loop goes there through the :class:`LoopRunner` it is given.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from .runner import LoopRunner
from .wake import Wake
from ..core.journal import Direction, Entry, Handshake, Journal
from ..script import check_close
from ..core.session import Session
from ..verify import ErrorReport, error_reports, summarize

__all__ = ["Connection", "SocketHandle"]


class SocketHandle(Protocol):
    """What a connection holds of its socket."""

    def is_open(self) -> bool:
        """Whether the WebSocket is open (not closing, not closed)."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Start closing it with this code and reason (1006: drop it); called on the server's loop."""
        ...


class Connection:
    """One connection to the fake, in the order the server accepted it (``index``)."""

    def __init__(
        self, index: int, journal: Journal, session: Session | None, wake: Wake, *,
        socket: SocketHandle, loop: LoopRunner,
    ) -> None:
        self.index = index
        self.journal = journal
        """Every frame both ways (bounded: the oldest entries are dropped past ``journal.max_entries``)."""
        self.session = session
        """The session, or ``None`` when the handshake was rejected (bad key, model, ...)."""
        self.close_code: int | None = None
        """The WebSocket close code once the connection is closed (whoever closed it)."""
        self.close_reason: str | None = None
        self.closed_by: Literal["server", "client"] | None = None
        self._socket = socket
        self._loop = loop  # the server's: what must not race its handlers runs there
        self._wake = wake  # the server's: notified (with its lock held) when this connection closes

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closed {self.close_code} by {self.closed_by}"
        session = self.session.id if self.session is not None else "rejected"
        return f"<Connection {self.index} {session} {state}>"

    # --- what happened ---------------------------------------------------------------------

    @property
    def handshake(self) -> Handshake | None:
        """The upgrade request (path, query, headers, subprotocols), API keys redacted."""
        return self.journal.handshake

    @property
    def accepted(self) -> bool:
        """Whether the handshake opened a session."""
        return self.session is not None

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def entries(self) -> list[Entry]:
        """Every recorded frame, both ways, oldest first."""
        return self.journal.entries()

    def client_events(self, type: str | None = None) -> list[dict[str, Any]]:
        """The decoded events the client sent (frames that were not JSON objects left out)."""
        return self.journal.events("client", type)

    def server_events(self, type: str | None = None) -> list[dict[str, Any]]:
        """The events the fake sent."""
        return self.journal.events("server", type)

    def errors(self) -> list[ErrorReport]:
        """Every ``error`` event the fake sent, with the client event (or handshake) it answered."""
        return error_reports(self.index, self.journal)

    def conversation(self) -> list[dict[str, Any]]:
        """A snapshot of the conversation (items with role, type, content, status) as of now.

        Taken on the server's event loop, so it never sees an item half-written.
        """
        session = self.session
        if session is None:
            return []
        return self._loop.call(session.conversation)

    # --- acting --------------------------------------------------------------------------------

    def close(self, code: int = 1011, reason: str = "") -> bool:
        """Close the connection from the server's side now, with this code and reason (a fault on demand).

        Returns False when it is not open any more. The closing handshake finishes in the
        background; :meth:`wait_closed` waits for it. 1006 drops the TCP connection without a
        close frame; a code no server may send raises :class:`ValueError`.
        """
        check_close(code, reason)

        def close_now() -> bool:
            if not self._socket.is_open():
                return False
            self._socket.close(code, reason)
            return True

        return self._loop.call(close_now)

    # --- waiting -----------------------------------------------------------------------------

    def wait_for_sync(
        self, type: str | None = None, /, *, direction: Direction = "server", since: int = 0,
        timeout: float = 5.0, **fields: Any,
    ) -> dict[str, Any]:
        """Block until an event of ``type`` holding ``fields`` was sent (``direction="client"``: received).

        Events already recorded count (from journal position ``since`` on). Raises
        :class:`TimeoutError` with the latest events when none comes within ``timeout`` seconds.
        """
        if self._loop.on_loop_thread():
            raise RuntimeError("wait_for_sync() would block the server's own event loop: use await wait_for()")
        entry = self.journal.wait_for(type, fields, direction=direction, since=since, timeout=timeout)
        return self._found(entry, type, fields, direction, timeout)

    async def wait_for(
        self, type: str | None = None, /, *, direction: Direction = "server", since: int = 0,
        timeout: float = 5.0, **fields: Any,
    ) -> dict[str, Any]:
        """:meth:`wait_for_sync` for async tests, on any event loop."""
        entry = await self.journal.wait_for_async(type, fields, direction=direction, since=since, timeout=timeout)
        return self._found(entry, type, fields, direction, timeout)

    def _found(
        self, entry: Entry | None, type: str | None, fields: dict[str, Any], direction: str, timeout: float
    ) -> dict[str, Any]:
        if entry is not None and entry.event is not None:
            return entry.event
        what = f"{direction} event" + (f" {type!r}" if type else "") + (f" holding {json.dumps(fields)}" if fields
                                                                          else "")
        recent = [f"  {e.direction}: {summarize(e.event if e.event is not None else e.raw)}"
                  for e in self.journal.entries()[-8:]]
        raise TimeoutError(f"no {what} on connection {self.index} within {timeout:g} s; the latest frames:\n"
                           + ("\n".join(recent) or "  (none)"))

    def wait_closed_sync(self, timeout: float = 5.0) -> int:
        """Block until the connection is closed; returns the close code."""
        if self._loop.on_loop_thread():
            raise RuntimeError("wait_closed_sync() would block the server's own event loop: use await wait_closed()")
        return self._closed(self._wake.wait(lambda: self.close_code, timeout), timeout)

    async def wait_closed(self, timeout: float = 5.0) -> int:
        """:meth:`wait_closed_sync` for async tests."""
        return self._closed(await self._wake.wait_async(lambda: self.close_code, timeout), timeout)

    def _closed(self, code: int | None, timeout: float) -> int:
        if code is None:
            raise TimeoutError(f"connection {self.index} still open after {timeout:g} s")
        return code

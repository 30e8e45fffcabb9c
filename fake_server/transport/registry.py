"""The bookkeeping of a server's connections since its last reset.

:class:`Registry` numbers the sockets as they come, keeps every :class:`Connection` (rejected
handshakes too), the sockets open now and how each connection ended. A reset starts a new
generation: connections of an older one that report late are not recorded. It does no locking
of its own: the server calls it with its lock held (the same lock guards the seed and policy a
new connection is given, so that a reset is one step for all of them).
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from .connection import Connection
from .settle import idle
from ..core.session import ABNORMAL_CLOSURE

__all__ = ["Registry", "ServedSocket"]

Closer = Callable[[Sequence[ServerConnection], int, str], None]
"""Closes sockets with a code and a reason, on the server's loop."""


class ServedSocket:
    """A :class:`Connection`'s handle on its socket: whether it is open, and closing it on the server's loop."""

    def __init__(self, socket: ServerConnection, close: Closer) -> None:
        self._socket = socket
        self._close = close

    def is_open(self) -> bool:
        return self._socket.state is State.OPEN

    def close(self, code: int, reason: str) -> None:
        self._close([self._socket], code, reason)


class Registry:
    """Every connection of the current generation, the sockets open now, and what ``settle()`` reads."""

    def __init__(self) -> None:
        self.generation = 0
        """How many resets so far."""
        self.connections: list[Connection] = []
        self._sockets: list[ServedSocket] = []  # the socket of each connection, in the same order
        self.open: set[ServerConnection] = set()
        self.aborted: set[ServerConnection] = set()
        """Sockets the server dropped without a close frame (1006)."""
        self.reading: set[ServerConnection] = set()
        """Sockets whose handler waits for the client's next frame (see ``settle()``)."""
        self._next_index = 0

    def admit(self, socket: ServerConnection) -> tuple[int, int]:
        """Count a new socket as open; its index and the generation it belongs to."""
        index = self._next_index
        self._next_index += 1
        self.open.add(socket)
        return index, self.generation

    def add(self, generation: int, connection: Connection, socket: ServedSocket) -> bool:
        """Record a connection and its socket, unless a reset came since the socket was admitted."""
        if generation != self.generation:
            return False
        self.connections.append(connection)
        self._sockets.append(socket)
        return True

    def at(self, index: int) -> Connection | None:
        return self.connections[index] if index < len(self.connections) else None

    def forget(self) -> list[ServerConnection]:
        """Start a new generation: forget every connection; the sockets open until now, to close."""
        self.generation += 1
        doomed = list(self.open)
        self.open.clear()
        self.connections.clear()
        self._sockets.clear()
        self._next_index = 0
        return doomed

    def closed(self, connection: Connection | None, socket: ServerConnection) -> None:
        """The socket is gone: not open any more, and its connection (if recorded) notes how it ended."""
        self.open.discard(socket)
        if connection is not None:
            connection.close_code, connection.close_reason, connection.closed_by = _ending(
                socket, socket in self.aborted)

    def closes_handled(self) -> bool:
        """Whether every connection the client closed has been handled to its end."""
        return all(c.closed or s.is_open() for c, s in zip(self.connections, self._sockets))

    def quiet(self) -> bool:
        """Closes handled, and every open socket idle (waiting for a frame, with nothing unread)."""
        return self.closes_handled() and all(idle(socket, self.reading) for socket in self.open)


def _ending(socket: ServerConnection, aborted: bool) -> tuple[int, str, Literal["server", "client"]]:
    """How a connection ended: the code the server sent if it closed first, else the client's."""
    protocol = socket.protocol
    sent, received = protocol.close_sent, protocol.close_rcvd
    if aborted:
        return ABNORMAL_CLOSURE, "", "server"
    if sent is not None and (received is None or protocol.close_rcvd_then_sent is False):
        return sent.code, sent.reason, "server"
    if received is not None:
        return received.code, received.reason, "client"
    return 1006, "", "client"

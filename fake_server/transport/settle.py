"""Settling: waiting until the server has handled every frame the clients have sent so far.

A client's ``send`` returns before the server has read the frame, and a client's close can
finish while the server still handles frames that came before it. A test that checks the
journal right after must first let those frames through: :func:`settle` waits until every
connection is either closed and handled to its end, or waiting for its next frame with nothing
unread on its socket (``FIONREAD`` tells what waits in the kernel, not yet read by the loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import struct
from typing import Callable, ContextManager, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from .runner import LoopRunner

__all__ = ["Settling", "idle", "settle", "unread_bytes"]

try:  # how settle() sees frames still in flight; where it is missing, it sees only what the loop has read
    import fcntl
    import termios

    _FIONREAD: int | None = termios.FIONREAD
except ImportError:  # pragma: no cover - not on POSIX
    _FIONREAD = None

_CALM_PASSES = 3
"""Passes of the loop in a row that must look idle: a frame read from a socket reaches its reader within one."""


def unread_bytes(socket: ServerConnection) -> int:
    """Bytes the client sent that wait in the kernel, not yet read by the event loop (0 if unknown)."""
    sock = socket.transport.get_extra_info("socket")
    if sock is None or _FIONREAD is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _FIONREAD, b"\0\0\0\0"))[0])
    except OSError:  # closed meanwhile
        return 0


def idle(socket: ServerConnection, reading: set[ServerConnection]) -> bool:
    """Whether an open socket's handler waits for the next frame (it is in ``reading``) with nothing unread."""
    return socket.state is not State.OPEN or (socket in reading and unread_bytes(socket) == 0)


async def _calm(quiet: Callable[[], bool], timeout: float) -> bool:
    """On the loop: True once ``quiet()`` held on a few passes of the loop in a row, False at ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    calm = 0
    while True:
        still = quiet()
        calm = calm + 1 if still else 0
        if calm >= _CALM_PASSES:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0 if still else 0.001)


class Settling(Protocol):
    """What settling reads of a server's connections (under the server's lock)."""

    def closes_handled(self) -> bool:
        """Whether every connection the client closed has been handled to its end."""
        ...

    def quiet(self) -> bool:
        """Closes handled, and every open socket :func:`idle`."""
        ...


def settle(runner: LoopRunner, lock: ContextManager[object], connections: Settling, timeout: float,
           grace: float) -> bool:
    """Wait (at most ``timeout``, plus ``grace`` for the loop to answer) until ``connections`` are quiet
    on the server's loop; False on timeout. From the loop itself, or with no loop running, nothing can
    be waited for: the answer is whether the closes are handled as of now."""
    if not runner.can_wait():
        with lock:
            return connections.closes_handled()

    def quiet() -> bool:
        with lock:
            return connections.quiet()

    try:
        return runner.run(_calm(quiet, timeout), timeout + grace)
    except (concurrent.futures.TimeoutError, RuntimeError):
        return False

"""The fake's TCP port: plain HTTP for the admin API, WebSocket upgrades for the realtime endpoint.

:func:`listen` starts the websockets server with the fake's hooks: other paths get a plain
404, the subprotocol is chosen as the live service does, and each batch of frames goes out in
one socket write (:class:`BatchingConnection`). When the admin API is on, every new TCP
connection first meets :class:`AdminFront`, a plain asyncio protocol that peeks at the first
request line: an admin request is read whole (head and ``Content-Length`` body, with caps on
both and on time), answered, and the connection closed, so websockets never sees it; anything
else is handed to websockets untouched, with the bytes read so far.

What this relies on in websockets (15.x), each with a test in ``tests/transport/test_front.py``:

- ``serve(create_connection=...)`` calls the factory as ``create_connection(protocol, server,
  **options)`` and makes what it returns the asyncio protocol of the accepted socket (documented:
  "a wrapper or a subclass").
- A ``ServerConnection`` joins its server (and starts its opening handshake, timed by
  ``open_timeout``) in ``connection_made``: until that is called websockets does not know the
  connection, and calling it later, then ``data_received`` with the bytes read so far, hands it
  over as if websockets had had it from the start.
- With ``select_subprotocol`` given, ``serve`` checks that what the factory returned holds, as
  ``.protocol``, the sans-I/O ``ServerProtocol`` it made: the front shows its websocket's.
- ``Connection.send_data()`` (not documented) writes what the sans-I/O ``protocol.data_to_send()``
  returns, where ``b""`` means the end of the stream: :class:`BatchingConnection` overrides it.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Sequence, cast
from urllib.parse import parse_qs, unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from .admin import ADMIN_PREFIX, AdminApi, AdminError, AdminRequest, AdminResponse
from ..core.handshake import is_realtime_path, select_subprotocol

__all__ = ["AdminFront", "BatchingConnection", "is_admin_line", "listen", "read_request"]

_log = logging.getLogger("fake_server.transport.front")

OPEN_TIMEOUT = 10.0
"""Seconds a new TCP connection has to send its request (websockets' default; the front uses it too)."""
_MAX_LINE = 8 * 1024
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024


# --- reading an admin request ------------------------------------------------------------------------


def _first_line(buffer: bytes | bytearray) -> bytes | None:
    end = buffer.find(b"\r\n")
    return None if end < 0 else bytes(buffer[:end])


def is_admin_line(line: bytes) -> bool:
    """Whether an HTTP request line asks for the admin API."""
    parts = line.split(b" ")
    if len(parts) != 3:
        return False
    target = parts[1].split(b"?", 1)[0]
    prefix = ADMIN_PREFIX.encode()
    return target == prefix or target.startswith(prefix + b"/")


def read_request(buffer: bytes | bytearray) -> AdminRequest | int:
    """The request in ``buffer`` once head and body are complete; until then, how many bytes it
    needs in all (0 while the head is incomplete). Raises :class:`AdminError` for one it refuses."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > _MAX_HEAD:
            raise AdminError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request head is too large")
        return 0
    lines = buffer[:end].decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise AdminError(HTTPStatus.BAD_REQUEST, f"not a header line: {line!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise AdminError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise AdminError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
    if length < 0 or length > _MAX_BODY:
        raise AdminError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is limited to {_MAX_BODY} bytes")
    start = end + 4
    if len(buffer) < start + length:
        return start + length
    path, _, query = target.partition("?")
    return AdminRequest(method.upper(), unquote(path), parse_qs(query), headers, bytes(buffer[start:start + length]))


# --- the connection objects ------------------------------------------------------------------------


class BatchingConnection(ServerConnection):
    """websockets' server connection, writing all the frames queued at once in one socket write.

    websockets writes each frame with its own ``transport.write`` (a system call each); a streamed
    response sends a few frames at a time, so this saves most of them.
    """

    def send_data(self) -> None:
        chunks = self.protocol.data_to_send()
        frames = [chunk for chunk in chunks if chunk]
        if frames:  # one write (and one syscall) for the lot
            self.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))
        if len(frames) < len(chunks):  # the end of the stream, always last: half-close, else close
            if self.transport.can_write_eof():
                try:
                    self.transport.write_eof()
                except (OSError, RuntimeError):
                    pass
            else:
                self.transport.close()


class AdminFront(asyncio.Protocol):
    """The first protocol of each TCP connection while the admin API is on.

    It reads until the first request line is complete: an admin request it reads whole and
    answers with ``api``, then closes the connection (all within :data:`OPEN_TIMEOUT`); any other
    request, a line too long, or an end of stream in the middle of a line, goes to ``websocket``
    with every byte read so far. A connection that ends before sending anything (a port probe)
    is closed with a debug line: websockets would log a failed handshake with its traceback.
    """

    def __init__(self, websocket: ServerConnection, api: AdminApi) -> None:
        self.websocket = websocket
        self._api = api
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._admin = False  # the first line asked for the admin API
        self._answered = False
        self._needed = 0  # bytes the admin request needs in all, once its head is known
        self._timer: asyncio.TimerHandle | None = None

    @property
    def protocol(self) -> ServerProtocol:
        """The websocket's sans-I/O protocol (``serve`` looks for it here when it selects a subprotocol)."""
        return self.websocket.protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        # websockets times the opening handshake only once it has the connection; until then, this does
        self._timer = asyncio.get_running_loop().call_later(OPEN_TIMEOUT, self._transport.abort)

    def data_received(self, data: bytes) -> None:
        if self._answered:  # the answer is final: the rest is not read
            return
        self._buffer += data
        if len(self._buffer) < self._needed:
            return
        if not self._admin:
            line = _first_line(self._buffer)
            if line is None and len(self._buffer) <= _MAX_LINE:
                return
            if line is None or not is_admin_line(line):
                self._hand_over()
                return
            self._admin = True
        try:
            request = read_request(self._buffer)
        except AdminError as exc:
            self._answer(exc.response())
            return
        if isinstance(request, int):
            self._needed = request
        else:
            self._answer(self._api.respond(request))

    def eof_received(self) -> bool | None:
        if self._admin or not self._buffer:  # an admin request cut short or answered, or a port probe: close
            return None
        self._hand_over()  # a request cut short: websockets answers it as it would have
        return self.websocket.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._admin:  # a port probe, or a client that gave up: nothing to answer, nothing to report
            _log.debug("a connection closed before it sent a request line")

    def _hand_over(self) -> None:
        """From now on the connection is websockets', as if it had had it from the start."""
        assert self._timer is not None and self._transport is not None
        self._timer.cancel()
        buffered, self._buffer = bytes(self._buffer), bytearray()
        self._transport.set_protocol(self.websocket)
        self.websocket.connection_made(self._transport)
        if buffered:
            self.websocket.data_received(buffered)

    def _answer(self, response: AdminResponse) -> None:
        assert self._transport is not None
        self._answered = True
        self._buffer = bytearray()
        self._transport.write(response.encode())
        self._transport.close()  # after the buffered answer is flushed


# --- the listener ------------------------------------------------------------------------------------


def _only_realtime_paths(connection: ServerConnection, request: Request) -> Response | None:
    if not is_realtime_path(request.path.partition("?")[0]):
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
    return None


def _live_subprotocol(connection: Any, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    chosen = select_subprotocol(offered)
    return None if chosen is None else Subprotocol(chosen)


async def listen(
    handler: Callable[[ServerConnection], Awaitable[None]], host: str, port: int, *, api: AdminApi | None,
    max_size: int, close_timeout: float,
) -> Server:
    """Listen on ``host:port``: WebSocket upgrades of the realtime paths go to ``handler``, other
    paths get a 404, and admin requests go to ``api`` (when given)."""
    def create_connection(protocol: ServerProtocol, server: Server, **options: Any) -> asyncio.Protocol:
        websocket = BatchingConnection(protocol, server, **options)
        return websocket if api is None else AdminFront(websocket, api)

    return await serve(
        handler, host, port, process_request=_only_realtime_paths, select_subprotocol=_live_subprotocol,
        max_size=max_size, close_timeout=close_timeout, open_timeout=OPEN_TIMEOUT,
        create_connection=create_connection,  # type: ignore[arg-type]  # a factory, as its docs allow
    )

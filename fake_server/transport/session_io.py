"""One accepted WebSocket connection carried through its session: frames in, events out.

The server (:mod:`fake_server.transport.server`) accepts the socket and hands it to
:func:`handle_connection`, which asks the core to open a session and records the connection; from
then on :func:`serve_session` moves frames between the socket and the sans-I/O session until
either side closes. It makes no protocol decision of its own: what to send, when to close, and
what a failure inside the fake looks like on the wire are the session's.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, NamedTuple, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.protocol import State

from .journal_wait import WaitableJournal
from ..core.handshake import HandshakeRequest, ServerPolicy, open_session
from ..core.journal import Handshake, Journal
from ..core.session import Session, SessionState
from ..protocol.ids import IdGenerator
from ..protocol.wire import ABNORMAL_CLOSURE, CloseConnection, Event

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Admission", "ConnectionHost", "encode", "end_connection", "handle_connection", "serve_session"]

_CLOSE_TIMEOUT = 5.0
_BATCHES_PER_WRITE = 8

# One shared encoder: compact like the live frames, UTF-8 text as is (json.dumps with
# keyword arguments would build a new encoder for every event).
encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Admission(NamedTuple):
    """What the server hands a newly accepted socket: its place and the rules it is served by."""

    index: int
    """The connection's index on the server (0 for the first since the last reset)."""
    generation: int
    """The server's reset count when the socket came: records of an older generation are dropped."""
    seed: int | str
    """The server's id seed; the connection's ids are seeded with ``f"{seed}:{index}"``."""
    policy: ServerPolicy
    """The server's policy at that moment (a later change does not affect this connection)."""


class ConnectionHost(Protocol):
    """What a served connection needs from its server."""

    reading: set[ServerConnection]
    """Connections waiting for the client's next frame (``settle()`` reads it)."""
    aborted: set[ServerConnection]
    """Connections the server dropped without a close frame (1006)."""

    def admit(self, socket: ServerConnection) -> Admission:
        """Count the socket as open and give it its index, generation, seed and policy."""
        ...

    def add_connection(
        self, generation: int, index: int, journal: Journal, session: Session | None, handshake: Handshake,
        socket: ServerConnection,
    ) -> Connection:
        """Record the connection (its journal, session and handshake) where tests can find it."""
        ...

    def connection_closed(self, record: Connection | None, socket: ServerConnection) -> None:
        """The socket is gone: stop counting it as open and note how it ended on its record."""
        ...

    def record_internal_error(self, generation: int, session: Session | None, exc: BaseException) -> None:
        """Keep the traceback of a bug of the fake (it fails the test that caused it)."""
        ...


def _plain_headers(headers: Headers) -> dict[str, str]:
    """A plain mapping of the request headers, repeated fields joined as HTTP allows."""
    return {name: ", ".join(headers.get_all(name)) for name in headers}


def _offered_subprotocols(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(part.strip() for part in value.split(",") if part.strip())
    return offered


async def handle_connection(host: ConnectionHost, connection: ServerConnection) -> None:
    """One accepted socket from the handshake to its end: open the session, record the
    connection, serve it, and tell the host how it ended."""
    index, generation, seed, policy = host.admit(connection)
    ids = IdGenerator(f"{seed}:{index}", time.time)
    session: Session | None = None
    record: Connection | None = None
    try:
        request = connection.request
        assert request is not None
        headers = _plain_headers(request.headers)
        offered = _offered_subprotocols(request.headers)
        handshake = HandshakeRequest.from_target(request.path, headers, offered)
        seen = Handshake.redacted(handshake.path, handshake.query, headers, offered, time.time())
        opening = open_session(
            handshake, policy, ids=ids, clock=time.time, index=index, new_journal=WaitableJournal,
            on_failure=lambda failed, exc: host.record_internal_error(generation, failed, exc),
        )
        session = opening.session
        record = host.add_connection(generation, index, opening.journal, session, seen, connection)
        for event in opening.events:
            await connection.send(encode(event))
        if opening.close is not None:
            await end_connection(host, connection, opening.close)
        elif session is not None:
            await serve_session(host, connection, session)
    except ConnectionClosed:
        pass
    except Exception as exc:  # a transport bug: contain it, record it, end this connection only
        host.record_internal_error(generation, session, exc)
    finally:
        if session is not None:
            session.connection_lost()
        host.connection_closed(record, connection)


async def send_all(connection: ServerConnection, events: list[Event]) -> None:
    """Send events as separate text messages, with one socket write and one wait for the buffer."""
    if not events:
        return
    if len(events) == 1:
        await connection.send(encode(events[0]))
        return
    async with connection.send_context():
        send_text = connection.protocol.send_text
        for event in events:
            send_text(encode(event).encode())


async def end_connection(host: ConnectionHost, connection: ServerConnection, closing: CloseConnection) -> None:
    """Close the socket as the session asked: a close frame, or for 1006 (abnormal closure,
    which no close frame may carry) a dropped TCP connection, as when the network fails."""
    if closing.code == ABNORMAL_CLOSURE:
        if connection.state is not State.CLOSED:
            host.aborted.add(connection)
            connection.transport.abort()
        return
    await connection.close(closing.code, closing.reason)


async def serve_session(host: ConnectionHost, connection: ServerConnection, session: Session) -> None:
    """Read the client's frames and stream the session's events until the connection ends."""
    wake, done = asyncio.Event(), asyncio.Event()
    pump = asyncio.ensure_future(_pump(host, connection, session, wake, done))
    try:
        await _read(host, connection, session, wake)
    finally:
        # Stop the pump by telling it, not by cancelling it: a cancel that lands while
        # ``wake`` is set can be lost (asyncio.wait_for before 3.12), leaving the handler stuck.
        done.set()
        wake.set()
        await asyncio.wait({pump}, timeout=_CLOSE_TIMEOUT)
        if not pump.done():  # stuck in a send to a dead peer: now a cancel is the only way
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


async def _read(host: ConnectionHost, connection: ServerConnection, session: Session, wake: asyncio.Event) -> None:
    """Client frames in, the session's immediate answers out.

    Once the client has hung up, the frames it sent before still go through the session
    (so the journal shows them and their answers), and nothing is sent.
    """
    gone = False
    reading = host.reading
    while True:
        reading.add(connection)
        try:
            message = await connection.recv()
        except ConnectionClosedOK:
            return
        finally:
            reading.discard(connection)
        was_open = session.state is SessionState.OPEN
        if isinstance(message, str):
            session.receive_text(message)
        else:
            session.receive_binary(message)
        events = session.events_to_send()
        closing = session.close_requested if was_open else None
        # Once the client is closing, sending would wait out the close timeout: websockets waits
        # for the peer to finish closing, which it cannot see while reading is paused for the
        # frames still queued here. So answer only while the connection is open.
        if not gone and connection.state is not State.OPEN:
            gone = True
        if not gone:
            try:
                await send_all(connection, events)
            except ConnectionClosed:
                gone = True
        if closing is not None:
            await end_connection(host, connection, closing)
            return
        if not gone:
            wake.set()


async def _pump(host: ConnectionHost, connection: ServerConnection, session: Session, wake: asyncio.Event,
                done: asyncio.Event) -> None:
    """Streamed events and expiry, whenever the session's next deadline comes.

    Ends when ``done`` is set (the reader has finished), the socket is no longer open, or the
    session asked to close. Every batch already due goes out in one write (a few at most, so that
    a cancel or a second ``response.create`` still lands between them).
    """
    while not done.is_set() and connection.state is State.OPEN and session.state is SessionState.OPEN:
        taken = session.advance(time.time(), _BATCHES_PER_WRITE)
        closing = session.close_requested  # made by this advance: expiry, or a scripted close mid-response
        await send_all(connection, session.events_to_send())
        if closing is not None:
            await end_connection(host, connection, closing)
            return
        if taken:
            await asyncio.sleep(0)  # let the reader take what arrived meanwhile (a cancel, a second create)
        else:
            await _sleep(wake, session.next_deadline())


async def _sleep(wake: asyncio.Event, deadline: float | None) -> None:
    """Until ``deadline`` (forever if ``None``), or until the reader has news (a cancel drops the
    prepared batch, a new response starts)."""
    wake.clear()
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waiter}, timeout=None if deadline is None else max(0.0, deadline - time.time()))
    finally:
        waiter.cancel()

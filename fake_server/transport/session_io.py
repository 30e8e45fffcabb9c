"""One accepted WebSocket connection carried through its session: frames in, events out.

The server (:mod:`fake_server.transport.server`) accepts the socket and asks the core to
open a session; from then on :func:`serve_session` moves frames between the socket and the
sans-I/O session until either side closes. It makes no protocol decision of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.protocol import State

from ..core.session import ABNORMAL_CLOSURE, CloseConnection, Session
from ..protocol.ids import IdGenerator
from ..protocol.rules import RealtimeError

__all__ = ["ConnectionHost", "encode", "end_connection", "serve_session", "server_error_event"]

_CLOSE_TIMEOUT = 5.0
_BATCHES_PER_WRITE = 8

# One shared encoder: compact like the live frames, UTF-8 text as is (json.dumps with
# keyword arguments would build a new encoder for every event).
encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ConnectionHost(Protocol):
    """What a served connection needs from its server."""

    reading: set[ServerConnection]
    """Connections waiting for the client's next frame (``settle()`` reads it)."""
    aborted: set[ServerConnection]
    """Connections the server dropped without a close frame (1006)."""

    def record_internal_error(self, generation: int, session: Session | None, exc: BaseException) -> None: ...


def server_error_event(session: Session | None, ids: IdGenerator) -> dict[str, Any]:
    """The live ``server_error`` event, for a failure inside the fake itself."""
    error = RealtimeError("server_error", session_id=session.id if session is not None else "unknown")
    return {"type": "error", "event_id": ids.new("event"), "error": error.body(None)}


async def send_all(connection: ServerConnection, frames: list[str]) -> None:
    """Send frames as separate text messages, with one socket write and one wait for the buffer."""
    if len(frames) == 1:
        await connection.send(frames[0])
        return
    async with connection.send_context():
        send_text = connection.protocol.send_text
        for frame in frames:
            send_text(frame.encode())


async def end_connection(host: ConnectionHost, connection: ServerConnection, closing: CloseConnection) -> None:
    """Close the socket as the session asked: a close frame, or for 1006 (abnormal closure,
    which no close frame may carry) a dropped TCP connection, as when the network fails."""
    if closing.code == ABNORMAL_CLOSURE:
        if connection.state is not State.CLOSED:
            host.aborted.add(connection)
            connection.transport.abort()
        return
    await connection.close(closing.code, closing.reason)


def _journaled(session: Session, event: dict[str, Any]) -> dict[str, Any]:
    """An event the transport sends on its own (the session did not make it) goes in the journal too."""
    session.journal.server(time.time(), [event])
    return event


async def serve_session(
    host: ConnectionHost, connection: ServerConnection, session: Session, generation: int, ids: IdGenerator
) -> None:
    """Read the client's frames and stream the session's responses until the connection ends."""
    wake, done = asyncio.Event(), asyncio.Event()
    pump = asyncio.ensure_future(_pump(host, connection, session, generation, ids, wake, done))
    try:
        await _read(host, connection, session, generation, ids, wake)
    finally:
        # Stop the pump by telling it, not by cancelling it: a cancel that lands while
        # ``wake`` is set can be lost (asyncio.wait_for before 3.12), leaving the handler stuck.
        done.set()
        wake.set()
        await asyncio.wait({pump}, timeout=_CLOSE_TIMEOUT)
        if not pump.done():  # stuck in a send to a dead peer: now a cancel is the only way
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


async def _read(
    host: ConnectionHost, connection: ServerConnection, session: Session, generation: int, ids: IdGenerator,
    wake: asyncio.Event,
) -> None:
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
        try:
            if isinstance(message, str):
                events = session.receive_text(message)
            else:
                events = session.receive_binary(message)
            frames = [encode(event) for event in events]
            closing = session.closing
        except Exception as exc:  # a core bug: report it like the live service, stay open
            host.record_internal_error(generation, session, exc)
            frames = [encode(_journaled(session, server_error_event(session, ids)))]
            closing = None
        # Once the client is closing, sending would wait out the close timeout: websockets waits
        # for the peer to finish closing, which it cannot see while reading is paused for the
        # frames still queued here. So answer only while the connection is open.
        if not gone and connection.state is not State.OPEN:
            gone = True
        if not gone and frames:
            try:
                await send_all(connection, frames)
            except ConnectionClosed:
                gone = True
        if closing is not None:
            await end_connection(host, connection, closing)
            return
        if not gone:
            wake.set()


async def _pump(
    host: ConnectionHost, connection: ServerConnection, session: Session, generation: int, ids: IdGenerator,
    wake: asyncio.Event, done: asyncio.Event,
) -> None:
    """Streamed events (responses, transcriptions) out when due; session expiry.

    Ends when ``done`` is set (the reader has finished) or the socket is no longer open.
    """
    send = connection.send
    while not done.is_set() and connection.state is State.OPEN:
        now = time.time()
        if now >= session.expires_at:
            for event in session.expire():
                await send(encode(event))
            closing = session.closing
            assert closing is not None
            await end_connection(host, connection, closing)
            return
        frames: list[str] = []
        taken = 0
        failure: Exception | None = None
        due: float | None = None
        try:
            # Every batch already due goes out in one write (a few at most, so that a cancel or
            # a second response.create still lands between them).
            for _ in range(_BATCHES_PER_WRITE):
                due = session.next_due()
                if due is None or due > now or session.closing is not None:
                    break
                out = session.next_step()
                assert out is not None
                taken += 1
                frames += [encode(event) for event in out.events]
        except Exception as exc:  # a core bug inside a stream: report it, keep the socket
            failure = exc
        if frames:
            await send_all(connection, frames)
        if failure is not None:
            host.record_internal_error(generation, session, failure)
            await send(encode(_journaled(session, server_error_event(session, ids))))
            continue
        if taken and session.closing is not None:  # a scripted close mid-response
            await end_connection(host, connection, session.closing)
            return
        if not taken:
            # Nothing due yet: sleep until it is, or until the reader has news (a cancel drops
            # the prepared batch, a new response starts); then look again.
            wake.clear()
            waiter = asyncio.ensure_future(wake.wait())
            until = session.expires_at if due is None else min(due, session.expires_at)
            try:
                await asyncio.wait({waiter}, timeout=max(0.0, until - now))
            finally:
                waiter.cancel()
            continue
        await asyncio.sleep(0)  # let the reader take what arrived meanwhile (a cancel, a second create)

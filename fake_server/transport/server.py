"""The WebSocket face of the fake: a thin transport over the sans-I/O core.

Everything the client sees is decided by :func:`fake_server.core.handshake.open_session` and
:class:`fake_server.core.session.Session`; this module only moves frames. It owns the real
clock and the per-connection id generators, so a seeded server is reproducible.

Use it as ``with FakeRealtimeServer() as server:`` (its own event loop in a daemon
thread) or ``async with FakeRealtimeServer() as server:`` (in the caller's loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import re
import secrets
import struct
import threading
import time
import traceback
from http import HTTPStatus
from types import TracebackType
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from .wake import Wake
from .admin import ADMIN_PREFIX, AdminApi, front_connection
from .connection import Connection
from .session_io import encode, end_connection, serve_session, server_error_event
from ..core.handshake import (
    DEFAULT_MODELS,
    HandshakeRequest,
    ServerPolicy,
    is_realtime_path,
    open_session,
    select_subprotocol,
)
from ..core.journal import Handshake, Journal
from ..protocol.ids import IdGenerator
from ..script import Script, load_script
from ..core.session import ABNORMAL_CLOSURE, CloseConnection, Session, SessionLimits
from ..verify import ClientSequence, ErrorExpectation, ErrorReport, error_problems

__all__ = ["FakeRealtimeServer"]

_log = logging.getLogger("fake_server.transport.server")

try:  # how settle() sees frames still in flight; where it is missing, it sees only what the loop has read
    import fcntl
    import termios

    _FIONREAD: int | None = termios.FIONREAD
except ImportError:  # pragma: no cover - not on POSIX
    _FIONREAD = None

# A 15 MiB audio append is ~20 MiB of base64 inside JSON; leave room for the envelope.
_MAX_FRAME_BYTES = 32 * 1024 * 1024
_CLOSE_TIMEOUT = 5.0
_BATCHES_PER_WRITE = 8
_STOP_GRACE = 1.0  # how long stop() waits for clients to answer its close before dropping them
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0

T = TypeVar("T")

InternalError = tuple[Optional[str], str]
"""(session id or None, formatted traceback) for one contained exception."""


def _plain_headers(headers: Headers) -> dict[str, str]:
    """A plain mapping of the request headers, repeated fields joined as HTTP allows."""
    return {name: ", ".join(headers.get_all(name)) for name in headers}


def _offered_subprotocols(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(part.strip() for part in value.split(",") if part.strip())
    return offered


def _url_host(host: str) -> str:
    """The host to put in a URL for a bound address (wildcards become loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _unread_bytes(connection: ServerConnection) -> int:
    """Bytes the client sent that wait in the kernel, not yet read by the event loop (0 if unknown)."""
    sock = connection.transport.get_extra_info("socket")
    if sock is None or _FIONREAD is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _FIONREAD, b"\0\0\0\0"))[0])
    except OSError:  # closed meanwhile
        return 0


class FakeRealtimeServer:
    """A fake ``wss://api.openai.com/v1/realtime`` on a local port.

    ``api_keys=None`` accepts any non-empty key; ``models=None`` accepts the known
    realtime models; ``seed`` makes ids reproducible (``None`` picks a random seed);
    ``limits`` sets the session length, the pacing of streamed responses and the audio
    chunk size (:class:`~fake_server.core.session.SessionLimits`); ``script_file`` loads a JSON or
    YAML script (docs/scripting.md), afresh at every :meth:`reset`. ``admin`` serves the HTTP
    admin API under ``/__admin`` on the same port (docs/admin.md); ``cors_origins`` lists the
    browser origins allowed to call it (``"*"`` for any; none by default).
    Change :attr:`policy` freely in a test; :meth:`reset` restores the constructor's.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
        seed: int | str | None = None,
        limits: SessionLimits | None = None,
        validate_server_events: bool = False,
        script_file: str | None = None,
        admin: bool = True,
        cors_origins: Iterable[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        if isinstance(api_keys, str):
            api_keys = (api_keys,)
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._models = DEFAULT_MODELS if models is None else frozenset(models)
        self._script_file = script_file
        self._admin = AdminApi(self, frozenset(cors_origins)) if admin else None
        self._limits = dataclasses.replace(
            limits or SessionLimits(), validate_server_events=validate_server_events or bool(limits and
                                                                                      limits.validate_server_events)
        )
        self._fixed_seed = seed
        self.seed: int | str = self._pick_seed()
        self.policy: ServerPolicy = self._initial_policy()
        self.internal_errors: list[InternalError] = []

        self._lock = threading.Lock()
        self._wake = Wake(self._lock)  # connections opened or closed
        self._connections: list[Connection] = []
        self._expected_errors: list[ErrorExpectation] = []
        self._errors_allowed = False
        self._client_sequences: dict[int, ClientSequence] = {}
        self._open: set[ServerConnection] = set()
        self.aborted: set[ServerConnection] = set()  # dropped by the server without a close frame (1006)
        self.reading: set[ServerConnection] = set()  # waiting for the client's next frame (see settle)
        self._generation = 0
        self._next_index = 0
        self._bound: tuple[str, int] | None = None

        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._pending: set[asyncio.Task[None]] = set()

    # --- configuration ----------------------------------------------------------------

    def _pick_seed(self) -> int | str:
        return self._fixed_seed if self._fixed_seed is not None else secrets.randbits(64)

    def _initial_policy(self) -> ServerPolicy:
        return ServerPolicy(
            api_keys=self._api_keys,
            models=self._models,
            limits=dataclasses.replace(self._limits),
            script=load_script(self._script_file) if self._script_file else Script(),
        )

    # --- addresses --------------------------------------------------------------------

    def _origin(self, scheme: str) -> str:
        if self._bound is not None:
            host, port = self._bound
        elif self.port:
            host, port = self.host, self.port
        else:
            raise RuntimeError("the server is not listening yet: start it first")
        return f"{scheme}://{_url_host(host)}:{port}"

    @property
    def url(self) -> str:
        """The full realtime endpoint, e.g. ``ws://127.0.0.1:PORT/v1/realtime``."""
        return self._origin("ws") + "/v1/realtime"

    @property
    def base_url(self) -> str:
        """What the openai SDK's ``websocket_base_url`` takes."""
        return self._origin("ws") + "/v1"

    @property
    def http_base_url(self) -> str:
        """What the openai SDK's ``base_url`` / ``OPENAI_BASE_URL`` takes (mapped to ws)."""
        return self._origin("http") + "/v1"

    @property
    def admin_url(self) -> str:
        """The HTTP admin API (docs/admin.md), e.g. ``http://127.0.0.1:PORT/__admin``."""
        if self._admin is None:
            raise RuntimeError("this server was started with admin=False")
        return self._origin("http") + ADMIN_PREFIX

    # --- state ------------------------------------------------------------------------

    @property
    def script(self) -> Script:
        """What the model says and how the server misbehaves (``fake_server.script``); fresh after ``reset()``."""
        return self.policy.script

    @property
    def sessions(self) -> list[Session]:
        """The sessions opened so far, in connection order (a snapshot)."""
        with self._lock:
            return [c.session for c in self._connections if c.session is not None]

    @property
    def connections(self) -> list[Connection]:
        """Every connection so far, rejected handshakes included, in the order they came (a snapshot)."""
        with self._lock:
            return list(self._connections)

    def wait_for_connection_sync(self, index: int = 0, *, timeout: float = 5.0) -> Connection:
        """Block until connection ``index`` (0 for the first since the last reset) has come."""
        if self._on_loop_thread():
            raise RuntimeError("wait_for_connection_sync() would block the server's own event loop: "
                               "use await wait_for_connection()")
        return self._connection_came(self._wake.wait(lambda: self._connection_at(index), timeout), index, timeout)

    async def wait_for_connection(self, index: int = 0, *, timeout: float = 5.0) -> Connection:
        """:meth:`wait_for_connection_sync` for async tests, on any event loop."""
        found = await self._wake.wait_async(lambda: self._connection_at(index), timeout)
        return self._connection_came(found, index, timeout)

    def _connection_at(self, index: int) -> Connection | None:
        return self._connections[index] if index < len(self._connections) else None

    def _connection_came(self, found: Connection | None, index: int, timeout: float) -> Connection:
        if found is None:
            raise TimeoutError(f"connection {index} did not come within {timeout:g} s "
                               f"({len(self.connections)} so far)")
        return found

    # --- verification -----------------------------------------------------------------------

    def errors(self) -> list[ErrorReport]:
        """Every ``error`` event sent on every connection since the last reset, with its cause."""
        return [report for connection in self.connections for report in connection.errors()]

    def expect_error(
        self, *, code: str | None = None, message: str | re.Pattern[str] | None = None, param: str | None = None,
        client_event: str | None = None, error_type: str | None = None, times: int | None = None,
    ) -> ErrorExpectation:
        """Declare an error this test provokes on purpose: every error it matches is noticed.

        Match on any of ``code``, ``message`` (exact, or a compiled pattern to search),
        ``param``, ``client_event`` (the type of the client event it answered) and ``error_type``
        (``invalid_request_error``, ``server_error``). ``times``:
        ``None`` is at least once, a number exactly that many. :meth:`check` fails when the
        declared error never came.
        """
        expectation = ErrorExpectation(code, message, param, client_event, error_type, times)
        with self._lock:
            self._expected_errors.append(expectation)
        return expectation

    def allow_errors(self, allowed: bool = True) -> None:
        """Let :meth:`check` pass however many errors were sent (the per-test opt-out)."""
        self._errors_allowed = allowed

    def client_expectations(self, connection: int = 0) -> ClientSequence:
        """The ordered expectations on what the client of ``connection`` sends (created empty)."""
        with self._lock:
            return self._client_sequences.setdefault(connection, ClientSequence(connection))

    def expect_client(self, type: str, /, **fields: Any) -> ClientSequence:
        """Expect the client of connection 0 to send, next, an event of ``type`` holding ``fields``.

        Returns the sequence; chain ``.then(type, **fields)`` for the events after it.
        """
        return self.client_expectations(0).then(type, **fields)

    def problems(self) -> list[str]:
        """What :meth:`check` would fail with: unnoticed errors, declared errors that did not
        happen, client expectations not met, internal errors of the fake."""
        with self._lock:
            expected = list(self._expected_errors)
            sequences = sorted(self._client_sequences.items())
            internal = list(self.internal_errors)
        problems = []
        if internal:
            parts = [f"the fake realtime server hit {len(internal)} internal error(s) during this test:"]
            for session_id, trace in internal:
                parts.append(f"--- session {session_id or '(none)'} ---\n{trace.rstrip()}")
            problems.append("\n".join(parts))
        problems += error_problems(self.errors(), expected, self._errors_allowed)
        connections = self.connections
        for index, sequence in sequences:
            problems += sequence.problems(connections[index] if index < len(connections) else None)
        return problems

    def check(self) -> None:
        """Raise :class:`AssertionError` listing :meth:`problems`, if any (the fixture calls it at teardown)."""
        self.settle()
        problems = self.problems()
        if problems:
            raise AssertionError("\n\n".join(problems))

    def settle(self, timeout: float = 2.0) -> bool:
        """Wait until the server has handled every frame the clients have sent so far.

        A client's ``send`` returns before the server has read the frame, and the client's
        side of a close can finish while the server still handles frames that came before
        it; this lets their answers reach the journal (so :meth:`check` sees an error a test
        provoked just before it ended). Settled means: every connection the client closed has
        been handled to its end, and every open one is waiting for its next frame with nothing
        unread on its socket. False on timeout. Called from the server's own event loop (an
        ``async with`` server), it cannot wait and only reports the closed connections.
        """
        loop = self._loop
        if self._on_loop_thread() or loop is None or loop.is_closed():
            with self._lock:
                return self._closes_handled()
        try:
            return asyncio.run_coroutine_threadsafe(self._quiet(timeout), loop).result(timeout + _CLOSE_TIMEOUT)
        except (concurrent.futures.TimeoutError, RuntimeError):
            return False

    def _closes_handled(self) -> bool:
        return all(c.closed or c._is_open() for c in self._connections)

    async def _quiet(self, timeout: float) -> bool:
        """On the loop: True once every connection looked idle on three passes of the loop in a row
        (a frame read from the socket reaches the reader within one pass)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        calm = 0
        while True:
            with self._lock:
                quiet = self._closes_handled() and all(self._idle(socket) for socket in self._open)
            calm = calm + 1 if quiet else 0
            if calm >= 3:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0 if quiet else 0.001)

    def _idle(self, socket: ServerConnection) -> bool:
        return socket.state is not State.OPEN or (socket in self.reading and _unread_bytes(socket) == 0)

    def reset(self) -> None:
        """Close every open connection (1000), forget connections, errors and expectations, restore the policy.

        Connection indexes restart at 0, so a seeded server mints the same ids in
        every test; an unseeded server picks a new random seed.
        """
        policy = self._initial_policy()  # first: a script file that has become broken raises, and nothing is reset
        with self._lock:
            self._generation += 1
            doomed = list(self._open)
            self._open.clear()
            self._connections.clear()
            self._expected_errors.clear()
            self._client_sequences.clear()
            self._errors_allowed = False
            self.internal_errors.clear()
            self._next_index = 0
            self.seed = self._pick_seed()
            self.policy = policy
        loop = self._loop
        if not doomed or loop is None or loop.is_closed():
            return
        if self._on_loop_thread():
            self._close_all(doomed)
        else:
            loop.call_soon_threadsafe(self._close_all, doomed)

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _run_on_loop(self, call: Callable[[], T]) -> T:
        """``call()`` on the server's event loop (between two frames), from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._on_loop_thread():
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
        return done.result(_STOP_TIMEOUT)

    def _close_all(self, connections: Sequence[ServerConnection], code: int = 1000, reason: str = "") -> None:
        # Fire and forget: a client whose event loop is gone never answers the close,
        # and a test must not wait for that.
        for connection in connections:
            task = asyncio.ensure_future(end_connection(self, connection, CloseConnection(code, reason)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def record_internal_error(self, generation: int, session: Session | None, exc: BaseException) -> None:
        session_id = getattr(session, "id", None)
        report = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        _log.error("internal error in session %s:\n%s", session_id, report)
        with self._lock:
            if generation == self._generation:
                self.internal_errors.append((session_id, report))

    # --- lifecycle: background thread -----------------------------------------------------

    def start(self) -> "FakeRealtimeServer":
        """Serve from a daemon thread with its own event loop; returns once listening."""
        if self._thread is not None or self._loop is not None:
            raise RuntimeError("the server is already running")
        ready = threading.Event()
        self._thread_error = None
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="fake-realtime-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError("the fake realtime server did not start in time")
        if self._thread_error is not None:
            self._thread.join()
            self._thread = None
            raise self._thread_error
        return self

    def _thread_main(self, ready: threading.Event) -> None:
        async def run() -> None:
            try:
                await self._open_listener()
            except BaseException as exc:
                self._thread_error = exc
                ready.set()
                return
            ready.set()
            assert self._stop_event is not None
            await self._stop_event.wait()
            await self._close_listener()

        try:
            asyncio.run(run())
        except BaseException as exc:  # shutting down failed; keep the thread quiet
            _log.error("fake realtime server thread ended with an error", exc_info=exc)
        finally:
            ready.set()

    def stop(self) -> None:
        """Close all connections and the listener, and join the thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop_event.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        thread.join(_STOP_TIMEOUT)
        self._thread = None

    def __enter__(self) -> "FakeRealtimeServer":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- lifecycle: caller's event loop --------------------------------------------------

    async def __aenter__(self) -> "FakeRealtimeServer":
        if self._thread is not None or self._loop is not None:
            raise RuntimeError("the server is already running")
        await self._open_listener()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close_listener()

    async def _open_listener(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                process_request=self._process_request,
                select_subprotocol=self._select_subprotocol,
                max_size=_MAX_FRAME_BYTES,
                close_timeout=_CLOSE_TIMEOUT,
                create_connection=front_connection(self._admin),
            )
        except BaseException:
            self._loop = None
            self._stop_event = None
            raise
        address = self._server.sockets[0].getsockname()
        self._bound = (address[0], address[1])
        self.port = address[1]

    async def _close_listener(self) -> None:
        server = self._server
        try:
            if server is not None:
                server.close()  # a close frame to every connection
                closed = asyncio.ensure_future(server.wait_closed())
                await asyncio.wait({closed}, timeout=_STOP_GRACE)
                if not closed.done():  # clients that never answer (their event loop is gone): drop them
                    for connection in list(self._open):
                        connection.transport.abort()
                    await closed
            if self._pending:
                await asyncio.gather(*self._pending, return_exceptions=True)
        finally:
            self._server = None
            self._loop = None
            self._stop_event = None
            self._bound = None

    # --- the WebSocket hooks --------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if not is_realtime_path(request.path.partition("?")[0]):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        chosen = select_subprotocol(offered)
        return None if chosen is None else Subprotocol(chosen)

    async def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            index = self._next_index
            self._next_index += 1
            generation = self._generation
            self._open.add(connection)
            seed = self.seed
            policy = self.policy
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
            try:
                opening = open_session(handshake, policy, ids=ids, clock=time.time, index=index)
                frames = [encode(event) for event in opening.events]
            except Exception as exc:  # the core failed before a session existed: end politely
                self.record_internal_error(generation, None, exc)
                record = self._add_connection(generation, index, Journal(policy.limits.journal_max_entries), None,
                                              seen, connection)
                error = server_error_event(None, ids)
                record.journal.server(time.time(), [error])
                await connection.send(encode(error))
                await end_connection(self, connection, CloseConnection(1011, "server_error"))
                return
            session = opening.session
            if session is not None:
                journal = session.journal
            else:  # a rejected handshake: the session never existed, the transport records its answer
                journal = Journal(policy.limits.journal_max_entries)
                journal.server(time.time(), opening.events)
            record = self._add_connection(generation, index, journal, session, seen, connection)
            for frame in frames:
                await connection.send(frame)
            if opening.close is not None:
                await end_connection(self, connection, opening.close)
                return
            if session is None:
                return
            await serve_session(self, connection, session, generation, ids)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a transport bug: contain it, record it, end this connection only
            self.record_internal_error(generation, session, exc)
        finally:
            with self._lock:
                self._open.discard(connection)
                if record is not None:
                    self._closed(record, connection, connection in self.aborted)
                    self._wake.notify()
            self.aborted.discard(connection)

    def _add_connection(
        self, generation: int, index: int, journal: Journal, session: Session | None, handshake: Handshake,
        socket: ServerConnection,
    ) -> Connection:
        journal.handshake = handshake
        record = Connection(self, index, journal, session, self._wake)
        record._is_open = lambda: socket.state is State.OPEN
        record._close = lambda code, reason: self._close_all([socket], code, reason)
        with self._lock:
            if generation == self._generation:
                self._connections.append(record)
                self._wake.notify()
        return record

    @staticmethod
    def _closed(record: Connection, socket: ServerConnection, aborted: bool) -> None:
        """Note how the connection ended: the code the server sent if it closed first, else the client's."""
        protocol = socket.protocol
        sent, received = protocol.close_sent, protocol.close_rcvd
        if aborted:
            record.close_code, record.close_reason, record.closed_by = ABNORMAL_CLOSURE, "", "server"
        elif sent is not None and (received is None or protocol.close_rcvd_then_sent is False):
            record.close_code, record.close_reason, record.closed_by = sent.code, sent.reason, "server"
        elif received is not None:
            record.close_code, record.close_reason, record.closed_by = received.code, received.reason, "client"
        else:
            record.close_code, record.close_reason, record.closed_by = 1006, "", "client"

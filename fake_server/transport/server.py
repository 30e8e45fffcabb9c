"""The WebSocket face of the fake: a thin transport over the sans-I/O core.

Everything the client sees is decided by :func:`fake_server.core.handshake.open_session` and
:class:`fake_server.core.session.Session`; this module only moves frames. It owns the real
clock and the per-connection id generators, so a seeded server is reproducible.

Use it as ``with FakeRealtimeServer() as server:`` (its own event loop in a daemon
thread) or ``async with FakeRealtimeServer() as server:`` (in the caller's loop).

:class:`FakeRealtimeServer` is the face; each job behind it has a room of its own: the event
loop and its thread (:mod:`.runner`), the port and the admin front (:mod:`.front`), the
connections since the last reset (:mod:`.registry`), one socket carried through its session
(:mod:`.session_io`), settling (:mod:`.settle`) and what a test declared
(:mod:`fake_server.verify.expectations`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import logging
import threading
import traceback
from types import TracebackType
from typing import Any, Iterable, Sequence

from websockets.asyncio.server import Server, ServerConnection

from .admin import ADMIN_PREFIX, AdminApi
from .connection import Connection
from .front import listen
from .registry import Registry, ServedSocket
from .runner import LoopRunner
from .session_io import Admission, end_connection, handle_connection
from .settle import settle
from .wake import Wake
from ..core.handshake import DEFAULT_MODELS, ServerPolicy
from ..core.journal import Handshake, Journal
from ..core.session import CloseConnection, Session, SessionLimits
from ..script import Script, load_script
from ..verify import ClientSequence, ErrorExpectation, ErrorReport
from ..verify.expectations import Expectations, InternalError

__all__ = ["FakeRealtimeServer"]

_log = logging.getLogger("fake_server.transport.server")

# A 15 MiB audio append is ~20 MiB of base64 inside JSON; leave room for the envelope.
_MAX_FRAME_BYTES = 32 * 1024 * 1024
_CLOSE_TIMEOUT = 5.0
_STOP_GRACE = 1.0  # how long stop() waits for clients to answer its close before dropping them
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


def _url_host(host: str) -> str:
    """The host to put in a URL for a bound address (wildcards become loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


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

        self._lock = threading.Lock()  # one for the registry, the expectations, the seed and the policy
        self._wake = Wake(self._lock)  # connections opened or closed
        self._registry = Registry()
        self._expectations = Expectations()
        self._runner = LoopRunner("fake-realtime-server", start_timeout=_START_TIMEOUT, stop_timeout=_STOP_TIMEOUT,
                                  raise_teardown_errors=False)
        self._server: Server | None = None
        self._bound: tuple[str, int] | None = None
        self._closing: set[asyncio.Task[None]] = set()

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
        return [c.session for c in self.connections if c.session is not None]

    @property
    def connections(self) -> list[Connection]:
        """Every connection so far, rejected handshakes included, in the order they came (a snapshot)."""
        with self._lock:
            return list(self._registry.connections)

    @property
    def internal_errors(self) -> list[InternalError]:
        """Exceptions inside the fake since the last reset, as (session id or None, traceback); they fail
        :meth:`check`. The same list until the server ends: clearing it forgives them."""
        return self._expectations.internal_errors

    def wait_for_connection_sync(self, index: int = 0, *, timeout: float = 5.0) -> Connection:
        """Block until connection ``index`` (0 for the first since the last reset) has come."""
        if self._runner.on_loop_thread():
            raise RuntimeError("wait_for_connection_sync() would block the server's own event loop: "
                               "use await wait_for_connection()")
        return self._connection_came(self._wake.wait(lambda: self._registry.at(index), timeout), index, timeout)

    async def wait_for_connection(self, index: int = 0, *, timeout: float = 5.0) -> Connection:
        """:meth:`wait_for_connection_sync` for async tests, on any event loop."""
        found = await self._wake.wait_async(lambda: self._registry.at(index), timeout)
        return self._connection_came(found, index, timeout)

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
        with self._lock:
            return self._expectations.expect_error(code, message, param, client_event, error_type, times)

    def allow_errors(self, allowed: bool = True) -> None:
        """Let :meth:`check` pass however many errors were sent (the per-test opt-out)."""
        with self._lock:
            self._expectations.errors_allowed = allowed

    def client_expectations(self, connection: int = 0) -> ClientSequence:
        """The ordered expectations on what the client of ``connection`` sends (created empty)."""
        with self._lock:
            return self._expectations.client_expectations(connection)

    def expect_client(self, type: str, /, **fields: Any) -> ClientSequence:
        """Expect the client of connection 0 to send, next, an event of ``type`` holding ``fields``.

        Returns the sequence; chain ``.then(type, **fields)`` for the events after it.
        """
        return self.client_expectations(0).then(type, **fields)

    def problems(self) -> list[str]:
        """What :meth:`check` would fail with: unnoticed errors, declared errors that did not
        happen, client expectations not met, internal errors of the fake."""
        with self._lock:
            declared = self._expectations.copy()
        return declared.problems(self.errors(), self.connections)

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
        return settle(self._runner, self._lock, self._registry, timeout, _CLOSE_TIMEOUT)

    def reset(self) -> None:
        """Close every open connection (1000), forget connections, errors and expectations, restore the policy.

        Connection indexes restart at 0, so a seeded server mints the same ids in
        every test; an unseeded server picks a new random seed.
        """
        policy = self._initial_policy()  # first: a script file that has become broken raises, and nothing is reset
        with self._lock:
            doomed = self._registry.forget()
            self._expectations.clear()
            self.seed = self._pick_seed()
            self.policy = policy
        if doomed:
            self._runner.call_soon(lambda: self._close_sockets(doomed))

    def _close_sockets(self, sockets: Sequence[ServerConnection], code: int = 1000, reason: str = "") -> None:
        # Fire and forget: a client whose event loop is gone never answers the close,
        # and a test must not wait for that.
        for socket in sockets:
            task = asyncio.ensure_future(end_connection(self, socket, CloseConnection(code, reason)))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> "FakeRealtimeServer":
        """Serve from a daemon thread with its own event loop; returns once listening."""
        self._runner.start(self._open_listener, self._close_listener)
        return self

    def stop(self) -> None:
        """Close all connections and the listener, and join the thread."""
        self._runner.stop()

    def __enter__(self) -> "FakeRealtimeServer":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> "FakeRealtimeServer":
        self._runner.attach()
        try:
            await self._open_listener()
        except BaseException:
            self._runner.detach()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._close_listener()
        finally:
            self._runner.detach()

    async def _open_listener(self) -> None:
        self._server = await listen(self._handle, self.host, self.port, api=self._admin, max_size=_MAX_FRAME_BYTES,
                                    close_timeout=_CLOSE_TIMEOUT)
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
                    with self._lock:
                        still_open = list(self._registry.open)
                    for socket in still_open:
                        socket.transport.abort()
                    await closed
            if self._closing:
                await asyncio.gather(*self._closing, return_exceptions=True)
        finally:
            self._server = None
            self._bound = None

    # --- what serving a socket needs (session_io.ConnectionHost) -------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        await handle_connection(self, connection)

    @property
    def reading(self) -> set[ServerConnection]:
        """Sockets whose handler waits for the client's next frame (see :meth:`settle`)."""
        return self._registry.reading

    @property
    def aborted(self) -> set[ServerConnection]:
        """Sockets the server dropped without a close frame (1006)."""
        return self._registry.aborted

    def admit(self, socket: ServerConnection) -> Admission:
        """Count a new socket as open: its index, and the generation, seed and policy it is served by."""
        with self._lock:
            index, generation = self._registry.admit(socket)
            return Admission(index, generation, self.seed, self.policy)

    def add_connection(
        self, generation: int, index: int, journal: Journal, session: Session | None, handshake: Handshake,
        socket: ServerConnection,
    ) -> Connection:
        """Record a connection where tests find it (unless a reset came since its socket was admitted)."""
        journal.handshake = handshake
        handle = ServedSocket(socket, self._close_sockets)
        record = Connection(index, journal, session, self._wake, socket=handle, loop=self._runner)
        with self._lock:
            if self._registry.add(generation, record, handle):
                self._wake.notify()
        return record

    def connection_closed(self, record: Connection | None, socket: ServerConnection) -> None:
        """The socket is gone: note how its connection ended, and wake whoever waits for that."""
        with self._lock:
            self._registry.closed(record, socket)
            if record is not None:
                self._wake.notify()
        self._registry.aborted.discard(socket)

    def record_internal_error(self, generation: int, session: Session | None, exc: BaseException) -> None:
        """Log an exception the transport contained, and keep it for :meth:`check` (unless a reset came since)."""
        session_id = getattr(session, "id", None)
        report = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        _log.error("internal error in session %s:\n%s", session_id, report)
        with self._lock:
            if generation == self._registry.generation:
                self._expectations.internal_errors.append((session_id, report))

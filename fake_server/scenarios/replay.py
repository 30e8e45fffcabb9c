"""Replaying a scenario: play its client side against a URL (the fake or the live API), check its server side.

Synchronisation is by events, never by sleeping: a client line is sent once the server lines it waits for
have arrived (or a timeout says they never did). Every server frame that arrives is followed as it comes,
to know when to send; the verdict is taken at the end, lining each connection's frames up with its lines
the way that gives the fewest problems:

* ordered lines (the default) must come in file order; an event of the expected type that differs is
  reported field by field (which matcher applied, expected vs got) and the replay goes on;
* ``order: any`` lines may come anywhere after the client line before them;
* streamed events (``*.delta``) must each match one of the scenario's delta lines of that type, and each
  delta line must be matched at least once.

What the live service sends and the fake does not (or the other way round) shows up as missing or
unexpected events. :func:`compare_runs` sets two runs of the same scenario side by side (fake vs live).

The rooms: :mod:`.judge` follows and judges the frames (no I/O), :mod:`.results` holds what a replay found,
:mod:`.compare` compares two runs; this module plays the client side over WebSocket connections, or reads a
conversation that already happened (:func:`check_frames`).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .compare import Divergence, compare_runs, divergence_report
from .format import ClientLine, Scenario, fill_placeholders, match_value
from .judge import ConnLines, Follower
from .results import Problem, Received, ReplayResult, short

__all__ = [
    "DEFAULT_TIMEOUT",
    "LIVE_URL",
    "Divergence",
    "Problem",
    "Received",
    "ReplayResult",
    "check_frames",
    "compare_runs",
    "divergence_report",
    "replay",
    "replay_many",
    "replay_sync",
]

DEFAULT_TIMEOUT = 10.0
LIVE_URL = "wss://api.openai.com/v1/realtime"
PLACEHOLDER_KEY = "sk-fake-realtime-replay"
"""The key sent when ``OPENAI_API_KEY`` is not set (the fake accepts any non-empty key)."""


class _Replay(Follower):
    """One replay over WebSocket connections: opens them as their lines come up, sends the client lines when
    what they wait for has come, and feeds every server frame to the :class:`Follower`."""

    def __init__(self, scenario: Scenario, url: str, api_key: str, timeout: float | None) -> None:
        super().__init__(scenario, url)
        self.url = url
        self.api_key = api_key
        self.timeout = timeout or scenario.timeout or DEFAULT_TIMEOUT
        self.sockets: dict[str, ClientConnection] = {}
        self.readers: list[asyncio.Task[None]] = []
        self.queue: asyncio.Queue[Received] = asyncio.Queue()
        self.start = 0.0

    # connections

    def connection_url(self, name: str) -> str:
        conf = self.scenario.connection(name)
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if conf.model is not None:
            query["model"] = conf.model
        query.update(conf.query)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

    async def open(self, conn: ConnLines) -> bool:
        conf = self.scenario.connection(conn.name)
        headers = {"Authorization": f"Bearer {self.api_key}", **conf.beta_header()}
        try:
            socket = await connect(
                self.connection_url(conn.name), additional_headers=headers,
                subprotocols=list(conf.subprotocols) or None,  # type: ignore[arg-type]
                max_size=None, open_timeout=self.timeout, ping_interval=None, close_timeout=self.timeout,
            )
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            self.problem("connect", conn.name, note=f"cannot connect to {self.connection_url(conn.name)}: {exc}")
            conn.closed = True
            return False
        self.sockets[conn.name] = socket
        self.readers.append(asyncio.create_task(self.read(conn, socket)))
        return True

    async def read(self, conn: ConnLines, socket: ClientConnection) -> None:
        try:
            async for frame in socket:
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                try:
                    event = json.loads(text)
                except json.JSONDecodeError:
                    event = {"type": "<not JSON>", "text": text}
                if not isinstance(event, dict):
                    event = {"type": "<not an object>", "value": event}
                self.queue.put_nowait(Received(conn.name, self.now(), event=event))
        except ConnectionClosed:
            pass
        protocol = socket.protocol
        # the server closed first (or the connection broke): not the echo of a close the client sent
        conn.server_closed = protocol.close_sent is None or bool(protocol.close_rcvd_then_sent)
        code = socket.close_code if socket.close_code is not None else 1006
        self.queue.put_nowait(Received(conn.name, self.now(), close=(code, socket.close_reason or "")))

    def now(self) -> float:
        return time.monotonic() - self.start

    # waiting

    async def wait_until(self, ready: Callable[[], bool]) -> bool:
        """Handle arriving frames until ``ready()`` holds; False when nothing new came for the timeout."""
        while not ready():
            try:
                got = await asyncio.wait_for(self.queue.get(), self.timeout)
            except asyncio.TimeoutError:
                if [conn for conn in self.conns.values() if conn.window and self.resync(conn, force=True)]:
                    continue  # past lines that never came, as far as the frames that did come go
                return ready()
            self.dispatch(got)
        return True

    # playing

    async def send(self, line: ClientLine) -> bool:
        conn, socket = self.conns[line.conn], self.sockets[line.conn]
        try:
            if line.event is not None:
                event = fill_placeholders(line.event, self.bindings)
            else:
                event = None
        except KeyError as exc:
            self.problem("placeholder", line.conn, line=line,
                         note=f"cannot send {line.label}: {exc.args[0]!r} was never bound "
                              "(its server line never matched)")
            return False
        conn.started += 1
        try:
            if event is not None:
                await socket.send(json.dumps(event))
            else:
                close = line.close or {}
                conn.closing = True
                await socket.close(close.get("code", 1000), close.get("reason", ""))
        except ConnectionClosed:
            self.problem("timeout", line.conn, line=line, note=f"cannot send {line.label}: the connection is closed")
            return False
        conn.sent += 1
        self.result.sent += 1
        self.marks = {name: len(c.received) for name, c in self.conns.items()}
        return True

    async def run(self) -> ReplayResult:
        self.start = time.monotonic()
        try:
            await self.play()
        finally:
            await self.finish()
            self.result.duration = self.now()
        return self.result

    async def play(self) -> None:
        for line in self.scenario.lines:
            conn = self.conns[line.conn]
            if line.conn not in self.sockets and not conn.closed and not await self.open(conn):
                return
            if not isinstance(line, ClientLine):
                continue
            if not await self.wait_until(self.ready_to_send(line)):
                self.problem("timeout", line.conn, line=line,
                             note=f"gave up before sending {line.label}: what it waits for did not come "
                                  f"within {self.timeout:g} s")
                return
            if conn.closed and line.event is not None:
                self.problem("timeout", line.conn, line=line,
                             note=f"cannot send {line.label}: the server closed the connection")
                return
            if not await self.send(line):
                return
        await self.wait_until(lambda: all(c.settled or c.closed and c.position >= len(c.ordered)
                                           for c in self.conns.values()))

    async def finish(self) -> None:
        for name, socket in self.sockets.items():
            if not self.conns[name].closed:
                self.conns[name].closing = True
                await socket.close()
        for reader in self.readers:
            await reader
        while not self.queue.empty():
            self.dispatch(self.queue.get_nowait())
        self.judge()


def api_key_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``OPENAI_API_KEY`` when set, else a placeholder the fake accepts."""
    return (environ if environ is not None else os.environ).get("OPENAI_API_KEY") or PLACEHOLDER_KEY


async def replay(scenario: Scenario, url: str, *, api_key: str | None = None,
                 timeout: float | None = None) -> ReplayResult:
    """Play the scenario's client side against ``url`` (``ws://.../v1/realtime``) and check its server side.

    ``api_key`` defaults to ``OPENAI_API_KEY``. ``timeout`` is how long to wait for an awaited event
    (default: the scenario's ``timeout``, else :data:`DEFAULT_TIMEOUT`)."""
    return await _Replay(scenario, url, api_key or api_key_from_env(), timeout).run()


def replay_sync(scenario: Scenario, url: str, *, api_key: str | None = None,
                timeout: float | None = None) -> ReplayResult:
    """:func:`replay` from synchronous code (runs its own event loop)."""
    return asyncio.run(replay(scenario, url, api_key=api_key, timeout=timeout))


async def replay_many(scenarios: Iterable[Scenario], url: str, *, api_key: str | None = None,
                      timeout: float | None = None,
                      progress: Callable[[int, int, ReplayResult], None] | None = None) -> list[ReplayResult]:
    """Replay scenarios one after the other; ``progress(done, total, result)`` after each."""
    todo = list(scenarios)
    results = []
    for number, scenario in enumerate(todo, start=1):
        result = await replay(scenario, url, api_key=api_key, timeout=timeout)
        results.append(result)
        if progress is not None:
            progress(number, len(todo), result)
    return results


# --- checking a conversation that already happened ----------------------------------------------------

Frame = tuple[str, str, float, "dict[str, Any] | None", "tuple[int, str] | None"]
"""(connection name, ``"client"`` or ``"server"``, time, event, close) of a conversation that happened."""


def check_frames(scenario: Scenario, frames: Iterable[Frame], *, source: str = "(journal)") -> ReplayResult:
    """Check a conversation that already happened (e.g. a test's own client against the fake, from the
    journal) against a scenario: the client events must be the scenario's client lines (placeholders filled
    in), the server frames must match its server lines, with the same rules and report as :func:`replay`."""
    run = Follower(scenario, source)
    clients: dict[str, list[ClientLine]] = {
        name: [line for line in scenario.lines if isinstance(line, ClientLine) and line.conn == name]
        for name in run.conns}
    for conn_name, direction, t, event, close in sorted(frames, key=lambda frame: frame[2]):
        if conn_name not in run.conns:
            run.problem("unexpected", conn_name, note=f"a connection the scenario does not have ({conn_name})")
            continue
        conn = run.conns[conn_name]
        if direction == "server":
            if close is not None:
                conn.server_closed = True  # a journal holds the server's own closes only
            run.dispatch(Received(conn_name, t, event=event, close=close))
            continue
        if close is not None:
            continue
        if conn.sent >= len(clients[conn_name]):
            run.problem("unexpected", conn_name, note=f"the client sent more than recorded: {short(event)}")
            continue
        line = clients[conn_name][conn.sent]
        conn.sent += 1
        conn.started += 1
        run.result.sent += 1
        try:
            expected = fill_placeholders(line.event, run.bindings) if line.event is not None else {"close": line.close}
        except KeyError as exc:
            run.problem("placeholder", conn_name, line=line, note=f"{exc.args[0]!r} was never bound")
            continue
        mismatches = match_value(expected, event, dict(run.bindings))
        if mismatches:
            run.problem("differs", conn_name, line=line, mismatches=tuple(mismatches),
                        note="the client sent something else")
    for name, conn in run.conns.items():
        for unsent in clients[name][conn.sent:]:
            if unsent.event is not None:
                run.problem("missing", name, line=unsent)
    run.judge()
    return run.result

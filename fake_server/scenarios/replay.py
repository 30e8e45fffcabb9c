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
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .format import (
    ClientLine,
    Generalizer,
    LenientBindings,
    Mismatch,
    Scenario,
    ServerLine,
    fill_placeholders,
    is_stream_type,
    match_value,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "LIVE_URL",
    "Problem",
    "Received",
    "ReplayResult",
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

ProblemKind = Literal["differs", "missing", "unexpected", "timeout", "connect", "placeholder"]


@dataclass(frozen=True)
class Received:
    """One frame the server sent during a replay (an event, or the close of the connection)."""

    conn: str
    t: float
    event: dict[str, Any] | None = None
    close: tuple[int, str] | None = None

    @property
    def label(self) -> str:
        return f"close {self.close[0]}" if self.close is not None else str((self.event or {}).get("type"))


@dataclass(frozen=True)
class Problem:
    """One way the server side did not match the scenario."""

    kind: ProblemKind
    conn: str
    line: ServerLine | ClientLine | None = None
    got: Received | None = None
    mismatches: tuple[Mismatch, ...] = ()
    note: str = ""

    def describe(self) -> str:
        where = f"[{self.conn}]" + (f" line {self.line.number}" if self.line is not None else "")
        if self.kind == "differs" and self.line is not None:
            head = f"{where}: {self.line.label} differs" + (f" ({self.note})" if self.note else "")
            return "\n".join([head, *("      " + m.describe() for m in self.mismatches)])
        if self.kind == "missing" and self.line is not None:
            expected = self.line.event if self.line.event is not None else {"close": self.line.close}
            if isinstance(self.line, ClientLine):
                return f"{where}: the client never sent {self.line.label}: {_short(expected)}"
            return f"{where}: missing {self.line.label} (never came): expected {_short(expected)}"
        if self.kind == "unexpected" and self.got is not None:
            got = self.got.event if self.got.event is not None else {"close": self.got.close}
            note = f" ({self.note})" if self.note else ""
            return f"{where}: unexpected {self.got.label}{note}: {_short(got)}"
        return f"{where}: {self.note}"


MISSING_SHOWN = 3
"""Of a run of missing lines of one connection, how many a report shows in full."""


def _likeness(problem: Problem) -> tuple[Any, ...]:
    """Problems with the same likeness say the same thing (the values that came aside)."""
    return (problem.kind, problem.conn, problem.line.number if problem.line is not None else None,
            problem.got.label if problem.got is not None else None, problem.note,
            tuple((m.path, m.matcher, _short(m.expected)) for m in problem.mismatches))


def _collapsed(problems: Sequence[Problem]) -> list[str]:
    counts: dict[tuple[Any, ...], int] = {}
    for problem in problems:
        counts[_likeness(problem)] = counts.get(_likeness(problem), 0) + 1
    out: list[str] = []
    shown: set[tuple[Any, ...]] = set()
    run: list[Problem] = []

    def flush() -> None:
        for problem in run[:MISSING_SHOWN]:
            out.append("  " + problem.describe())
        rest = run[MISSING_SHOWN:]
        if len(rest) == 1:
            out.append("  " + rest[0].describe())
        elif rest:
            listed = ", ".join(f"{p.line.number} {p.line.label}" for p in rest if p.line is not None)
            out.append(f"  [{rest[0].conn}] ... and {len(rest)} more lines that never came: {listed}")
        run.clear()

    for problem in problems:
        key = _likeness(problem)
        if key in shown:
            continue
        shown.add(key)
        if problem.kind == "missing" and (not run or run[0].conn == problem.conn):
            run.append(problem)
            continue
        flush()
        if problem.kind == "missing":
            run.append(problem)
            continue
        out.append("  " + problem.describe())
        if counts[key] > 1:
            out.append(f"      ... and {counts[key] - 1} more like this")
    flush()
    return out


def _short(value: Any, limit: int = 240) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ReplayResult:
    """What one replay of one scenario found."""

    scenario: Scenario
    url: str
    problems: list[Problem] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    unordered: set[int] = field(default_factory=set)
    """Indexes in ``received`` of the frames taken for ``order: any`` lines."""
    sent: int = 0
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        where = f" ({self.scenario.path})" if self.scenario.path is not None else ""
        return (f"{status} {self.scenario.name}{where}: {self.sent} sent, {len(self.received)} received, "
                f"{len(self.problems)} problem(s), {self.duration:.2f} s")

    def report(self) -> str:
        """The summary line, then each problem (expected vs got per event, with the matcher that applied).

        Problems alike (the same line differing in the same places, say every delta of a stream) are shown
        once with how many more there are; a long run of missing lines of one connection is cut short."""
        lines = [self.summary()]
        if self.scenario.divergence and not self.passed:
            lines.append(f"  known divergence of the fake: {self.scenario.divergence}")
        lines.extend(_collapsed(self.problems))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name, "path": str(self.scenario.path) if self.scenario.path else None,
            "url": self.url, "passed": self.passed, "sent": self.sent, "duration": round(self.duration, 3),
            "problems": [p.describe() for p in self.problems],
        }


class _Conn:
    """The replay's view of one connection."""

    def __init__(self, name: str, lines: Sequence[ServerLine | ClientLine]) -> None:
        self.name = name
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.ordered: list[ServerLine] = []
        self.floating: list[tuple[int, ServerLine]] = []
        """(client lines of this connection that must be sent first, line) of ``order: any`` lines not
        matched yet (while replaying)."""
        self.all_floating: list[tuple[int, ServerLine]] = []
        self.streams: list[ServerLine] = []
        self.hits: dict[int, int] = {}
        self.required: dict[int, int] = {}
        """client line number -> how many ordered lines must be matched before it is sent."""
        self.epoch: dict[int, int] = {}
        """server line number -> how many client lines of this connection come before it in the file: a
        frame that came before that many were sent cannot be its answer."""
        clients = 0
        for line in lines:
            if isinstance(line, ClientLine):
                self.required[line.number] = len(self.ordered)
                clients += 1
                continue
            self.epoch[line.number] = clients
            if line.stream:
                self.streams.append(line)
                self.hits[line.number] = 0
            elif line.order == "any":
                self.floating.append((clients, line))
            else:
                self.ordered.append(line)
        self.all_floating = list(self.floating)
        self.expects_close = any(line.close is not None for line in self.ordered)
        self.position = 0
        self.sent = 0
        self.started = 0
        """Client lines whose sending has begun (counted before the send, so an answer read meanwhile
        never looks older than the client line it answers)."""
        self.received: list[Received] = []
        self.epochs: list[int] = []
        """Per received frame: how many client lines had been sent when it was handled."""
        self.window: list[int] = []
        """Indexes in ``received`` of frames that answered no line yet (while replaying)."""
        self.assigned: dict[int, ServerLine] = {}
        """received index -> the ``order: any`` line it was taken for while replaying."""
        self.closed = False
        self.closing = False
        self.server_closed = False
        """The server closed the connection (rather than echoing the client's close)."""

    @property
    def settled(self) -> bool:
        return self.position >= len(self.ordered) and all(line.optional for _, line in self.floating) and all(
            hits or line.optional for line in self.streams for hits in (self.hits[line.number],))

    def pending_floating(self, before: int) -> bool:
        """A required ``order: any`` line before line ``before`` has not come yet."""
        return any(not line.optional and line.number < before for _, line in self.floating)


class _Replay:
    def __init__(self, scenario: Scenario, url: str, api_key: str, timeout: float | None) -> None:
        self.scenario = scenario
        self.url = url
        self.api_key = api_key
        self.timeout = timeout or scenario.timeout or DEFAULT_TIMEOUT
        self.bindings: dict[str, Any] = {}
        self.conns = {c.name: _Conn(c.name, [line for line in scenario.lines if line.conn == c.name])
                      for c in scenario.connections}
        self.queue: asyncio.Queue[Received] = asyncio.Queue()
        self.marks: dict[str, int] = {name: 0 for name in self.conns}
        self.result = ReplayResult(scenario, url)
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

    async def open(self, conn: _Conn) -> bool:
        conf = self.scenario.connection(conn.name)
        headers = {"Authorization": f"Bearer {self.api_key}", **conf.beta_header()}
        try:
            conn.socket = await connect(
                self.connection_url(conn.name), additional_headers=headers,
                subprotocols=list(conf.subprotocols) or None,  # type: ignore[arg-type]
                max_size=None, open_timeout=self.timeout, ping_interval=None, close_timeout=self.timeout,
            )
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            self.problem("connect", conn.name, note=f"cannot connect to {self.connection_url(conn.name)}: {exc}")
            conn.closed = True
            return False
        conn.reader = asyncio.create_task(self.read(conn, conn.socket))
        return True

    async def read(self, conn: _Conn, socket: ClientConnection) -> None:
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

    # matching
    #
    # Two passes. While replaying, ``dispatch`` follows the server (which line each frame answers) only to
    # know when to send the next client line and what the ids bound so far are. When the replay is over,
    # ``judge`` aligns each connection's frames with its lines so that the problems are as few as possible
    # (one missing line is one "missing", one extra event one "unexpected"), then walks the frames in
    # arrival order with fresh bindings to report each difference.

    def problem(self, kind: ProblemKind, conn: str, **fields: Any) -> None:
        self.result.problems.append(Problem(kind, conn, **fields))

    @staticmethod
    def trial(line: ServerLine, got: Received, bindings: dict[str, Any]) -> tuple[list[Mismatch], dict[str, Any]]:
        """Match ``got`` against ``line``: the mismatches and the bindings after it (a copy; lenient
        bindings are used as they are)."""
        if not isinstance(bindings, LenientBindings):
            bindings = dict(bindings)
        if line.event is not None:
            if got.event is None:
                return [Mismatch("", "kind", line.label, got.label)], bindings
            return match_value(line.event, got.event, bindings), bindings
        if got.close is None:
            return [Mismatch("", "kind", "close", got.label)], bindings
        expected = line.close or {}
        actual = {"code": got.close[0], "reason": got.close[1]}
        return match_value({k: expected[k] for k in ("code", "reason") if k in expected},
                           {k: actual[k] for k in ("code", "reason") if k in expected}, bindings, "close"), bindings

    def attempt(self, line: ServerLine, got: Received) -> tuple[list[Mismatch], dict[str, Any]]:
        return self.trial(line, got, self.bindings)

    @staticmethod
    def same_kind(line: ServerLine, got: Received) -> bool:
        if line.event is None or got.event is None:
            return line.event is None and got.event is None
        return bool(line.event.get("type") == got.event.get("type"))

    def dispatch(self, got: Received) -> None:
        """Follow one arriving frame (see above: this moves the replay along; ``judge`` reports)."""
        conn = self.conns[got.conn]
        index = len(conn.received)
        conn.received.append(got)
        conn.epochs.append(conn.started)
        self.result.received.append(got)
        if got.close is not None:
            conn.closed = True
            if not conn.server_closed and not conn.expects_close:
                return  # the echo of the client's close
        if got.event is not None and is_stream_type(str(got.event.get("type", ""))):
            self.follow_stream(conn, got)
            return
        if conn.position < len(conn.ordered) and conn.epoch[conn.ordered[conn.position].number] <= conn.started:
            mismatches, bindings = self.attempt(conn.ordered[conn.position], got)
            if not mismatches:  # the line expected next
                self.bindings = bindings
                conn.position += 1
                conn.window.clear()
                return
        floating = [k for k, (after, _) in enumerate(conn.floating) if conn.started >= after]
        for k in floating:
            if not self.attempt(conn.floating[k][1], got)[0]:
                return self.take_floating(conn, k, index)
        conn.window.append(index)
        if self.resync(conn, force=len(conn.window) > 1):
            return
        conn.window.pop()
        for k in floating:
            if self.same_kind(conn.floating[k][1], got):
                return self.take_floating(conn, k, index)
        conn.window.append(index)  # unexpected, for now: a later frame may show it answered a line

    def take_floating(self, conn: _Conn, k: int, index: int) -> None:
        _, line = conn.floating.pop(k)
        conn.assigned[index] = line
        self.bindings = self.attempt(line, conn.received[index])[1]

    def resync(self, conn: _Conn, *, force: bool = False) -> bool:
        """The frames not taken yet (``conn.window``) did not come in the expected order: line them up with
        the lines of the current stretch (up to the next client line not sent) at the least cost, an extra
        frame or a changed event costing 2, a line passed over 1, trailing lines nothing (they may come yet).
        So an extra event leaves the replay where it was (the line expected next usually comes right after
        it), and one that comes after a line or two that never did moves it on. ``force`` (a second frame
        that is not the line expected next either, or nothing more for the timeout): lines passed over cost
        nothing, so the replay moves on as far as the frames go. True when it moved. (The verdict is
        ``judge``'s, which counts each problem as one.)"""
        start = conn.position
        end = start
        while end < len(conn.ordered) and conn.epoch[conn.ordered[end].number] <= conn.started:
            end += 1
        lines, frames = conn.ordered[start:end], [conn.received[j] for j in conn.window]
        n, m = len(lines), len(frames)
        if not n or not m:
            return False
        lenient = LenientBindings(self.bindings)
        pair = {(i, k): 0 if not self.trial(lines[i], got, lenient)[0] else 2
                for i in range(n) for k, got in enumerate(frames) if self.same_kind(lines[i], got)}
        skip_line, skip_frame = (0 if force else 1), 2
        inf = 10 ** 9
        cost = [[inf] * (m + 1) for _ in range(n + 1)]
        cost[0][0] = 0
        for i in range(n + 1):
            for k in range(m + 1):
                here = cost[i][k]
                if i < n:
                    cost[i + 1][k] = min(cost[i + 1][k], here + skip_line)
                if k < m:
                    cost[i][k + 1] = min(cost[i][k + 1], here + skip_frame)
                if (i, k) in pair:
                    cost[i + 1][k + 1] = min(cost[i + 1][k + 1], here + pair[i, k])
        best = min(range(n + 1), key=lambda i: (cost[i][m], -i))  # a tie: the one that gets furthest
        pairs: list[tuple[int, int]] = []
        i, k = best, m
        while i > 0 or k > 0:
            if i > 0 and k > 0 and (i - 1, k - 1) in pair and cost[i][k] == cost[i - 1][k - 1] + pair[i - 1, k - 1]:
                pairs.append((i - 1, k - 1))
                i, k = i - 1, k - 1
            elif k > 0 and cost[i][k] == cost[i][k - 1] + skip_frame:
                k -= 1
            else:
                i -= 1
        if not pairs:
            return False
        for i, k in reversed(pairs):
            self.bindings = self.attempt(lines[i], frames[k])[1]
        conn.position = start + pairs[0][0] + 1
        conn.window.clear()
        return True

    def follow_stream(self, conn: _Conn, got: Received) -> None:
        same = [line for line in conn.streams if self.same_kind(line, got)]
        for line in sorted(same, key=lambda candidate: conn.hits[candidate.number] > 0):
            problems, bindings = self.attempt(line, got)
            if not problems:
                self.bindings = bindings
                conn.hits[line.number] += 1
                return
        if same:
            conn.hits[same[0].number] += 1

    # judging

    def align(self, conn: _Conn) -> dict[int, tuple[str, ServerLine | None]]:
        """How each frame of ``conn`` is judged: ``("line", line)`` for the ordered line it answers (as
        aligned with the fewest problems: one per missing line, extra frame or changed event), ``("floating",
        line)``, ``("stream", None)``, ``("ignore", None)`` (the echo of the client's close) or
        ``("extra", None)``."""
        plan: dict[int, tuple[str, ServerLine | None]] = {}
        frames: list[int] = []
        for j, got in enumerate(conn.received):
            if got.event is not None and is_stream_type(str(got.event.get("type", ""))):
                plan[j] = ("stream", None)
            elif j in conn.assigned:
                plan[j] = ("floating", conn.assigned[j])
            elif got.close is not None and not conn.server_closed and not conn.expects_close:
                plan[j] = ("ignore", None)
            else:
                plan[j] = ("extra", None)
                frames.append(j)
        lines = conn.ordered
        n, m = len(lines), len(frames)
        lenient = LenientBindings(self.bindings)  # ids as bound while replaying; others match any id
        pair: dict[tuple[int, int], int] = {}
        for i, line in enumerate(lines):
            for k, j in enumerate(frames):
                got = conn.received[j]
                if conn.epochs[j] >= conn.epoch[line.number] and self.same_kind(line, got):
                    pair[i, k] = 0 if not self.trial(line, got, lenient)[0] else 1
        # cost[i][k]: fewest problems aligning lines[i:] with frames[k:]
        cost = [[0] * (m + 1) for _ in range(n + 1)]
        for i in range(n, -1, -1):
            for k in range(m, -1, -1):
                if i == n or k == m:
                    cost[i][k] = (n - i) + (m - k)
                    continue
                best = min(cost[i + 1][k], cost[i][k + 1]) + 1
                if (i, k) in pair:
                    best = min(best, cost[i + 1][k + 1] + pair[i, k])
                cost[i][k] = best
        i = k = 0
        while i < n and k < m:  # the earliest pairing wins a tie
            if (i, k) in pair and cost[i][k] == cost[i + 1][k + 1] + pair[i, k]:
                plan[frames[k]] = ("line", lines[i])
                i, k = i + 1, k + 1
            elif cost[i][k] == cost[i + 1][k] + 1:
                i += 1
            else:
                k += 1
        return plan

    def judge(self) -> None:
        """Report every difference between the frames that came and the scenario's server lines."""
        plans = {name: self.align(conn) for name, conn in self.conns.items()}
        bindings: dict[str, Any] = {}
        seen = {name: 0 for name in self.conns}
        paired: set[int] = set()
        used_floating: set[int] = set()
        hits = {line.number: 0 for conn in self.conns.values() for line in conn.streams}
        last: dict[str, int | None] = {name: None for name in self.conns}
        for index, got in enumerate(self.result.received):
            conn = self.conns[got.conn]
            j = seen[conn.name]
            seen[conn.name] += 1
            how, line = plans[conn.name][j]
            if how == "ignore":
                continue
            if how == "stream":
                self.judge_stream(conn, got, bindings, hits)
                continue
            if how == "extra":  # perhaps an order-any line nobody took while replaying
                taken = {line.number for line in conn.assigned.values()} | used_floating
                free = [candidate for after, candidate in conn.all_floating
                        if candidate.number not in taken and conn.epochs[j] >= after]
                line = next((c for c in free if not self.trial(c, got, bindings)[0]), None) or next(
                    (c for c in free if self.same_kind(c, got)), None)
                if line is None:
                    where = f"after line {last[conn.name]}" if last[conn.name] is not None else (
                        f"before line {conn.ordered[0].number}" if conn.ordered else "")
                    if got.close is not None and conn.server_closed:
                        where = "the server closed the connection" + (f", {where}" if where else "")
                    self.problem("unexpected", conn.name, got=got, note=where)
                    continue
                how = "floating"
            assert line is not None
            if how == "floating":
                used_floating.add(line.number)
                self.result.unordered.add(index)
            else:
                paired.add(line.number)
                last[conn.name] = line.number
            mismatches, bindings = self.trial(line, got, bindings)
            if mismatches:
                self.problem("differs", conn.name, line=line, got=got, mismatches=tuple(mismatches))
        for conn in self.conns.values():
            for line in conn.ordered:
                if line.number not in paired:
                    self.problem("missing", conn.name, line=line)
            for _, line in conn.all_floating:
                if line.number not in used_floating and not line.optional:
                    self.problem("missing", conn.name, line=line)
            for line in conn.streams:
                if not hits[line.number] and not line.optional:
                    self.problem("missing", conn.name, line=line)
        self.result.problems.sort(key=_problem_order)

    def judge_stream(self, conn: _Conn, got: Received, bindings: dict[str, Any], hits: dict[int, int]) -> None:
        closest: tuple[ServerLine, list[Mismatch]] | None = None
        for line in sorted(conn.streams, key=lambda candidate: hits[candidate.number] > 0):
            if not self.same_kind(line, got):
                continue
            problems, after = self.trial(line, got, bindings)
            if not problems:
                bindings.update(after)
                hits[line.number] += 1
                return
            if closest is None:
                closest = (line, problems)
        if closest is not None:
            self.problem("differs", conn.name, line=closest[0], got=got, mismatches=tuple(closest[1]))
            hits[closest[0].number] += 1
        else:
            self.problem("unexpected", conn.name, got=got)

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

    def ready_to_send(self, line: ClientLine) -> Callable[[], bool]:
        conn = self.conns[line.conn]
        if line.wait == "none":
            return lambda: True
        if line.wait == "previous":
            need = conn.required[line.number]
            return lambda: conn.position >= need and not conn.pending_floating(line.number) or conn.closed
        fields = {k: v for k, v in line.wait.items() if k != "conn"}
        other = self.conns[line.wait.get("conn", line.conn)]
        since = self.marks[other.name]

        def arrived() -> bool:
            return other.closed or any(
                got.event is not None and not match_value({"$partial": fields}, got.event, dict(self.bindings))
                for got in other.received[since:])

        return arrived

    # playing

    async def send(self, line: ClientLine) -> bool:
        conn = self.conns[line.conn]
        assert conn.socket is not None
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
                await conn.socket.send(json.dumps(event))
            else:
                close = line.close or {}
                conn.closing = True
                await conn.socket.close(close.get("code", 1000), close.get("reason", ""))
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
            if conn.socket is None and not conn.closed and not await self.open(conn):
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
        for conn in self.conns.values():
            if conn.socket is not None and not conn.closed:
                conn.closing = True
                await conn.socket.close()
        for conn in self.conns.values():
            if conn.reader is not None:
                await conn.reader
        while not self.queue.empty():
            self.dispatch(self.queue.get_nowait())
        self.judge()


def _problem_order(problem: Problem) -> tuple[float, int]:
    if problem.got is not None:
        return (problem.got.t, 0)
    return (float("inf"), problem.line.number if problem.line is not None else 0)


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


# --- fake vs live -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Divergence:
    """One place where two runs of a scenario got different server frames."""

    conn: str
    what: str
    detail: str


def _generalized(result: ReplayResult) -> dict[str, list[tuple[str, Any]]]:
    """Per connection, what the server sent, generalized so that two runs compare by structure: ids (numbered
    per connection, so how connections interleave does not count), text and clocks become matchers. Frames
    in order, but for frames taken for ``order: any`` lines, which come last, sorted; and deltas: each
    response's deltas (or a connection's other deltas) become one entry naming the delta types, after the
    frames, since how many there are and where they fall among the other frames is timing. Delta types the
    scenario marks ``optional`` do not count (they may come or not, by timing)."""
    optional = {(line.conn, line.label) for line in result.scenario.lines
                if isinstance(line, ServerLine) and line.stream and line.optional}
    required = {(line.conn, line.label) for line in result.scenario.lines
                if isinstance(line, ServerLine) and line.stream and not line.optional}
    generalizers: dict[str, Generalizer] = {}
    out: dict[str, list[tuple[str, Any]]] = {}
    unordered: dict[str, list[tuple[str, Any]]] = {}
    streams: dict[str, dict[str, set[str]]] = {}
    for index, got in enumerate(result.received):
        generalizer = generalizers.setdefault(got.conn, Generalizer())
        frames = out.setdefault(got.conn, [])
        if got.close is not None:
            frames.append((f"close {got.close[0]}", {"close": list(got.close)}))
            continue
        assert got.event is not None
        kind = str(got.event.get("type"))
        if is_stream_type(kind):
            if (got.conn, kind) in optional and (got.conn, kind) not in required:
                continue  # the scenario says these may or may not come
            group = str(got.event.get("response_id") or "")
            streams.setdefault(got.conn, {}).setdefault(group, set()).add(kind)
            continue
        frame = (kind, generalizer.server_event(got.event))
        if index in result.unordered:
            unordered.setdefault(got.conn, []).append(frame)
        else:
            frames.append(frame)
    for conn, frames in out.items():
        frames.extend(sorted(unordered.get(conn, []),
                             key=lambda frame: (frame[0], json.dumps(frame[1], sort_keys=True))))
        for group, kinds in streams.get(conn, {}).items():
            frames.append(("deltas" + (" of a response" if group else "") + ": " + ", ".join(sorted(kinds)), None))
    return out


def _leaf_diffs(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict) and not any(str(k).startswith("$") for k in (*a, *b)):
        diffs = []
        for key in dict.fromkeys([*a, *b]):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                diffs.append(f"{sub}: only on the second run: {_short(b[key], 120)}")
            elif key not in b:
                diffs.append(f"{sub}: only on the first run: {_short(a[key], 120)}")
            else:
                diffs.extend(_leaf_diffs(a[key], b[key], sub))
        return diffs
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _leaf_diffs(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '<frame>'}: {_short(a, 120)} vs {_short(b, 120)}"]


def _error_text(frame: Any) -> str:
    error = frame.get("error", {}) if isinstance(frame, dict) else {}
    return (f"code {error.get('code')!r}, message {error.get('message')!r}, param {error.get('param')!r}")


def compare_runs(first: ReplayResult, second: ReplayResult) -> list[Divergence]:
    """Every difference between the server frames of two runs of one scenario (e.g. fake, then live):
    frames only one side got, and field differences of frames both got, error codes and messages included.
    Ids, free text, audio, clocks and usage numbers are generalized first, so they do not count."""
    import difflib

    a_all, b_all = _generalized(first), _generalized(second)
    divergences: list[Divergence] = []
    for conn in dict.fromkeys([*a_all, *b_all]):
        a, b = a_all.get(conn, []), b_all.get(conn, [])
        matcher = difflib.SequenceMatcher(a=[k for k, _ in a], b=[k for k, _ in b], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for (kind, x), (_, y) in zip(a[i1:i2], b[j1:j2]):
                    diffs = _leaf_diffs(x, y)
                    if diffs and kind == "error":
                        divergences.append(Divergence(conn, "error differs",
                                                      f"first: {_error_text(x)}; second: {_error_text(y)}"))
                    elif diffs:
                        divergences.append(Divergence(conn, f"{kind} differs", "; ".join(diffs)))
                continue
            for kind, x in a[i1:i2]:
                detail = _error_text(x) if kind == "error" else "" if x is None else _short(x, 200)
                divergences.append(Divergence(conn, f"only in the first run: {kind}", detail))
            for kind, y in b[j1:j2]:
                detail = _error_text(y) if kind == "error" else "" if y is None else _short(y, 200)
                divergences.append(Divergence(conn, f"only in the second run: {kind}", detail))
    return divergences


def _verdict(result: ReplayResult) -> str:
    return "pass" if result.passed else f"FAIL ({len(result.problems)} problem(s))"


def divergence_report(pairs: Sequence[tuple[ReplayResult, ReplayResult]], *,
                      names: tuple[str, str] = ("fake", "live")) -> str:
    """A Markdown report over (fake, live) runs: each scenario's verdict on both sides and every divergence."""
    first, second = names
    lines = [f"# {first} vs {second}: divergence report", ""]
    total = 0
    for a, b in pairs:
        divergences = compare_runs(a, b)
        total += len(divergences)
        lines.append(f"## {a.scenario.name}: {first} {_verdict(a)}, {second} {_verdict(b)}, "
                     f"{len(divergences)} divergence(s)")
        if a.scenario.divergence:
            lines.append(f"Known divergence: {a.scenario.divergence}")
        for d in divergences:
            what = d.what.replace("first run", f"{first} run").replace("second run", f"{second} run")
            detail = d.detail.replace("first:", f"{first}:").replace("second:", f"{second}:").replace(
                "only on the first run", f"only on {first}").replace("only on the second run", f"only on {second}")
            lines.append(f"- [{d.conn}] {what}" + (f": {detail}" if detail else ""))
        for label, result in ((first, a), (second, b)):
            for problem in result.problems:
                lines.append(f"- {label} vs the scenario: " + problem.describe().replace("\n", "\n  "))
        lines.append("")
    lines.insert(1, f"{len(pairs)} scenario(s), {total} divergence(s).")
    return "\n".join(lines) + "\n"


# --- the command ----------------------------------------------------------------------------------


def run_replay_command(
    paths: Sequence[str], url: str, *, timeout: float | None = None, compare_url: str | None = None,
    report: str | None = None, names: tuple[str, str] = ("fake", "live"),
    out: Callable[[str], None] = print, err: Callable[[str], None] | None = None,
) -> int:
    """``fake-realtime replay``: replay scenario files (and directories of them) against ``url``.

    Prints one progress line per scenario, then the failures with their diffs, then a total. With
    ``compare_url`` each scenario is replayed there too and a fake-vs-live divergence report is written
    to ``report`` (or printed). Exit code: 0 when every scenario passed (a scenario with a known
    ``divergence`` may fail), 1 when one failed, 2 when a scenario file could not be used."""
    from .format import ScenarioError, load_scenarios

    def error(text: str) -> None:
        (err or out)(text)

    try:
        scenarios = load_scenarios(paths)
    except ScenarioError as exc:
        error(f"fake-realtime replay: {exc}")
        return 2
    if not scenarios:
        error("fake-realtime replay: no scenario files given (a directory is searched for *.jsonl)")
        return 2
    targets = [url] if compare_url is None else [url, compare_url]
    runs: list[list[ReplayResult]] = []
    for target in targets:
        label = "" if compare_url is None else f"{names[len(runs)]} "

        def progress(done: int, total: int, result: ReplayResult, label: str = label) -> None:
            known = " (known divergence)" if not result.passed and result.scenario.divergence else ""
            out(f"[{done}/{total}] {label}{result.summary()}{known}")

        runs.append(asyncio.run(replay_many(scenarios, target, timeout=timeout, progress=progress)))
    failed = 0
    for results in runs:
        for result in results:
            if not result.passed:
                out("")
                out(result.report())
                if not result.scenario.divergence:
                    failed += 1
    if compare_url is not None:
        text = divergence_report(list(zip(runs[0], runs[1])), names=names)
        if report:
            with open(report, "w", encoding="utf-8") as handle:
                handle.write(text)
            out(f"divergence report: {report}")
        else:
            out("")
            out(text)
    total = sum(len(r) for r in runs)
    passed = sum(r.passed for results in runs for r in results)
    out(f"{passed} passed, {total - passed} failed ({total - passed - failed} of them known divergences)")
    return 1 if failed else 0


# --- checking a conversation that already happened ----------------------------------------------------

Frame = tuple[str, str, float, "dict[str, Any] | None", "tuple[int, str] | None"]
"""(connection name, ``"client"`` or ``"server"``, time, event, close) of a conversation that happened."""


def check_frames(scenario: Scenario, frames: Iterable[Frame], *, source: str = "(journal)") -> ReplayResult:
    """Check a conversation that already happened (e.g. a test's own client against the fake, from the
    journal) against a scenario: the client events must be the scenario's client lines (placeholders filled
    in), the server frames must match its server lines, with the same rules and report as :func:`replay`."""
    run = _Replay(scenario, source, "", DEFAULT_TIMEOUT)
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
            run.problem("unexpected", conn_name, note=f"the client sent more than recorded: {_short(event)}")
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

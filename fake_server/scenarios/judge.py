"""Following a replay's server frames as they come, and judging them against the scenario at the end. No I/O:
:mod:`~fake_server.scenarios.replay` feeds the frames in (from a socket, or from a journal).

Two passes. While replaying, :meth:`Follower.dispatch` follows the server (which line each frame answers)
only to know when to send the next client line (:meth:`Follower.ready_to_send`) and what the ids bound so
far are. When the replay is over, :func:`judge` aligns each connection's frames with its lines so that the
problems are as few as possible (one missing line is one "missing", one extra event one "unexpected"), then
walks the frames in arrival order with fresh bindings to report each difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .format import ClientLine, LenientBindings, Mismatch, Scenario, ServerLine, is_stream_type, match_value
from .results import Problem, ProblemKind, Received, ReplayResult

__all__ = ["ConnLines", "Follower", "judge", "same_kind", "trial"]


class ConnLines:
    """A replay's view of one connection: its lines by kind, what came, and how far the replay is."""

    def __init__(self, name: str, lines: Sequence[ServerLine | ClientLine]) -> None:
        self.name = name
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


def same_kind(line: ServerLine, got: Received) -> bool:
    """``got`` is the kind of frame ``line`` expects: an event of its type, or a close."""
    if line.event is None or got.event is None:
        return line.event is None and got.event is None
    return bool(line.event.get("type") == got.event.get("type"))


class Follower:
    """One run of a scenario as its frames come: which line each answers, the ids bound so far, the problems."""

    def __init__(self, scenario: Scenario, url: str) -> None:
        self.scenario = scenario
        self.bindings: dict[str, Any] = {}
        self.conns = {c.name: ConnLines(c.name, [line for line in scenario.lines if line.conn == c.name])
                      for c in scenario.connections}
        self.marks: dict[str, int] = {name: 0 for name in self.conns}
        """Per connection, how many frames had come when the last client line was sent."""
        self.result = ReplayResult(scenario, url)

    def problem(self, kind: ProblemKind, conn: str, **fields: Any) -> None:
        _problem(self.result, kind, conn, **fields)

    def attempt(self, line: ServerLine, got: Received) -> tuple[list[Mismatch], dict[str, Any]]:
        return trial(line, got, self.bindings)

    def dispatch(self, got: Received) -> None:
        """Follow one arriving frame (see the module: this moves the replay along; :func:`judge` reports)."""
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
            if same_kind(conn.floating[k][1], got):
                return self.take_floating(conn, k, index)
        conn.window.append(index)  # unexpected, for now: a later frame may show it answered a line

    def take_floating(self, conn: ConnLines, k: int, index: int) -> None:
        _, line = conn.floating.pop(k)
        conn.assigned[index] = line
        self.bindings = self.attempt(line, conn.received[index])[1]

    def resync(self, conn: ConnLines, *, force: bool = False) -> bool:
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
        pair = {(i, k): 0 if not trial(lines[i], got, lenient)[0] else 2
                for i in range(n) for k, got in enumerate(frames) if same_kind(lines[i], got)}
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

    def follow_stream(self, conn: ConnLines, got: Received) -> None:
        same = [line for line in conn.streams if same_kind(line, got)]
        for line in sorted(same, key=lambda candidate: conn.hits[candidate.number] > 0):
            problems, bindings = self.attempt(line, got)
            if not problems:
                self.bindings = bindings
                conn.hits[line.number] += 1
                return
        if same:
            conn.hits[same[0].number] += 1

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

    def judge(self) -> None:
        """Report every difference between the frames that came and the scenario's server lines."""
        judge(self.conns, self.bindings, self.result)


def align(conn: ConnLines, bindings: Mapping[str, Any]) -> dict[int, tuple[str, ServerLine | None]]:
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
    lenient = LenientBindings(bindings)  # ids as bound while replaying; others match any id
    pair: dict[tuple[int, int], int] = {}
    for i, line in enumerate(lines):
        for k, j in enumerate(frames):
            got = conn.received[j]
            if conn.epochs[j] >= conn.epoch[line.number] and same_kind(line, got):
                pair[i, k] = 0 if not trial(line, got, lenient)[0] else 1
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


def judge(conns: Mapping[str, ConnLines], replayed: Mapping[str, Any], result: ReplayResult) -> None:
    """Report in ``result`` every difference between the frames that came and the scenario's server lines
    (``replayed``: the ids bound while replaying, which the alignment trusts; the report binds afresh)."""
    plans = {name: align(conn, replayed) for name, conn in conns.items()}
    bindings: dict[str, Any] = {}
    seen = {name: 0 for name in conns}
    paired: set[int] = set()
    used_floating: set[int] = set()
    hits = {line.number: 0 for conn in conns.values() for line in conn.streams}
    last: dict[str, int | None] = {name: None for name in conns}
    for index, got in enumerate(result.received):
        conn = conns[got.conn]
        j = seen[conn.name]
        seen[conn.name] += 1
        how, line = plans[conn.name][j]
        if how == "ignore":
            continue
        if how == "stream":
            _judge_stream(conn, got, bindings, hits, result)
            continue
        if how == "extra":  # perhaps an order-any line nobody took while replaying
            taken = {line.number for line in conn.assigned.values()} | used_floating
            free = [candidate for after, candidate in conn.all_floating
                    if candidate.number not in taken and conn.epochs[j] >= after]
            line = next((c for c in free if not trial(c, got, bindings)[0]), None) or next(
                (c for c in free if same_kind(c, got)), None)
            if line is None:
                where = f"after line {last[conn.name]}" if last[conn.name] is not None else (
                    f"before line {conn.ordered[0].number}" if conn.ordered else "")
                if got.close is not None and conn.server_closed:
                    where = "the server closed the connection" + (f", {where}" if where else "")
                _problem(result, "unexpected", conn.name, got=got, note=where)
                continue
            how = "floating"
        assert line is not None
        if how == "floating":
            used_floating.add(line.number)
            result.unordered.add(index)
        else:
            paired.add(line.number)
            last[conn.name] = line.number
        mismatches, bindings = trial(line, got, bindings)
        if mismatches:
            _problem(result, "differs", conn.name, line=line, got=got, mismatches=tuple(mismatches))
    for conn in conns.values():
        for line in conn.ordered:
            if line.number not in paired:
                _problem(result, "missing", conn.name, line=line)
        for _, line in conn.all_floating:
            if line.number not in used_floating and not line.optional:
                _problem(result, "missing", conn.name, line=line)
        for line in conn.streams:
            if not hits[line.number] and not line.optional:
                _problem(result, "missing", conn.name, line=line)
    result.problems.sort(key=_problem_order)


def _judge_stream(conn: ConnLines, got: Received, bindings: dict[str, Any], hits: dict[int, int],
                  result: ReplayResult) -> None:
    closest: tuple[ServerLine, list[Mismatch]] | None = None
    for line in sorted(conn.streams, key=lambda candidate: hits[candidate.number] > 0):
        if not same_kind(line, got):
            continue
        problems, after = trial(line, got, bindings)
        if not problems:
            bindings.update(after)
            hits[line.number] += 1
            return
        if closest is None:
            closest = (line, problems)
    if closest is not None:
        _problem(result, "differs", conn.name, line=closest[0], got=got, mismatches=tuple(closest[1]))
        hits[closest[0].number] += 1
    else:
        _problem(result, "unexpected", conn.name, got=got)


def _problem(result: ReplayResult, kind: ProblemKind, conn: str, **fields: Any) -> None:
    result.problems.append(Problem(kind, conn, **fields))


def _problem_order(problem: Problem) -> tuple[float, int]:
    if problem.got is not None:
        return (problem.got.t, 0)
    return (float("inf"), problem.line.number if problem.line is not None else 0)

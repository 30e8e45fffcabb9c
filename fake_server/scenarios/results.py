"""What a replay found: the frames that came (:class:`Received`), each way the server side did not match the
scenario (:class:`Problem`), and the result of one run (:class:`ReplayResult`) with its report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .format import ClientLine, Mismatch, Scenario, ServerLine

__all__ = ["Problem", "ProblemKind", "Received", "ReplayResult", "short"]

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
                return f"{where}: the client never sent {self.line.label}: {short(expected)}"
            return f"{where}: missing {self.line.label} (never came): expected {short(expected)}"
        if self.kind == "unexpected" and self.got is not None:
            got = self.got.event if self.got.event is not None else {"close": self.got.close}
            note = f" ({self.note})" if self.note else ""
            return f"{where}: unexpected {self.got.label}{note}: {short(got)}"
        return f"{where}: {self.note}"


MISSING_SHOWN = 3
"""Of a run of missing lines of one connection, how many a report shows in full."""


def _likeness(problem: Problem) -> tuple[Any, ...]:
    """Problems with the same likeness say the same thing (the values that came aside)."""
    return (problem.kind, problem.conn, problem.line.number if problem.line is not None else None,
            problem.got.label if problem.got is not None else None, problem.note,
            tuple((m.path, m.matcher, short(m.expected)) for m in problem.mismatches))


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


def short(value: Any, limit: int = 240) -> str:
    """``value`` as JSON, cut to ``limit`` characters."""
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

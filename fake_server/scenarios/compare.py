"""Two runs of one scenario side by side (fake vs live): every place their server frames differ, by structure.

Ids, free text, audio, clocks and usage numbers are generalized first (as a recording is), so they do not
count; frames taken for ``order: any`` lines and the deltas of a response are compared as sets, since where
they fall is timing. :func:`divergence_report` writes the Markdown report of ``fake-realtime replay
--compare-url`` and of the contract tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .format import Generalizer, ServerLine, is_stream_type
from .results import ReplayResult, short

__all__ = ["Divergence", "compare_runs", "divergence_report"]


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
                diffs.append(f"{sub}: only on the second run: {short(b[key], 120)}")
            elif key not in b:
                diffs.append(f"{sub}: only on the first run: {short(a[key], 120)}")
            else:
                diffs.extend(_leaf_diffs(a[key], b[key], sub))
        return diffs
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _leaf_diffs(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '<frame>'}: {short(a, 120)} vs {short(b, 120)}"]


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
                detail = _error_text(x) if kind == "error" else "" if x is None else short(x, 200)
                divergences.append(Divergence(conn, f"only in the first run: {kind}", detail))
            for kind, y in b[j1:j2]:
                detail = _error_text(y) if kind == "error" else "" if y is None else short(y, 200)
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

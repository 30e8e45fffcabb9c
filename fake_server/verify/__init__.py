"""Verifying a test's traffic: errors nobody noticed, ordered expectations on client events.

Everything here reads connection journals (:mod:`fake_server.core.journal`); the server and the
pytest plugin decide when to check. Reports are plain text meant for a failing test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..core.journal import Handshake, Journal, event_matches
from ..protocol.schema import load_schemas

__all__ = [
    "ErrorReport",
    "ErrorExpectation",
    "ClientSequence",
    "Traffic",
    "error_reports",
    "explain_rejection",
    "allowed_content_types",
    "summarize",
]

_LONG = 120
_BASE64_KEYS = frozenset({"audio", "delta"})


def _summary_value(key: str | None, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _summary_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_summary_value(None, v) for v in value]
    if isinstance(value, str):
        if key in _BASE64_KEYS and len(value) > 16:
            stripped = value.rstrip("=")
            return f"<{len(stripped) * 3 // 4} bytes base64>"
        if len(value) > _LONG:
            return value[:_LONG] + f"\u2026 ({len(value)} chars)"
    return value


def summarize(event: Any) -> str:
    """One line for an event: JSON with audio payloads as ``<N bytes base64>`` and long strings cut."""
    if isinstance(event, bytes):
        return f"<binary frame, {len(event)} bytes>"
    if isinstance(event, str):
        text = event if len(event) <= _LONG else event[:_LONG] + f"\u2026 ({len(event)} chars)"
        return f"<raw text frame {text!r}>"
    if event is None:
        return "<nothing>"
    return json.dumps(_summary_value(None, event), ensure_ascii=False)


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorReport:
    """One ``error`` event the fake sent, with what caused it."""

    connection: int
    event: dict[str, Any]
    """The ``error`` event as sent."""
    client_event: dict[str, Any] | None = None
    """The client event it answered, when the journal shows one."""
    client_raw: str | bytes | None = None
    """The client frame it answered, when that frame was not a JSON object."""
    handshake: Handshake | None = None
    """Set when the error rejected the handshake."""

    @property
    def error(self) -> dict[str, Any]:
        body = self.event.get("error")
        return body if isinstance(body, dict) else {}

    @property
    def code(self) -> str | None:
        return self.error.get("code")

    @property
    def message(self) -> str:
        return str(self.error.get("message", ""))

    @property
    def param(self) -> str | None:
        return self.error.get("param")

    @property
    def client_event_type(self) -> str | None:
        value = self.client_event.get("type") if self.client_event is not None else None
        return value if isinstance(value, str) else None

    def cause(self) -> str:
        """What the error answered, in a few words."""
        if self.handshake is not None:
            return f"the handshake (GET {self.handshake.target})"
        if self.client_event is not None:
            event_id = self.client_event.get("event_id")
            return f"{self.client_event_type or 'a client event'}" + (f" (event_id {event_id!r})" if event_id else "")
        if self.client_raw is not None:
            return summarize(self.client_raw)
        return "no client event"

    def describe(self, indent: str = "  ") -> str:
        lines = [f"connection {self.connection}, in answer to {self.cause()}:", f"  type: {self.error.get('type')}",
                 f"  code: {self.code}", f"  message: {self.message}", f"  param: {self.param}"]
        if self.client_event is not None:
            lines += ["  " + line for line in explain_rejection(self.client_event, self.param)]
        return "\n".join(indent + line for line in lines)


def error_reports(connection: int, journal: Journal) -> list[ErrorReport]:
    """The ``error`` events of one journal, each with what it answered.

    The session records every error with its cause when it makes it (the client frame, or the
    handshake); an error caused by no client frame (expiry, a failure while streaming) has none.
    """
    reports: list[ErrorReport] = []
    for entry in journal.entries():
        if entry.direction != "server" or entry.type != "error":
            continue
        assert entry.event is not None
        cause = entry.cause
        if cause is None:
            reports.append(ErrorReport(connection, entry.event))
        elif cause.handshake:
            reports.append(ErrorReport(connection, entry.event, handshake=journal.handshake))
        else:
            reports.append(ErrorReport(connection, entry.event, cause.event, cause.raw))
    return reports


class Traffic(Protocol):
    """What the checks read of one connection: its journal and the errors sent on it.

    The transport's ``Connection`` is one; this layer sits below the transport and names only what it reads.
    """

    journal: Journal

    def errors(self) -> list[ErrorReport]: ...


# --- near misses -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def allowed_content_types() -> dict[str, tuple[str, ...]]:
    """Content part types a client may send per message role, read from ``schemas/ga/common.json``."""
    return load_schemas().content_types()


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_CONTENT_TYPE = re.compile(r"^(.*)\.content\[\d+\]\.type$")
_MISSING = object()


def _at(event: Any, path: str) -> Any:
    value = event
    for name, index in _PATH_PART.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value


def explain_rejection(client_event: Mapping[str, Any], param: str | None) -> list[str]:
    """Lines saying what was sent and what the schema allows there, for a rejected client event."""
    lines = [f"sent: {summarize(dict(client_event))}"]
    if not param:
        return lines
    value = _at(client_event, param)
    if value is not _MISSING:
        lines.append(f"at {param}: {json.dumps(_summary_value(None, value), ensure_ascii=False)}")
    content = _CONTENT_TYPE.match(param)
    if content is not None:
        item = _at(client_event, content.group(1))
        role = item.get("role") if isinstance(item, dict) else None
        allowed = allowed_content_types().get(role) if isinstance(role, str) else None
        if allowed and isinstance(role, str):
            lines.append(f"content part types the schema allows for role {role!r}: {', '.join(allowed)}")
        elif isinstance(item, dict):
            roles = "; ".join(f"{r}: {', '.join(t)}" for r, t in allowed_content_types().items())
            lines.append(f"content part types by role: {roles}")
    return lines


# --- declared errors ---------------------------------------------------------------------------


@dataclass
class ErrorExpectation:
    """An error the test provokes on purpose; fields left ``None`` match anything.

    ``message`` is matched exactly, or searched when it is a compiled pattern. ``times``:
    ``None`` means at least once, a number means exactly that many.
    """

    code: str | None = None
    message: str | re.Pattern[str] | None = None
    param: str | None = None
    client_event: str | None = None
    error_type: str | None = None
    times: int | None = None
    seen: int = field(default=0, compare=False)

    def matches(self, report: ErrorReport) -> bool:
        if self.error_type is not None and report.error.get("type") != self.error_type:
            return False
        if self.code is not None and report.code != self.code:
            return False
        if self.param is not None and report.param != self.param:
            return False
        if self.client_event is not None and report.client_event_type != self.client_event:
            return False
        if isinstance(self.message, re.Pattern):
            return self.message.search(report.message) is not None
        return self.message is None or report.message == self.message

    def __str__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in (
            ("code", self.code), ("message", self.message if not isinstance(self.message, re.Pattern)
                                  else self.message.pattern), ("param", self.param),
            ("client_event", self.client_event), ("error_type", self.error_type)) if value is not None]
        return f"expect_error({', '.join(parts)})"


def error_problems(
    reports: Sequence[ErrorReport], expected: Sequence[ErrorExpectation], allow_all: bool
) -> list[str]:
    """The unnoticed errors and the declared errors that did not happen as declared."""
    for expectation in expected:
        expectation.seen = 0
    unnoticed = []
    for report in reports:
        matched = [e for e in expected if e.matches(report)]
        for expectation in matched:
            expectation.seen += 1
        if not matched and not allow_all:
            unnoticed.append(report)
    problems = []
    if unnoticed:
        problems.append(
            f"the fake realtime server sent {len(unnoticed)} error event(s) this test did not declare:\n"
            + "\n".join(report.describe() for report in unnoticed)
            + "\n(declare the errors you provoke on purpose with realtime_server.expect_error(code=..., "
            "param=...), or mark the test @pytest.mark.realtime_allow_errors)"
        )
    for expectation in expected:
        if expectation.times is None and expectation.seen == 0:
            problems.append(f"{expectation} declared, but no such error was sent")
        elif expectation.times is not None and expectation.seen != expectation.times:
            problems.append(f"{expectation} declared {expectation.times} time(s), but it was sent "
                            f"{expectation.seen} time(s)")
    return problems


# --- ordered client expectations ---------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedEvent:
    type: str
    fields: Mapping[str, Any]

    def matches(self, event: dict[str, Any] | None) -> bool:
        return event is not None and event.get("type") == self.type and event_matches(event, self.fields)

    def __str__(self) -> str:
        return self.type + (f" {summarize(dict(self.fields))}" if self.fields else "")


class ClientSequence:
    """What one connection's client must send, in order: every event it sends must be the next
    expected one, except types passed to :meth:`ignore`. Built with :meth:`then`."""

    def __init__(self, connection: int) -> None:
        self.connection = connection
        self.expected: list[ExpectedEvent] = []
        self.ignored: set[str] = set()

    def then(self, type: str, /, **fields: Any) -> "ClientSequence":
        """Expect next an event of ``type`` holding ``fields`` (nested dicts match as subsets)."""
        self.expected.append(ExpectedEvent(type, fields))
        return self

    def ignore(self, *types: str) -> "ClientSequence":
        """Let the client send events of these types anywhere (``input_audio_buffer.append``, ...)."""
        self.ignored.update(types)
        return self

    def problems(self, connection: Traffic | None) -> list[str]:
        """Empty when the client sent exactly what was expected; otherwise one report."""
        if connection is None:
            if not self.expected:
                return []
            return [f"connection {self.connection} never opened; expected from its client:\n"
                    + "\n".join(f"  #{n} {e}" for n, e in enumerate(self.expected, 1))]
        rejected = {id(r.client_event): r for r in connection.errors() if r.client_event is not None}
        lines: list[str] = []
        failed = False
        position = 0
        number = 0
        for entry in connection.journal.entries():
            if entry.direction != "client":
                continue
            number += 1
            event = entry.event
            if event is not None and event.get("type") in self.ignored and id(event) not in rejected:
                continue
            label = f"  {number}. " + (str(event.get("type")) if event is not None else summarize(entry.raw))
            if event is not None and event.get("event_id"):
                label += f" (event_id {event['event_id']!r})"
            nxt = self.expected[position] if position < len(self.expected) else None
            report = rejected.get(id(event)) if event is not None else None
            if report is not None:
                failed = True
                near = f" (near miss for #{position + 1} {nxt})" if nxt is not None and event is not None and \
                    event.get("type") == nxt.type else ""
                lines.append(f"{label}: REJECTED by the fake{near}")
                lines.append(f"       error {report.code} at {report.param}: {report.message}")
                lines += ["       " + line for line in explain_rejection(report.client_event or {}, report.param)]
            elif nxt is not None and nxt.matches(event):
                position += 1
                lines.append(f"{label}: as expected (#{position})")
            else:
                failed = True
                wanted = f"#{position + 1} {nxt}" if nxt is not None else "nothing more"
                lines.append(f"{label}: UNEXPECTED (expected {wanted})")
                if event is not None:
                    lines.append(f"       sent: {summarize(event)}")
        missing = self.expected[position:]
        if not failed and not missing:
            return []
        for offset, expected in enumerate(missing, position + 1):
            lines.append(f"  never sent: #{offset} {expected}")
        ignoring = f" (ignoring {', '.join(sorted(self.ignored))})" if self.ignored else ""
        return [f"the client on connection {self.connection} did not send what was expected{ignoring}:\n"
                + "\n".join(lines)]


def describe_all(problems: Iterable[str]) -> str:
    return "\n\n".join(problems)

"""What one test declared about its traffic, and what it must not leave unnoticed.

:class:`Expectations` holds the errors a test provokes on purpose (``expect_error``), whether it
lets every error pass (``allow_errors``), its ordered expectations on what each client sends,
and the internal errors of the fake; :meth:`Expectations.problems` turns them, with the errors
sent and the connections seen, into the report a failing test shows. The server keeps one per
test (a reset starts afresh) and guards it with its lock: this class does no locking of its own.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from . import ClientSequence, ErrorExpectation, ErrorReport, Traffic, error_problems

__all__ = ["Expectations", "InternalError"]

InternalError = tuple[Optional[str], str]
"""(session id or None, formatted traceback) for one contained exception."""


class Expectations:
    """The declared errors, the allow-errors switch, client expectations and internal errors of one test."""

    def __init__(self) -> None:
        self.expected_errors: list[ErrorExpectation] = []
        self.errors_allowed = False
        self.client_sequences: dict[int, ClientSequence] = {}
        self.internal_errors: list[InternalError] = []
        """Appended to by the transport; cleared in place (it is the same list for the server's lifetime)."""

    def expect_error(
        self, code: str | None, message: str | re.Pattern[str] | None, param: str | None,
        client_event: str | None, error_type: str | None, times: int | None,
    ) -> ErrorExpectation:
        expectation = ErrorExpectation(code, message, param, client_event, error_type, times)
        self.expected_errors.append(expectation)
        return expectation

    def client_expectations(self, connection: int) -> ClientSequence:
        """Connection ``connection``'s ordered expectations, created empty."""
        return self.client_sequences.setdefault(connection, ClientSequence(connection))

    def clear(self) -> None:
        """Forget everything, as at the start of a test."""
        self.expected_errors.clear()
        self.client_sequences.clear()
        self.errors_allowed = False
        self.internal_errors.clear()

    def copy(self) -> "Expectations":
        """A snapshot to check outside the owner's lock (the expectations themselves are shared)."""
        snapshot = Expectations()
        snapshot.expected_errors = list(self.expected_errors)
        snapshot.errors_allowed = self.errors_allowed
        snapshot.client_sequences = dict(self.client_sequences)
        snapshot.internal_errors = list(self.internal_errors)
        return snapshot

    def problems(self, reports: Sequence[ErrorReport], connections: Sequence[Traffic]) -> list[str]:
        """Internal errors, unnoticed errors, declared errors that did not happen as declared, and client
        expectations not met, given every error sent (``reports``) and every connection, in order."""
        problems = []
        if self.internal_errors:
            parts = [f"the fake realtime server hit {len(self.internal_errors)} internal error(s) during this test:"]
            for session_id, trace in self.internal_errors:
                parts.append(f"--- session {session_id or '(none)'} ---\n{trace.rstrip()}")
            problems.append("\n".join(parts))
        problems += error_problems(reports, self.expected_errors, self.errors_allowed)
        for index, sequence in sorted(self.client_sequences.items()):
            problems += sequence.problems(connections[index] if index < len(connections) else None)
        return problems

"""Driving the sans-I/O core in tests: one place for the session helpers the core tests share."""

from __future__ import annotations

import json
from typing import Any

from fake_server.protocol.ids import IdGenerator
from fake_server.script import Script
from fake_server.core.session import Session, SessionLimits

NOW = 1_790_000_000.0


def make_session(seed: int = 1, kind: str = "realtime", *, script: Script | None = None, index: int = 0,
                 **limits: Any) -> Session:
    """A session on a frozen clock, checking every server event it emits against the schemas."""
    clock = lambda: NOW  # noqa: E731
    return Session(model="gpt-realtime", kind=kind, ids=IdGenerator(seed, clock), clock=clock, script=script,
                   index=index, limits=SessionLimits(validate_server_events=True, **limits))


def send(session: Session, event: dict[str, Any]) -> list[dict[str, Any]]:
    """One client event as a text frame; the server events answering it."""
    return session.receive_text(json.dumps(event))


def drain(session: Session) -> list[dict[str, Any]]:
    """Every streamed event the session has (responses, transcriptions), in order."""
    out: list[dict[str, Any]] = []
    while (step := session.next_step()) is not None:
        out += step.events
    return out

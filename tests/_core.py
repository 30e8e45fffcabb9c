"""Driving the sans-I/O core in tests: one place for the session helpers the core tests share.

The session's one way out is :meth:`Session.events_to_send`; these helpers pair each input with
what it caused, and take streamed batches one at a time whatever their pacing (as a transport
does once each is due).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from fake_server.core.policy import Policy
from fake_server.core.session import Session, SessionLimits
from fake_server.protocol.ids import IdGenerator

NOW = 1_790_000_000.0

Event = dict[str, Any]


def make_session(seed: int = 1, kind: str = "realtime", *, script: Policy | None = None, index: int = 0,
                 **limits: Any) -> Session:
    """A session on a frozen clock, checking every server event it emits against the schemas."""
    clock = lambda: NOW  # noqa: E731
    return Session(model="gpt-realtime", kind=kind, ids=IdGenerator(seed, clock), clock=clock, script=script,
                   index=index, limits=SessionLimits(validate_server_events=True, **limits))


def start(session: Session) -> list[Event]:
    """The events a new connection gets first (``session.created``, unless a fault closes first)."""
    session.start()
    return session.events_to_send()


def send(session: Session, event: dict[str, Any]) -> list[Event]:
    """One client event as a text frame; the server events answering it."""
    session.receive_text(json.dumps(event))
    return session.events_to_send()


def send_text(session: Session, text: str) -> list[Event]:
    """One raw text frame; the server events answering it."""
    session.receive_text(text)
    return session.events_to_send()


def send_binary(session: Session, data: bytes) -> list[Event]:
    """One binary frame; the server events answering it."""
    session.receive_binary(data)
    return session.events_to_send()


class Taken(NamedTuple):
    """One streamed batch: when it was due, and its events as sent (after faults)."""

    due: float
    events: list[Event]


def next_due(session: Session) -> float | None:
    """When the next streamed batch is due, or ``None`` when nothing streams (expiry is no batch)."""
    deadline = session.next_deadline()
    return None if deadline is None or deadline >= session.expires_at else deadline


def next_step(session: Session) -> Taken | None:
    """Take the next streamed batch, whatever its time; ``None`` when nothing streams."""
    due = next_due(session)
    if due is None:
        return None
    session.advance(due, max_batches=1)
    return Taken(due, session.events_to_send())


def drain(session: Session) -> list[Event]:
    """Every streamed event the session has (responses, transcriptions), in order."""
    out: list[Event] = []
    while (step := next_step(session)) is not None:
        out += step.events
    return out


def expire(session: Session) -> list[Event]:
    """Time reaches the session's end: what it sends then."""
    session.advance(session.expires_at)
    return session.events_to_send()

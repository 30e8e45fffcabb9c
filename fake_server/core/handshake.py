"""Deciding what happens to a WebSocket upgrade, without any socket.

The live service always completes the upgrade (101) and reports a bad key, a missing or
unknown model, or the retired beta header as one ``error`` event followed by a close:
3000 for authentication, 4000 for the request shape, reason ``"<type>.<code>"``
(FACTS §2.3, §8.3). :func:`open_session` returns that plan; the transport carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence
from urllib.parse import parse_qs

from ..protocol.ids import IdGenerator
from ..protocol.rules import KEY_SUBPROTOCOL, RealtimeError, masked_key_in_error, offers_beta
from ..protocol.wire import DEFAULT_MODELS, REALTIME_PATHS, CloseConnection, Event, error_event
from .journal import Cause, Journal
from .limits import SessionLimits
from .policy import DefaultPolicy, Policy
from .session import Session

__all__ = [
    "REALTIME_PATHS",
    "DEFAULT_MODELS",
    "ServerPolicy",
    "HandshakeRequest",
    "Opening",
    "is_realtime_path",
    "open_session",
]


@dataclass
class ServerPolicy:
    """What the fake accepts at connect time, and the limits of the sessions it opens.

    ``api_keys=None`` accepts any non-empty key; a set accepts only those keys.
    """

    api_keys: frozenset[str] | None = None
    models: frozenset[str] = DEFAULT_MODELS
    limits: SessionLimits = field(default_factory=SessionLimits)
    script: Policy = field(default_factory=DefaultPolicy)
    """What the model says and how the server misbehaves; shared by the server's connections (the transport
    sets a ``fake_server.script.Script``)."""


@dataclass(frozen=True)
class HandshakeRequest:
    """The parts of an upgrade request the decision reads (header names lower-case)."""

    path: str
    query: str
    headers: Mapping[str, str]
    subprotocols: Sequence[str] = ()

    @classmethod
    def from_target(
        cls, target: str, headers: Mapping[str, str], subprotocols: Sequence[str] = ()
    ) -> "HandshakeRequest":
        path, _, query = target.partition("?")
        return cls(path, query, {k.lower(): v for k, v in headers.items()}, tuple(subprotocols))


@dataclass
class Opening:
    """The plan for a new connection: send ``events``, then close if ``close`` is set.

    ``journal`` records the connection whatever happens: the session's, or for a rejected handshake
    (no session) one holding the rejection.
    """

    subprotocol: str | None
    session: Session | None
    events: list[Event]
    journal: Journal
    close: CloseConnection | None = None


def is_realtime_path(path: str) -> bool:
    return path.rstrip("/") in REALTIME_PATHS


def select_subprotocol(offered: Sequence[str]) -> str | None:
    """Browsers offer ``realtime`` plus key-carrying entries; we negotiate ``realtime``."""
    return "realtime" if "realtime" in offered else None


def _api_key(request: HandshakeRequest) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for proto in request.subprotocols:
        if proto.startswith(KEY_SUBPROTOCOL) and len(proto) > len(KEY_SUBPROTOCOL):
            return proto[len(KEY_SUBPROTOCOL):]
    return ""


def _rejection(request: HandshakeRequest, policy: ServerPolicy) -> RealtimeError | None:
    """The live error refusing this upgrade (key, then beta dialect, then model), or ``None`` to accept it."""
    query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
    model = query.get("model") or None
    key = _api_key(request)
    if not key:
        return RealtimeError("missing_auth")
    if policy.api_keys is not None and key not in policy.api_keys:
        return RealtimeError("invalid_api_key", masked_key=masked_key_in_error(key))
    if offers_beta(request.headers.get("openai-beta"), request.subprotocols):
        return RealtimeError("beta_api_shape_disabled")
    if query.get("intent") != "transcription":
        if model is None:
            return RealtimeError("missing_model")
        if model not in policy.models:
            return RealtimeError("invalid_model", model=model)
    return None


def open_session(
    request: HandshakeRequest,
    policy: ServerPolicy,
    *,
    ids: IdGenerator,
    clock: Callable[[], float],
    index: int = 0,
    new_journal: Callable[[int], Journal] = Journal,
    on_failure: Callable[[Session | None, BaseException], None] | None = None,
) -> Opening:
    """Check the upgrade request and either open a session or plan the live rejection.

    ``new_journal(max_entries)`` makes the connection's journal (a transport gives one its waiters can
    wait on); ``on_failure`` hears of every bug of the fake on this connection, with the session when
    there is one. A bug while opening the session is answered like the live service's own failures: a
    ``server_error`` event, then close 1011.
    """
    subprotocol = select_subprotocol(request.subprotocols)
    journal = new_journal(policy.limits.journal_max_entries)
    session: Session | None = None
    try:
        rejected = _rejection(request, policy)
        if rejected is not None:
            event = error_event(ids, rejected)
            journal.server(clock(), [event], Cause(rejected.rule, handshake=True))
            reason = rejected.spec.type if rejected.code is None else f"{rejected.spec.type}.{rejected.code}"
            assert rejected.spec.close_code is not None
            return Opening(subprotocol, None, [event], journal, CloseConnection(rejected.spec.close_code, reason))
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        kind = "transcription" if query.get("intent") == "transcription" else "realtime"
        report = None if on_failure is None else (lambda exc: on_failure(session, exc))
        session = Session(
            model=query.get("model") or "gpt-realtime", kind=kind, ids=ids, clock=clock, limits=policy.limits,
            script=policy.script, index=index, journal=journal, on_failure=report,
        )
        session.start()
        return Opening(subprotocol, session, session.events_to_send(), journal, session.close_requested)
    except Exception as exc:  # a bug of the fake before the session could answer: end politely
        if on_failure is not None:
            on_failure(None, exc)
        event = error_event(ids, RealtimeError("server_error", session_id="unknown"))
        journal = new_journal(policy.limits.journal_max_entries)
        journal.server(clock(), [event], Cause("server_error", handshake=True))
        return Opening(subprotocol, None, [event], journal, CloseConnection(1011, "server_error"))

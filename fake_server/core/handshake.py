"""Deciding what happens to a WebSocket upgrade, without any socket.

The live service always completes the upgrade (101) and reports a bad key, a missing or
unknown model, or the retired beta header as one ``error`` event followed by a close:
3000 for authentication, 4000 for the request shape, reason ``"<type>.<code>"``
(FACTS §2.3, §8.3). :func:`open_session` returns that plan; the transport carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qs

from ..protocol.ids import IdGenerator
from ..protocol.rules import KEY_SUBPROTOCOL, RealtimeError, mask_key, offers_beta
from ..script import Script
from .session import CloseConnection, Session, SessionLimits

__all__ = [
    "REALTIME_PATHS",
    "DEFAULT_MODELS",
    "ServerPolicy",
    "HandshakeRequest",
    "Opening",
    "is_realtime_path",
    "open_session",
]

REALTIME_PATHS = ("/v1/realtime", "/realtime")

DEFAULT_MODELS: frozenset[str] = frozenset(
    {
        "gpt-realtime",
        "gpt-realtime-2025-08-28",
        "gpt-realtime-mini",
        "gpt-realtime-mini-2025-10-06",
        "gpt-realtime-mini-2025-12-15",
        "gpt-realtime-1.5",
        "gpt-realtime-2",
        "gpt-realtime-2-mini",
        "gpt-realtime-2.1",
        "gpt-realtime-2.1-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
    }
)



@dataclass
class ServerPolicy:
    """What the fake accepts at connect time, and the limits of the sessions it opens.

    ``api_keys=None`` accepts any non-empty key; a set accepts only those keys.
    """

    api_keys: frozenset[str] | None = None
    models: frozenset[str] = DEFAULT_MODELS
    limits: SessionLimits = field(default_factory=SessionLimits)
    script: Script = field(default_factory=Script)
    """What the model says and how the server misbehaves; shared by the server's connections."""


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
    """The plan for a new connection: send ``events``, then close if ``close`` is set."""

    subprotocol: str | None
    session: Session | None
    events: list[dict[str, Any]]
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


def open_session(
    request: HandshakeRequest,
    policy: ServerPolicy,
    *,
    ids: IdGenerator,
    clock: Callable[[], float],
    index: int = 0,
) -> Opening:
    """Check the upgrade request and either open a session or plan the live rejection."""
    subprotocol = select_subprotocol(request.subprotocols)
    query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
    model = query.get("model") or None
    intent = query.get("intent") or None
    try:
        key = _api_key(request)
        if not key:
            raise RealtimeError("missing_auth")
        if policy.api_keys is not None and key not in policy.api_keys:
            raise RealtimeError("invalid_api_key", masked_key=mask_key(key))
        if offers_beta(request.headers.get("openai-beta"), request.subprotocols):
            raise RealtimeError("beta_api_shape_disabled")
        if intent != "transcription":
            if model is None:
                raise RealtimeError("missing_model")
            if model not in policy.models:
                raise RealtimeError("invalid_model", model=model)
    except RealtimeError as exc:
        event = {"type": "error", "event_id": ids.new("event"), "error": exc.body(None)}
        reason = exc.spec.type if exc.code is None else f"{exc.spec.type}.{exc.code}"
        assert exc.spec.close_code is not None
        return Opening(subprotocol, None, [event], CloseConnection(exc.spec.close_code, reason))
    kind = "transcription" if intent == "transcription" else "realtime"
    session = Session(
        model=model or "gpt-realtime", kind=kind, ids=ids, clock=clock, limits=policy.limits,
        script=policy.script, index=index,
    )
    events = session.start()
    return Opening(subprotocol, session, events, session.closing)

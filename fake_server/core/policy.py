"""What the session asks of whoever decides the model's answers and the server's misbehaviour.

The core never imports the scripting DSL: it asks a :class:`Policy`, which
``fake_server.script.Script`` satisfies. :class:`DefaultPolicy` is what an unscripted server
does: the default responder's answer, no intercepted events, no quirks, no faults.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

from .faults import Faults
from .responder import DefaultResponder, Reply, Responder, ResponseContext, reply_of

__all__ = ["Policy", "DefaultPolicy"]


class Policy(Protocol):
    """The decisions a session does not make itself."""

    faults: Faults
    """Transport faults for the connections opened from now on."""
    pacing: float | None
    """How fast responses stream, over the session limits' pacing when set (0 as fast as possible, 1 real time)."""

    def respond(self, context: ResponseContext) -> Reply:
        """The reply to one response (from ``response.create`` or turn detection)."""
        ...

    def intercept(self, connection: int, event: Mapping[str, Any]) -> Reply | None:
        """An answer (an ``error`` and/or a close) to this client event instead of its normal handling, or ``None``."""
        ...

    def wants(self, quirk: str) -> bool:
        """Whether a live-service quirk (by name) is on."""
        ...


class DefaultPolicy:
    """No script: the default responder answers, nothing misbehaves."""

    def __init__(self, fallback: Responder | None = None) -> None:
        self.fallback: Responder = fallback or DefaultResponder()
        self.faults = Faults()
        self.pacing: float | None = None

    def respond(self, context: ResponseContext) -> Reply:
        return reply_of(self.fallback, context)

    def intercept(self, connection: int, event: Mapping[str, Any]) -> Reply | None:
        return None

    def wants(self, quirk: str) -> bool:
        return False

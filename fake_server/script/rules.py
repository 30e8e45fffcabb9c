"""The script itself: an ordered list of :class:`Rule` (first match wins) that the session asks what to answer,
with the connection states, faults, pacing and quirks of a server. Safe to change from a test thread while the
server runs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..core.faults import Faults, check_count
from ..core.journal import event_matches
from ..core.responder import DefaultResponder, Reply, Responder, ResponseContext, reply_of
from ..protocol.formats import shown
from ..protocol.schema import load_schemas
from ..protocol.wire import check_close
from .replies import Condition, always, combine

__all__ = ["QUIRKS", "Rule", "Script", "check_event_type"]

QUIRKS = {
    "text_history_answers_in_text": (
        "After assistant turns seeded as text only (no assistant audio in the conversation), responses come back "
        "as text although audio was requested (openai-realtime-api-beta#72, livekit/agents#2471)."
    ),
}


def _intercepts(reply: Reply) -> bool:
    """An ``error`` or an immediate close: answers a client event instead of handling it."""
    return reply.error is not None or (reply.close is not None and reply.close_after == 0)


@dataclass
class Rule:
    """When ``condition`` holds (and the connection is in ``state``), answer with ``reply``."""

    condition: Condition
    reply: Reply | Callable[[ResponseContext], Reply]
    times: int | None = 1
    connection: int | None = None
    state: str | None = None
    then_state: str | None = None
    event_type: str | None = None
    event_match: Mapping[str, Any] | None = None
    used: int = 0

    def __post_init__(self) -> None:
        check_count("times", self.times, 1)
        check_count("connection", self.connection, 0)
        if isinstance(self.reply, Reply):
            if self.reply.close is not None:
                check_close(*self.reply.close)
        elif not callable(self.reply):
            raise ValueError(f"expected a Reply (s.say(...), ...) or a function of the context, got {self.reply!r}")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times

    @property
    def intercepts(self) -> bool:
        """A rule on a client event answered with an error or a close, before the session handles it."""
        return self.event_type is not None and isinstance(self.reply, Reply) and _intercepts(self.reply)


@dataclass
class Script:
    """The rules of a server (and so of its fixture); a fresh one after every ``reset()``."""

    fallback: Responder = field(default_factory=DefaultResponder)
    rules: list[Rule] = field(default_factory=list)
    quirks: set[str] = field(default_factory=set)
    faults: Faults = field(default_factory=Faults)
    """Transport faults for the connections opened from now on (set with :meth:`inject`)."""
    pacing: float | None = None
    """How fast responses stream (over ``limits.pacing`` when set): 0 as fast as possible, 1 real time,
    k k times slower (set with :meth:`pace`)."""
    _states: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- building ------------------------------------------------------------------------
    def reply(self, *replies: Reply, connection: int | None = None) -> "Script":
        """Queue replies: the next responses get them, in order, one each."""
        rules = [Rule(always, r, times=1, connection=connection) for r in replies]
        with self._lock:
            self.rules.extend(rules)
        return self

    def on(
        self,
        condition: Condition,
        reply: Reply | Callable[[ResponseContext], Reply],
        *,
        times: int | None = None,
        connection: int | None = None,
        state: str | None = None,
        then_state: str | None = None,
    ) -> Rule:
        """Answer every matching response (``times=None``) or the next ``times`` ones."""
        return self._add(Rule(condition, reply, times, connection, state, then_state))

    def on_event(
        self,
        event_type: str,
        reply: Reply,
        *,
        match: Mapping[str, Any] | None = None,
        times: int | None = 1,
        connection: int | None = None,
    ) -> Rule:
        """Answer a client event of ``event_type`` (whose fields include ``match``, a partial event).

        An ``error(...)`` or ``close(...)`` reply answers it instead of handling it, for any event
        type. Any other reply answers a ``response.create`` (only): the response it asks for gets
        that reply, e.g. ``on_event("response.create", say("Sunny."), match={"response":
        {"metadata": {"topic": "weather"}}})``. Responses that turn detection starts have no
        ``response.create`` and are not matched.
        """
        check_event_type(event_type)
        if match is not None and not isinstance(match, Mapping):
            raise ValueError(f"match: expected a partial event (a mapping), got {match!r}")
        if not isinstance(reply, Reply):
            raise ValueError(f"expected a Reply (s.error(...), s.close(...), s.say(...), ...), got {reply!r}")
        if _intercepts(reply):
            return self._add(Rule(always, reply, times, connection, event_type=event_type, event_match=match))
        if event_type != "response.create":
            raise ValueError(f"a {event_type} event can only be answered with error(...) or close(...) (at once); "
                             "other replies (say, call, fail, delays, a close after events, ...) answer "
                             "response.create")
        return self._add(Rule(_asked_with(match), reply, times, connection, event_type=event_type,
                              event_match=match))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def inject(self, faults: Faults | None = None, **settings: Any) -> "Script":
        """Set the faults of connections opened from now on: ``inject(drop=0.1, seed=7)``."""
        self.faults = faults if faults is not None else Faults(**settings)
        return self

    def pace(self, pacing: float | None) -> "Script":
        """Stream responses at this pacing (0 as fast as possible, 1 real time, k k times slower; ``None``:
        the server's ``limits.pacing``)."""
        if pacing is not None and (not isinstance(pacing, (int, float)) or isinstance(pacing, bool)
                                   or not 0 <= pacing < math.inf):
            raise ValueError(f"pacing: expected a number, 0 or more, or None, got {pacing!r}")
        self.pacing = None if pacing is None else float(pacing)
        return self

    def quirk(self, name: str) -> "Script":
        """Turn on a live-service quirk by name (see ``QUIRKS``)."""
        if name not in QUIRKS:
            raise ValueError(f"unknown quirk {name!r}; known: {', '.join(sorted(QUIRKS))}")
        self.quirks.add(name)
        return self

    def state(self, connection: int = 0) -> str:
        """The named state of a connection (``"start"`` until a rule moves it)."""
        with self._lock:
            return self._states.get(connection, "start")

    def pending(self) -> list[Rule]:
        """One-shot rules that have not fired yet."""
        with self._lock:
            return [rule for rule in self.rules if rule.times is not None and not rule.exhausted]

    # -- used by the session ---------------------------------------------------------------
    def _take(self, connection: int, test: Callable[[Rule], bool]) -> Rule | None:
        with self._lock:
            current = self._states.get(connection, "start")
            for rule in self.rules:
                if rule.exhausted or (rule.connection is not None and rule.connection != connection):
                    continue
                if rule.state is not None and rule.state != current:
                    continue
                if test(rule):
                    rule.used += 1
                    if rule.then_state is not None:
                        self._states[connection] = rule.then_state
                    return rule
        return None

    def respond(self, context: ResponseContext) -> Reply:
        """The reply to one ``response.create``.

        A scripted reply that says nothing and ends nothing (no outputs, no error, status
        completed: only delays, a mid-response close, ``spoken``) gets the default answer.
        """
        rule = self._take(context.connection, lambda r: not r.intercepts and r.condition(context))
        if rule is None:
            return self._default(context)
        reply = rule.reply(context) if callable(rule.reply) else rule.reply
        if not isinstance(reply, Reply):
            raise TypeError(f"a script rule's reply function returned {reply!r}, not a Reply (s.say(...), s.call(...), "
                            "...): fix the function given to script.on()")
        if not reply.outputs and reply.status == "completed" and not _intercepts(reply):
            reply = combine(self._default(context), reply)
        return reply

    def _default(self, context: ResponseContext) -> Reply:
        return reply_of(self.fallback, context)

    def intercept(self, connection: int, event: Mapping[str, Any]) -> Reply | None:
        """A scripted answer (an error or a close) to this client event, if a rule claims it."""
        if not any(rule.intercepts for rule in self.rules):
            return None
        rule = self._take(connection, lambda r: r.intercepts and r.event_type == event.get("type") and (
            r.event_match is None or event_matches(event, r.event_match)))
        if rule is None:
            return None
        assert isinstance(rule.reply, Reply)
        return rule.reply

    def wants(self, quirk: str) -> bool:
        return quirk in self.quirks


def check_event_type(event_type: Any) -> None:
    known = load_schemas().client_event_types
    if event_type not in known:
        raise ValueError(f"expected a client event type ({', '.join(known)}), got {shown(event_type)}")


def _asked_with(match: Mapping[str, Any] | None) -> Condition:
    """The response was asked for by a ``response.create`` holding ``match``."""

    def condition(context: ResponseContext) -> bool:
        asked = context.client_event
        return asked is not None and (match is None or event_matches(asked, match))

    return condition

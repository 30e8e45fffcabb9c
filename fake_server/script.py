"""Scripting the fake: tests decide what the model says and how the server misbehaves.

A :class:`Script` is an ordered list of rules. For each ``response.create`` the first rule
whose condition matches decides the :class:`~fake_server.responder.Reply`; with no match the
default responder answers (``docs/responses.md``). Rules fire once (``times=1``, the
default of :meth:`Script.reply`) or any number of times (:meth:`Script.on`), on every
connection or on one, and may require and set a named state of the connection, so a
scenario can move from state to state. Rules on client events (:meth:`Script.on_event`)
answer a client event with an ``error`` or a close instead of the normal handling.

The script is shared by the server's connections and safe to change from a test thread
while the server runs.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Pattern

from .responder import DefaultResponder, ModelOutput, Reply, Responder, ResponseContext

__all__ = [
    "Script", "Rule", "Faults", "Condition", "QUIRKS",
    "always", "user_says", "turn", "tool_output",
    "say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete", "close",
    "combine",
]

Condition = Callable[[ResponseContext], bool]

QUIRKS = {
    "text_history_answers_in_text": (
        "After assistant turns seeded as text only (no assistant audio in the conversation), responses come back "
        "as text although audio was requested (openai-realtime-api-beta#72, livekit/agents#2471)."
    ),
}


# ---------------------------------------------------------------------- conditions
def always(context: ResponseContext) -> bool:
    return True


def user_says(pattern: str | Pattern[str]) -> Condition:
    """The response answers a user message (the context ends with one) that contains ``pattern``:
    a case-insensitive substring, or a regex. Audio counts by what the speech codec hears."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern), re.IGNORECASE)

    def condition(context: ResponseContext) -> bool:
        last = context.last_item
        if last is None or last["type"] != "message" or last.get("role") != "user":
            return False
        return regex.search(context.user_text) is not None

    return condition


def turn(number: int) -> Condition:
    """The ``number``-th response of the connection (1 for the first)."""
    return lambda context: context.turn == number


def tool_output(name: str | None = None, contains: str | None = None) -> Condition:
    """The context ends with a tool result (of tool ``name``; containing ``contains``)."""

    def condition(context: ResponseContext) -> bool:
        last = context.last_item
        if last is None or last["type"] != "function_call_output":
            return False
        if contains is not None and contains not in last.get("output", ""):
            return False
        if name is None:
            return True
        return any(item["type"] == "function_call" and item.get("call_id") == last.get("call_id")
                   and item.get("name") == name for item in context.items)

    return condition


# ---------------------------------------------------------------------- replies
def say(text: str) -> Reply:
    """A message, spoken or written as the session's ``output_modalities`` say."""
    return Reply(outputs=(ModelOutput("message", text=text),))


def speak(text: str, pcm: bytes | None = None) -> Reply:
    """A spoken message: the speech codec's audio of ``text``, or ``pcm`` (raw audio in the output format)."""
    return Reply(outputs=(ModelOutput("message", text=text, pcm=pcm),), spoken=True)


def write(text: str) -> Reply:
    """A written message, even when audio was requested."""
    return Reply(outputs=(ModelOutput("message", text=text),), spoken=False)


def call(name: str, arguments: Mapping[str, Any] | str | None = None) -> Reply:
    """A function call (``arguments`` as a mapping, or already as a JSON string)."""
    text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
    return Reply(outputs=(ModelOutput("function_call", name=name, arguments=text),))


def error(code: str | None, message: str, param: str | None = None, type: str = "invalid_request_error") -> Reply:
    """Answer with an ``error`` event (echoing the client's event_id) and no response."""
    return Reply(error={"type": type, "code": code, "message": message, "param": param})


def fail(code: str | None, message: str, type: str = "server_error") -> Reply:
    """A response that ends ``failed`` with this error in ``status_details``."""
    return Reply(status="failed",
                 status_details={"type": "failed", "error": {"type": type, "code": code, "message": message}})


def server_error() -> Reply:
    """The live service's internal failure (``response.done`` status ``failed``, code null)."""
    return fail(None, "The server had an error while processing your request. Sorry about that! Please contact us "
                "through our help center at help.openai.com if the error persists. We recommend you retry your "
                "request.")


def rate_limited(model: str = "gpt-realtime", retry_after_s: float = 6.946) -> Reply:
    """A response failed on the token rate limit, in the reported live wording."""
    return fail("rate_limit_exceeded",
                f"Rate limit reached for {model} in organization org-fake on tokens per min (TPM): Limit 40000, "
                f"Used 39000, Requested 9000. Please try again in {retry_after_s}s.", type="tokens")


def incomplete(text: str, reason: str = "content_filter") -> Reply:
    """A message that stops at ``text`` with status ``incomplete`` (reason ``content_filter`` or
    ``max_output_tokens``)."""
    return Reply(outputs=(ModelOutput("message", text=text),), status="incomplete",
                 status_details={"type": "incomplete", "reason": reason})


def close(code: int = 1011, reason: str = "", after_events: int = 0) -> Reply:
    """Close the connection with ``code`` after ``after_events`` events of the response
    (0: instead of the response; combine with a reply to close mid-response)."""
    return Reply(close=(code, reason), close_after=after_events)


def combine(*replies: Reply) -> Reply:
    """One reply doing all of these: outputs in order; the other settings of the last that sets them."""
    merged = Reply()
    for part in replies:
        changes: dict[str, Any] = {"outputs": merged.outputs + part.outputs}
        default = Reply()
        for name in ("error", "status", "status_details", "close", "close_after", "spoken",
                     "first_delta_delay_ms", "delta_delay_ms"):
            value = getattr(part, name)
            if value != getattr(default, name):
                changes[name] = value
        merged = replace(merged, **changes)
    return merged


# ---------------------------------------------------------------------- faults
@dataclass(frozen=True)
class Faults:
    """Transport misbehaviour, reproducible from ``seed`` (each connection draws from ``seed`` and its index).

    ``drop`` / ``duplicate``: the chance that a server event is not sent / sent twice;
    ``reorder``: the chance that an event swaps places with the next one of the same batch;
    ``jitter_ms``: a random extra delay, up to this, before each streamed step;
    ``close_before_created``: ``(code, reason)`` to close right after the upgrade, before ``session.created``;
    ``close_after_events``: ``(n, code, reason)`` to close once ``n`` server events have been sent;
    ``types``: the event types drop/duplicate/reorder apply to (``None``: all but ``session.created``);
    ``connections``: the connection indexes affected (``None``: all).
    """

    seed: int | str = 0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    jitter_ms: float = 0.0
    close_before_created: tuple[int, str] | None = None
    close_after_events: tuple[int, int, str] | None = None
    types: frozenset[str] | None = None
    connections: frozenset[int] | None = None

    def applies_to(self, connection: int) -> bool:
        return self.connections is None or connection in self.connections


# ---------------------------------------------------------------------- rules
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

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times


def _contains(actual: Any, expected: Any) -> bool:
    """``expected`` is a partial description of ``actual`` (dicts by subset, lists item by item)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and _contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            _contains(a, e) for a, e in zip(actual, expected))
    return bool(actual == expected)


@dataclass
class Script:
    """The rules of a server (and so of its fixture); a fresh one after every ``reset()``."""

    fallback: Responder = field(default_factory=DefaultResponder)
    rules: list[Rule] = field(default_factory=list)
    quirks: set[str] = field(default_factory=set)
    faults: Faults = field(default_factory=Faults)
    """Transport faults for the connections opened from now on (set with :meth:`inject`)."""
    _states: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- building ------------------------------------------------------------------------
    def reply(self, *replies: Reply, connection: int | None = None) -> "Script":
        """Queue replies: the next responses get them, in order, one each."""
        with self._lock:
            self.rules.extend(Rule(always, r, times=1, connection=connection) for r in replies)
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
        rule = Rule(condition, reply, times, connection, state, then_state)
        with self._lock:
            self.rules.append(rule)
        return rule

    def on_event(
        self,
        event_type: str,
        reply: Reply,
        *,
        match: Mapping[str, Any] | None = None,
        times: int | None = 1,
        connection: int | None = None,
    ) -> Rule:
        """Answer a client event of ``event_type`` (whose fields include ``match``) with ``reply``'s
        ``error`` or ``close`` instead of handling it."""
        if reply.error is None and reply.close is None:
            raise ValueError("a client event can only be answered with error(...) or close(...)")
        rule = Rule(always, reply, times, connection, event_type=event_type, event_match=match)
        with self._lock:
            self.rules.append(rule)
        return rule

    def inject(self, faults: Faults | None = None, **settings: Any) -> "Script":
        """Set the faults of connections opened from now on: ``inject(drop=0.1, seed=7)``."""
        self.faults = faults if faults is not None else Faults(**settings)
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
        """The reply to one ``response.create``."""
        rule = self._take(context.connection, lambda r: r.event_type is None and r.condition(context))
        if rule is None:
            produced = self.fallback.reply(context)
            return produced if isinstance(produced, Reply) else Reply(outputs=tuple(produced))
        return rule.reply(context) if callable(rule.reply) else rule.reply

    def intercept(self, connection: int, event: Mapping[str, Any]) -> Reply | None:
        """A scripted answer to this client event, if a rule claims it."""
        if not any(rule.event_type is not None for rule in self.rules):
            return None
        rule = self._take(connection, lambda r: r.event_type == event.get("type") and (
            r.event_match is None or _contains(event, r.event_match)))
        if rule is None:
            return None
        assert isinstance(rule.reply, Reply)
        return rule.reply

    def wants(self, quirk: str) -> bool:
        return quirk in self.quirks


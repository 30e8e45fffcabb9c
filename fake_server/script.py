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

from .journal import event_matches
from .responder import DefaultResponder, ModelOutput, Reply, Responder, ResponseContext

__all__ = [
    "Script", "Rule", "Faults", "Condition", "QUIRKS",
    "always", "user_says", "turn", "tool_output",
    "say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete", "close",
    "combine", "script_from_data", "parse_script_text", "faults_from_data", "load_script", "ScriptFileError",
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
            r.event_match is None or event_matches(event, r.event_match)))
        if rule is None:
            return None
        assert isinstance(rule.reply, Reply)
        return rule.reply

    def wants(self, quirk: str) -> bool:
        return quirk in self.quirks



# ---------------------------------------------------------------------- script files
class ScriptFileError(ValueError):
    """A script file that does not say something the fake understands (the message says where)."""


_WHEN_KEYS = {"always", "user_says", "user_matches", "turn", "tool_output"}
_REPLY_KEYS = {"say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete",
               "close", "delays"}


def _condition_from(data: Any, where: str) -> Condition:
    if not isinstance(data, Mapping) or len(data) != 1 or next(iter(data)) not in _WHEN_KEYS:
        raise ScriptFileError(f"{where}: expected one of {sorted(_WHEN_KEYS)}, got {data!r}")
    (key, value), = data.items()
    if key == "always":
        return always
    if key == "user_says":
        return user_says(str(value))
    if key == "user_matches":
        return user_says(re.compile(str(value)))
    if key == "turn":
        return turn(int(value))
    value = value or {}
    if not isinstance(value, Mapping) or set(value) - {"name", "contains"}:
        raise ScriptFileError(f"{where}.tool_output: expected {{name, contains}}, got {value!r}")
    return tool_output(value.get("name"), value.get("contains"))


def _reply_from(data: Any, where: str) -> Reply:
    if isinstance(data, list):
        return combine(*(_reply_from(part, f"{where}[{i}]") for i, part in enumerate(data)))
    if not isinstance(data, Mapping) or len(data) != 1 or next(iter(data)) not in _REPLY_KEYS:
        raise ScriptFileError(f"{where}: expected one of {sorted(_REPLY_KEYS)} (or a list of them), got {data!r}")
    (key, value), = data.items()
    try:
        if key in ("say", "write"):
            return say(str(value)) if key == "say" else write(str(value))
        if key == "speak":
            return speak(str(value))
        if key == "call":
            return call(value["name"], value.get("arguments"))
        if key == "error":
            return error(value.get("code"), value["message"], value.get("param"),
                         value.get("type", "invalid_request_error"))
        if key == "fail":
            return fail(value.get("code"), value["message"], value.get("type", "server_error"))
        if key == "server_error":
            return server_error()
        if key == "rate_limited":
            return rate_limited(**(value if isinstance(value, Mapping) else {}))
        if key == "incomplete":
            return incomplete(value["text"], value.get("reason", "content_filter"))
        if key == "close":
            return close(int(value.get("code", 1011)), str(value.get("reason", "")), int(value.get("after_events", 0)))
        return Reply(first_delta_delay_ms=float(value.get("first_delta_ms", 0)),
                     delta_delay_ms=float(value.get("delta_ms", 0)))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ScriptFileError(f"{where}.{key}: missing or malformed field ({exc})") from None


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ScriptFileError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def script_from_data(data: Any) -> Script:
    """A :class:`Script` from the data of a script file (see docs/scripting.md)."""
    if not isinstance(data, Mapping):
        raise ScriptFileError("a script file holds an object with 'rules', 'events', 'faults' and/or 'quirks'")
    _check_keys(data, {"rules", "events", "faults", "quirks"}, "script")
    result = Script()
    for i, rule in enumerate(data.get("rules", [])):
        where = f"rules[{i}]"
        _check_keys(rule, {"when", "reply", "times", "connection", "state", "then_state"}, where)
        result.on(_condition_from(rule.get("when", {"always": True}), f"{where}.when"),
                  _reply_from(rule.get("reply"), f"{where}.reply"), times=rule.get("times"),
                  connection=rule.get("connection"), state=rule.get("state"), then_state=rule.get("then_state"))
    for i, rule in enumerate(data.get("events", [])):
        where = f"events[{i}]"
        _check_keys(rule, {"event", "match", "reply", "times", "connection"}, where)
        try:
            result.on_event(rule["event"], _reply_from(rule.get("reply"), f"{where}.reply"), match=rule.get("match"),
                            times=rule.get("times", 1), connection=rule.get("connection"))
        except (KeyError, ValueError) as exc:
            raise ScriptFileError(f"{where}: {exc}") from None
    faults = data.get("faults")
    if faults is not None:
        result.inject(**faults_from_data(faults))
    for name in data.get("quirks", []):
        try:
            result.quirk(name)
        except ValueError as exc:
            raise ScriptFileError(f"quirks: {exc}") from None
    return result


def faults_from_data(data: Any) -> dict[str, Any]:
    """The :meth:`Script.inject` settings from the ``faults`` object of a script file."""
    if not isinstance(data, Mapping):
        raise ScriptFileError("faults: expected an object of fault settings")
    _check_keys(data, set(Faults.__dataclass_fields__), "faults")
    settings = {name: value for name, value in data.items() if value is not None}
    for name, (check, wanted) in _FAULT_VALUES.items():
        if name in settings and not check(settings[name]):
            raise ScriptFileError(f"faults.{name}: expected {wanted}, got {json.dumps(settings[name])}")
    for name in ("close_before_created", "close_after_events"):
        if name in settings:
            settings[name] = tuple(settings[name])
    for name in ("types", "connections"):
        if name in settings:
            settings[name] = frozenset(settings[name])
    return settings


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shaped(*checks: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, (list, tuple)) and len(value) == len(checks) and all(
            each(part) for each, part in zip(checks, value))
    return check


def _list_of(each: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(each(part) for part in value)


def _chance(value: Any) -> bool:
    return _number(value) and 0 <= value <= 1


def _string(value: Any) -> bool:
    return isinstance(value, str)


_FAULT_VALUES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda value: _integer(value) or _string(value), "an integer or a string"),
    "drop": (_chance, "a chance from 0 to 1"),
    "duplicate": (_chance, "a chance from 0 to 1"),
    "reorder": (_chance, "a chance from 0 to 1"),
    "jitter_ms": (lambda value: _number(value) and value >= 0, "milliseconds, 0 or more"),
    "close_before_created": (_shaped(_integer, _string), "[code, reason]"),
    "close_after_events": (_shaped(lambda n: _integer(n) and n >= 0, _integer, _string), "[events, code, reason]"),
    "types": (_list_of(_string), "a list of event types"),
    "connections": (_list_of(lambda n: _integer(n) and n >= 0), "a list of connection indexes"),
}


def parse_script_text(text: str, *, yaml: bool = False) -> Script:
    """A :class:`Script` from the text of a JSON (or, with ``yaml=True``, YAML) script file."""
    if yaml:
        import yaml as pyyaml

        try:
            data = pyyaml.safe_load(text)
        except pyyaml.YAMLError as exc:
            raise ScriptFileError(f"not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ScriptFileError(f"not valid JSON: {exc}") from None
    return script_from_data(data)


def load_script(path: str) -> Script:
    """Read a JSON or YAML script file (YAML by the ``.yaml``/``.yml`` ending)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return parse_script_text(text, yaml=path.endswith((".yaml", ".yml")))

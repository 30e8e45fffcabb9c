"""Scripting the fake: tests decide what the model says and how the server misbehaves.

A :class:`Script` is an ordered list of rules. For each ``response.create`` the first rule
whose condition matches decides the :class:`~fake_server.core.responder.Reply`; with no match the
default responder answers (``docs/responses.md``). Rules fire once (``times=1``, the
default of :meth:`Script.reply`) or any number of times (:meth:`Script.on`), on every
connection or on one, and may require and set a named state of the connection, so a
scenario can move from state to state. Rules on client events (:meth:`Script.on_event`)
answer a client event with an ``error`` or a close instead of the normal handling, or answer
a matching ``response.create`` with a reply.

A reply that says nothing and ends nothing (only delays, a mid-response close, ``spoken``)
applies to the default responder's answer. Script files (JSON or YAML) are checked against
``schemas/script.json`` first, so a mistake is reported with where it is and what is expected.

The script is shared by the server's connections and safe to change from a test thread
while the server runs.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping, Pattern

from ..protocol.b64 import b64decode
from ..core.journal import event_matches
from ..protocol.schema import format_path, load_schemas, schemas_root
from ..core.responder import DefaultResponder, ModelOutput, Reply, Responder, ResponseContext

__all__ = [
    "Script", "Rule", "Faults", "Condition", "QUIRKS",
    "always", "user_says", "turn", "tool_output",
    "say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete", "close",
    "delays", "combine", "check_close", "CLOSE_CODES",
    "script_from_data", "parse_script_text", "faults_from_data", "load_script", "ScriptFileError",
]

Condition = Callable[[ResponseContext], bool]

QUIRKS = {
    "text_history_answers_in_text": (
        "After assistant turns seeded as text only (no assistant audio in the conversation), responses come back "
        "as text although audio was requested (openai-realtime-api-beta#72, livekit/agents#2471)."
    ),
}


# ---------------------------------------------------------------------- close codes
CLOSE_CODES = ("1000-1003, 1007-1014, 3000-4999, or 1006 (drop the connection without a close frame)")
"""The close codes a script may ask for: those a server may send in a close frame, and 1006."""

_MAX_CLOSE_REASON = 123  # bytes of UTF-8: a close frame's payload is at most 125 bytes with the code


def check_close(code: Any, reason: Any = "") -> None:
    """Raise :class:`ValueError` unless a server can close with ``code`` and ``reason``.

    1004, 1005 and 1015 are reserved and never sent in a close frame; 1006 (abnormal closure)
    means dropping the TCP connection without one.
    """
    if not (isinstance(code, int) and not isinstance(code, bool)) or not (
            1000 <= code <= 1003 or 1006 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"expected a close code a server may send: {CLOSE_CODES}, got {code!r}")
    if not isinstance(reason, str):
        raise ValueError(f"expected a close reason (a string), got {reason!r}")
    if len(reason.encode("utf-8")) > _MAX_CLOSE_REASON:
        raise ValueError(f"expected a close reason of at most {_MAX_CLOSE_REASON} bytes of UTF-8, "
                         f"got {len(reason.encode('utf-8'))}")


def _check_count(name: str, value: Any, least: int, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name}: expected an integer of {least} or more{', or None' if optional else ''}, "
                         f"got {value!r}")


def _check_ms(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (0 <= value < math.inf):
        raise ValueError(f"{name}: expected milliseconds, 0 or more, got {value!r}")


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
    (0: instead of the response; alone, or combined with a reply, to close mid-response).

    ``code`` is one a server may send (:data:`CLOSE_CODES`); 1006 drops the connection
    without a close frame, as a network failure would."""
    check_close(code, reason)
    _check_count("after_events", after_events, 0, optional=False)
    return Reply(close=(code, reason), close_after=after_events)


def delays(first_delta_ms: float = 0.0, per_delta_ms: float = 0.0) -> Reply:
    """Wait ``first_delta_ms`` before the first delta and ``per_delta_ms`` before each later one,
    whatever the pacing. Alone it delays the default answer; combine it with a reply to delay that."""
    _check_ms("first_delta_ms", first_delta_ms)
    _check_ms("per_delta_ms", per_delta_ms)
    return Reply(first_delta_delay_ms=float(first_delta_ms), delta_delay_ms=float(per_delta_ms))


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
    ``reorder``: the chance that an event swaps places with the next one of the same answer or stream;
    ``jitter_ms``: a random extra delay, up to this, before each streamed step;
    ``close_before_created``: ``(code, reason)`` to close right after the upgrade, before ``session.created``;
    ``close_after_events``: ``(n, code, reason)`` to close once ``n`` server events have been sent
    (codes as :func:`check_close` allows: 1006 drops the connection without a close frame);
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

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder"):
            chance = getattr(self, name)
            if not isinstance(chance, (int, float)) or isinstance(chance, bool) or not 0 <= chance <= 1:
                raise ValueError(f"{name}: expected a chance from 0 to 1, got {chance!r}")
        _check_ms("jitter_ms", self.jitter_ms)
        if self.close_before_created is not None:
            check_close(*self.close_before_created)
        if self.close_after_events is not None:
            events, code, reason = self.close_after_events
            _check_count("close_after_events events", events, 0, optional=False)
            check_close(code, reason)

    def applies_to(self, connection: int) -> bool:
        return self.connections is None or connection in self.connections


# ---------------------------------------------------------------------- rules
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
        _check_count("times", self.times, 1)
        _check_count("connection", self.connection, 0)
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
        _check_event_type(event_type)
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
        produced = self.fallback.reply(context)
        return produced if isinstance(produced, Reply) else Reply(outputs=tuple(produced))

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


def _check_event_type(event_type: Any) -> None:
    known = load_schemas().client_event_types
    if event_type not in known:
        raise ValueError(f"expected a client event type ({', '.join(known)}), got {_shown(event_type)}")


def _asked_with(match: Mapping[str, Any] | None) -> Condition:
    """The response was asked for by a ``response.create`` holding ``match``."""

    def condition(context: ResponseContext) -> bool:
        asked = context.client_event
        return asked is not None and (match is None or event_matches(asked, match))

    return condition


# ---------------------------------------------------------------------- script files
class ScriptFileError(ValueError):
    """A script file that does not say something the fake understands: ``<where>: <what is wrong>``."""


@lru_cache(maxsize=None)
def _validators() -> dict[str, Any]:
    """``schemas/script.json`` compiled once: a validator for whole files and one for ``faults``."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    document = json.loads((schemas_root() / "script.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(document["$id"], Resource.from_contents(document))
    return {"script": Draft202012Validator(document, registry=registry),
            "faults": Draft202012Validator({"$ref": document["$id"] + "#/$defs/faults"}, registry=registry)}


_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "a boolean", "null": "null"}
# keywords whose own wording is poorer than the schema's description of the value
_DESCRIBED = {"anyOf", "oneOf", "type", "minimum", "maximum", "minItems", "maxItems", "minProperties",
              "maxProperties", "const", "prefixItems"}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= 60:
        return text
    return {dict: "an object", list: "a list"}.get(type(value), text[:57] + "...")


def _narrowest(errors: list[Any]) -> Any:
    """Of a schema's errors, the one to report: the shallowest; inside an ``anyOf`` the error of the one
    branch that takes the value's type, if only one does."""
    error = min(errors, key=lambda e: len(e.path))
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [subs for subs in branches.values() if not any(_wrong_type(sub) for sub in subs)]
        if len(fitting) != 1:
            break
        error = min(fitting[0], key=lambda e: len(e.path))
    return error


def _wrong_type(error: Any) -> bool:
    """The error says that the value is of another type than the (sub)schema wants."""
    if error.relative_path:
        return False
    return error.validator == "type" or (error.validator == "const" and type(error.validator_value) is not type(
        error.instance))


def _what(error: Any) -> str:
    keyword, value, schema = error.validator, error.validator_value, error.schema
    instance = error.instance
    if keyword == "additionalProperties":
        unknown = sorted(str(k) for k in instance if k not in schema.get("properties", {}))
        return (f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(json.dumps(k) for k in unknown)}; "
                f"allowed: {', '.join(schema.get('properties', {}))}")
    if keyword == "required":
        return "missing " + ", ".join(json.dumps(k) for k in value if k not in instance)
    if keyword in _DESCRIBED and "description" in schema:
        expected = schema["description"]
    elif keyword == "type":
        names = value if isinstance(value, list) else [value]
        expected = " or ".join(_TYPE_NAMES[name] for name in names)
    elif keyword == "enum":
        expected = "one of " + ", ".join(_shown(v) for v in value)
    elif keyword == "const":
        expected = _shown(value)
    elif keyword in ("minimum", "maximum"):
        expected = f"a number {'>=' if keyword == 'minimum' else '<='} {value}"
    elif keyword in ("minItems", "maxItems"):
        expected = f"a list of {'at least' if keyword == 'minItems' else 'at most'} {value} item{'s' * (value != 1)}"
    elif keyword in ("minLength", "maxLength"):
        expected = f"a string of {'at least' if keyword == 'minLength' else 'at most'} {value} characters"
    else:
        expected = f"a value that satisfies {keyword} {_shown(value)}"
    return f"expected {expected}, got {_shown(instance)}"


def _validate(kind: str, data: Any, root: str) -> None:
    """Raise :class:`ScriptFileError` saying where ``data`` breaks ``schemas/script.json`` and what is expected."""
    errors = list(_validators()[kind].iter_errors(data))
    if errors:
        error = _narrowest(errors)
        parts = list(error.absolute_path)
        where = format_path(parts if root == "script" and parts else [root, *parts])
        raise ScriptFileError(f"{where}: {_what(error)}")


@contextmanager
def _at(where: str) -> Iterator[None]:
    """A :class:`ValueError` from a builder becomes a :class:`ScriptFileError` saying where."""
    try:
        yield
    except ScriptFileError:
        raise
    except ValueError as exc:
        raise ScriptFileError(f"{where}: {exc}") from None


def _condition_from(data: Mapping[str, Any], where: str) -> Condition:
    (key, value), = data.items()
    if key == "user_says":
        return user_says(value)
    if key == "user_matches":
        try:
            return user_says(re.compile(value))
        except re.error as exc:
            raise ScriptFileError(f"{where}.user_matches: expected a regular expression, got {_shown(value)} "
                                  f"({exc})") from None
    if key == "turn":
        return turn(int(value))
    if key == "tool_output":
        value = value or {}
        return tool_output(value.get("name"), value.get("contains"))
    return always


def _reply_from(data: Any, where: str) -> Reply:
    if isinstance(data, list):
        return combine(*(_reply_from(part, f"{where}[{i}]") for i, part in enumerate(data)))
    (key, value), = data.items()
    with _at(f"{where}.{key}"):
        if key in ("say", "write"):
            return say(value) if key == "say" else write(value)
        if key == "speak":
            return speak(value) if isinstance(value, str) else speak(value["text"], _pcm(value, f"{where}.speak"))
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
            return close(value.get("code", 1011), value.get("reason", ""), value.get("after_events", 0))
        return delays(value.get("first_delta_ms", 0), value.get("per_delta_ms", 0))


def _pcm(value: Mapping[str, Any], where: str) -> bytes | None:
    text = value.get("pcm_base64")
    if text is None:
        return None
    try:
        return b64decode(text)
    except (binascii.Error, ValueError):
        raise ScriptFileError(f"{where}.pcm_base64: expected base64 of raw audio, got {_shown(text)}") from None


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def script_from_data(data: Any) -> Script:
    """A :class:`Script` from the data of a script file (``schemas/script.json``, docs/scripting.md)."""
    _validate("script", data, "script")
    result = Script()
    for i, rule in enumerate(data.get("rules") or []):
        where = f"rules[{i}]"
        condition = _condition_from(rule.get("when", {"always": True}), f"{where}.when")
        reply = _reply_from(rule["reply"], f"{where}.reply")
        with _at(where):
            result.on(condition, reply, times=_count(rule.get("times")), connection=_count(rule.get("connection")),
                      state=rule.get("state"), then_state=rule.get("then_state"))
    for i, rule in enumerate(data.get("events") or []):
        where = f"events[{i}]"
        reply = _reply_from(rule["reply"], f"{where}.reply")
        with _at(f"{where}.event"):
            _check_event_type(rule["event"])
        with _at(f"{where}.reply"):
            result.on_event(rule["event"], reply, match=rule.get("match"), times=_count(rule.get("times", 1)),
                            connection=_count(rule.get("connection")))
    if data.get("faults") is not None:
        result.inject(**faults_from_data(data["faults"]))
    with _at("pacing"):
        result.pace(data.get("pacing"))
    for name in data.get("quirks") or []:
        result.quirk(name)
    return result


def faults_from_data(data: Any) -> dict[str, Any]:
    """The :meth:`Script.inject` settings from the ``faults`` object of a script file."""
    _validate("faults", data, "faults")
    settings = {name: value for name, value in data.items() if value is not None}
    for name in ("close_before_created", "close_after_events"):
        if name in settings:
            settings[name] = tuple(int(part) if isinstance(part, float) else part for part in settings[name])
    for name in ("types", "connections"):
        if name in settings:
            settings[name] = frozenset(settings[name])
    with _at("faults"):
        Faults(**settings)  # what the schema cannot say (a reason's length in bytes)
    return settings


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
    """Read a JSON or YAML script file (YAML by the ``.yaml``/``.yml`` ending).

    Raises :class:`OSError` when it cannot be read, :class:`ScriptFileError` for everything else."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptFileError(f"not UTF-8 text: {exc}") from None
    return parse_script_text(text, yaml=path.endswith((".yaml", ".yml")))

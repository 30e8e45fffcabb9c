"""Recorded scenarios: the JSON Lines format, its matchers and placeholders, loading and checking.

A scenario file is JSON Lines. The first line is the header; every other line is one frame of
one connection, in the order they happened::

    {"scenario": 1, "name": "truncate", "description": "...", "dialect": "ga", "model": "gpt-realtime",
     "source": "...", "recorded_at": "2026-11-22T02:40:00Z", "connections": {"main": {}}}
    {"dir": "server", "t": 0.003, "event": {"type": "session.created", "event_id": {"$id": "event"}, ...}}
    {"dir": "client", "t": 0.010, "event": {"type": "conversation.item.delete", "item_id": {"$ref": "item_1"}}}

Server lines are expectations: their ``event`` may hold matchers (``{"$id": "item", "bind": "item_1"}``,
``{"$text": true}``, ...) where a value varies between runs. Client lines are what the replayer sends:
their ``event`` may hold placeholders (``{"$ref": "item_1"}``, ``{"$speech": {...}}``) that are filled in
when the line is sent. The format is documented in ``docs/scenarios.md`` and written down as a JSON Schema in
``schemas/scenario.json``: every line is checked against it through the one checking path of the fake's file
formats (:mod:`fake_server.protocol.formats`), then for what a schema cannot say (names bound by an earlier
server line, connections the header declares, no key subprotocol).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ..protocol.formats import find_problem, format_validator
from ..protocol.rules import BETA_HEADER, BETA_SUBPROTOCOL, KEY_SUBPROTOCOL
from ..protocol.schema import format_path, json_type
from ..core.speech import silence, synthesize

__all__ = [
    "FORMAT_VERSION",
    "MATCHERS",
    "LenientBindings",
    "ClientLine",
    "Mismatch",
    "Scenario",
    "ScenarioError",
    "ServerLine",
    "dump_scenario",
    "fill_placeholders",
    "is_stream_type",
    "load_scenario",
    "load_scenarios",
    "match_value",
    "parse_scenario",
]

FORMAT_VERSION = 1
DEFAULT_CONNECTION = "main"
DIALECTS = ("ga", "beta")
"""``ga``; ``beta``: connections offer ``OpenAI-Beta: realtime=v1`` (FACTS §1), as a header or, when the
connection lists it among its ``subprotocols``, as the subprotocol ``openai-beta.realtime-v1``."""

ID_PATTERNS: dict[str, re.Pattern[str]] = {
    "event": re.compile(r"event_[A-Za-z0-9]{21}"),
    "sess": re.compile(r"sess_[A-Za-z0-9]{21}"),
    "conv": re.compile(r"conv_[A-Za-z0-9]{21}"),
    "resp": re.compile(r"resp_[A-Za-z0-9]{21}"),
    "item": re.compile(r"item_[A-Za-z0-9]{21}"),
    "call": re.compile(r"call_[A-Za-z0-9]{16}"),
}
"""Server-assigned id formats (FACTS §3): prefix plus 21 base62 characters (``call_`` plus 16)."""

MATCHERS = ("$any", "$type", "$id", "$text", "$audio", "$match", "$ref", "$format", "$partial")
"""The matchers a server line may hold (each is a one-key object, ``$id`` may add ``bind``); the schema's
``$defs/matcher`` lists the same."""

PLACEHOLDERS = ("$ref", "$format", "$speech", "$silence")
"""The placeholders a client line may hold (the schema's ``$defs/placeholder``)."""

_FORMAT_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with the file and line it was found at."""

    def __init__(self, message: str, *, source: str = "<scenario>", line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


def is_stream_type(event_type: str) -> bool:
    """Streamed events (``*.delta``) are compared as a set of patterns, not one by one in order."""
    return event_type.endswith(".delta")


@dataclass(frozen=True)
class Connection:
    """One WebSocket connection of a scenario, named in the header's ``connections``."""

    name: str
    model: str | None
    """The ``?model=`` of the URL; ``None`` connects without a model."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Other query parameters (e.g. ``intent``)."""
    dialect: str = "ga"
    """``ga``, or ``beta``: the replay offers the beta header (or subprotocol, when listed)."""
    subprotocols: tuple[str, ...] = ()
    """The WebSocket subprotocols to offer (a key subprotocol never: the key goes in ``Authorization``)."""

    def beta_header(self) -> dict[str, str]:
        """The ``OpenAI-Beta`` header to send: for a beta connection that does not say so by subprotocol."""
        if self.dialect == "beta" and BETA_SUBPROTOCOL not in self.subprotocols:
            return dict([BETA_HEADER])
        return {}


@dataclass(frozen=True)
class _LineBase:
    """What every line has: its number in the file, its connection, its time, and an event or a close."""

    number: int
    conn: str
    t: float
    event: dict[str, Any] | None
    close: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return "close" if self.event is None else str(self.event.get("type"))


@dataclass(frozen=True)
class ClientLine(_LineBase):
    """A frame the replayer sends (an event, or a close)."""

    wait: Literal["previous", "none"] | dict[str, Any] = "previous"
    """``"previous"``: send once every ordered server line before this one (same connection) was seen;
    ``"none"``: send at once; an object: send once a server event holding these fields arrived (``conn``
    names another connection, ``type`` the event type)."""


@dataclass(frozen=True)
class ServerLine(_LineBase):
    """A frame the server is expected to send (an event, or a close of the connection)."""

    order: Literal["strict", "any"] = "strict"
    """``"any"``: may arrive anywhere after the client line before it (asynchronous events)."""
    optional: bool = False
    """May not come at all (streamed and ``order: any`` lines only); when it comes it must match."""

    @property
    def stream(self) -> bool:
        return self.event is not None and is_stream_type(str(self.event.get("type", "")))


Line = ClientLine | ServerLine


@dataclass(frozen=True)
class Scenario:
    """A loaded, checked scenario."""

    name: str
    description: str
    dialect: str
    model: str
    source: str
    recorded_at: str | None
    connections: tuple[Connection, ...]
    lines: tuple[Line, ...]
    path: Path | None = None
    divergence: str | None = None
    """Set when the fake is known to differ from the live service here (the reason): the scenario
    records the live behaviour and is expected to fail against the fake."""
    timeout: float | None = None

    def header(self) -> dict[str, Any]:
        """The header line as written to a file."""
        header: dict[str, Any] = {
            "scenario": FORMAT_VERSION, "name": self.name, "description": self.description,
            "dialect": self.dialect, "model": self.model, "source": self.source, "recorded_at": self.recorded_at,
            "connections": {c.name: _connection_json(c, self.model, self.dialect) for c in self.connections},
        }
        if self.divergence is not None:
            header["divergence"] = self.divergence
        if self.timeout is not None:
            header["timeout"] = self.timeout
        return header

    def connection(self, name: str) -> Connection:
        for conn in self.connections:
            if conn.name == name:
                return conn
        raise KeyError(name)


def _connection_json(conn: Connection, default_model: str, default_dialect: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if conn.model != default_model:
        out["model"] = conn.model
    if conn.query:
        out["query"] = dict(conn.query)
    if conn.dialect != default_dialect:
        out["dialect"] = conn.dialect
    if conn.subprotocols:
        out["subprotocols"] = list(conn.subprotocols)
    return out


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One difference between an expected value and the value that came."""

    path: str
    matcher: str
    """What compared them: ``equal``, ``$id``, ``$text``, ``keys``, ``length``, ..."""
    expected: Any
    got: Any

    def describe(self) -> str:
        got = "<absent>" if self.got is _ABSENT else _short(self.got)
        expected = "<absent>" if self.expected is _ABSENT else _short(self.expected)
        return f"{self.path or '<event>'}: expected {expected} ({self.matcher}), got {got}"


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _matcher_name(value: Any) -> str | None:
    if isinstance(value, dict) and value and next(iter(value)).startswith("$"):
        return str(next(iter(value)))
    return None


def format_refs(template: str, bindings: Mapping[str, Any]) -> str:
    """``{name}`` replaced by the bound value (``{{`` and ``}}`` are literal braces); KeyError if unbound."""
    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        return token[0] if m.group(1) is None else str(bindings[m.group(1)])

    return _FORMAT_TOKEN.sub(one, template)


def format_names(template: str) -> list[str]:
    """The names a ``$format`` template uses."""
    return [m.group(1) for m in _FORMAT_TOKEN.finditer(template) if m.group(1) is not None]


class _Wildcard:
    """A bound value not known yet: equal to anything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<any>"


class LenientBindings(dict):  # type: ignore[type-arg]
    """Bindings for a trial match that must not depend on the order matches are tried in: names it holds
    compare as usual, a name it does not hold matches any value, and nothing new is bound."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return dict.get(self, key, _Wildcard())

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _format_matches(template: str, bindings: LenientBindings, got: Any) -> bool:
    """``$format`` against lenient bindings: an unknown name stands for any text."""
    if not isinstance(got, str):
        return False

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if m.group(1) is None:
            return re.escape(token[0])
        if dict.__contains__(bindings, m.group(1)):
            return re.escape(str(dict.__getitem__(bindings, m.group(1))))
        return ".+?"

    pieces, last = [], 0
    for m in _FORMAT_TOKEN.finditer(template):
        pieces.append(re.escape(template[last:m.start()]))
        pieces.append(one(m))
        last = m.end()
    pieces.append(re.escape(template[last:]))
    return re.fullmatch("".join(pieces), got, re.DOTALL) is not None


def match_value(expected: Any, got: Any, bindings: dict[str, Any], path: str = "") -> list[Mismatch]:
    """Compare ``got`` with the expectation ``expected`` (which may hold matchers); bind ``$id`` values
    that carry ``bind`` into ``bindings``. Returns every difference (empty when it matches)."""
    name = _matcher_name(expected)
    if name is not None:
        return _apply_matcher(name, expected, got, bindings, path)
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [Mismatch(path, "type", "object", got)]
        return _match_object(expected, got, bindings, path, partial=False)
    if isinstance(expected, list):
        if not isinstance(got, list):
            return [Mismatch(path, "type", "array", got)]
        problems: list[Mismatch] = []
        if len(expected) != len(got):
            problems.append(Mismatch(path, "length", len(expected), len(got)))
        for index, (want, have) in enumerate(zip(expected, got)):
            problems.extend(match_value(want, have, bindings, f"{path}[{index}]"))
        return problems
    if type(expected) is not type(got) and not (_is_number(expected) and _is_number(got)) or expected != got:
        return [Mismatch(path, "equal", expected, got)]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _match_object(expected: Mapping[str, Any], got: Mapping[str, Any], bindings: dict[str, Any], path: str,
                  *, partial: bool) -> list[Mismatch]:
    problems: list[Mismatch] = []
    for key, want in expected.items():
        sub = f"{path}.{key}" if path else key
        if key not in got:
            problems.append(Mismatch(sub, "keys", want, _ABSENT))
        else:
            problems.extend(match_value(want, got[key], bindings, sub))
    if not partial:
        for key in got:
            if key not in expected:
                problems.append(Mismatch(f"{path}.{key}" if path else key, "keys", _ABSENT, got[key]))
    return problems


def _apply_matcher(name: str, spec: dict[str, Any], got: Any, bindings: dict[str, Any], path: str) -> list[Mismatch]:
    arg = spec[name]
    shown = spec
    if name == "$any":
        return []
    if name == "$type":
        kinds = [arg] if isinstance(arg, str) else list(arg)
        actual = json_type(got, as_written=True)  # 3.0 is a number: what came, as it was written
        ok = actual in kinds or (actual == "integer" and "number" in kinds)
        return [] if ok else [Mismatch(path, "$type", shown, got)]
    if name == "$id":
        pattern = ID_PATTERNS[arg]
        if not isinstance(got, str) or not pattern.fullmatch(got):
            return [Mismatch(path, "$id", shown, got)]
        bind = spec.get("bind")
        if bind is not None:
            if bind in bindings and bindings[bind] != got:
                return [Mismatch(path, "$id bind", f"{bind} = {bindings[bind]}", got)]
            bindings[bind] = got
        return []
    if name == "$text":
        if not isinstance(got, str) or (arg == "nonempty" and not got):
            return [Mismatch(path, "$text", shown, got)]
        return []
    if name == "$audio":
        if not isinstance(got, str):
            return [Mismatch(path, "$audio", shown, got)]
        try:
            base64.b64decode(got, validate=True)
        except (binascii.Error, ValueError):
            return [Mismatch(path, "$audio (base64)", shown, got[:40])]
        return []
    if name == "$match":
        if not isinstance(got, str) or not re.fullmatch(arg, got):
            return [Mismatch(path, "$match", arg, got)]
        return []
    if name == "$ref":
        if arg not in bindings:
            return [Mismatch(path, "$ref", f"{arg} (never bound)", got)]
        return [] if got == bindings[arg] else [Mismatch(path, "$ref", f"{arg} = {bindings[arg]}", got)]
    if name == "$format":
        if isinstance(bindings, LenientBindings):
            return [] if _format_matches(arg, bindings, got) else [Mismatch(path, "$format", arg, got)]
        try:
            want = format_refs(arg, bindings)
        except KeyError as exc:
            return [Mismatch(path, "$format", f"{arg} ({exc.args[0]} never bound)", got)]
        return [] if got == want else [Mismatch(path, "$format", want, got)]
    if name == "$partial":
        if not isinstance(got, dict):
            return [Mismatch(path, "type", "object", got)]
        return _match_object(arg, got, bindings, path, partial=True)
    raise AssertionError(f"unchecked matcher {name}")  # the loader refuses unknown matchers


def fill_placeholders(value: Any, bindings: Mapping[str, Any]) -> Any:
    """A client event with its placeholders filled in: ``$ref``/``$format`` from ``bindings``,
    ``$speech``/``$silence`` as base64 PCM16 24 kHz audio (the fake's speech codec)."""
    name = _matcher_name(value)
    if name == "$ref":
        return bindings[value["$ref"]]
    if name == "$format":
        return format_refs(value["$format"], bindings)
    if name == "$silence":
        return base64.b64encode(silence(float(value["$silence"]))).decode("ascii")
    if name == "$speech":
        spec = value["$speech"]
        audio = silence(spec.get("before_ms", 0)) + synthesize(spec["text"]) + silence(spec.get("after_ms", 0))
        return base64.b64encode(audio).decode("ascii")
    if isinstance(value, dict):
        return {key: fill_placeholders(item, bindings) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(item, bindings) for item in value]
    return value


def bound_names(value: Any) -> set[str]:
    """The names a server event (or any part of a line) binds with ``$id``/``bind``."""
    if isinstance(value, dict):
        if _matcher_name(value) == "$id" and isinstance(value.get("bind"), str):
            return {value["bind"]}
        return {name for item in value.values() for name in bound_names(item)}
    if isinstance(value, list):
        return {name for item in value for name in bound_names(item)}
    return set()


def rename_bindings(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` (an event, a ``wait``) with the bound names in ``names`` renamed: in ``$id`` binds, ``$ref``
    and the ``{name}`` of ``$format``, in expectations and placeholders alike."""
    matcher = _matcher_name(value)
    if matcher == "$id" and value.get("bind") in names:
        return {**value, "bind": names[value["bind"]]}
    if matcher == "$ref" and isinstance(value["$ref"], str):
        return {"$ref": names.get(value["$ref"], value["$ref"])}
    if matcher == "$format" and isinstance(value["$format"], str):
        def one(m: re.Match[str]) -> str:
            return m.group(0) if m.group(1) is None else "{" + names.get(m.group(1), m.group(1)) + "}"

        return {"$format": _FORMAT_TOKEN.sub(one, value["$format"])}
    if matcher in ("$speech", "$silence", "$text", "$audio", "$type", "$match", "$any"):
        return value
    if isinstance(value, dict):
        return {key: rename_bindings(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [rename_bindings(item, names) for item in value]
    return value


def client_expectation(event: Any) -> Any:
    """A client line's event as an expectation of what a client sends: ``$ref``/``$format`` (ids the server
    chose) match any value, ``$speech``/``$silence`` are the audio they make."""
    matcher = _matcher_name(event)
    if matcher in ("$ref", "$format"):
        return {"$any": True}
    if matcher in ("$speech", "$silence"):
        return fill_placeholders(event, {})
    if isinstance(event, dict):
        return {key: client_expectation(item) for key, item in event.items()}
    if isinstance(event, list):
        return [client_expectation(item) for item in event]
    return event


# --- loading and checking ---------------------------------------------------------------------


def _problem(part: str, data: Any, *, root: Sequence[str | int] = (), label: str = "line") -> str | None:
    """What ``schemas/scenario.json`` finds wrong with ``data`` read as its ``$defs`` ``part`` (None: nothing)."""
    return find_problem(format_validator("scenario.json", f"/$defs/{part}"), data, root=root, label=label)


@lru_cache(maxsize=4096)
def _fits(part: str, value_json: str) -> bool:
    """Whether a matcher or placeholder (as JSON) fits the schema's ``part``. Remembered: files repeat the same
    few (``{"$id": "event"}``, ``{"$text": true}``, ...), and a schema check costs a hundred times a lookup."""
    return bool(format_validator("scenario.json", f"/$defs/{part}").is_valid(json.loads(value_json)))


def _children(value: Any) -> Iterable[tuple[str | int, Any]]:
    """The keys (or indexes) and values inside an object (or a list); nothing inside anything else."""
    if isinstance(value, dict):
        return value.items()
    if isinstance(value, list):
        return enumerate(value)
    return ()


class _Checker:
    """Checks one file line by line: each line against ``schemas/scenario.json``, then what a schema cannot
    say. Matchers and placeholders are the objects whose first key starts with ``$``, wherever they are in
    an event, so they are found by walking it and each is checked against the schema's ``matcher`` (server
    lines) or ``placeholder`` (client lines). The names ``$ref`` and ``$format`` use must be bound by an
    earlier server line, and the connections lines name must be the header's."""

    def __init__(self, source: str, connections: Iterable[str]) -> None:
        self.source = source
        self.names = sorted(connections)
        self.bound: set[str] = set()

    def fail(self, message: str, line: int) -> ScenarioError:
        return ScenarioError(message, source=self.source, line=line)

    def line(self, obj: Any, number: int, last_t: float) -> Line:
        """The line ``obj`` (line ``number`` of the file), checked; ``t`` defaults to the previous line's."""
        problem = _problem("line", obj)
        if problem is not None:
            raise self.fail(problem, number)
        conn = obj.get("conn", DEFAULT_CONNECTION)
        if conn not in self.names:
            raise self.fail(f"connection {conn!r} is not declared in the header's 'connections' ({self.names})",
                            number)
        t, event, close = float(obj.get("t", last_t)), obj.get("event"), obj.get("close")
        if close is not None and "code" in close:
            close = {**close, "code": int(close["code"])}  # a JSON Schema integer may be written 1000.0
        if obj["dir"] == "server":
            if event is not None:
                self.walk(event, number, ["event"], "matcher")
            return ServerLine(number, conn, t, event, close, obj.get("order", "strict"), obj.get("optional", False))
        wait = obj.get("wait", "previous")
        if isinstance(wait, dict):
            if wait.get("conn", conn) not in self.names:
                raise self.fail(f"'wait' names connection {wait.get('conn')!r}, which is not declared", number)
            self.walk({k: v for k, v in wait.items() if k != "conn"}, number, ["wait"], "matcher")
        if event is not None:
            self.walk(event, number, ["event"], "placeholder")
        return ClientLine(number, conn, t, event, close, wait)

    def walk(self, value: Any, line: int, path: list[str | int], part: str) -> None:
        """Check the matchers (``part`` ``"matcher"``: in a server event or a ``wait``) or the placeholders
        (``"placeholder"``: in a client event) inside ``value``, and learn the names the matchers bind."""
        name = _matcher_name(value)
        if name is None:
            for key, item in _children(value):
                self.walk(item, line, [*path, key], part)
            return
        self.shape(part, value, line, path)  # so a placeholder is never $id or $partial, a matcher never $silence
        if name in ("$ref", "$format"):
            self.refs(name, value[name], line, path)
        elif name == "$id" and value.get("bind") is not None:
            self.bound.add(value["bind"])
        elif name == "$partial":
            self.walk(value[name], line, path, part)
        elif name == "$silence" and not math.isfinite(value[name]):  # a JSON Schema number can be NaN or Infinity
            raise self.fail(f"$silence at {format_path(path)} takes milliseconds (a number >= 0)", line)

    def shape(self, part: str, value: Any, line: int, path: list[str | int]) -> None:
        if _fits(part, json.dumps(value, sort_keys=True)):
            return
        problem = _problem(part, value, root=path)
        if problem is not None:
            raise self.fail(problem, line)

    def refs(self, name: str, arg: str, line: int, path: list[str | int]) -> None:
        for ref in [arg] if name == "$ref" else format_names(arg):
            if ref not in self.bound:
                raise self.fail(f"{name} at {format_path(path)} uses {ref!r}, which no earlier server line binds",
                                line)


def _header(obj: Any, source: str) -> tuple[dict[str, Any], tuple[Connection, ...]]:
    """The header line, checked, and its connections (one, ``main``, unless it names them)."""
    problem = _problem("header", obj, label="header")
    if problem is not None:
        raise ScenarioError(problem, source=source, line=1)
    conns = []
    for name, conf in obj.get("connections", {DEFAULT_CONNECTION: {}}).items():
        protocols = conf.get("subprotocols", [])
        if any(p.startswith(KEY_SUBPROTOCOL) for p in protocols):
            raise ScenarioError(f"connection {name!r}: a key subprotocol ({KEY_SUBPROTOCOL}<key>) has no place in a "
                                "file (the replay sends the key in Authorization)", source=source, line=1)
        conns.append(Connection(name, conf.get("model", obj["model"]), dict(conf.get("query", {})),
                                conf.get("dialect", obj["dialect"]), tuple(protocols)))
    return obj, tuple(conns)


def _rows(text: str, source: str) -> list[tuple[int, Any]]:
    """The JSON of each line that is not blank, with its line number; at least the header."""
    rows: list[tuple[int, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"not JSON: {exc.msg} (column {exc.colno})", source=source, line=number) from None
    if not rows:
        raise ScenarioError("empty file: a scenario needs a header line", source=source)
    return rows


def parse_scenario(text: str, *, source: str = "<scenario>", path: Path | None = None) -> Scenario:
    """Parse and check a scenario from its JSON Lines text; :class:`ScenarioError` names the line."""
    rows = _rows(text, source)
    header, conns = _header(rows[0][1], source)
    checker = _Checker(source, (c.name for c in conns))
    lines: list[Line] = []
    for number, obj in rows[1:]:
        lines.append(checker.line(obj, number, lines[-1].t if lines else 0.0))
    return Scenario(
        name=header["name"], description=header["description"], dialect=header["dialect"], model=header["model"],
        source=header["source"], recorded_at=header.get("recorded_at"), connections=conns, lines=tuple(lines),
        path=path, divergence=header.get("divergence"), timeout=header.get("timeout"),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Load and check one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    return parse_scenario(text, source=str(path), path=path)


def load_scenarios(paths: Iterable[str | Path]) -> list[Scenario]:
    """Load files, and every ``*.jsonl`` in directories given, sorted by name within a directory."""
    found: list[Scenario] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            found.extend(load_scenario(p) for p in sorted(entry.glob("*.jsonl")))
        else:
            found.append(load_scenario(entry))
    return found


def _line_json(line: Line) -> dict[str, Any]:
    out: dict[str, Any] = {"dir": "client" if isinstance(line, ClientLine) else "server"}
    if line.conn != DEFAULT_CONNECTION:
        out["conn"] = line.conn
    out["t"] = round(line.t, 3)
    if isinstance(line, ClientLine) and line.wait != "previous":
        out["wait"] = line.wait
    if isinstance(line, ServerLine) and line.order != "strict":
        out["order"] = line.order
    if isinstance(line, ServerLine) and line.optional:
        out["optional"] = True
    if line.event is not None:
        out["event"] = line.event
    else:
        out["close"] = line.close
    return out


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as JSON Lines text (header first), readable by :func:`parse_scenario`."""
    rows: Sequence[dict[str, Any]] = [scenario.header(), *(_line_json(line) for line in scenario.lines)]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# --- turning a recording into expectations ------------------------------------------------------

_TEXT_EVENTS_DELTA = {
    "response.output_text.delta", "response.output_audio_transcript.delta",
    "conversation.item.input_audio_transcription.delta", "response.function_call_arguments.delta",
    "response.mcp_call_arguments.delta",
}
_AUDIO_DELTA = "response.output_audio.delta"
_FREE_TEXT_KEYS = {"text", "transcript", "arguments", "instructions", "output"}
_CLOCK_KEYS = {"expires_at", "audio_start_ms", "audio_end_ms", "received_at", "created_at"}
_NUMBERS_OF = {"usage", "rate_limits"}
_ASYNC_PREFIX = "conversation.item.input_audio_transcription."


def audio_summary(b64: str) -> dict[str, Any]:
    """``{"$audio": {"bytes": N, "sha256": ...}}`` for a base64 payload (what a summarised recording keeps)."""
    import hashlib

    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        data = b64.encode("utf-8", "replace")
    return {"$audio": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}


def exact_audio_placeholder(b64: str) -> dict[str, Any] | None:
    """A ``$silence`` or ``$speech`` placeholder that :func:`fill_placeholders` turns back into exactly this
    audio (base64 PCM16 24 kHz), or ``None`` when there is none: what a recording may keep of client audio
    without changing what the server hears."""
    from ..core.speech import transcribe

    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data or len(data) % 2:
        return None
    samples = len(data) // 2

    def ms(count: int) -> int | float:
        return count // 24 if count % 24 == 0 else round(count / 24, 6)

    def same(candidate: dict[str, Any]) -> bool:
        return base64.b64decode(fill_placeholders(candidate, {})) == data

    lead = (len(data) - len(data.lstrip(b"\0"))) // 2
    if lead == samples:
        candidate: dict[str, Any] = {"$silence": ms(samples)}
        return candidate if same(candidate) else None
    trail = (len(data) - len(data.rstrip(b"\0"))) // 2
    text = transcribe(data[2 * lead:len(data) - 2 * trail])
    if not text:
        return None
    for before in range(lead, max(-1, lead - 3), -1):  # a tone may start or end on a zero sample
        for after in range(trail, max(-1, trail - 3), -1):
            candidate = {"$speech": {"text": text, "before_ms": ms(before), "after_ms": ms(after)}}
            if same(candidate):
                return candidate
    return None


def summarize_client_audio(value: Any, key: str = "") -> Any:
    """A client event with each ``audio`` payload that a placeholder regenerates exactly replaced by it
    (:func:`exact_audio_placeholder`); other audio is kept as it is."""
    if isinstance(value, dict):
        return {k: summarize_client_audio(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize_client_audio(v, key) for v in value]
    if key == "audio" and isinstance(value, str):
        return exact_audio_placeholder(value) or value
    return value


class Generalizer:
    """Turns recorded frames into scenario lines: server ids become ``$id`` binds (then ``$ref``), free text
    ``$text``, audio ``$audio``, clocks and usage numbers ``$type``; client events reuse the bound ids.

    One instance per recording (bindings are shared by its connections)."""

    def __init__(self, *, summarize_audio: bool = False) -> None:
        self.summarize_audio = summarize_audio
        self.names: dict[str, str] = {}
        """Server-assigned id value -> bound name."""
        self._counts: dict[str, int] = {}
        self._client_strings: set[str] = set()

    # client side

    def client_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A client event with server-assigned ids replaced by ``$ref`` / ``$format`` placeholders."""
        self._remember_client_strings(event)
        out = self._refs(event)
        assert isinstance(out, dict)
        return out

    def _remember_client_strings(self, value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self._remember_client_strings(v, k)
        elif isinstance(value, list):
            for v in value:
                self._remember_client_strings(v, key)
        elif isinstance(value, str) and key in _FREE_TEXT_KEYS | {"name", "call_id"}:
            self._client_strings.add(value)

    def _refs(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._refs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._refs(v) for v in value]
        if isinstance(value, str):
            return self._string(value)
        return value

    def _string(self, value: str) -> Any:
        if value in self.names:
            return {"$ref": self.names[value]}
        if self.names and any(known in value for known in self.names):
            escaped = value.replace("{", "{{").replace("}", "}}")
            for known in sorted(self.names, key=len, reverse=True):
                escaped = escaped.replace(known, "{" + self.names[known] + "}")
            return {"$format": escaped}
        return value

    # server side

    def server_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A server event with what varies between runs replaced by matchers."""
        event_type = str(event.get("type", ""))
        out: dict[str, Any] = {}
        for key, value in event.items():
            if key == "event_id" and isinstance(value, str) and ID_PATTERNS["event"].fullmatch(value):
                out[key] = {"$id": "event"}
            elif key == "delta" and event_type == _AUDIO_DELTA and isinstance(value, str):
                out[key] = self._audio(value)
            elif key == "delta" and event_type in _TEXT_EVENTS_DELTA:
                out[key] = {"$text": True}
            elif key in ("audio_end_ms", "content_index") and event_type == "conversation.item.truncated":
                out[key] = value
            else:
                out[key] = self._server_value(value, key, event_type, in_numbers=False)
        return out

    def _audio(self, value: str) -> dict[str, Any]:
        return audio_summary(value) if self.summarize_audio else {"$audio": True}

    def _server_value(self, value: Any, key: str, event_type: str, *, in_numbers: bool) -> Any:
        if isinstance(value, dict):
            numbers = in_numbers or key in _NUMBERS_OF
            return {k: self._server_value(v, k, event_type, in_numbers=numbers) for k, v in value.items()}
        if isinstance(value, list):
            numbers = in_numbers or key in _NUMBERS_OF
            return [self._server_value(v, key, event_type, in_numbers=numbers) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            if in_numbers or key in _CLOCK_KEYS:
                return {"$type": "integer" if isinstance(value, int) else "number"}
            return value
        if isinstance(value, str):
            return self._server_string(value, key)
        return value

    def _server_string(self, value: str, key: str) -> Any:
        if key == "obfuscation":
            return {"$text": True}
        if key == "audio":
            return self._audio(value)
        for prefix, pattern in ID_PATTERNS.items():
            if pattern.fullmatch(value):
                if value in self.names:
                    return {"$ref": self.names[value]}
                if prefix == "event":
                    return {"$id": "event"}
                count = self._counts.get(prefix, 0) + 1
                self._counts[prefix] = count
                name = f"{prefix}_{count}"
                self.names[value] = name
                return {"$id": prefix, "bind": name}
        if key in _FREE_TEXT_KEYS and value not in self._client_strings:
            return {"$text": True}
        return self._string(value)


def server_line_order(event: Mapping[str, Any]) -> Literal["strict", "any"]:
    """Input transcription events arrive asynchronously (FACTS §5.6), so they are recorded as ``order: any``."""
    event_type = str(event.get("type", ""))
    return "any" if event_type.startswith(_ASYNC_PREFIX) and not is_stream_type(event_type) else "strict"

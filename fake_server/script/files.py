"""Script files: the scripting of :mod:`fake_server.script` as JSON or YAML (docs/scripting.md), for the
standalone server (``fake-realtime serve --script``), ``FakeRealtimeServer(script_file=...)`` and the admin API.

A file is checked against ``schemas/script.json`` before anything is built, through the one checking path of
the fake's file formats (:mod:`fake_server.protocol.formats`), so a mistake is reported with where it is and
what is expected (``rules[0].when.turn: expected a response number (1 or more), got "first"``). What the
schema cannot say (a regular expression that does not compile, a close reason's length in bytes, ...) the
builders refuse, and the error says where. The YAML reader is imported here only.
"""

from __future__ import annotations

import binascii
import json
import re
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ..core.faults import Faults
from ..core.responder import Reply
from ..protocol.b64 import b64decode
from ..protocol.formats import find_problem, format_validator, shown
from .replies import (
    Condition, always, call, close, combine, delays, error, fail, incomplete, rate_limited, say, server_error, speak,
    tool_output, turn, user_says, write,
)
from .rules import Script, check_event_type

__all__ = ["ScriptFileError", "faults_from_data", "load_script", "parse_script_text", "script_from_data"]


class ScriptFileError(ValueError):
    """A script file that does not say something the fake understands: ``<where>: <what is wrong>``."""


def _validate(data: Any, pointer: str = "", root: tuple[str, ...] = (), label: str = "script") -> None:
    """Raise :class:`ScriptFileError` saying where ``data`` breaks ``schemas/script.json`` (its part at
    ``pointer``) and what is expected."""
    problem = find_problem(format_validator("script.json", pointer), data, root=root, label=label)
    if problem is not None:
        raise ScriptFileError(problem)


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
            raise ScriptFileError(f"{where}.user_matches: expected a regular expression, got {shown(value)} "
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
        raise ScriptFileError(f"{where}.pcm_base64: expected base64 of raw audio, got {shown(text)}") from None


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def script_from_data(data: Any) -> Script:
    """A :class:`Script` from the data of a script file (``schemas/script.json``, docs/scripting.md)."""
    _validate(data)
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
            check_event_type(rule["event"])
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
    _validate(data, "/$defs/faults", ("faults",), "faults")
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

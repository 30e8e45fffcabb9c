"""The schema compiler turns schema violations into the live service's error wording."""

from __future__ import annotations

from typing import Any

import _events as ev
import pytest
from _live_verdicts import WRONG_CONTENT_TYPES

from fake_server.protocol.rules import RealtimeError, quote_values
from fake_server.protocol.schema import SchemaCompileError, _Compiler, format_path

BASE = "https://fake-realtime.invalid/schemas/test/"


def compile_schema(schema: dict[str, Any], extra: dict[str, dict[str, Any]] | None = None):
    docs = {BASE + "root.json": {"$id": BASE + "root.json", **schema}}
    for name, doc in (extra or {}).items():
        docs[BASE + name] = {"$id": BASE + name, **doc}
    check = _Compiler(docs).compile(BASE + "root.json", docs[BASE + "root.json"])

    def run(value: Any) -> tuple[str, str | None, str] | None:
        from fake_server.protocol.schema import _Fail

        try:
            check(value)
        except _Fail as fail:
            exc = RealtimeError(fail.rule, path=format_path(reversed(fail.rev_path)), **fail.fields)
            return exc.code or "", exc.param, exc.message
        return None

    return run


def obj(props: dict[str, Any], required: list[str] = [], **kw: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False, **kw}


PART_SYSTEM = obj({"type": {"type": "string", "enum": ["input_text"]}, "text": {"type": "string"}}, ["type", "text"])
PART_ASSISTANT = obj({"type": {"type": "string", "enum": ["output_text"]}, "text": {"type": "string"}}, ["type", "text"])
USER_PARTS = {
    "oneOf": [
        obj({"type": {"const": "input_text"}, "text": {"type": "string"}}, ["type", "text"]),
        obj({"type": {"const": "input_audio"}, "audio": {"type": "string"}}, ["type", "audio"]),
        obj({"type": {"const": "input_image"}, "image_url": {"type": "string"}}, ["type", "image_url"]),
    ],
    "x-error-values": ["input_text", "input_audio"],
}


def message(role: str, parts: dict[str, Any]) -> dict[str, Any]:
    return obj({"type": {"const": "message"}, "role": {"const": role},
                "content": {"type": "array", "items": parts}}, ["type", "role", "content"])


ITEM = {"oneOf": [
    {"oneOf": [message("system", PART_SYSTEM), message("user", USER_PARTS), message("assistant", PART_ASSISTANT)]},
    obj({"type": {"const": "function_call_output"}, "call_id": {"type": "string"}, "output": {"type": "string"}},
        ["type", "call_id", "output"]),
]}
EVENT = obj({"type": {"const": "conversation.item.create"}, "event_id": {"type": "string", "maxLength": 8},
             "item": ITEM}, ["type", "item"])


@pytest.mark.parametrize(("role", "part_type", "message_text"), WRONG_CONTENT_TYPES)
def test_role_content_type_errors_match_the_live_verdict_table(role: str, part_type: str, message_text: str) -> None:
    run = compile_schema(EVENT)
    event = ev.item_create(ev.message(role, {"type": part_type, "text": "hi"}))
    assert run(event) == ("invalid_value", "item.content[0].type", message_text)


def test_missing_text_is_reported_before_the_part_type() -> None:
    # live: assistant {type: output_audio, transcript, audio: null} -> missing item.content[0].text
    run = compile_schema(EVENT)
    event = ev.item_create(ev.message("assistant", {"type": "output_audio", "transcript": "x", "audio": None}))
    assert run(event) == ("missing_required_parameter", "item.content[0].text",
                          "Missing required parameter: 'item.content[0].text'.")


def test_index_in_path_points_at_the_bad_part() -> None:
    run = compile_schema(EVENT)
    event = ev.item_create(ev.message("user", {"type": "input_text", "text": "ok"},
                                      {"type": "text", "text": "bad"}))
    assert run(event)[1] == "item.content[1].type"  # type: ignore[index]


def test_valid_values_pass() -> None:
    run = compile_schema(EVENT)
    for role, part in (("user", {"type": "input_audio", "audio": "AAAA"}), ("system", {"type": "input_text", "text": ""}),
                       ("assistant", {"type": "output_text", "text": "x"})):
        assert run(ev.item_create(ev.message(role, part))) is None


def test_unknown_missing_type_and_length_errors() -> None:
    run = compile_schema(EVENT)
    assert run({"type": "conversation.item.create", "item": {"type": "function_call_output", "output": "x"}}) == (
        "missing_required_parameter", "item.call_id", "Missing required parameter: 'item.call_id'.")
    assert run({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c",
                                                             "output": "x", "bogus": 1}}) == (
        "unknown_parameter", "item.bogus", "Unknown parameter: 'item.bogus'.")
    assert run({"type": "conversation.item.create", "item": {"role": "user"}}) == (
        "missing_required_parameter", "item.type", "Missing required parameter: 'item.type'.")
    assert run({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": "hi"}}) == (
        "invalid_type", "item.content",
        "Invalid type for 'item.content': expected an array of objects, but got a string instead.")
    code, param, _ = run({"type": "conversation.item.create", "event_id": "123456789",
                          "item": {"type": "message", "role": "user", "content": []}})  # type: ignore[misc]
    assert (code, param) == ("string_above_max_length", "event_id")
    assert run({"type": "conversation.item.create", "item": {"type": "mystery"}}) == (
        "invalid_value", "item.type",
        "Invalid value: 'mystery'. Supported values are: 'message' and 'function_call_output'.")
    assert run({"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}}) == (
        "invalid_value", "item.role",
        "Invalid value: 'robot'. Supported values are: 'system', 'user', and 'assistant'.")


def test_required_comes_before_unknown_and_unknown_before_values() -> None:
    run = compile_schema(obj({"a": {"type": "integer"}, "b": {"type": "string"}}, ["b"]))
    assert run({"a": "x", "zzz": 1}) == ("missing_required_parameter", "b", "Missing required parameter: 'b'.")
    assert run({"a": "x", "b": "y", "zzz": 1})[0] == "unknown_parameter"  # type: ignore[index]
    assert run({"a": "x", "b": "y"})[0] == "invalid_type"  # type: ignore[index]


def test_ranges_and_any_of_by_json_type() -> None:
    tokens = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 4096}, {"type": "string", "enum": ["inf"]}]}
    rate = {"type": "integer", "minimum": 24000, "maximum": 24000}
    speed = {"type": "number", "minimum": 0.25, "maximum": 1.5}
    run = compile_schema(obj({"max": tokens, "rate": rate, "speed": speed}))
    assert run({"max": "inf", "rate": 24000, "speed": 1}) is None
    assert run({"max": 5000}) == ("integer_above_max_value", "max",
                                  "Invalid 'max': integer above maximum value. Expected a value <= 4096, "
                                  "but got 5000 instead.")
    assert run({"max": "lots"}) == ("invalid_value", "max", "Invalid value: 'lots'. Value must be 'inf'.")
    assert run({"max": True})[0] == "invalid_type"  # type: ignore[index]
    assert run({"rate": 16000}) == ("integer_below_min_value", "rate",
                                    "Invalid 'rate': integer below minimum value. Expected a value >= 24000, "
                                    "but got 16000 instead.")
    assert run({"speed": 2.0})[0] == "decimal_above_max_value"  # type: ignore[index]


def test_refs_across_files_and_recursion() -> None:
    node = obj({"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}}, ["name"])
    run = compile_schema(obj({"tree": {"$ref": "other.json"}}), {"other.json": node})
    assert run({"tree": {"name": "a", "children": [{"name": "b", "children": []}]}}) is None
    assert run({"tree": {"name": "a", "children": [{"children": []}]}})[1] == "tree.children[0].name"  # type: ignore


def test_enum_does_not_confuse_booleans_with_integers() -> None:
    run = compile_schema(obj({"n": {"enum": [1, 2]}}))
    assert run({"n": True})[0] == "invalid_value"  # type: ignore[index]


def test_unsupported_keywords_are_refused() -> None:
    with pytest.raises(SchemaCompileError):
        compile_schema({"allOf": [{"type": "string"}]})
    with pytest.raises(SchemaCompileError):
        compile_schema({"oneOf": [{"type": "string"}, {"type": "integer"}]})


def test_quote_values_forms() -> None:
    assert quote_values(["a"]) == "Value must be 'a'."
    assert quote_values(["a", "b"]) == "Supported values are: 'a' and 'b'."
    assert quote_values(["a", "b", "c"]) == "Supported values are: 'a', 'b', and 'c'."

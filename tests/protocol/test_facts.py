"""Protocol facts each written once: JSON type names, error bodies, the schema walk, content types per role."""

from __future__ import annotations

from typing import Any

import pytest

from fake_server.protocol.rules import ERRORS, RealtimeError, error_body, error_event_body
from fake_server.protocol.schema import (
    FILE_TYPE_NAMES,
    NO_CONST,
    TYPE_NAMES,
    SchemaCompileError,
    SchemaGraph,
    describe_value,
    json_type,
    load_schemas,
)

BASE = "https://fake-realtime.invalid/schemas/test/"


# --- JSON type names -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "as_read", "as_written", "named", "coarse"), [
    (None, "null", "null", "null", "null"),
    (True, "boolean", "boolean", "a boolean", "a boolean"),
    (3, "integer", "integer", "an integer", "a number"),
    (3.0, "integer", "number", "a decimal", "a number"),
    (2.5, "number", "number", "a decimal", "a number"),
    ("x", "string", "string", "a string", "a string"),
    ([1], "array", "array", "an array", "an array"),
    ({"a": 1}, "object", "object", "an object", "an object"),
])
def test_json_types_and_their_live_names(value: Any, as_read: str, as_written: str, named: str, coarse: str) -> None:
    assert json_type(value) == as_read
    assert json_type(value, as_written=True) == as_written
    assert describe_value(value) == named
    assert describe_value(value, numbers_apart=False) == coarse


def test_one_table_per_wording() -> None:
    assert TYPE_NAMES["array"] == "an array" and TYPE_NAMES["number"] == "a number"
    assert FILE_TYPE_NAMES == {**TYPE_NAMES, "array": "a list"}
    assert set(TYPE_NAMES) == {"object", "array", "string", "integer", "number", "boolean", "null"}


# --- error bodies ----------------------------------------------------------------------------------

def test_error_bodies_keep_the_live_key_order_and_leave_out_what_the_event_lacks() -> None:
    assert list(error_body("t", "c", "m", param=None, event_id="e")) == ["type", "code", "message", "param",
                                                                          "event_id"]
    assert error_body("t", "c", "m", param="p") == {"type": "t", "code": "c", "message": "m", "param": "p"}
    assert error_body("server_error", None, "m") == {"type": "server_error", "code": None, "message": "m"}
    assert error_event_body("t", "c", "m", None, None) == error_body("t", "c", "m", param=None, event_id=None)


def test_an_errors_body_fills_its_rule() -> None:
    error = RealtimeError("item_delete_invalid_item_id", item_id="item_1")
    assert error.type == ERRORS["item_delete_invalid_item_id"].type == "invalid_request_error"
    assert error.body("evt_1") == {
        "type": "invalid_request_error", "code": "item_delete_invalid_item_id",
        "message": "Error deleting item: the item with id 'item_1' does not exist.", "param": None,
        "event_id": "evt_1"}


def test_the_scripted_errors_use_the_same_shape() -> None:
    from fake_server import script

    assert script.error("bad", "no", "x.y").error == error_body("invalid_request_error", "bad", "no", param="x.y")
    failed = script.rate_limited(retry_after_s=1.0).status_details
    assert failed is not None
    assert list(failed["error"]) == ["type", "code", "message"]
    assert "Limit 40000, Used" in failed["error"]["message"]


# --- the schema walk -------------------------------------------------------------------------------

def graph(**documents: dict[str, Any]) -> SchemaGraph:
    return SchemaGraph({BASE + name: {"$id": BASE + name, **doc} for name, doc in documents.items()})


def test_the_walk_follows_refs_and_reads_constants_and_values() -> None:
    text = {"type": "object", "properties": {"type": {"const": "text"}, "role": {"enum": ["user"]}}}
    audio = {"type": "object", "properties": {"type": {"type": "string", "enum": ["audio"]},
                                              "role": {"enum": ["user", "system"]}}}
    g = graph(**{"root.json": {"oneOf": [{"$ref": "parts.json#/$defs/Text"}, {"$ref": "parts.json#/$defs/Audio"}]},
                 "parts.json": {"$defs": {"Text": text, "Audio": audio}}})
    root = g.documents[BASE + "root.json"]
    uri, node = g.resolve(BASE + "root.json", "parts.json#/$defs/Text")
    assert (uri, node) == (BASE + "parts.json#/$defs/Text", text)
    assert g.deref(BASE + "root.json", {"$ref": "parts.json#/$defs/Audio"})[1] == audio
    assert g.const_of(BASE, {"$ref": "root.json"}, "type") is NO_CONST  # two branches, two constants
    assert g.const_of(BASE + "root.json", root["oneOf"][0], "type") == "text"
    assert g.const_of(BASE + "root.json", root["oneOf"][1], "role") is NO_CONST  # an enum of two
    assert g.values_of(BASE + "root.json", root, "type") == ["text", "audio"]
    assert g.values_of(BASE + "root.json", root, "missing") == []
    assert g.discriminator(BASE + "root.json", root["oneOf"]) == "type"
    assert g.json_types(BASE + "root.json", root) == {"object"}
    assert g.json_types(BASE, {"enum": [1, 2.5, "x"]}) == {"integer", "number", "string"}
    assert g.expected_name(BASE, {"type": "array", "items": {"$ref": "parts.json#/$defs/Text"}}, "array") == \
        "an array of objects"
    assert g.expected_name(BASE, {"type": "array", "items": {"type": "string"}}, "array") == "an array"


def test_the_walk_refuses_what_it_cannot_read() -> None:
    g = graph(**{"root.json": {}})
    with pytest.raises(SchemaCompileError, match="unresolvable"):
        g.resolve(BASE + "root.json", "other.json")
    same = [{"properties": {"type": {"const": "a"}}}, {"properties": {"type": {"const": "a"}}}]
    with pytest.raises(SchemaCompileError, match="discriminator"):
        g.discriminator(BASE, same)


def test_the_strategies_walk_the_schemas_with_the_same_graph() -> None:
    from fake_server.strategies import SchemaWalker

    walker = SchemaWalker()
    assert isinstance(walker, SchemaGraph)
    assert walker.event_schemas == load_schemas().client_event_schemas
    assert list(walker.event_schemas) == list(load_schemas().client_event_types)


# --- content part types per role -------------------------------------------------------------------

def test_content_types_per_role_come_from_the_schemas() -> None:
    schemas = load_schemas()
    assert schemas.content_types() == {
        "system": ("input_text",), "user": ("input_text", "input_audio", "input_image"),
        "assistant": ("output_text",)}
    assert schemas.content_types(listed=True) == {
        "system": ("input_text",), "user": ("input_text", "input_audio"), "assistant": ("output_text",)}


def test_every_reader_of_content_types_reads_the_one_table() -> None:
    from fake_server.strategies._invalid import NEVER_CLIENT_PART_TYPES, wrong_part_types
    from fake_server.verify import allowed_content_types

    accepted = load_schemas().content_types()
    assert allowed_content_types() == accepted
    for role, types in accepted.items():
        wrong = wrong_part_types(role)
        assert not set(wrong) & set(types)
        assert set(wrong) | set(types) == set(NEVER_CLIENT_PART_TYPES).union(*accepted.values())


def test_server_event_types_are_those_of_the_index() -> None:
    schemas = load_schemas()
    index = schemas.document("server_events.json")
    assert schemas.server_event_types == {ref["$ref"].rsplit("/", 1)[-1].removesuffix(".json")
                                          for ref in index["oneOf"]}
    assert "error" in schemas.server_event_types and "session.update" not in schemas.server_event_types

"""The GA schemas under ``schemas/ga``: well-formed, inside the compiler's keyword subset, and
in agreement with the real frames and official examples copied into ``tests/data/protocol``.

No network, and no import of ``fake_server``: only the JSON files and ``jsonschema``/``referencing``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from _events import item_create, message
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
GA = ROOT / "schemas" / "ga"
DATA = Path(__file__).resolve().parents[1] / "data" / "protocol"
BASE = "https://fake-realtime.invalid/schemas/ga/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Keywords the schema compiler understands; anything else is refused.
ALLOWED_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "default", "type", "properties", "required",
    "additionalProperties", "items", "enum", "const", "oneOf", "anyOf", "minimum", "maximum", "minLength",
    "maxLength", "minItems", "maxItems", "maxProperties", "pattern", "x-error-values",
}

# Exactly the types the live GA WebSocket accepts, in the order its error message lists them.
CLIENT_TYPES = [
    "session.update", "session.close", "input_audio_buffer.append", "session.input_audio_buffer.append",
    "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
    "conversation.item.truncate", "conversation.item.delete", "conversation.item.retrieve",
    "response.create", "response.cancel",
]

# GA server events of the 2026-08-21 spec, minus conversation.item.created (not sent on GA wires) and
# transcription_session.updated (beta name; GA transcription sessions use session.updated).
SERVER_TYPES = {
    "conversation.created", "conversation.item.added", "conversation.item.deleted", "conversation.item.done",
    "conversation.item.input_audio_transcription.completed", "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.failed", "conversation.item.input_audio_transcription.segment",
    "conversation.item.retrieved", "conversation.item.truncated", "error", "input_audio_buffer.cleared",
    "input_audio_buffer.committed", "input_audio_buffer.dtmf_event_received", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "input_audio_buffer.timeout_triggered", "mcp_list_tools.completed",
    "mcp_list_tools.failed", "mcp_list_tools.in_progress", "output_audio_buffer.cleared",
    "output_audio_buffer.started", "output_audio_buffer.stopped", "rate_limits.updated",
    "response.content_part.added", "response.content_part.done", "response.created", "response.done",
    "response.function_call_arguments.delta", "response.function_call_arguments.done",
    "response.mcp_call.completed", "response.mcp_call.failed", "response.mcp_call.in_progress",
    "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done", "response.output_audio.delta",
    "response.output_audio.done", "response.output_audio_transcript.delta", "response.output_audio_transcript.done",
    "response.output_item.added", "response.output_item.done", "response.output_text.delta",
    "response.output_text.done", "session.created", "session.updated",
}

# --------------------------------------------------------------------------------------------- loading

SCHEMA_FILES = sorted(p.relative_to(GA).as_posix() for p in GA.rglob("*.json"))
SCHEMAS: dict[str, dict[str, Any]] = {name: json.loads((GA / name).read_text()) for name in SCHEMA_FILES}
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in SCHEMAS.values()
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[name], registry=REGISTRY)


def def_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{BASE}common.json#/$defs/{name}"}, registry=REGISTRY)


CLIENT = validator("client_events.json")
SERVER = validator("server_events.json")


def errors(v: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


def jsonl(name: str) -> list[dict[str, Any]]:
    lines = (DATA / "examples" / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


WIRE = {s["id"]: s for s in json.loads((DATA / "wire_samples.json").read_text())["samples"]}

# --------------------------------------------------------------------------------------------- walking


def subschemas(schema: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object (not property-name maps, not enum/const values) with a JSON-pointer-ish path."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            yield from subschemas(sub, f"{path}/{key}/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key], f"{path}/{key}")
    for key in ("oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from subschemas(sub, f"{path}/{key}/{i}")


def resolve(schema: dict[str, Any], base: str) -> tuple[dict[str, Any], str]:
    """Follow $ref chains; returns the target schema and the base URI it lives under."""
    while "$ref" in schema:
        resolved = REGISTRY.resolver(base_uri=base).lookup(schema["$ref"])
        schema, base = resolved.contents, resolved.resolver._base_uri
    return schema, base


def discriminator_tags(branch: dict[str, Any], base: str) -> dict[str, set[Any]]:
    """Properties a oneOf branch pins with ``const`` (and requires). A branch that is itself a oneOf
    contributes the properties pinned in all of its own branches (e.g. ``type: message`` under role)."""
    branch, base = resolve(branch, base)
    if "oneOf" in branch:
        per = [discriminator_tags(b, base) for b in branch["oneOf"]]
        common = set.intersection(*(set(t) for t in per)) if per else set()
        return {p: set().union(*(t[p] for t in per)) for p in common}
    props = branch.get("properties", {})
    return {
        p: {s["const"]} for p, s in props.items()
        if isinstance(s, dict) and "const" in s and p in branch.get("required", [])
    }


def json_type(branch: dict[str, Any], base: str) -> str:
    branch, base = resolve(branch, base)
    if "oneOf" in branch:
        kinds = {json_type(b, base) for b in branch["oneOf"]}
        assert len(kinds) == 1, f"oneOf inside anyOf mixes JSON types {kinds}"
        return kinds.pop()
    assert isinstance(branch.get("type"), str), f"anyOf branch needs a single 'type': {branch}"
    return branch["type"]


# --------------------------------------------------------------------------------------------- schema files


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_valid_draft_2020_12(name: str) -> None:
    schema = SCHEMAS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == BASE + name


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_refs_resolve(name: str) -> None:
    schema = SCHEMAS[name]
    for path, sub in subschemas(schema):
        if "$ref" in sub:
            ref = sub["$ref"]
            assert not ref.startswith("http"), f"{path}: refs must be relative, got {ref}"
            REGISTRY.resolver(base_uri=schema["$id"]).lookup(ref)  # raises if unresolvable


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_keyword_subset(name: str) -> None:
    bad = [f"{path}: {key}" for path, sub in subschemas(SCHEMAS[name]) for key in sub if key not in ALLOWED_KEYWORDS]
    assert not bad, f"keywords outside the compiler's subset: {bad}"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_objects_are_strict(name: str) -> None:
    """Objects with properties are closed (live rejects unknown keys); objects without properties are the
    deliberate open maps (function parameters, metadata, headers, ...)."""
    for path, sub in subschemas(SCHEMAS[name]):
        if "properties" in sub:
            assert sub.get("type") == "object", path
            assert sub.get("additionalProperties") is False, f"{path}: must be additionalProperties false"
            assert isinstance(sub.get("required"), list), f"{path}: needs a required list"
            missing = set(sub["required"]) - set(sub["properties"])
            assert not missing, f"{path}: required names not in properties: {missing}"
        if "required" in sub or sub.get("additionalProperties") is False:
            assert "properties" in sub, path
        if sub.get("type") == "object" and "properties" not in sub:
            assert sub.get("additionalProperties", True) is not False, f"{path}: open object cannot be closed"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_oneof_is_discriminated_by_distinct_consts(name: str) -> None:
    schema = SCHEMAS[name]
    for path, sub in subschemas(schema):
        if "oneOf" not in sub:
            continue
        tags = [discriminator_tags(b, schema["$id"]) for b in sub["oneOf"]]
        candidates = set.intersection(*(set(t) for t in tags))
        ok = [
            p for p in candidates
            if sum(len(t[p]) for t in tags) == len(set().union(*(t[p] for t in tags)))
        ]
        assert ok, f"{path}: oneOf branches are not discriminated by distinct consts ({tags})"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_anyof_branches_have_distinct_json_types(name: str) -> None:
    schema = SCHEMAS[name]
    for path, sub in subschemas(schema):
        if "anyOf" in sub:
            kinds = [json_type(b, schema["$id"]) for b in sub["anyOf"]]
            assert len(kinds) == len(set(kinds)), f"{path}: anyOf branches share a JSON type: {kinds}"


def test_x_error_values_only_on_user_content_part() -> None:
    found = [
        (name, path, sub) for name in SCHEMA_FILES for path, sub in subschemas(SCHEMAS[name]) if "x-error-values" in sub
    ]
    assert [(n, p) for n, p, _ in found] == [("common.json", "#/$defs/UserContentPart")]
    sub = found[0][2]
    assert sub["x-error-values"] == ["input_text", "input_audio"]
    consts = set().union(*(discriminator_tags(b, BASE + "common.json")["type"] for b in sub["oneOf"]))
    assert consts == {"input_text", "input_audio", "input_image"}


def test_client_events_lists_the_twelve_in_live_order() -> None:
    refs = [b["$ref"] for b in SCHEMAS["client_events.json"]["oneOf"]]
    assert refs == [f"client/{t}.json" for t in CLIENT_TYPES]
    assert sorted(n for n in SCHEMA_FILES if n.startswith("client/")) == sorted(f"client/{t}.json" for t in CLIENT_TYPES)


def test_server_events_lists_every_server_file() -> None:
    files = {n[len("server/"):-len(".json")] for n in SCHEMA_FILES if n.startswith("server/")}
    assert files == SERVER_TYPES
    refs = [b["$ref"] for b in SCHEMAS["server_events.json"]["oneOf"]]
    assert sorted(refs) == sorted(f"server/{t}.json" for t in SERVER_TYPES)
    assert len(refs) == len(set(refs))


@pytest.mark.parametrize("name", [n for n in SCHEMA_FILES if n.startswith(("client/", "server/"))])
def test_event_file_type_const_matches_file_name(name: str) -> None:
    schema = SCHEMAS[name]
    event_type = name.split("/", 1)[1][: -len(".json")]
    assert schema["properties"]["type"]["const"] == event_type
    keys = list(schema["properties"])
    assert keys[:2] == ["type", "event_id"], "type first, then event_id, then payload"
    if name.startswith("server/"):
        assert schema["required"][:2] == ["type", "event_id"]
        assert schema["properties"]["event_id"] == {"$ref": "../common.json#/$defs/ServerEventId"}
    else:
        assert schema["required"][:1] == ["type"] and "event_id" not in schema["required"]


# --------------------------------------------------------------------------------------------- official GA client examples

# The 2026-08-21 spec lists two client events the live GA WebSocket does not accept.
GA_CLIENT_EXAMPLE_REJECTED = {
    # WebRTC/SIP only; not in the live WebSocket's list of accepted types -> invalid_value on 'type'.
    "output_audio_buffer.clear": "WebRTC/SIP only, not accepted on the GA WebSocket",
    # Rejected on GA with invalid_value on 'type' (FACTS 5.2); GA uses session.update with type transcription.
    "transcription_session.update": "beta event, rejected on GA",
}
GA_CLIENT_EXAMPLES = jsonl("openapi_2026-08-21_ga_client_events.jsonl")


@pytest.mark.parametrize(
    "event", GA_CLIENT_EXAMPLES,
    ids=[f"{i:02d}-{e['type']}" for i, e in enumerate(GA_CLIENT_EXAMPLES)],
)
def test_official_ga_client_example(event: dict[str, Any]) -> None:
    errs = errors(CLIENT, event)
    if event["type"] in GA_CLIENT_EXAMPLE_REJECTED:
        assert errs, GA_CLIENT_EXAMPLE_REJECTED[event["type"]]
    else:
        assert not errs, errs


# --------------------------------------------------------------------------------------------- wire samples (GA)


def _repair_ids(frame: dict[str, Any]) -> dict[str, Any]:
    """Some captures elide ids ('event_…', 'sess_…', '<R1>') or omit the outer event_id; put well-formed
    placeholders there so the rest of the frame can be checked."""
    frame = copy.deepcopy(frame)
    if not re.fullmatch(r"event_[A-Za-z0-9]{21}", str(frame.get("event_id", ""))):
        rest = {k: v for k, v in frame.items() if k not in ("type", "event_id")}
        frame = {"type": frame["type"], "event_id": "event_" + "X" * 21, **rest}
    if isinstance(frame.get("session"), dict) and not re.fullmatch(r"sess_[A-Za-z0-9]{21}", frame["session"]["id"]):
        frame["session"]["id"] = "sess_" + "X" * 21
    if "response_id" in frame and not re.fullmatch(r"resp_[A-Za-z0-9]{21}", frame["response_id"]):
        frame["response_id"] = "resp_" + "X" * 21
    return frame


# Complete GA server frames: must validate verbatim.
WIRE_COMPLETE = [
    "ga.session.created", "ga.session.updated", "ga.response.output_audio.done", "ga.response.content_part.done",
    "ga.response.output_item.done", "ga.response.done.audio", "ga.rate_limits.updated",
    "ga.error.content_type_assistant", "ga.error.active_response", "ga.error.missing_text",
]
# GA server frames whose source elided ids or the outer event_id: validate after _repair_ids.
WIRE_ELIDED_IDS = [
    "ga.response.output_text.delta", "ga.transcription.session.created", "ga.transcription.delta",
    "ga.transcription.completed", "ga.error.unknown_event_type", "ga.error.unknown_parameter",
    "ga.error.invalid_json", "ga.error.binary_frame", "ga.error.invalid_api_key",
]
# Not whole frames: fragments checked against the matching common.json definition.
WIRE_FRAGMENTS = {
    "ga.response.done.text.usage": "Usage",
    "ga.status_details.failed.server_error": "ResponseStatusDetails",
}
# Not checkable: event names only, or an error object without its envelope and without error.event_id.
WIRE_UNCHECKABLE = {"ga.text_turn_order", "ga.error.missing_session_type"}
WIRE_SEQUENCES = ["ga.server_vad_turn_sequence"]
WIRE_CLIENT = ["ga.session.update.client"]


def test_every_ga_wire_sample_is_classified() -> None:
    classified = (
        set(WIRE_COMPLETE) | set(WIRE_ELIDED_IDS) | set(WIRE_FRAGMENTS) | WIRE_UNCHECKABLE
        | set(WIRE_SEQUENCES) | set(WIRE_CLIENT)
    )
    # ga.status_details.failed.server_error is tagged dialect "beta(late)" (2025-07) but has the GA shape.
    ga = {sid for sid in WIRE if sid.startswith("ga.")}
    assert ga == classified


@pytest.mark.parametrize("sample_id", WIRE_COMPLETE)
def test_wire_sample_complete_frame(sample_id: str) -> None:
    assert not errors(SERVER, WIRE[sample_id]["frame"])


@pytest.mark.parametrize("sample_id", WIRE_ELIDED_IDS)
def test_wire_sample_with_elided_ids(sample_id: str) -> None:
    frame = WIRE[sample_id]["frame"]
    assert errors(SERVER, frame), "as captured (ids elided) the frame is not well-formed"
    assert not errors(SERVER, _repair_ids(frame))


@pytest.mark.parametrize("sample_id", WIRE_FRAGMENTS)
def test_wire_sample_fragment(sample_id: str) -> None:
    assert not errors(def_validator(WIRE_FRAGMENTS[sample_id]), WIRE[sample_id]["frame"])


SEQUENCE_FRAMES = [(sid, i, f) for sid in WIRE_SEQUENCES for i, f in enumerate(WIRE[sid]["frame"])]


@pytest.mark.parametrize("frame", [f for _, _, f in SEQUENCE_FRAMES], ids=[f"{s}[{i}]-{f['type']}" for s, i, f in SEQUENCE_FRAMES])
def test_wire_sample_sequence_frame(frame: dict[str, Any]) -> None:
    assert not errors(SERVER, frame)


@pytest.mark.parametrize("sample_id", WIRE_CLIENT)
def test_wire_sample_client_frame(sample_id: str) -> None:
    assert not errors(CLIENT, WIRE[sample_id]["frame"])


# --------------------------------------------------------------------------------------------- official GA server examples

GA_SERVER_EXAMPLES = jsonl("openapi_2026-08-21_ga_server_events.jsonl")
# The examples use short placeholder ids (event_9101, resp_001, conv_001). Those fail the id patterns by
# design; test_placeholder_ids_fail_the_patterns shows that once, the shape checks below normalize them.


def _drop_item_object(event: dict[str, Any]) -> dict[str, Any]:
    event["item"].pop("object")
    return event


def _retrieved_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    _drop_item_object(event)
    part = event["item"]["content"][0]
    part.pop("format")
    part["type"] = "output_audio"
    return event


def _output_item_done_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    _drop_item_object(event)
    event["item"]["content"][0]["type"] = "output_text"
    return event


def _add(key: str, value: Any, where: str | None = None):
    def fix(event: dict[str, Any]) -> dict[str, Any]:
        (event[where] if where else event)[key] = value
        return event
    return fix


def _dtmf_fixed(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": event["type"].strip(), "event_id": "event_" + "E" * 21, "event": event["event"],
            "received_at": event["received_at"]}


# type -> (why it differs from the live wire, error fragments the per-type schema must report, minimal fix
# after which the example validates; None where there is no GA schema for the type at all).
GA_SERVER_EXAMPLE_DIFFERS: dict[str, tuple[str, list[str], Any]] = {
    "conversation.item.created": ("not sent on GA wires (GA sends conversation.item.added + .done)", [], None),
    "conversation.item.retrieved": (
        "beta-shaped example: object key, content type 'audio', format 'pcm16'",
        ["('format' was unexpected)", "('object' was unexpected)"], _retrieved_to_ga),
    " input_audio_buffer.dtmf_event_received": ("type has a leading space, and no event_id", [], _dtmf_fixed),
    "response.output_audio_transcript.delta": (
        "no obfuscation; live transcript deltas always carry it",
        ["'obfuscation' is a required property"], _add("obfuscation", "LBqdwEYsSEHbF")),
    "response.output_text.delta": (
        "no obfuscation; live text deltas always carry it",
        ["'obfuscation' is a required property"], _add("obfuscation", "A5Nj2cC01aseXj")),
    "response.output_item.added": (
        "item carries 'object'; live GA items do not", ["('object' was unexpected)"], _drop_item_object),
    "response.output_item.done": (
        "item carries 'object' and a content part typed 'text' instead of 'output_text'",
        ["('object' was unexpected)", "item/content/0: 'transcript' is a required property"], _output_item_done_to_ga),
    "session.created": (
        "2025-08 example lacks 'truncation', which the live session object has (2025-12 capture)",
        ["'truncation' is a required property"], _add("truncation", "auto", "session")),
    "session.updated": (
        "2025-08 example lacks 'truncation', which the live session object has (2025-12 capture)",
        ["'truncation' is a required property"], _add("truncation", "auto", "session")),
    "transcription_session.updated": ("beta name and flat beta session shape; GA sends session.updated", [], None),
}


def leaf_errors(v: Draft202012Validator, instance: Any) -> list[str]:
    """Error messages with oneOf/anyOf contexts flattened to their leaves."""
    out: list[str] = []
    stack = list(v.iter_errors(instance))
    while stack:
        err = stack.pop()
        if err.context:
            stack.extend(err.context)
        else:
            out.append(f"{'/'.join(map(str, err.absolute_path))}: {err.message}")
    return out


def _normalize_placeholder_ids(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if "event_id" in event:
        event["event_id"] = re.sub(r"^event_\w*$", "event_" + "E" * 21, event["event_id"])
    for holder, key, prefix in [
        (event, "response_id", "resp_"),
        (event.get("response", {}), "id", "resp_"),
        (event.get("response", {}), "conversation_id", "conv_"),
        (event.get("conversation", {}), "id", "conv_"),
        (event.get("session", {}), "id", "sess_"),
    ]:
        if isinstance(holder.get(key), str) and not re.fullmatch(prefix + "[A-Za-z0-9]{21}", holder[key]):
            holder[key] = prefix + "P" * 21
    return event


@pytest.mark.parametrize("event", GA_SERVER_EXAMPLES, ids=[f"{i:02d}-{e['type'].strip()}" for i, e in enumerate(GA_SERVER_EXAMPLES)])
def test_official_ga_server_example(event: dict[str, Any]) -> None:
    event = _normalize_placeholder_ids(event)
    if event["type"] not in GA_SERVER_EXAMPLE_DIFFERS:
        assert not errors(SERVER, event), errors(SERVER, event)
        return
    reason, fragments, fix = GA_SERVER_EXAMPLE_DIFFERS[event["type"]]
    assert errors(SERVER, event), f"expected to differ: {reason}"
    name = f"server/{event['type']}.json"
    if not fragments:
        assert name not in SCHEMAS, reason
    else:
        found = leaf_errors(validator(name), event)
        for fragment in fragments:
            assert any(fragment in msg for msg in found), (fragment, found)
    if fix is not None:
        fixed = fix(copy.deepcopy(event))
        assert not errors(SERVER, fixed), errors(SERVER, fixed)


def test_placeholder_ids_fail_the_patterns() -> None:
    event = next(e for e in GA_SERVER_EXAMPLES if e["type"] == "conversation.item.deleted")
    assert event["event_id"] == "event_2728"
    assert errors(SERVER, event)
    assert not errors(SERVER, _normalize_placeholder_ids(event))


# --------------------------------------------------------------------------------------------- live verdicts (client)

EID = "event_" + "A" * 21
RESP = "resp_" + "B" * 21
CONV = "conv_" + "C" * 21
SESS = "sess_" + "D" * 21


OK = None  # verdict: valid; otherwise a fragment that must appear among the (flattened) validation errors
NO_SCHEMA = "no schema for this type"


def check_verdict(v: Draft202012Validator, event: dict[str, Any], verdict: str | None, file: str | None) -> None:
    if verdict is OK:
        assert not errors(v, event), errors(v, event)
        return
    assert errors(v, event)
    if verdict == NO_SCHEMA:
        assert file not in SCHEMAS
        return
    found = leaf_errors(validator(file), event)
    assert any(verdict in msg for msg in found), (verdict, found)


@pytest.mark.parametrize(
    ("role", "part", "verdict"),
    [
        ("user", {"type": "input_text", "text": "hi"}, OK),
        ("user", {"type": "input_audio", "audio": "AAAA"}, OK),
        ("user", {"type": "input_audio", "audio": "AAAA", "transcript": None}, OK),
        ("user", {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}, OK),
        ("user", {"type": "text", "text": "hi"}, "item/content/0/type: 'input_text' was expected"),
        ("user", {"type": "output_text", "text": "hi"}, "item/content/0/type: 'input_text' was expected"),
        ("assistant", {"type": "output_text", "text": "hi"}, OK),
        ("assistant", {"type": "input_text", "text": "hi"}, "item/content/0/type: 'input_text' is not one of ['output_text']"),
        ("assistant", {"type": "text", "text": "hi"}, "item/content/0/type: 'text' is not one of ['output_text']"),
        # live: Missing required parameter: 'item.content[0].text'.
        ("assistant", {"type": "output_audio", "transcript": "hi", "audio": None}, "item/content/0: 'text' is a required property"),
        ("system", {"type": "input_text", "text": "be brief"}, OK),
        ("system", {"type": "text", "text": "be brief"}, "item/content/0/type: 'text' is not one of ['input_text']"),
        ("system", {"type": "output_text", "text": "be brief"}, "item/content/0/type: 'output_text' is not one of ['input_text']"),
        ("user", {"type": "input_text", "text": "hi", "extra": 1}, "('extra' was unexpected)"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else (v.get("type") if isinstance(v, dict) else "rejected"),
)
def test_content_part_per_role(role: str, part: dict[str, Any], verdict: str | None) -> None:
    check_verdict(CLIENT, item_create(message(role, part)), verdict, "client/conversation.item.create.json")


@pytest.mark.parametrize(
    ("event", "verdict"),
    [
        ({"type": "session.update", "session": {"type": "realtime"}}, OK),
        ({"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"}, "turn_detection": None}}}}, OK),
        ({"type": "session.update", "session": {"instructions": "x"}}, "session: 'type' is a required property"),  # session.type is required
        ({"type": "session.update", "session": {"type": "realtime", "bogus_field": 1}}, "('bogus_field' was unexpected)"),
        ({"type": "session.update", "session": {"type": "realtime", "turn_detection": None}}, "('turn_detection' was unexpected)"),  # beta field
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": 16000}}}}}, "rate: 16000 is less than the minimum of 24000"),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcmu"}, "noise_reduction": {"type": "far_field"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"}}, "output": {
            "format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.5}}}}, OK),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": {"id": "voice_1"}}}}}, OK),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"speed": 2}}}}, "speed: 2 is greater than the maximum of 1.5"),
        ({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["audio", "text"]}}, "output_modalities: ['audio', 'text'] is too long"),
        ({"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 4097}}, "max_output_tokens: 4097 is greater than the maximum of 4096"),
        ({"type": "session.update", "session": {"type": "realtime", "tracing": "auto", "truncation": {
            "type": "retention_ratio", "retention_ratio": 0.5, "token_limits": {"post_instructions": 1000}},
            "tool_choice": {"type": "function", "name": "f"}, "prompt": {"id": "pmpt_1", "variables": {"a": "b"}},
            "reasoning": {"effort": "low"}, "parallel_tool_calls": False, "include": [
                "item.input_audio_transcription.logprobs"]}}, OK),
        ({"type": "session.update", "session": {"type": "realtime", "tools": [{"type": "mcp", "server_label": "d",
            "server_url": "https://example.invalid/mcp", "require_approval": "never", "allowed_tools": ["a"]}]}}, OK),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {
            "type": "server_vad", "idle_timeout_ms": 1000}}}}}, "idle_timeout_ms: 1000 is less than the minimum of 5000"),
        ({"type": "conversation.item.create", "item": {"type": "function_call_output", "output": "{}"}}, "item: 'call_id' is a required property"),
        ({"type": "conversation.item.create", "previous_item_id": None, "item": {
            "type": "function_call_output", "call_id": "call_1", "output": "{}", "object": "realtime.item"}}, OK),
        ({"type": "conversation.item.create", "item": {"type": "function_call", "name": "f", "arguments": "{}"}}, OK),
        ({"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": -1}, "audio_end_ms: -1 is less than the minimum of 0"),
        ({"type": "input_audio_buffer.append", "audio": "AAAA", "event_id": "x" * 513}, "is too long"),
        ({"type": "session.input_audio_buffer.append", "audio": "AAAA"}, OK),
        ({"type": "session.close", "event_id": "c1"}, OK),
        ({"type": "response.create", "response": {}}, OK),
        ({"type": "response.create", "response": {"metadata": {str(i): "v" for i in range(17)}}}, "has too many properties"),
        ({"type": "response.create", "response": {"metadata": None, "max_output_tokens": "inf",
            "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}}}}, OK),
        ({"type": "response.create", "response": {"modalities": ["text"]}}, "('modalities' was unexpected)"),  # beta field
        ({"type": "response.cancel"}, OK),
        ({"type": "ping"}, NO_SCHEMA),
        ({"type": "output_audio_buffer.clear"}, NO_SCHEMA),
    ],
    ids=lambda v: f"{v['type']}" if isinstance(v, dict) else ("ok" if v is None else "rejected"),
)
def test_client_event_verdicts(event: dict[str, Any], verdict: str | None) -> None:
    check_verdict(CLIENT, event, verdict, f"client/{event['type']}.json")


# --------------------------------------------------------------------------------------------- fake-side server shapes

USAGE = WIRE["ga.response.done.text.usage"]["frame"]


def response(status: str, details: Any, output: list[Any], usage: Any = None) -> dict[str, Any]:
    return {"object": "realtime.response", "id": RESP, "status": status, "status_details": details, "output": output,
            "conversation_id": CONV, "output_modalities": ["text"], "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
            "usage": usage, "metadata": None}


FUNCTION_CALL = {"id": "item_" + "F" * 21, "type": "function_call", "status": "completed", "name": "get_weather",
                 "call_id": "call_Xz0z4X8aSYDdkTf2", "arguments": "{}"}


@pytest.mark.parametrize(
    ("event", "verdict"),
    [
        ({"type": "response.done", "event_id": EID, "response": response(
            "cancelled", {"type": "cancelled", "reason": "client_cancelled"}, [], USAGE)}, OK),
        ({"type": "response.done", "event_id": EID, "response": response(
            "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}, [], USAGE)}, OK),
        ({"type": "response.done", "event_id": EID, "response": response(
            "failed", WIRE["ga.status_details.failed.server_error"]["frame"], [], USAGE)}, OK),
        ({"type": "response.done", "event_id": EID, "response": response("completed", None, [FUNCTION_CALL], USAGE)}, OK),
        ({"type": "response.done", "event_id": EID, "response": response(
            "completed", None, [{**FUNCTION_CALL, "object": "realtime.item"}], USAGE)}, "('object' was unexpected)"),
        ({"type": "response.created", "event_id": EID, "response": {
            **response("in_progress", None, []), "conversation_id": None, "metadata": {"purpose": "oob"}}}, OK),
        ({"type": "conversation.item.added", "event_id": EID, "previous_item_id": None, "item": {
            "id": "msg_001", "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_text", "text": "hi"}]}}, OK),
        ({"type": "conversation.item.retrieved", "event_id": EID, "item": {
            "id": "item_1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "hi", "audio": "AAAA"}]}}, OK),
        ({"type": "conversation.item.retrieved", "event_id": EID, "item": {
            "id": "item_1", "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None, "audio": "AAAA"}]}}, OK),
        ({"type": "conversation.item.done", "event_id": EID, "previous_item_id": "item_0", "item": {
            "id": "item_1", "type": "function_call_output", "status": "completed", "call_id": "c", "output": "{}"}}, OK),
        ({"type": "response.content_part.added", "event_id": EID, "response_id": RESP, "item_id": "item_1",
          "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": ""}}, "part/type: 'audio' was expected"),
        ({"type": "response.output_audio_transcript.delta", "event_id": EID, "response_id": RESP, "item_id": "i",
          "output_index": 0, "content_index": 0, "delta": "The"}, "'obfuscation' is a required property"),  # obfuscation is always sent
        ({"type": "error", "event_id": EID, "error": {"type": "invalid_request_error", "code": None,
                                                       "message": "x", "param": None}}, "error: 'event_id' is a required property"),
        ({"type": "session.updated", "event_id": EID, "session": {
            "type": "transcription", "object": "realtime.transcription_session", "id": SESS, "expires_at": 1,
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                "transcription": {"model": "gpt-4o-transcribe", "language": None, "prompt": None},
                                "noise_reduction": None, "turn_detection": None}}, "include": None}}, OK),
        ({"type": "session.updated", "event_id": EID, "session": {
            **WIRE["ga.session.created"]["frame"]["session"],
            "audio": {**WIRE["ga.session.created"]["frame"]["session"]["audio"], "input": {
                **WIRE["ga.session.created"]["frame"]["session"]["audio"]["input"],
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto", "create_response": True,
                                   "interrupt_response": True}}}}}, OK),
        ({"type": "conversation.item.created", "event_id": EID, "previous_item_id": None, "item": {
            "id": "msg_001", "type": "message", "status": "completed", "role": "user", "content": []}}, NO_SCHEMA),
    ],
    ids=lambda v: f"{v['type']}" if isinstance(v, dict) else ("ok" if v is None else "rejected"),
)
def test_server_event_verdicts(event: dict[str, Any], verdict: str | None) -> None:
    check_verdict(SERVER, event, verdict, f"server/{event['type']}.json")


def test_session_object_key_order_matches_capture() -> None:
    live = list(WIRE["ga.session.created"]["frame"]["session"])
    schema = SCHEMAS["common.json"]["$defs"]["RealtimeSession"]
    assert list(schema["properties"])[: len(live)] == live
    assert schema["required"] == live
    td = WIRE["ga.session.created"]["frame"]["session"]["audio"]["input"]["turn_detection"]
    assert list(SCHEMAS["common.json"]["$defs"]["ServerServerVad"]["properties"]) == list(td)
    tlive = list(WIRE["ga.transcription.session.created"]["frame"]["session"])
    assert list(SCHEMAS["common.json"]["$defs"]["TranscriptionSession"]["properties"]) == tlive


def test_response_and_usage_key_order_matches_capture() -> None:
    resp = WIRE["ga.response.done.audio"]["frame"]["response"]
    defs = SCHEMAS["common.json"]["$defs"]
    assert list(defs["Response"]["properties"]) == list(resp)
    assert list(defs["Usage"]["properties"]) == list(resp["usage"])
    assert list(defs["Usage"]["properties"]["input_token_details"]["properties"]) == list(resp["usage"]["input_token_details"])
    assert list(defs["ServerAssistantMessageItem"]["properties"]) == list(resp["output"][0])

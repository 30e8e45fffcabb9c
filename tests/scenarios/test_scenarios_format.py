"""The scenario file format: loading, the checks with their messages, matchers, placeholders, the library."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from fake_server import speech
from fake_server.scenarios.format import (
    ClientLine,
    Generalizer,
    ScenarioError,
    ServerLine,
    dump_scenario,
    fill_placeholders,
    load_scenario,
    load_scenarios,
    match_value,
    parse_scenario,
)

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "scenarios"
ERRORS = json.loads((REPO.parent / "shared" / "protocol" / "errors.json").read_text()) if (
    REPO.parent / "shared" / "protocol" / "errors.json").exists() else None

HEADER = {"scenario": 1, "name": "t", "description": "d", "dialect": "ga", "model": "gpt-realtime",
          "source": "hand-written", "recorded_at": None}


def text_of(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def parse(*rows: object) -> object:
    return parse_scenario(text_of(HEADER, *rows), source="x.jsonl")


def test_a_minimal_scenario_loads_with_its_lines_in_order() -> None:
    scenario = parse(
        {"dir": "server", "t": 0.0, "event": {"type": "session.created", "session": {"id": {"$id": "sess",
                                                                                         "bind": "s"}}}},
        {"dir": "client", "t": 0.1, "event": {"type": "response.create"}},
        {"dir": "server", "event": {"type": "response.output_text.delta", "delta": {"$text": True}},
         "optional": True},
        {"dir": "server", "event": {"type": "conversation.item.input_audio_transcription.completed"},
         "order": "any"},
    )
    assert [type(line) for line in scenario.lines] == [ServerLine, ClientLine, ServerLine, ServerLine]
    assert [line.number for line in scenario.lines] == [2, 3, 4, 5]
    assert scenario.lines[2].stream and scenario.lines[2].optional and scenario.lines[2].t == 0.1
    assert scenario.lines[3].order == "any"
    assert [c.name for c in scenario.connections] == ["main"]
    assert scenario.connections[0].model == "gpt-realtime"


@pytest.mark.parametrize(("rows", "message"), [
    ([], None),
    (["not json"], r"x\.jsonl:2: not JSON"),
    ([{"dir": "sideways", "event": {"type": "a"}}], r"x\.jsonl:2: 'dir' must be"),
    ([{"dir": "client"}], r":2: a line has exactly one of 'event' and 'close'"),
    ([{"dir": "client", "event": {"type": "a"}, "close": {"code": 1000}}], r"exactly one of"),
    ([{"dir": "client", "event": {"no": "type"}}], r"'event' must be an object with a string 'type'"),
    ([{"dir": "client", "event": {"type": "a"}, "extra": 1}], r"unknown keys \['extra'\]"),
    ([{"dir": "client", "conn": "observer", "event": {"type": "a"}}], r"connection 'observer' is not declared"),
    ([{"dir": "server", "event": {"type": "a", "x": {"$nope": 1}}}], r":2: unknown matcher '\$nope' at event\.x"),
    ([{"dir": "server", "event": {"type": "a", "x": {"$id": "thing"}}}], r"\$id at event\.x must be one of"),
    ([{"dir": "server", "event": {"type": "a", "x": {"$ref": "later"}}}],
     r"\$ref at event\.x uses 'later', which no earlier server line binds"),
    ([{"dir": "client", "event": {"type": "a", "item_id": {"$ref": "item_1"}}}], r"uses 'item_1'"),
    ([{"dir": "server", "event": {"type": "a", "m": {"$format": "id {x}"}}}], r"\$format at event\.m uses 'x'"),
    ([{"dir": "server", "event": {"type": "a", "x": {"$match": "("}}}], r"not a regular expression"),
    ([{"dir": "server", "event": {"type": "a", "x": {"$type": "float"}}}], r"\$type at event\.x must name"),
    ([{"dir": "client", "event": {"type": "a", "audio": {"$text": True}}}], r"unknown placeholder '\$text'"),
    ([{"dir": "client", "event": {"type": "a", "audio": {"$silence": -1}}}], r"\$silence .* milliseconds"),
    ([{"dir": "client", "event": {"type": "a", "audio": {"$speech": {"words": "x"}}}}], r"\$speech at"),
    ([{"dir": "client", "event": {"type": "a"}, "wait": "later"}], r"'wait' must be"),
    ([{"dir": "client", "event": {"type": "a"}, "order": "any"}], r"'order' and 'optional' are for server"),
    ([{"dir": "server", "event": {"type": "a"}, "wait": "none"}], r"'wait' is for client lines"),
    ([{"dir": "server", "event": {"type": "a"}, "optional": True}], r"only streamed .* can be optional"),
    ([{"dir": "server", "event": {"type": "a.delta"}, "order": "any"}], r"unordered already"),
    ([{"dir": "server", "t": -1, "event": {"type": "a"}}], r"'t' must be"),
    ([{"dir": "server", "close": {"code": "x"}}], r"'close' must be an object"),
])
def test_malformed_lines_are_refused_with_the_file_and_line(rows: list[object], message: str | None) -> None:
    if message is None:  # a header alone is a valid (empty) scenario
        assert parse(*rows).lines == ()
        return
    text = "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in [json.dumps(HEADER), *rows])
    with pytest.raises(ScenarioError, match=message) as info:
        parse_scenario(text, source="x.jsonl")
    assert info.value.line == 2


@pytest.mark.parametrize(("header", "message"), [
    ({"name": "x"}, r"x\.jsonl:1: the first line must be the header"),
    ({**HEADER, "scenario": 2}, r"unsupported format version 2"),
    ({**HEADER, "dialect": "v2"}, r"'dialect' must be one of \['ga', 'beta'\]"),
    ({**HEADER, "connections": {"main": {"dialect": "v2"}}}, r"connection 'main': 'dialect' must be one of"),
    ({**HEADER, "connections": {"main": {"subprotocols": "realtime"}}}, r"'subprotocols' is a list of strings"),
    ({**HEADER, "connections": {"main": {"subprotocols": ["openai-insecure-api-key.sk-x"]}}},
     r"a key subprotocol \(openai-insecure-api-key\.<key>\) has no place in a file"),
    ({**HEADER, "name": ""}, r"header needs 'name'"),
    ({**HEADER, "colour": "red"}, r"unknown header keys \['colour'\]"),
    ({**HEADER, "connections": {}}, r"'connections' must be an object naming at least one"),
    ({**HEADER, "connections": {"main": {"model": 3}}}, r"connection 'main'"),
    ({**HEADER, "timeout": 0}, r"'timeout' must be a positive number"),
])
def test_malformed_headers_are_refused(header: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text_of(header), source="x.jsonl")


# --- the schema path: schemas/scenario.json and the one reporter of the file formats ---------------

SCHEMA = json.loads((REPO / "schemas" / "scenario.json").read_text())


def test_the_scenario_schema_is_valid_and_agrees_with_the_reader() -> None:
    from jsonschema import Draft202012Validator

    from fake_server.protocol.schema import TYPE_NAMES
    from fake_server.scenarios import format as fmt

    Draft202012Validator.check_schema(SCHEMA)
    defs = SCHEMA["$defs"]
    assert tuple(defs["matcher"]["dependentSchemas"]) == fmt.MATCHERS
    assert defs["matcher"]["propertyNames"]["enum"] == [*fmt.MATCHERS, "bind"]
    assert tuple(defs["placeholder"]["dependentSchemas"]) == fmt.PLACEHOLDERS
    assert defs["placeholder"]["propertyNames"]["enum"] == list(fmt.PLACEHOLDERS)
    assert defs["id_matcher"]["properties"]["$id"]["enum"] == list(fmt.ID_PATTERNS)
    assert set(defs["json_type"]["enum"]) == set(TYPE_NAMES)
    header = defs["header"]["allOf"][0]["properties"]
    assert header["scenario"]["const"] == fmt.FORMAT_VERSION
    connection = defs["connection"]["properties"]
    assert tuple(header["dialect"]["enum"]) == fmt.DIALECTS == tuple(connection["dialect"]["enum"])


def test_every_line_of_the_library_fits_the_schema_on_its_own() -> None:
    """Editors and other tools can check a scenario with the schema alone: the header against ``$defs/header``,
    every other line against ``$defs/line``, and any line against the schema itself."""
    from fake_server.protocol.formats import format_validator

    whole, header, line = (format_validator("scenario.json", pointer) for pointer in ("", "/$defs/header",
                                                                                       "/$defs/line"))
    for path in LIBRARY_FILES:
        first, *rest = [json.loads(raw) for raw in path.read_text().splitlines() if raw.strip()]
        assert header.is_valid(first) and whole.is_valid(first), path
        for row in rest:
            assert line.is_valid(row) and whole.is_valid(row), (path, row)


@pytest.mark.parametrize(("row", "message"), [
    ({"dir": "server", "event": {"type": "a", "x": {"$id": "item", "extra": 1}}},
     "matcher $id at event.x has unexpected keys ['extra']"),
    ({"dir": "server", "event": {"type": "a", "x": {"$id": "item", "bind": "9lives"}}},
     "bind at event.x must be a name (letters, digits, _)"),
    ({"dir": "server", "event": {"type": "a", "x": {"$text": 2}}}, "$text at event.x takes true or \"nonempty\""),
    ({"dir": "server", "event": {"type": "a", "x": {"$audio": {"bites": 2}}}},
     "$audio at event.x takes true or a summary {\"bytes\", \"sha256\"}"),
    ({"dir": "server", "event": {"type": "a", "x": {"$partial": 2}}}, "$partial at event.x takes an object"),
    ({"dir": "server", "event": {"type": "a", "x": {"$partial": {"y": {"$nope": 1}}}}},
     "unknown matcher '$nope' at event.x.y (known: $any, $type, $id, $text, $audio, $match, $ref, $format, "
     "$partial)"),
    ({"dir": "server", "event": {"type": "a", "x": {"$type": ["string", "float"]}}},
     "$type at event.x must name JSON types (string, integer, number, boolean, null, object, array)"),
    ({"dir": "server", "event": {"type": "a", "x": [{"$match": "("}]}},
     "$match at event.x[0] is not a regular expression: '('"),
    ({"dir": "server", "event": {"type": "a", "x": {"$ref": 3}}}, "$ref at event.x takes a string"),
    ({"dir": "client", "event": {"type": "a", "audio": {"$silence": float("nan")}}},
     "$silence at event.audio takes milliseconds (a number >= 0)"),
    ({"dir": "client", "event": {"type": "a", "audio": {"$silence": 5, "x": 1}}},
     "$silence at event.audio has unexpected keys ['x']"),
    ({"dir": "client", "event": {"type": "a", "audio": {"$speech": {"text": 3}}}},
     "event.audio.$speech.text: expected a string, got 3"),
    ({"dir": "client", "event": {"type": "a", "audio": {"$id": "item"}}},
     "unknown placeholder '$id' at event.audio in a client event (known: $ref, $format, $speech, $silence)"),
    ({"dir": "client", "conn": 3, "event": {"type": "a"}},
     "conn: expected the name of a connection of the header, got 3"),
    ({"dir": "client", "event": {"type": "a"}, "wait": {"type": "b", "conn": "other"}},
     "'wait' names connection 'other', which is not declared"),
    ({"dir": "client", "event": {"type": "a"}, "wait": {"type": "b", "x": {"$nope": 1}}},
     "unknown matcher '$nope' at wait.x (known: $any, $type, $id, $text, $audio, $match, $ref, $format, $partial)"),
    ({"dir": "server", "event": {"type": 3}}, "'event' must be an object with a string 'type'"),
    ({"dir": "server", "event": {"type": "a"}, "order": "sometimes"}, "'order' must be \"strict\" or \"any\""),
    ({"dir": "server", "event": {"type": "a"}, "order": "any", "optional": 1}, "'optional' must be true or false"),
    ({"dir": "server", "close": {"code": 1000, "why": "x"}},
     "'close' must be an object with an integer 'code' and an optional string 'reason'"),
    ([1, 2], "each line after the header must be an object"),
])
def test_more_mistakes_in_lines_name_the_line_and_the_place(row: object, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse(row)
    assert str(info.value) == f"x.jsonl:2: {message}"
    assert info.value.line == 2


@pytest.mark.parametrize(("header", "message"), [
    ({k: v for k, v in HEADER.items() if k != "dialect"}, "header needs 'dialect' (\"ga\" or \"beta\")"),
    ({**HEADER, "recorded_at": 5}, "header 'recorded_at' must be a string (ISO 8601) or null"),
    ({**HEADER, "divergence": 5}, "header 'divergence' must be a string (why the fake differs) or absent"),
    ({**HEADER, "connections": {"main": 3}},
     "connection 'main' takes an object with ['dialect', 'model', 'query', 'subprotocols']"),
    ({**HEADER, "connections": {"main": {}, "obs": {"query": {"intent": 1}}}},
     "connection 'obs': 'model' is a string or null, 'query' maps names to strings"),
    ({**HEADER, "connections": {"main": {"subprotocols": [""]}}},
     "connection 'main': 'subprotocols' is a list of strings"),
    ({**HEADER, "timeout": True}, "header 'timeout' must be a positive number of seconds"),
    ([HEADER], "the first line must be the header object, starting with \"scenario\": 1"),
])
def test_more_mistakes_in_headers_name_the_first_line(header: object, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_of(header), source="x.jsonl")
    assert str(info.value) == f"x.jsonl:1: {message}" and info.value.line == 1


def test_a_close_code_written_as_a_whole_float_is_read_as_an_integer() -> None:
    [line] = parse({"dir": "client", "close": {"code": 1000.0, "reason": "bye"}}).lines
    assert line.close == {"code": 1000, "reason": "bye"} and type(line.close["code"]) is int


def test_the_reporter_words_a_problem_where_it_is_or_by_the_schemas_own_message() -> None:
    from fake_server.protocol.formats import find_problem, format_validator, shown

    faults = format_validator("script.json", "/$defs/faults")
    assert find_problem(faults, {"drop": 0.5}, root=("faults",), label="faults") is None
    assert find_problem(faults, {"drop": 2}, root=("faults",), label="faults") == \
        "faults.drop: expected a chance from 0 to 1, got 2"
    assert find_problem(faults, [], root=("faults",), label="faults") == "faults: expected an object of fault " \
                                                                          "settings, got []"
    line = format_validator("scenario.json", "/$defs/line")
    assert find_problem(line, {"dir": "client", "event": {"type": "a"}, "t": -1}) == \
        "'t' must be the seconds since the scenario started (a number >= 0)"
    matcher = format_validator("scenario.json", "/$defs/matcher")
    assert find_problem(matcher, {"$id": "itme"}, root=["event", "item", "id"]) == \
        "$id at event.item.id must be one of ['event', 'sess', 'conv', 'resp', 'item', 'call'], not 'itme'"
    assert shown("x" * 100) == json.dumps("x" * 56)[:57] + "..." and shown({"a": "b" * 80}) == "an object"


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="empty file"):
        parse_scenario("\n\n", source="e.jsonl")
    with pytest.raises(ScenarioError, match=r"missing\.jsonl: cannot read"):
        load_scenario(tmp_path / "missing.jsonl")


def test_dump_then_parse_gives_the_same_scenario() -> None:
    scenario = parse_scenario(text_of(
        {**HEADER, "connections": {"main": {}, "observer": {"model": "gpt-realtime-mini", "query": {"a": "b"}}},
         "divergence": "why", "timeout": 3},
        {"dir": "server", "t": 0.5, "event": {"type": "x", "id": {"$id": "item", "bind": "i"}}},
        {"dir": "client", "conn": "observer", "t": 0.6, "wait": {"type": "x", "conn": "main"},
         "event": {"type": "y", "id": {"$ref": "i"}}},
        {"dir": "server", "conn": "observer", "order": "any", "optional": True, "event": {"type": "z"}},
        {"dir": "client", "close": {"code": 1000}},
    ))
    again = parse_scenario(dump_scenario(scenario))
    assert again.lines == scenario.lines
    assert again.connections == scenario.connections
    assert (again.divergence, again.timeout) == ("why", 3)


# --- matchers --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expected", "good", "bad", "matcher"), [
    ({"$any": True}, None, "never bad", None),
    ({"$type": "integer"}, 3, 3.5, "$type"),
    ({"$type": "number"}, 3, "3", "$type"),
    ({"$type": ["string", "null"]}, None, 1, "$type"),
    ({"$id": "item"}, "item_Ct1OhVepyDFpDovHrgmNp", "item_short", "$id"),
    ({"$id": "call"}, "call_Xz0z4X8aSYDdkTf2", "call_Ct1OhVepyDFpDovHrgmNp", "$id"),
    ({"$text": True}, "", 5, "$text"),
    ({"$text": "nonempty"}, "hi", "", "$text"),
    ({"$audio": True}, base64.b64encode(b"\0\1").decode(), "not base64!", "$audio (base64)"),
    ({"$match": r"Audio content of \d+ms"}, "Audio content of 40ms", "Audio content of ms", "$match"),
    ({"$partial": {"a": 1}}, {"a": 1, "b": 2}, {"a": 2}, "equal"),
    ({"a": 1}, {"a": 1}, {"a": 1, "b": 2}, "keys"),
    ([1, 2], [1, 2], [1], "length"),
    (1, 1.0, True, "equal"),
    (None, None, 0, "equal"),
])
def test_each_matcher_accepts_and_refuses(expected: object, good: object, bad: object, matcher: str | None) -> None:
    assert match_value(expected, good, {}) == []
    problems = match_value(expected, bad, {})
    if matcher is None:
        assert problems == []
    else:
        assert problems and problems[0].matcher == matcher, problems


def test_bind_then_ref_and_format_reuse_the_id_the_server_chose() -> None:
    bindings: dict[str, object] = {}
    assert match_value({"id": {"$id": "resp", "bind": "r"}}, {"id": "resp_Ct1OkhbgNQBuFX2HeE0P9"}, bindings) == []
    assert bindings == {"r": "resp_Ct1OkhbgNQBuFX2HeE0P9"}
    assert match_value({"$ref": "r"}, "resp_Ct1OkhbgNQBuFX2HeE0P9", bindings) == []
    [problem] = match_value({"$ref": "r"}, "resp_Other0000000000000000", bindings)
    assert problem.describe() == ('<event>: expected "r = resp_Ct1OkhbgNQBuFX2HeE0P9" ($ref), '
                                  'got "resp_Other0000000000000000"')
    message = "Conversation already has an active response in progress: resp_Ct1OkhbgNQBuFX2HeE0P9. Wait {x}"
    assert match_value({"$format": "Conversation already has an active response in progress: {r}. Wait {{x}}"},
                       message, bindings) == []
    [problem] = match_value({"$id": "resp", "bind": "r"}, "resp_Other0000000000000000", bindings)
    assert problem.matcher == "$id bind"


def test_differences_name_the_path_the_matcher_and_both_values() -> None:
    expected = {"type": "error", "error": {"code": "invalid_value", "message": "Invalid value: 'text'."}}
    got = {"type": "error", "error": {"code": "invalid_value", "message": "Invalid value: 'txt'.", "extra": 1}}
    problems = [p.describe() for p in match_value(expected, got, {})]
    assert problems == [
        "error.message: expected \"Invalid value: 'text'.\" (equal), got \"Invalid value: 'txt'.\"",
        "error.extra: expected <absent> (keys), got 1",
    ]


def test_placeholders_fill_client_events() -> None:
    event = {"type": "x", "item_id": {"$ref": "i"}, "note": {"$format": "about {i}"},
             "quiet": {"$silence": 100}, "said": {"$speech": {"text": "hi there", "before_ms": 50, "after_ms": 50}},
             "list": [{"$ref": "i"}]}
    filled = fill_placeholders(event, {"i": "item_abc"})
    assert filled["item_id"] == "item_abc" and filled["note"] == "about item_abc" and filled["list"] == ["item_abc"]
    assert base64.b64decode(filled["quiet"]) == speech.silence(100)
    assert speech.transcribe(base64.b64decode(filled["said"])) == "hi there"
    with pytest.raises(KeyError):
        fill_placeholders({"$ref": "unbound"}, {})


def test_the_generalizer_binds_server_ids_and_keeps_what_the_client_said() -> None:
    g = Generalizer(summarize_audio=True)
    client = g.client_event({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}})
    assert client["item"]["content"][0]["text"] == "hello"
    added = g.server_event({"type": "conversation.item.added", "event_id": "event_Ct1OVqJmiaDhg4nkh3JWr",
                            "item": {"id": "item_Ct1OhVepyDFpDovHrgmNp", "content": [
                                {"type": "input_text", "text": "hello"}]}})
    assert added["event_id"] == {"$id": "event"}
    assert added["item"]["id"] == {"$id": "item", "bind": "item_1"}
    assert added["item"]["content"][0]["text"] == "hello"  # the client's own text stays literal
    audio = g.server_event({"type": "response.output_audio.delta", "delta": base64.b64encode(b"abcd").decode(),
                            "item_id": "item_Ct1OhVepyDFpDovHrgmNp"})
    assert audio["delta"]["$audio"]["bytes"] == 4 and len(audio["delta"]["$audio"]["sha256"]) == 64
    assert audio["item_id"] == {"$ref": "item_1"}
    answer = g.server_event({"type": "response.output_text.done", "text": "You said: hello",
                             "usage": {"total_tokens": 5}, "obfuscation": "abc"})
    assert answer["text"] == {"$text": True} and answer["usage"] == {"total_tokens": {"$type": "integer"}}
    delete = g.client_event({"type": "conversation.item.delete", "item_id": "item_Ct1OhVepyDFpDovHrgmNp"})
    assert delete["item_id"] == {"$ref": "item_1"}
    error = g.server_event({"type": "error", "error": {
        "message": "Error deleting item: the item with id 'item_Ct1OhVepyDFpDovHrgmNp' does not exist. {}"}})
    assert error["error"]["message"] == {
        "$format": "Error deleting item: the item with id '{item_1}' does not exist. {{}}"}


# --- the library -------------------------------------------------------------------------------------

LIBRARY_FILES = sorted(LIBRARY.glob("*.jsonl"))


def test_the_library_covers_the_issue_list() -> None:
    names = {path.stem for path in LIBRARY_FILES}
    assert {
        "history_correct_types", "history_wrong_user_types", "history_wrong_assistant_types",
        "history_wrong_system_types", "audio_commit_then_delete", "reset_by_deleting_every_item",
        "observer_second_connection", "truncate", "out_of_band_response", "function_call_round_trip",
        "server_vad_turn", "cancel", "second_response_create", "session_reset_unknown_type",
    } <= names
    scenarios = load_scenarios([LIBRARY])
    assert [s.name for s in scenarios] == sorted(names)
    observer = load_scenario(LIBRARY / "observer_second_connection.jsonl")
    assert [c.name for c in observer.connections] == ["main", "observer"]  # as docs/scenarios.md names them
    assert "`main`, and `observer` with another model" in (REPO / "docs" / "scenarios.md").read_text()


def _catalogue_pattern(message: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_:.0-9]+\})", message)
    return re.compile("".join(".+" if re.fullmatch(r"\{[a-z_:.0-9]+\}", p) else re.escape(p) for p in parts))


def _error_lines() -> list[tuple[str, int, dict[str, object]]]:
    found = []
    for path in LIBRARY_FILES:
        for line in load_scenario(path).lines:
            if isinstance(line, ServerLine) and line.event is not None and line.event["type"] == "error":
                found.append((path.stem, line.number, line.event["error"]))
    return found


@pytest.mark.skipif(ERRORS is None, reason="the team's shared protocol notes are not next to the checkout")
def test_every_expected_error_in_the_library_has_the_catalogue_wording() -> None:
    assert ERRORS is not None
    catalogue: dict[object, list[re.Pattern[str]]] = {}
    for entry in ERRORS["errors"]:
        catalogue.setdefault(entry["code"], []).append(_catalogue_pattern(entry["message"]))
    # The GA content-type verdicts, the generic enum template and "does not exist" texts (FACTS §5.3, §8.2a).
    catalogue.setdefault("invalid_value", []).extend([
        re.compile(r"Invalid value: '[a-z_.]+'\. Supported values are: ('[a-z_.]+', )*('[a-z_.]+',? )?and '[a-z_.]+'\."),
        re.compile(r"Invalid value: '[a-z_]+'\. Value must be '[a-z_]+'\."),
        re.compile(r"Audio content of .+ms is already shorter than \d+ms"),
    ])
    lines = _error_lines()
    assert len(lines) >= 14
    for name, number, error in lines:
        message = error["message"]
        text = message if isinstance(message, str) else next(iter(message.values()))  # $format / $match source
        assert isinstance(text, str)
        patterns = catalogue.get(error["code"], [])
        assert any(p.fullmatch(text) or p.fullmatch(re.sub(r"\{\w+\}", "X", text)) for p in patterns), (
            f"{name}:{number}: {error['code']} {text!r} is not the catalogue wording")


def test_content_type_errors_in_the_library_are_the_live_verdicts() -> None:
    """FACTS §5.3, the live verdict table [obs]: message per role and wrong type, param item.content[0].type."""
    verdicts = {
        ("history_wrong_user_types", "text"): "Invalid value: 'text'. Supported values are: 'input_text' and "
                                              "'input_audio'.",
        ("history_wrong_user_types", "output_text"): "Invalid value: 'output_text'. Supported values are: "
                                                     "'input_text' and 'input_audio'.",
        ("history_wrong_assistant_types", "text"): "Invalid value: 'text'. Value must be 'output_text'.",
        ("history_wrong_assistant_types", "input_text"): "Invalid value: 'input_text'. Value must be 'output_text'.",
        ("history_wrong_system_types", "text"): "Invalid value: 'text'. Value must be 'input_text'.",
        ("history_wrong_system_types", "output_text"): "Invalid value: 'output_text'. Value must be 'input_text'.",
    }
    seen = {}
    for name in {n for n, _ in verdicts}:
        scenario = load_scenario(LIBRARY / f"{name}.jsonl")
        sent = {}
        for line in scenario.lines:
            if isinstance(line, ClientLine) and line.event and line.event["type"] == "conversation.item.create":
                sent[line.event["event_id"]] = line.event["item"]["content"][0]["type"]
            if isinstance(line, ServerLine) and line.event and line.event["type"] == "error" and \
                    line.event["error"]["code"] == "invalid_value":
                error = line.event["error"]
                assert error["param"] == "item.content[0].type" and error["type"] == "invalid_request_error"
                seen[(name, sent[error["event_id"]])] = error["message"]
    assert seen == verdicts

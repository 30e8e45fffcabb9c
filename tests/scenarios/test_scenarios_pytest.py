"""Scenarios in pytest: collected scenario files, the realtime_scenario marker, realtime_cassette record modes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from _pytester import copy_scenarios, run_pytest, start_project
from _serve_process import child_env

CANARY = "sk-canary-cassette-5e4d3c2b1a0f9e8d7c6b"


def project(pytester: pytest.Pytester, *names: str, ini: str = "") -> Path:
    return copy_scenarios(start_project(pytester, ini) / "scen", *names)


def test_scenario_files_in_the_configured_directories_are_collected_as_tests(pytester: pytest.Pytester) -> None:
    directory = project(pytester, "truncate", "session_reset_unknown_type", ini="realtime_scenarios = scen\n")
    broken = (directory / "session_reset_unknown_type.jsonl").read_text().replace(
        "'session.reset'", "'session.restart'")
    (directory / "broken.jsonl").write_text(broken.replace('"name": "session_reset_unknown_type"',
                                                           '"name": "broken_on_purpose"'))
    other = pytester.mkdir("data")
    (other / "not_a_scenario.jsonl").write_text('{"anything": 1}\n')  # outside the configured directories
    result = run_pytest(pytester, "-v", "--realtime-timeout=2")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "scen/broken.jsonl::broken_on_purpose FAILED*",
        "scen/session_reset_unknown_type.jsonl::session_reset_unknown_type PASSED*",
        "scen/truncate.jsonl::truncate PASSED*",
    ])
    result.stdout.fnmatch_lines(["FAIL broken_on_purpose *", (
        "*error.message: expected \"Invalid value: 'session.restart'. Supported values are: *(equal), "
        "got \"Invalid value: 'session.reset'.*")])


def test_a_malformed_scenario_file_is_a_collection_error_naming_the_line(pytester: pytest.Pytester) -> None:
    directory = project(pytester, ini="realtime_scenarios = scen\n")
    (directory / "bad.jsonl").write_text(json.dumps({"scenario": 1, "name": "x", "description": "d",
                                                     "dialect": "ga", "model": "m", "source": "s"}) +
                                         '\n{"dir": "client"}\n')
    result = run_pytest(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.jsonl:2: a line has exactly one of 'event' and 'close'*"])


def test_the_marker_replays_a_named_scenario_and_the_test_inspects_the_server(pytester: pytest.Pytester) -> None:
    project(pytester, "audio_commit_then_delete", ini="realtime_scenarios = scen\n")
    pytester.makepyfile(test_named="""
        import pytest

        @pytest.mark.realtime_scenario("audio_commit_then_delete")
        def test_by_name(realtime_scenario, realtime_server):
            assert realtime_scenario.passed
            [conn] = realtime_server.connections
            assert conn.conversation() == []  # the committed audio item was deleted
            assert [e.code for e in conn.errors()] == ["item_retrieve_invalid_item_id"]

        @pytest.mark.realtime_scenario("scen/audio_commit_then_delete.jsonl")
        def test_by_path(realtime_scenario):
            assert realtime_scenario.sent == 6

        @pytest.mark.realtime_scenario("no_such_scenario")
        def test_unknown(realtime_scenario):
            pass
    """)
    result = run_pytest(pytester, "test_named.py")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*no scenario 'no_such_scenario'*"])


def test_a_known_divergence_is_an_expected_failure(pytester: pytest.Pytester) -> None:
    directory = project(pytester, "session_reset_unknown_type", ini="realtime_scenarios = scen\n")
    path = directory / "session_reset_unknown_type.jsonl"
    rows = path.read_text().splitlines()
    header = json.loads(rows[0])
    header["divergence"] = "pretend the live text differs"
    path.write_text("\n".join([json.dumps(header), *rows[1:]]).replace("'session.reset'", "'x'") + "\n")
    result = run_pytest(pytester, "-rx", "--realtime-timeout=2")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*known divergence of the fake: pretend the live text differs*"])


CLIENT_TEST = f"""
import json
import os
from websockets.sync.client import connect

def talk(url, key, texts):
    with connect(url + "?model=gpt-realtime", additional_headers={{"Authorization": "Bearer " + key}}) as ws:
        assert json.loads(ws.recv())["type"] == "session.created"
        for text in texts:
            ws.send(json.dumps({{"type": "conversation.item.create", "item": {{"type": "message", "role": "user",
                                 "content": [{{"type": "input_text", "text": text}}]}}}}))
            ws.recv(); done = json.loads(ws.recv())
            if os.environ.get("CLIENT_DELETES"):  # by the id the server chose: the recording binds it
                ws.send(json.dumps({{"type": "conversation.item.delete", "item_id": done["item"]["id"]}}))
                assert json.loads(ws.recv())["type"] == "conversation.item.deleted"
        ws.send(json.dumps({{"type": "conversation.item.delete", "item_id": "nope", "event_id": "d1"}}))
        assert json.loads(ws.recv())["error"]["code"] == "item_delete_invalid_item_id"

def test_client(realtime_cassette):
    texts = os.environ.get("CLIENT_TEXTS", "hello").split(",")
    for group in texts:
        talk(realtime_cassette.url, "{CANARY}", group.split("+"))
"""


def run_mode(pytester: pytest.Pytester, mode: str, texts: str, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("CLIENT_TEXTS", texts)
    return run_pytest(pytester, f"--realtime-record-mode={mode}")


def test_record_modes_none_once_new_episodes_all(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester)
    pytester.makepyfile(test_client=CLIENT_TEST)
    cassette = pytester.path / "cassettes" / "test_client.jsonl"

    # none (the default): no file yet -> the test fails and says how to make one
    result = run_mode(pytester, "none", "hello", monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no recording at *test_client.jsonl: run with --realtime-record-mode=once*"])

    # once: records because the file is missing
    run_mode(pytester, "once", "hello", monkeypatch).assert_outcomes(passed=1)
    first = cassette.read_text()
    assert CANARY not in first and CANARY[8:-4] not in first
    assert len(json.loads(first.splitlines()[0])["connections"]) == 1

    # none again: the same client conversation is checked against the file and passes
    run_mode(pytester, "none", "hello", monkeypatch).assert_outcomes(passed=1)
    # ... and a client that now says something else fails with the diff of what it sent
    result = run_mode(pytester, "none", "goodbye", monkeypatch)
    result.assert_outcomes(passed=1, errors=1)  # the test body passed; the check at teardown did not
    result.stdout.fnmatch_lines(["*the conversation differs from the recording*",
                                 "*conversation.item.create differs (the client sent something else)*",
                                 "*item.content[[]0[]].text: expected \"hello\" (equal), got \"goodbye\"*"])
    # once with the file there does not record: the file is unchanged
    run_mode(pytester, "once", "hello", monkeypatch).assert_outcomes(passed=1)
    assert cassette.read_text() == first

    # new_episodes: the known connection is kept as recorded, the new one is added
    run_mode(pytester, "new_episodes", "hello,goodbye", monkeypatch).assert_outcomes(passed=1)
    merged = cassette.read_text()
    old_header, new_header = json.loads(first.splitlines()[0]), json.loads(merged.splitlines()[0])
    assert {k: v for k, v in new_header.items() if k != "connections"} == {
        k: v for k, v in old_header.items() if k != "connections"}
    assert list(json.loads(merged.splitlines()[0])["connections"]) == ["main", "episode2"]
    assert merged.count('"text": "goodbye"') == 3 and merged.splitlines()[1:len(first.splitlines())] == \
        first.splitlines()[1:]

    # all: re-records from scratch
    run_mode(pytester, "all", "bonjour", monkeypatch).assert_outcomes(passed=1)
    fresh = cassette.read_text()
    assert "bonjour" in fresh and "hello" not in fresh
    assert list(json.loads(fresh.splitlines()[0])["connections"]) == ["main"]
    assert CANARY not in fresh


def test_new_episodes_knows_a_flow_whatever_names_its_ids_were_bound_under(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each client deletes the item it created by the id the server chose, so its client events refer to a
    # bound name, and that name depends on where in the run the flow was recorded.
    project(pytester)
    pytester.makepyfile(test_client=CLIENT_TEST)
    cassette = pytester.path / "cassettes" / "test_client.jsonl"
    monkeypatch.setenv("CLIENT_DELETES", "1")
    run_mode(pytester, "once", "hello,goodbye", monkeypatch).assert_outcomes(passed=1)
    recorded = cassette.read_text()
    run_mode(pytester, "new_episodes", "goodbye,hello", monkeypatch).assert_outcomes(passed=1)
    assert cassette.read_text() == recorded  # both flows are known: nothing is added
    run_mode(pytester, "none", "goodbye,hello", monkeypatch).assert_outcomes(passed=1)
    run_mode(pytester, "none", "hello,goodbye", monkeypatch).assert_outcomes(passed=1)


def test_new_episodes_then_none_replays_whatever_the_order_and_the_merged_file_replays(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from fake_server import FakeRealtimeServer

    project(pytester)
    pytester.makepyfile(test_client=CLIENT_TEST)
    cassette = pytester.path / "cassettes" / "test_client.jsonl"
    run_mode(pytester, "once", "hello", monkeypatch).assert_outcomes(passed=1)
    run_mode(pytester, "new_episodes", "goodbye,hello", monkeypatch).assert_outcomes(passed=1)
    merged = cassette.read_text()
    header = json.loads(merged.splitlines()[0])
    assert list(header["connections"]) == ["main", "episode2"]
    # the new episode's ids are bound under names of its own, not the first connection's sess_1, item_1
    # (recorded first, as sess_1 and item_1, it would clash with the first connection's)
    episode = "".join(line for line in merged.splitlines()[1:] if json.loads(line).get("conn") == "episode2")
    assert set(re.findall(r'"bind": "(\w+)"', episode)) == {"sess_2", "item_2"}
    assert set(re.findall(r'"\$ref": "(\w+)"', episode)) == {"item_2"}
    # the recorded conversations replay, in the order they were recorded and in another order (matched by
    # what the client sent, as VCR matches requests)
    run_mode(pytester, "none", "goodbye,hello", monkeypatch).assert_outcomes(passed=1)
    run_mode(pytester, "none", "hello,goodbye", monkeypatch).assert_outcomes(passed=1)
    run_mode(pytester, "none", "hello", monkeypatch).assert_outcomes(passed=1, errors=1)  # one never came
    # ... and so does the merged file through the replay command
    with FakeRealtimeServer() as server:
        done = subprocess.run([sys.executable, "-m", "fake_server.cli", "replay", str(cassette), "--url", server.url,
                               "--timeout", "5"], check=False, capture_output=True, text=True, timeout=60,
                              env=child_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "1 passed, 0 failed (0 of them known divergences)"

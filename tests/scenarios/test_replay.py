"""Replaying scenarios against the fake: passes, readable diffs, waits, the CLI with its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _serve_process import ServeProcess, child_env

from fake_server import FakeRealtimeServer
from fake_server.scenarios.replay import check_frames, compare_runs, divergence_report, replay
from fake_server.scenarios.format import load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "scenarios"

HEADER = {"scenario": 1, "name": "hand", "description": "d", "dialect": "ga", "model": "gpt-realtime",
          "source": "hand-written", "recorded_at": None, "timeout": 2}
CREATED = {"dir": "server", "event": {"type": "session.created", "event_id": {"$id": "event"},
                                      "session": {"$partial": {"id": {"$id": "sess", "bind": "sess"}}}}}


def scenario_of(*rows: object, header: dict[str, object] | None = None) -> object:
    return parse_scenario("".join(json.dumps(r) + "\n" for r in [header or HEADER, *rows]), source="hand.jsonl")


def user_item(text: str, **extra: object) -> dict[str, object]:
    return {"type": "conversation.item.create", **extra, "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


def edited(name: str, edit: object) -> object:
    """A library scenario with one server line changed by ``edit(row) -> row | None`` (None drops it)."""
    rows = [json.loads(line) for line in (LIBRARY / f"{name}.jsonl").read_text().splitlines()]
    out = [rows[0]] + [r for r in (edit(row) for row in rows[1:]) if r is not None]  # type: ignore[operator]
    out[0]["timeout"] = 2
    return parse_scenario("".join(json.dumps(r) + "\n" for r in out), source=f"{name} (edited)")


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.jsonl")), ids=lambda p: p.stem)
async def test_every_library_scenario_passes_against_the_fake_in_the_same_loop(path: Path) -> None:
    async with FakeRealtimeServer() as server:
        result = await replay(load_scenario(path), server.url)
        assert result.passed, result.report()
        assert result.sent > 0 and result.received
        assert server.connections, "the replay really talked to this server"


async def test_a_wrong_error_message_is_shown_expected_vs_got_with_the_matcher() -> None:
    def edit(row: dict) -> dict:
        error = (row.get("event") or {}).get("error")
        if error and error["event_id"] == "bad1":
            error["message"] = "Invalid value: 'text'. Value must be 'assistant_text'."
        return row

    async with FakeRealtimeServer() as server:
        result = await replay(edited("history_wrong_assistant_types", edit), server.url)
    assert not result.passed
    [problem] = result.problems
    assert problem.kind == "differs" and problem.line is not None and problem.line.number == 4
    assert problem.describe() == (
        "[main] line 4: error differs\n"
        "      error.message: expected \"Invalid value: 'text'. Value must be 'assistant_text'.\" (equal), "
        "got \"Invalid value: 'text'. Value must be 'output_text'.\"")
    report = result.report()
    assert report.startswith("FAIL history_wrong_assistant_types") and "1 problem(s)" in report


async def test_missing_and_unexpected_events_are_reported_and_the_replay_ends_in_time() -> None:
    def drop_rate_limits(row: dict) -> dict | None:
        return None if (row.get("event") or {}).get("type") == "rate_limits.updated" else row

    async with FakeRealtimeServer() as server:
        result = await replay(edited("out_of_band_response", drop_rate_limits), server.url, timeout=2)
    assert [p.kind for p in result.problems] == ["unexpected"]
    assert result.problems[0].describe().startswith("[main]: unexpected rate_limits.updated (after line 14): {")

    never = scenario_of(CREATED, {"dir": "client", "event": {"type": "input_audio_buffer.clear"}},
                        {"dir": "server", "event": {"type": "input_audio_buffer.cleared", "event_id": {"$id": "event"}}},
                        {"dir": "server", "event": {"type": "input_audio_buffer.committed"}},
                        {"dir": "client", "event": {"type": "response.create"}})
    async with FakeRealtimeServer() as server:
        result = await replay(never, server.url, timeout=0.5)
    kinds = [(p.kind, p.line.number if p.line else None) for p in result.problems]
    assert kinds == [("missing", 5), ("timeout", 6)], result.report()
    assert "gave up before sending response.create" in result.report()
    assert "missing input_audio_buffer.committed (never came)" in result.report()
    assert result.sent == 1


async def test_placeholders_bind_server_ids_for_later_client_events() -> None:
    scenario = scenario_of(
        CREATED,
        {"dir": "client", "event": user_item("hi")},
        {"dir": "server", "event": {"type": "conversation.item.added", "event_id": {"$id": "event"},
                                    "previous_item_id": None, "item": {"$partial": {"id": {"$id": "item",
                                                                                           "bind": "mine"}}}}},
        {"dir": "server", "event": {"type": "conversation.item.done", "event_id": {"$id": "event"},
                                    "previous_item_id": None, "item": {"$partial": {"id": {"$ref": "mine"}}}}},
        {"dir": "client", "event": {"type": "conversation.item.delete", "item_id": {"$ref": "mine"}}},
        {"dir": "server", "event": {"type": "conversation.item.deleted", "event_id": {"$id": "event"},
                                    "item_id": {"$ref": "mine"}}},
    )
    async with FakeRealtimeServer() as server:
        result = await replay(scenario, server.url)
        assert result.passed, result.report()
        [delete] = server.connections[0].client_events("conversation.item.delete")
        [added] = server.connections[0].server_events("conversation.item.added")
    assert delete["item_id"] == added["item"]["id"]


def test_when_a_client_line_is_sent_previous_none_or_a_named_event() -> None:
    """Default: after every ordered server line before it; "none": at once; an object: once that event came."""
    from fake_server.scenarios.replay import Received, _Replay

    scenario = scenario_of(
        CREATED,
        {"dir": "client", "event": {"type": "response.create"}},
        {"dir": "server", "event": {"type": "response.created", "response": {"$partial": {
            "id": {"$id": "resp", "bind": "r"}}}}},
        {"dir": "server", "event": {"type": "response.done", "response": {"$partial": {"id": {"$ref": "r"}}}}},
        {"dir": "client", "wait": {"type": "response.created"}, "event": {"type": "response.cancel"}},
        {"dir": "client", "event": {"type": "response.create"}},
        {"dir": "client", "wait": "none", "event": {"type": "response.create"}},
    )
    run = _Replay(scenario, "ws://unused", "", 1.0)
    first, cancel, after_all, at_once = [line for line in scenario.lines if hasattr(line, "wait")]
    created = {"type": "session.created", "event_id": "event_" + "a" * 21, "session": {"id": "sess_" + "b" * 21}}
    response = {"id": "resp_" + "c" * 21}

    assert not run.ready_to_send(first)()
    run.dispatch(Received("main", 0.0, event=created))
    assert run.ready_to_send(first)()
    run.conns["main"].sent = run.conns["main"].started = 1
    waits = run.ready_to_send(cancel), run.ready_to_send(after_all), run.ready_to_send(at_once)
    assert [w() for w in waits] == [False, False, True]
    run.dispatch(Received("main", 0.1, event={"type": "response.created", "response": response}))
    assert [w() for w in waits] == [True, False, True]
    run.dispatch(Received("main", 0.2, event={"type": "response.done", "response": response}))
    assert [w() for w in waits] == [True, True, True]
    assert run.result.problems == [] and run.bindings == {"sess": "sess_" + "b" * 21, "r": response["id"]}


def test_a_client_line_waits_for_the_order_any_lines_before_it_so_a_close_never_cuts_one_off() -> None:
    from fake_server.scenarios.replay import Received, _Replay

    scenario = scenario_of(
        CREATED,
        {"dir": "client", "event": {"type": "input_audio_buffer.clear"}},
        {"dir": "server", "event": {"type": "input_audio_buffer.cleared"}},
        {"dir": "server", "order": "any", "event": {"type": "error", "error": {"$any": True}}},
        {"dir": "server", "order": "any", "optional": True, "event": {"type": "rate_limits.updated"}},
        {"dir": "client", "close": {"code": 1000}},
    )
    run = _Replay(scenario, "ws://unused", "", 1.0)
    clear, close = [line for line in scenario.lines if hasattr(line, "wait")]
    created = {"type": "session.created", "event_id": "event_" + "a" * 21, "session": {"id": "sess_" + "b" * 21}}
    run.dispatch(Received("main", 0.0, event=created))
    assert run.ready_to_send(clear)()
    run.conns["main"].sent = run.conns["main"].started = 1
    ready = run.ready_to_send(close)
    run.dispatch(Received("main", 0.1, event={"type": "input_audio_buffer.cleared"}))
    assert not ready()  # every ordered line came, the error has not: closing now would cut it off
    run.dispatch(Received("main", 0.2, event={"type": "error", "error": {"code": "x"}}))
    assert ready()  # the optional line is not waited for


async def test_a_second_connection_is_opened_by_name_with_its_own_model() -> None:
    async with FakeRealtimeServer() as server:
        result = await replay(load_scenario(LIBRARY / "observer_second_connection.jsonl"), server.url)
        assert result.passed, result.report()
        models = [c.session.model for c in server.connections if c.session is not None]
    assert models == ["gpt-realtime", "gpt-realtime-mini"]


async def test_a_server_close_is_an_expectation_too() -> None:
    scenario = scenario_of(
        {"dir": "server", "event": {"type": "error", "event_id": {"$id": "event"}, "error": {
            "type": "invalid_request_error", "code": "missing_model",
            "message": "You must provide a model parameter, for example "
                       "wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5",
            "param": None, "event_id": None}}},
        {"dir": "server", "close": {"code": 4000, "reason": "invalid_request_error.missing_model"}},
        header={**HEADER, "connections": {"main": {"model": None}}},
    )
    async with FakeRealtimeServer() as server:
        result = await replay(scenario, server.url)
        assert result.passed, result.report()
        wrong = scenario_of(*[json.loads(line) for line in
                              parse_dump_lines(scenario)][:1],
                            {"dir": "server", "close": {"code": 3000}},
                            header={**HEADER, "connections": {"main": {"model": None}}})
        result = await replay(wrong, server.url)
    assert [p.describe() for p in result.problems] == [
        "[main] line 3: close differs\n      close.code: expected 3000 (equal), got 4000"]


def parse_dump_lines(scenario: object) -> list[str]:
    from fake_server.scenarios.format import dump_scenario

    return dump_scenario(scenario).splitlines()[1:]  # type: ignore[arg-type]


async def test_check_frames_checks_a_conversation_that_already_happened() -> None:
    scenario = load_scenario(LIBRARY / "session_reset_unknown_type.jsonl")
    async with FakeRealtimeServer() as server:
        result = await replay(scenario, server.url)
        assert result.passed
        conn = server.connections[0]
        frames = [("main", e.direction, e.time, e.event, None) for e in conn.entries() if e.event is not None]
    assert check_frames(scenario, frames).passed
    tampered = [f if f[3].get("type") != "session.reset" else (f[0], f[1], f[2], {**f[3], "event_id": "x"}, None)
                for f in frames]
    result = check_frames(scenario, tampered)
    [problem] = result.problems
    assert "session.reset differs (the client sent something else)" in problem.describe()
    assert 'event_id: expected "reset1" (equal), got "x"' in problem.describe()


async def test_an_extra_event_that_looks_like_a_later_line_does_not_move_the_replay_on() -> None:
    """The replay used to take an extra rate_limits.updated for the one that ends the response, and so
    passed over the rest of the response (the assistant item never bound, so no truncate could be sent)."""
    scenario = load_scenario(LIBRARY / "truncate.jsonl")
    async with FakeRealtimeServer() as server:
        assert (await replay(scenario, server.url)).passed
        frames = [("main", e.direction, e.time, e.event, None) for e in server.connections[0].entries()
                  if e.event is not None]
    at = next(i for i, frame in enumerate(frames) if frame[3]["type"] == "response.created")
    extra = next(frame[3] for frame in frames if frame[3]["type"] == "rate_limits.updated")
    result = check_frames(scenario, [*frames[:at + 1], ("main", "server", frames[at][2], extra, None),
                                     *frames[at + 1:]])
    assert [p.describe()[:56] for p in result.problems] == [
        "[main]: unexpected rate_limits.updated (after line 9): {"]


async def test_a_response_with_fewer_events_moves_the_replay_on_without_waiting_out_the_timeout() -> None:
    from fake_server import script as s

    async with FakeRealtimeServer() as server:
        server.script.on(s.always, s.server_error())  # every response fails: no output items
        result = await replay(load_scenario(LIBRARY / "out_of_band_response.jsonl"), server.url, timeout=5)
    assert result.duration < 2.5 and not [p for p in result.problems if p.kind == "timeout"], result.report()
    assert [p.kind for p in result.problems].count("differs") == 1
    assert "response.status: expected \"completed\" (equal), got \"failed\"" in result.report()
    assert {p.line.label for p in result.problems if p.kind == "missing" and p.line} >= {
        "response.output_item.added", "response.output_item.done"}


async def test_two_runs_compared_list_error_divergences_with_codes_and_messages() -> None:
    scenario = load_scenario(LIBRARY / "history_wrong_system_types.jsonl")
    async with FakeRealtimeServer() as first, FakeRealtimeServer() as second:
        a = await replay(scenario, first.url)
        b = await replay(scenario, second.url)
    assert compare_runs(a, b) == []  # ids, texts and clocks do not count
    report = divergence_report([(a, b)])
    assert "## history_wrong_system_types: fake pass, live pass, 0 divergence(s)" in report
    # a run where one error came with another message shows up in the report
    b.received[2] = type(b.received[2])(b.received[2].conn, b.received[2].t, event={
        **b.received[2].event, "error": {**b.received[2].event["error"], "message": "Something else."}})
    [divergence] = compare_runs(a, b)
    assert divergence.what == "error differs"
    assert "code 'item_retrieve_invalid_item_id', message \"Error retrieving item: the item with id 'msg_bad_1'" in divergence.detail
    assert "message 'Something else.'" in divergence.detail


async def test_how_connections_interleave_does_not_count_when_two_runs_are_compared() -> None:
    import dataclasses

    scenario = load_scenario(LIBRARY / "observer_second_connection.jsonl")
    async with FakeRealtimeServer() as server:
        run = await replay(scenario, server.url)
    assert run.passed, run.report()
    # the same frames, each connection's in its own order, but all the observer's first: ids used to be
    # numbered across connections, so item_2 of one run was item_3 of the other
    regrouped = dataclasses.replace(run, received=sorted(run.received, key=lambda got: got.conn != "observer"))
    assert [got.conn for got in regrouped.received] != [got.conn for got in run.received]
    assert compare_runs(run, regrouped) == []


# --- the command -------------------------------------------------------------------------------------


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fake_server.cli", *args], check=False, cwd=str(REPO),
                          capture_output=True,
                          text=True, timeout=timeout, env=child_env(PYTHONUNBUFFERED="1"))


def test_replay_command_against_a_served_fake_progress_diffs_and_exit_codes(tmp_path: Path) -> None:
    child = ServeProcess([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0"], cwd=str(REPO),
                         env=child_env(PYTHONUNBUFFERED="1"))
    try:
        url = child.field("url")
        names = ["history_wrong_user_types", "truncate", "function_call_round_trip", "session_reset_unknown_type"]
        done = cli("replay", *[f"scenarios/{n}.jsonl" for n in names], "--url", url)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert [line.split()[0] for line in lines[:4]] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
        assert all(" PASS " in line for line in lines[:4])
        assert lines[-1] == "4 passed, 0 failed (0 of them known divergences)"

        broken = tmp_path / "broken.jsonl"
        rows = (LIBRARY / "session_reset_unknown_type.jsonl").read_text().replace("'session.reset'", "'reset'")
        broken.write_text(rows)
        failed = cli("replay", str(broken), "--url", url, "--timeout", "2")
        assert failed.returncode == 1
        assert "FAIL session_reset_unknown_type" in failed.stdout
        assert "error.message: expected \"Invalid value: 'reset'." in failed.stdout

        malformed = tmp_path / "malformed.jsonl"
        malformed.write_text('{"scenario": 1}\n')
        bad = cli("replay", str(malformed), "--url", url)
        assert bad.returncode == 2 and "malformed.jsonl:1: header needs 'name'" in bad.stderr

        # every library scenario compared with itself (the same fake twice): nothing diverges, whatever order
        # the connections' frames interleave in and however many deltas came where
        report = tmp_path / "report.md"
        compared = cli("replay", "scenarios/", "--url", url, "--compare-url", url, "--report", str(report))
        assert compared.returncode == 0, compared.stdout
        total = len(list(LIBRARY.glob("*.jsonl")))
        assert f"[{total}/{total}] fake PASS" in compared.stdout and f"[{total}/{total}] live PASS" in compared.stdout
        text = report.read_text()
        assert text.startswith(f"# fake vs live: divergence report\n{total} scenario(s), 0 divergence(s)."), text
        assert text.count(", 0 divergence(s)") == total + 1
    finally:
        child.interrupt()


def test_replay_command_into_a_closed_pipe_stops_quietly() -> None:
    """`fake-realtime replay ... | head`: once the reader has gone, no BrokenPipeError traceback."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is printed
    with FakeRealtimeServer() as server:
        try:
            done = subprocess.run([sys.executable, "-m", "fake_server.cli", "replay",
                                   "scenarios/session_reset_unknown_type.jsonl", "--url", server.url],
                                  check=False, cwd=str(REPO), stdout=write_end, stderr=subprocess.PIPE, text=True,
                                  timeout=60, env=child_env(PYTHONUNBUFFERED="1"))
        finally:
            os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""


def library_rows(name: str) -> list[str]:
    return (LIBRARY / f"{name}.jsonl").read_text().splitlines()


def test_one_line_less_is_one_problem_and_a_server_close_is_named(tmp_path: Path) -> None:
    """Against `serve --api-key`: a file lacking one line gets one problem saying where the event came; a
    replay with the wrong key gets the auth error and the close 3000, not a diff against some later line."""
    rows = library_rows("truncate")
    assert '"type": "conversation.item.done"' in rows[6] and '"role": "user"' in rows[6]
    short = tmp_path / "truncate_minus_line_7.jsonl"
    short.write_text("\n".join(rows[:6] + rows[7:]) + "\n")
    child = ServeProcess([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0", "--api-key",
                          "sk-right-key-0123456789abcdef"], cwd=str(REPO), env=child_env(PYTHONUNBUFFERED="1"))
    try:
        url = child.field("url")
        done = subprocess.run([sys.executable, "-m", "fake_server.cli", "replay", str(short), "--url", url,
                               "--timeout", "2"], check=False, cwd=str(REPO), capture_output=True, text=True,
                              timeout=60, env=child_env(PYTHONUNBUFFERED="1",
                                                        OPENAI_API_KEY="sk-right-key-0123456789abcdef"))
        wrong = cli("replay", "scenarios/truncate.jsonl", "--url", url, "--timeout", "2")
    finally:
        child.interrupt()
    assert done.returncode == 1
    report = done.stdout.split("\n\n")[1].splitlines()
    assert report[0].startswith("FAIL truncate") and "1 problem(s)" in report[0], done.stdout
    assert report[2:] == ["0 passed, 1 failed (0 of them known divergences)"], done.stdout
    assert report[1].startswith(
        "  [main]: unexpected conversation.item.done (after line 6): "), done.stdout
    assert wrong.returncode == 1
    assert "[main]: unexpected error (before line 2): " in wrong.stdout and '"code": "invalid_api_key"' in wrong.stdout
    assert "[main]: unexpected close 3000 (the server closed the connection, before line 2): " \
           '{"close": [3000, "invalid_request_error.invalid_api_key"]}' in wrong.stdout
    assert "cannot send session.update: the server closed the connection" in wrong.stdout
    assert "differs" not in wrong.stdout
    assert "... and 16 more lines that never came: 9 response.created, " in wrong.stdout


async def test_an_event_that_never_comes_is_one_missing_line_and_alike_problems_are_told_once() -> None:
    rows = library_rows("truncate")
    assert '"type": "response.content_part.added"' in rows[11]
    doubled = parse_scenario("\n".join(rows[:12] + [rows[11]] + rows[12:]) + "\n", source="doubled")
    wrong_deltas = parse_scenario("\n".join(rows).replace(
        '"output_index": 0, "content_index": 0, "delta": {"$audio": true}',
        '"output_index": 1, "content_index": 0, "delta": {"$audio": true}') + "\n", source="wrong deltas")
    async with FakeRealtimeServer() as server:
        missing = await replay(doubled, server.url, timeout=2)
        alike = await replay(wrong_deltas, server.url, timeout=2)
    assert [p.describe()[:64] for p in missing.problems] == [
        "[main] line 13: missing response.content_part.added (never came)"]
    deltas = len(server.connections[1].server_events("response.output_audio.delta"))
    assert deltas > 2 and len(alike.problems) == deltas
    assert alike.report().splitlines()[1:] == [
        "  [main] line 13: response.output_audio.delta differs",
        "      output_index: expected 1 (equal), got 0",
        f"      ... and {deltas - 1} more like this"]

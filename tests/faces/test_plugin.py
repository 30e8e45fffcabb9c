"""The pytest plugin, exercised through pytester on generated test files."""

from __future__ import annotations

import pytest

from _pytester import run_pytest, run_pytest_subprocess, run_pytest_subprocess_by_entry_point, start_project


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    start_project(pytester)
    pytester.makepyfile(source)
    return run_pytest(pytester, *args)


def test_fresh_state_per_test_on_the_same_port_sync_and_async(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import json
        import pytest
        from websockets.asyncio.client import connect
        from websockets.sync.client import connect as sync_connect

        SEEN = []

        def test_sync_first(realtime_server):
            assert realtime_server.policy.api_keys is None
            assert realtime_server.internal_errors == []
            assert realtime_server.sessions == []
            with sync_connect(realtime_server.url + "?model=gpt-realtime",
                              additional_headers={"Authorization": "Bearer sk-x"}) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
            assert len(realtime_server.sessions) == 1
            realtime_server.policy.api_keys = frozenset({"changed"})
            SEEN.append(realtime_server.port)

        @pytest.mark.asyncio
        async def test_async_second(realtime_server):
            assert realtime_server.policy.api_keys is None
            assert realtime_server.sessions == []
            realtime_server.expect_error(code="missing_model")
            async with connect(realtime_server.url, additional_headers={"Authorization": "Bearer sk-x"}) as ws:
                assert json.loads(await ws.recv())["error"]["code"] == "missing_model"
            SEEN.append(realtime_server.port)

        def test_same_listener(realtime_server, realtime_listener):
            assert realtime_server is realtime_listener
            assert SEEN[0] == SEEN[1] == realtime_server.port
        """,
    )
    result.assert_outcomes(passed=3)


def test_connection_left_open_is_closed_before_the_next_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import json
        import pytest
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        LEFT = []

        def test_leaves_a_connection_open(realtime_server):
            ws = connect(realtime_server.url + "?model=gpt-realtime",
                         additional_headers={"Authorization": "Bearer sk-x"})
            ws.recv(timeout=10)
            LEFT.append(ws)

        def test_finds_it_closed(realtime_server):
            with pytest.raises(ConnectionClosed):
                LEFT[0].recv(timeout=10)
            assert LEFT[0].close_code == 1000
        """,
    )
    result.assert_outcomes(passed=2)


def test_internal_error_fails_the_test_with_a_readable_report(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import json
        from websockets.sync.client import connect
        import fake_server.core.handshake

        def broken(*args, **kwargs):
            raise ZeroDivisionError("core bug for the report")

        def test_hits_a_core_bug(realtime_server, monkeypatch):
            monkeypatch.setattr(fake_server.core.handshake, "Session", broken)
            with connect(realtime_server.url + "?model=gpt-realtime",
                         additional_headers={"Authorization": "Bearer sk-x"}) as ws:
                assert json.loads(ws.recv(timeout=10))["error"]["type"] == "server_error"

        def test_next_one_is_clean(realtime_server):
            assert realtime_server.internal_errors == []
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_hits_a_core_bug*",
            "*fake realtime server hit 1 internal error(s) during this test*",
            "*ZeroDivisionError: core bug for the report*",
        ]
    )


def test_each_xdist_worker_gets_its_own_listener(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    out = pytester.path / "ports"
    out.mkdir()
    start_project(pytester)
    pytester.makepyfile(
        f"""
        import os
        import pytest
        from websockets.sync.client import connect

        @pytest.mark.parametrize("n", range(4))
        def test_worker(realtime_server, n):
            with connect(realtime_server.url + "?model=gpt-realtime",
                         additional_headers={{"Authorization": "Bearer sk"}}) as ws:
                assert '"session.created"' in ws.recv(timeout=10)
            assert len(realtime_server.sessions) == 1  # only this test's connection
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open(os.path.join({str(out)!r}, worker), "a") as f:
                f.write(f"{{realtime_server.port}}\\n")
        """
    )
    result = run_pytest_subprocess(pytester, "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=4)
    ports = {path.name: set(path.read_text().split()) for path in out.iterdir()}
    assert sorted(ports) == ["gw0", "gw1"]
    assert all(len(p) == 1 for p in ports.values())  # one listener per worker, reused across its tests
    assert ports["gw0"] != ports["gw1"]


def test_an_unnoticed_error_fails_the_test_with_a_readable_list(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import json
        import pytest
        from openai import OpenAI

        WRONG = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi!"}]}

        def connect(server):
            return OpenAI(api_key="sk-test", websocket_base_url=server.base_url).realtime.connect(model="gpt-realtime")

        def test_misses_an_error(realtime_server):
            with connect(realtime_server) as conn:
                conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "h1", "item": WRONG}))
                conn.send_raw(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 40}))
                conn.send_raw(json.dumps({"type": "input_audio_buffer.commit"}))

        def test_declares_it(realtime_server):
            realtime_server.expect_error(code="invalid_value", param="item.content[0].type")
            with connect(realtime_server) as conn:
                conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "h1", "item": WRONG}))

        def test_declares_one_that_never_comes(realtime_server):
            realtime_server.expect_error(code="invalid_value", client_event="session.update")
            with connect(realtime_server) as conn:
                conn.recv()

        @pytest.mark.realtime_allow_errors
        def test_opts_out(realtime_server):
            with connect(realtime_server) as conn:
                conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "h1", "item": WRONG}))
        """,
    )
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_misses_an_error*",
            "the fake realtime server sent 2 error event(s) this test did not declare:",
            "  connection 0, in answer to conversation.item.create (event_id 'h1'):",
            "    type: invalid_request_error",
            "    code: invalid_value",
            "    message: Invalid value: 'text'. Value must be 'output_text'.",
            "    param: item.content[0].type",
            '    sent: {"type": "conversation.item.create", "event_id": "h1", "item": *',
            '    at item.content[0].type: "text"',
            "    content part types the schema allows for role 'assistant': output_text",
            "  connection 0, in answer to input_audio_buffer.commit:",
            "    type: invalid_request_error",
            "    code: input_audio_buffer_commit_empty",
            "    message: Error committing input audio buffer: buffer too small.*",
            "    param: None",
            '    sent: {"type": "input_audio_buffer.commit"}',
            "(declare the errors you provoke on purpose with realtime_server.expect_error(*",
            "*ERROR at teardown of test_declares_one_that_never_comes*",
            "expect_error(code='invalid_value', client_event='session.update') declared, but no such error was sent",
        ]
    )


def test_an_unnoticed_error_fails_a_test_run_in_a_separate_process(pytester: pytest.Pytester) -> None:
    # The plugin as an installed package loads it (entry point), in a pytest process of its own.
    start_project(pytester)
    pytester.makepyfile(
        """
        import json
        from openai import OpenAI

        def test_loads_history_with_a_wrong_type(realtime_server):
            client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
            with client.realtime.connect(model="gpt-realtime") as conn:
                conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "h1", "item": {
                    "type": "message", "role": "user", "content": [{"type": "text", "text": "Hi"}]}}))
        """
    )
    result = run_pytest_subprocess_by_entry_point(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_loads_history_with_a_wrong_type*",
        "the fake realtime server sent 1 error event(s) this test did not declare:",
        "  connection 0, in answer to conversation.item.create (event_id 'h1'):",
        "    code: invalid_value",
        "    message: Invalid value: 'text'. Supported values are: 'input_text' and 'input_audio'.",
        "    param: item.content[0].type",
    ])
    assert result.ret != 0

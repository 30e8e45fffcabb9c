"""The WebSocket face, driven by a raw websockets client over loopback."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from typing import Any, Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.sync.client import connect as sync_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import fake_server.transport.server as server_module
import fake_server.core.handshake as handshake_module
from fake_server import FakeRealtimeServer
from fake_server.core.session import Session

TIMEOUT = 10.0
AUTH = {"Authorization": "Bearer sk-test"}


async def recv_event(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert isinstance(frame, str), "server frames are TEXT"
    event = json.loads(frame)
    assert isinstance(event, dict)
    return event


async def expect_close(ws: ClientConnection) -> tuple[int, str]:
    """Wait for the server's close; return its (code, reason). Fails on any further frame."""
    with pytest.raises(ConnectionClosed) as info:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        pytest.fail(f"expected a close, got a frame: {frame!r}")
    received = info.value.rcvd
    assert received is not None, "the server closed without a close frame"
    return received.code, received.reason


async def rejected(url: str, **kwargs: Any) -> tuple[dict[str, Any], int, str]:
    """Connect, expect exactly one error event and a server close."""
    async with connect(url, **kwargs) as ws:
        event = await recv_event(ws)
        code, reason = await expect_close(ws)
    assert event["type"] == "error"
    assert list(event) == ["type", "event_id", "error"]
    assert list(event["error"]) == ["type", "code", "message", "param", "event_id"]
    return event, code, reason


@pytest.fixture
def own_server() -> Iterator[FakeRealtimeServer]:
    """A private server, for tests that break things on purpose."""
    with FakeRealtimeServer() as server:
        yield server


# --- HTTP level -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/models", "/v1/realtime/calls", "/realtimex"])
async def test_other_paths_get_a_plain_404(realtime_server: FakeRealtimeServer, path: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(_origin(realtime_server) + path, additional_headers=AUTH, open_timeout=TIMEOUT):
            pass
    assert info.value.response.status_code == 404


def _origin(server: FakeRealtimeServer) -> str:
    return server.url.removesuffix("/v1/realtime")


def test_plain_http_get_on_another_path_is_404_text(realtime_server: FakeRealtimeServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", realtime_server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/nope")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 404
    assert response.getheader("Content-Type", "").startswith("text/plain")
    assert b"Not Found" in body


def test_urls_use_the_bound_port(realtime_server: FakeRealtimeServer) -> None:
    port = realtime_server.port
    assert port > 0
    assert realtime_server.url == f"ws://127.0.0.1:{port}/v1/realtime"
    assert realtime_server.base_url == f"ws://127.0.0.1:{port}/v1"
    assert realtime_server.http_base_url == f"http://127.0.0.1:{port}/v1"


def test_ipv6_host_is_bracketed() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = FakeRealtimeServer("::1").start()
    except OSError:
        pytest.skip("cannot bind ::1 here")
    try:
        assert server.url == f"ws://[::1]:{server.port}/v1/realtime"
    finally:
        server.stop()


def test_url_before_start_with_port_zero_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        FakeRealtimeServer().url


# --- handshake outcomes ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/realtime?model=gpt-realtime", "/realtime?model=gpt-realtime"])
async def test_both_paths_upgrade_and_send_session_created_first(
    realtime_server: FakeRealtimeServer, path: str
) -> None:
    async with connect(_origin(realtime_server) + path, additional_headers=AUTH) as ws:
        event = await recv_event(ws)
    assert event["type"] == "session.created"
    assert list(event)[:2] == ["type", "event_id"]
    assert event["session"]["type"] == "realtime"
    assert event["session"]["model"] == "gpt-realtime"


async def test_missing_key_is_one_error_then_close_3000(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(message="Missing bearer or basic authentication in header")
    event, code, reason = await rejected(realtime_server.url + "?model=gpt-realtime")
    assert event["error"]["type"] == "invalid_request_error"
    assert event["error"]["code"] is None
    assert (code, reason) == (3000, "invalid_request_error")


async def test_wrong_key_is_invalid_api_key_without_echoing_the_key(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.api_keys = frozenset({"sk-the-right-key-000000"})
    wrong = "sk-wrong-key-abcdefghijklmnop"
    realtime_server.expect_error(code="invalid_api_key")
    event, code, reason = await rejected(
        realtime_server.url + "?model=gpt-realtime", additional_headers={"Authorization": f"Bearer {wrong}"}
    )
    assert event["error"]["code"] == "invalid_api_key"
    assert wrong not in event["error"]["message"]
    assert (code, reason) == (3000, "invalid_request_error.invalid_api_key")


async def test_right_key_with_api_keys_set_is_accepted(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.api_keys = frozenset({"sk-good"})
    async with connect(
        realtime_server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-good"}
    ) as ws:
        assert (await recv_event(ws))["type"] == "session.created"


async def test_missing_model_closes_4000(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="missing_model")
    event, code, reason = await rejected(realtime_server.url, additional_headers=AUTH)
    assert event["error"]["code"] == "missing_model"
    assert (code, reason) == (4000, "invalid_request_error.missing_model")


async def test_unknown_model_closes_4000(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_model")
    event, code, reason = await rejected(realtime_server.url + "?model=gpt-nope", additional_headers=AUTH)
    assert event["error"]["code"] == "invalid_model"
    assert (code, reason) == (4000, "invalid_request_error.invalid_model")


async def test_beta_header_closes_4000(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="beta_api_shape_disabled")
    event, code, reason = await rejected(
        realtime_server.url + "?model=gpt-realtime", additional_headers={**AUTH, "OpenAI-Beta": "realtime=v1"}
    )
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert (code, reason) == (4000, "invalid_request_error.beta_api_shape_disabled")


async def test_browser_beta_subprotocol_does_not_break_the_handshake(realtime_server: FakeRealtimeServer) -> None:
    offered = ["realtime", "openai-insecure-api-key.sk-test", "openai-beta.realtime-v1"]
    realtime_server.expect_error(code="beta_api_shape_disabled")
    async with connect(realtime_server.url + "?model=gpt-realtime", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        event = await recv_event(ws)
        code, reason = await expect_close(ws)
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert (code, reason) == (4000, "invalid_request_error.beta_api_shape_disabled")


async def test_browser_subprotocols_negotiate_realtime(realtime_server: FakeRealtimeServer) -> None:
    offered = ["realtime", "openai-insecure-api-key.sk-test"]
    async with connect(realtime_server.url + "?model=gpt-realtime", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        assert (await recv_event(ws))["type"] == "session.created"


async def test_key_subprotocol_is_checked_against_the_policy(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.api_keys = frozenset({"sk-good"})
    offered = ["realtime", "openai-insecure-api-key.sk-bad-but-long-enough"]
    realtime_server.expect_error(code="invalid_api_key")
    event, code, _ = await rejected(realtime_server.url + "?model=gpt-realtime", subprotocols=offered)  # type: ignore[arg-type]
    assert event["error"]["code"] == "invalid_api_key"
    assert code == 3000


async def test_transcription_intent_without_model(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?intent=transcription", additional_headers=AUTH) as ws:
        event = await recv_event(ws)
    assert event["type"] == "session.created"
    assert event["session"]["type"] == "transcription"


# --- connections and state ------------------------------------------------------------


async def test_reset_closes_open_connections_and_forgets_state(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        await recv_event(ws)
        assert len(realtime_server.sessions) == 1
        realtime_server.policy.api_keys = frozenset({"k"})
        realtime_server.reset()
        assert realtime_server.sessions == []
        assert realtime_server.policy.api_keys is None
        code, _ = await expect_close(ws)
    assert code == 1000


async def test_two_connections_get_different_session_ids(realtime_server: FakeRealtimeServer) -> None:
    ids = []
    for _ in range(2):
        async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
            ids.append((await recv_event(ws))["session"]["id"])
    assert ids[0] != ids[1]
    assert [s.id for s in realtime_server.sessions] == ids


def _random_part(identifier: str) -> str:
    """Ids are prefix + 4 clock characters + 17 seeded characters; compare the seeded part."""
    return identifier[-17:]


async def _event_ids_of_rejections(server: FakeRealtimeServer, count: int) -> list[str]:
    return [
        _random_part((await rejected(server.url, additional_headers=AUTH))[0]["event_id"]) for _ in range(count)
    ]


async def test_seeded_server_repeats_its_ids() -> None:
    runs = []
    for _ in range(2):
        async with FakeRealtimeServer(seed=1234) as server:
            runs.append(await _event_ids_of_rejections(server, 3))
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3


async def test_seeded_server_repeats_its_session_ids() -> None:
    runs = []
    for _ in range(2):
        async with FakeRealtimeServer(seed="abc") as server:
            ids = []
            for _ in range(2):
                async with connect(server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
                    ids.append(_random_part((await recv_event(ws))["session"]["id"]))
            runs.append(ids)
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]


async def test_reset_restarts_a_seeded_sequence() -> None:
    async with FakeRealtimeServer(seed=99) as server:
        first = await _event_ids_of_rejections(server, 2)
        server.reset()
        assert await _event_ids_of_rejections(server, 2) == first


async def test_unseeded_servers_differ() -> None:
    async with FakeRealtimeServer() as a, FakeRealtimeServer() as b:
        assert await _event_ids_of_rejections(a, 1) != await _event_ids_of_rejections(b, 1)


async def test_session_exception_is_a_server_error_and_the_connection_survives(
    own_server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Session._answer  # inside the session's boundary, where a bug of the fake is caught
    calls = {"n": 0}

    def explode_once(self: Session, event: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected failure")
        original(self, event)

    monkeypatch.setattr(Session, "_answer", explode_once)
    async with connect(own_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        created = await recv_event(ws)
        await ws.send(json.dumps({"type": "response.create"}))
        error = await recv_event(ws)
        assert error["type"] == "error"
        assert list(error) == ["type", "event_id", "error"]
        assert error["event_id"].startswith("event_")
        assert error["error"]["type"] == "server_error"
        assert error["error"]["code"] is None
        assert error["error"]["param"] is None
        assert error["error"]["event_id"] is None
        assert created["session"]["id"] in error["error"]["message"]
        await ws.send(json.dumps({"type": "no.such.event", "event_id": "evt_1"}))
        after = await recv_event(ws)
        assert after["type"] == "error"
        assert after["error"]["type"] == "invalid_request_error"
        assert after["error"]["event_id"] == "evt_1"
    [(session_id, report)] = own_server.internal_errors
    assert session_id == created["session"]["id"]
    assert "RuntimeError: injected failure" in report


async def test_handshake_exception_is_contained(
    own_server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_session(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("handshake bug")

    monkeypatch.setattr(handshake_module, "Session", broken_session)  # inside open_session, which contains it
    event, code, _ = await rejected(own_server.url + "?model=gpt-realtime", additional_headers=AUTH)
    assert event["error"]["type"] == "server_error"
    assert code == 1011
    [(session_id, report)] = own_server.internal_errors
    assert session_id is None
    assert "ValueError: handshake bug" in report
    monkeypatch.undo()
    # The listener is still healthy.
    event, code, _ = await rejected(own_server.url, additional_headers=AUTH)
    assert event["error"]["code"] == "missing_model"


async def test_client_close_1000_is_echoed(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        await recv_event(ws)
        await asyncio.wait_for(ws.close(1000), TIMEOUT)
    assert ws.close_code == 1000
    received = ws.protocol.close_rcvd
    assert received is not None and received.code == 1000


async def test_binary_frame_gets_an_error_and_the_session_stays_open(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_event", times=1)
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        await recv_event(ws)
        await ws.send(b"\x00\x01")
        assert (await recv_event(ws))["error"]["code"] == "invalid_event"
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await recv_event(ws))["type"] == "input_audio_buffer.cleared"


async def test_a_large_frame_is_not_refused_by_the_transport(realtime_server: FakeRealtimeServer) -> None:
    # ~20 MiB of base64 (a 15 MiB append) must reach the session instead of closing 1009.
    payload = "A" * (20 * 1024 * 1024)
    realtime_server.expect_error(code="invalid_value", param="type", times=1)
    async with connect(
        realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH, max_size=None
    ) as ws:
        await recv_event(ws)
        await ws.send(json.dumps({"type": "no.such.event", "padding": payload}))
        assert (await recv_event(ws))["type"] == "error"
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await recv_event(ws))["type"] == "input_audio_buffer.cleared"


# --- the two ways to run it --------------------------------------------------------------


async def test_async_with_runs_in_the_callers_loop() -> None:
    async with FakeRealtimeServer() as server:
        assert server.port > 0
        event, code, _ = await rejected(server.url, additional_headers=AUTH)
        assert code == 4000
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), TIMEOUT)


def test_with_runs_in_a_background_thread() -> None:
    from websockets.sync.client import connect as sync_connect

    with FakeRealtimeServer() as server:
        with sync_connect(server.url, additional_headers=AUTH, open_timeout=TIMEOUT) as ws:
            event = json.loads(ws.recv(timeout=TIMEOUT))
        assert event["error"]["code"] == "missing_model"
        port = server.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()


def test_stop_closes_open_connections() -> None:
    from websockets.sync.client import connect as sync_connect

    server = FakeRealtimeServer().start()
    try:
        ws = sync_connect(server.url + "?model=gpt-realtime", additional_headers=AUTH, open_timeout=TIMEOUT)
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "session.created"
    finally:
        server.stop()
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=TIMEOUT)
    assert ws.close_code == 1001


def test_a_busy_port_fails_start_in_the_caller() -> None:
    with FakeRealtimeServer() as first:
        with pytest.raises(OSError):
            FakeRealtimeServer(port=first.port).start()


def test_policy_from_the_constructor_is_restored_by_reset() -> None:
    server = FakeRealtimeServer(api_keys=["sk-a"], models=["gpt-realtime"], validate_server_events=True)
    assert server.policy.api_keys == frozenset({"sk-a"})
    assert server.policy.models == frozenset({"gpt-realtime"})
    assert server.policy.limits.validate_server_events is True
    server.policy.api_keys = None
    server.policy.limits.max_append_bytes = 1
    server.reset()
    assert server.policy.api_keys == frozenset({"sk-a"})
    assert server.policy.limits.max_append_bytes == 15 * 1024 * 1024


# --- closes the session asks for ---------------------------------------------------------------------------
async def test_close_1006_drops_the_connection_without_a_close_frame(realtime_server: FakeRealtimeServer) -> None:
    from fake_server import script as s

    realtime_server.script.reply(s.combine(s.say("This answer never finishes"), s.close(1006, after_events=3)))
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        await recv_event(ws)
        await ws.send(json.dumps({"type": "response.create"}))
        received = [(await recv_event(ws))["type"] for _ in range(3)]
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert received[0] == "response.created"
    assert info.value.rcvd is None  # no close frame: the TCP connection just ended
    [record] = realtime_server.connections
    await record.wait_closed()
    assert (record.close_code, record.closed_by) == (1006, "server")
    assert realtime_server.problems() == []


async def test_close_1006_before_session_created(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.script.inject(close_before_created=(1006, ""))
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert info.value.rcvd is None
    [record] = realtime_server.connections
    await record.wait_closed()
    assert (record.close_code, record.closed_by) == (1006, "server")
    assert realtime_server.problems() == []


async def test_the_journal_holds_only_what_was_sent(realtime_server: FakeRealtimeServer) -> None:
    # Real-time pacing: the next delta waits for its time when the client hangs up; it was never
    # sent, so it must not be in the journal either.
    realtime_server.policy.limits.pacing = 1.0
    received = []
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        received.append(await recv_event(ws))
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime",
                                                                        "output_modalities": ["text"]}}))
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                  "content": [{"type": "input_text", "text": "a long sentence with many words"}]}}))
        await ws.send(json.dumps({"type": "response.create"}))
        while received[-1]["type"] != "response.output_text.delta":
            received.append(await recv_event(ws))
    [record] = realtime_server.connections
    await record.wait_closed()
    realtime_server.settle()
    sent = record.server_events()
    assert sent[:len(received)] == received
    assert [e["type"] for e in sent[len(received):]].count("response.output_text.delta") == 0


def test_a_reset_that_cannot_load_its_script_file_changes_nothing(tmp_path: Any) -> None:
    from fake_server.script import ScriptFileError

    script = tmp_path / "script.json"
    script.write_text('{"rules": [{"reply": {"say": "hello"}}]}')
    with FakeRealtimeServer(script_file=str(script)) as server:
        with sync_connect(server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
            ws.recv(timeout=TIMEOUT)
            script.write_text("{not json")
            with pytest.raises(ScriptFileError):
                server.reset()
            assert len(server.connections) == 1  # still tracked, still served
            ws.send(json.dumps({"type": "session.reset", "event_id": "after"}))
            assert json.loads(ws.recv(timeout=TIMEOUT))["error"]["event_id"] == "after"
        assert server.connections[0].wait_closed_sync() == 1000


async def test_a_connection_closes_only_with_codes_a_server_may_send(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?model=gpt-realtime", additional_headers=AUTH) as ws:
        await recv_event(ws)
        record = await realtime_server.wait_for_connection()
        for code in (1005, 1015, 999, 2000, 5000):
            with pytest.raises(ValueError, match="close code"):
                record.close(code)
        assert record.close(4001, "bye") is True
        assert await expect_close(ws) == (4001, "bye")


def test_stop_does_not_wait_out_the_close_timeout_for_a_client_that_never_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(server_module, "_STOP_GRACE", 0.05)
    server = FakeRealtimeServer()
    server.start()
    # A raw TCP client that upgrades and then never reads or answers a close frame.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-x\r\n\r\n")
    server.wait_for_connection_sync()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < server_module._CLOSE_TIMEOUT  # an upper bound: dropped, not waited out
    sock.close()

"""The HTTP admin API on the fake's own port: routes, errors, and that WebSockets still pass."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from openai import AsyncOpenAI, OpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fake_server import FakeRealtimeServer
from _admin_http import admin
from _bad_scripts import BAD_SCRIPTS

HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
WRONG = {"type": "message", "role": "user", "content": [{"type": "text", "text": "hello"}]}


def talk(server: FakeRealtimeServer, text: str = "hello", key: str = "sk-test") -> str:
    """One text turn through the openai SDK; what the assistant wrote."""
    client = OpenAI(api_key=key, websocket_base_url=server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(item={**HELLO, "content": [{"type": "input_text", "text": text}]})
        conn.response.create()
        said = ""
        for event in conn:
            if event.type == "response.output_text.delta":
                said += event.delta
            if event.type == "response.done":
                return said
    raise AssertionError("the connection ended before response.done")


def raw_exchange(server: FakeRealtimeServer, data: bytes, chunk: int | None = None) -> bytes:
    """Send bytes on a plain TCP socket (in pieces of ``chunk``) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        step = chunk or len(data)
        for start in range(0, len(data), step):
            sock.sendall(data[start:start + step])
        received = b""
        while piece := sock.recv(65536):
            received += piece
    return received


# --- routes -------------------------------------------------------------------------------------


def test_the_index_lists_every_route(realtime_server: FakeRealtimeServer) -> None:
    answer = admin("GET", realtime_server.admin_url)
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    routes = {(r["method"], r["path"]) for r in answer.body["routes"]}
    assert {("POST", "/__admin/reset"), ("PUT", "/__admin/script"), ("GET", "/__admin/sessions"),
            ("GET", "/__admin/sessions/{ref}/journal"), ("GET", "/__admin/sessions/{ref}/conversation"),
            ("POST", "/__admin/faults"), ("GET", "/__admin/problems")} <= routes
    assert admin("GET", realtime_server.admin_url + "/").status == 200


def test_unknown_routes_and_methods_are_told_apart(realtime_server: FakeRealtimeServer) -> None:
    missing = admin("GET", realtime_server.admin_url + "/nothing")
    assert missing.status == 404 and "GET /__admin lists them" in missing.body["error"]["message"]
    wrong = admin("GET", realtime_server.admin_url + "/reset")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"
    assert admin("GET", realtime_server.admin_url + "/sessions/7").status == 404


def test_a_loaded_json_script_answers_the_next_client(realtime_server: FakeRealtimeServer) -> None:
    script = {"rules": [{"when": {"user_says": "menu"}, "reply": {"say": "Pizza or pasta?"}}]}
    answer = admin("PUT", realtime_server.admin_url + "/script", script)
    assert answer.status == 200 and answer.body == {"script": "loaded", "rules": 1}
    assert talk(realtime_server, "the menu please") == "Pizza or pasta?"
    assert talk(realtime_server, "hello") == "You said: hello"  # no rule matched: the default responder


def test_a_yaml_script_is_read_by_its_content_type(realtime_server: FakeRealtimeServer) -> None:
    body = "rules:\n  - reply: {say: From YAML.}\n    times: 1\n"
    assert admin("POST", realtime_server.admin_url + "/script", body, content_type="application/yaml").status == 200
    assert talk(realtime_server) == "From YAML."


@pytest.mark.parametrize(
    ("body", "content_type", "where"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('{"rules": [{"reply": {"shout": "hi"}}]}', "application/json", "rules[0].reply"),
        ("rules: [", "text/yaml", "not valid YAML"),
        ('{"faults": {"drop": "often"}}', "application/json", "faults.drop"),
    ],
)
def test_a_broken_script_is_refused_and_the_old_one_stays(
    realtime_server: FakeRealtimeServer, body: str, content_type: str, where: str
) -> None:
    admin("PUT", realtime_server.admin_url + "/script", {"rules": [{"reply": {"say": "Still here."}}]})
    answer = admin("PUT", realtime_server.admin_url + "/script", body, content_type=content_type)
    assert answer.status == 400 and where in answer.body["error"]["message"]
    assert talk(realtime_server) == "Still here."


@pytest.mark.parametrize(("data", "message"), BAD_SCRIPTS)
def test_every_broken_script_is_a_400_saying_where_and_what(
    realtime_server: FakeRealtimeServer, data: Any, message: str
) -> None:
    admin("PUT", realtime_server.admin_url + "/script", {"rules": [{"reply": {"say": "Still here."}}]})
    answer = admin("PUT", realtime_server.admin_url + "/script", data)
    assert answer.status == 400
    assert answer.body["error"]["message"].startswith("not a usable script: " + message)
    assert talk(realtime_server) == "Still here."


def test_reset_closes_connections_and_restores_the_start_script(realtime_server: FakeRealtimeServer) -> None:
    admin("PUT", realtime_server.admin_url + "/script", {"rules": [{"reply": {"say": "Scripted."}}]})
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()  # session.created
        answer = admin("POST", realtime_server.admin_url + "/reset")
        assert answer.status == 200 and answer.body["reset"] is True
        with pytest.raises(Exception) as ended:  # the SDK raises on the server's close
            conn.recv()
        assert "1000" in str(ended.value) or isinstance(ended.value, ConnectionClosed)
    assert admin("GET", realtime_server.admin_url + "/sessions").body == {"sessions": []}
    assert talk(realtime_server) == "You said: hello"


def test_sessions_list_accepted_and_rejected_connections(realtime_server: FakeRealtimeServer) -> None:
    talk(realtime_server, key="sk-canary-admin-0123456789")

    async def rejected() -> None:
        with pytest.raises(ConnectionClosed):
            async with connect(realtime_server.url + "?model=not-a-model",
                               additional_headers={"Authorization": "Bearer sk-test"}) as ws:
                while True:
                    await ws.recv()

    asyncio.run(rejected())
    realtime_server.expect_error(code="invalid_model")
    realtime_server.settle()
    answer = admin("GET", realtime_server.admin_url + "/sessions")
    first, second = answer.body["sessions"]
    assert (first["index"], first["accepted"], first["type"], first["model"]) == (0, True, "realtime", "gpt-realtime")
    assert first["session_id"].startswith("sess_") and first["frames"] > 0
    assert first["handshake"]["path"] == "/v1/realtime" and first["handshake"]["query"] == "model=gpt-realtime"
    assert (second["accepted"], second["session_id"], second["close_code"], second["closed_by"]) == (
        False, None, 4000, "server")
    assert "sk-canary-admin-0123456789" not in json.dumps(answer.body)
    by_id = admin("GET", f"{realtime_server.admin_url}/sessions/{first['session_id']}")
    assert by_id.body["index"] == 0


def test_the_journal_pages_and_filters(realtime_server: FakeRealtimeServer) -> None:
    talk(realtime_server)
    realtime_server.settle()
    base = realtime_server.admin_url + "/sessions/0/journal"
    everything = admin("GET", base).body
    frames = everything["frames"]
    assert (frames[0]["direction"], frames[0]["event"]["type"]) == ("server", "session.created")
    assert everything["next"] == len(frames) == len(realtime_server.connections[0].entries())
    assert [f["event"]["type"] for f in admin("GET", base + "?direction=client").body["frames"]] == [
        "session.update", "conversation.item.create", "response.create"]
    [done] = admin("GET", base + "?type=response.done").body["frames"]
    assert done["event"]["response"]["status"] == "completed"
    later = admin("GET", f"{base}?since={len(frames) - 2}").body
    assert later["frames"] == frames[-2:] and later["next"] == everything["next"]
    assert admin("GET", base + "?since=-1").status == 400
    assert admin("GET", base + "?direction=both").status == 400


async def test_binary_frames_come_back_as_base64(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?model=gpt-realtime",
                       additional_headers={"Authorization": "Bearer sk-test"}) as ws:
        await ws.recv()
        await ws.send(b"\x00\x01binary")
        await ws.recv()  # the error answering it
    realtime_server.expect_error()
    realtime_server.settle()
    frames = admin("GET", realtime_server.admin_url + "/sessions/0/journal?direction=client").body["frames"]
    assert base64.b64decode(frames[0]["raw_base64"]) == b"\x00\x01binary"


def test_the_conversation_snapshot_is_the_sessions(realtime_server: FakeRealtimeServer) -> None:
    talk(realtime_server, "one")
    items = admin("GET", realtime_server.admin_url + "/sessions/0/conversation").body["items"]
    assert [(i["role"], i["content"][0]) for i in items] == [
        ("user", {"type": "input_text", "text": "one"}),
        ("assistant", {"type": "output_text", "text": "You said: one"})]
    assert items == realtime_server.connections[0].conversation()


def test_close_now_ends_an_open_connection_with_the_given_code(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        answer = admin("POST", realtime_server.admin_url + "/sessions/0/close", {"code": 1011, "reason": "boom"})
        assert answer.status == 200
        assert realtime_server.connections[0].wait_closed_sync() == 1011
    connection = realtime_server.connections[0]
    assert (connection.close_reason, connection.closed_by) == ("boom", "server")
    again = admin("POST", realtime_server.admin_url + "/sessions/0/close", {})
    assert again.status == 409
    assert admin("POST", realtime_server.admin_url + "/sessions/0/close", {"code": 99}).status == 400


@pytest.mark.parametrize("code", [999, 1004, 1005, 1015, 1016, 2999, 5000, "1011", True])
def test_close_codes_a_server_cannot_send_are_refused(realtime_server: FakeRealtimeServer, code: Any) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        answer = admin("POST", realtime_server.admin_url + "/sessions/0/close", {"code": code})
        assert answer.status == 400
        assert "expected a close code a server may send: 1000-1003, 1007-1014, 3000-4999, or 1006" in (
            answer.body["error"]["message"])
        assert realtime_server.connections[0].close_code is None
    too_long = admin("POST", realtime_server.admin_url + "/sessions/0/close", {"code": 1000, "reason": "x" * 124})
    assert too_long.status == 400 and "123 bytes" in too_long.body["error"]["message"]


async def test_close_1006_drops_the_connection_without_a_close_frame(realtime_server: FakeRealtimeServer) -> None:
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        answer = admin("POST", realtime_server.admin_url + "/sessions/0/close", {"code": 1006})
        assert answer.status == 200 and answer.body["code"] == 1006
        with pytest.raises(ConnectionClosed) as ended:
            await asyncio.wait_for(conn.recv(), 5)
        assert ended.value.rcvd is None and ended.value.sent is None  # the socket ended: no close frame
    assert await realtime_server.connections[0].wait_closed() == 1006


def test_pacing_is_set_over_http(realtime_server: FakeRealtimeServer) -> None:
    answer = admin("PUT", realtime_server.admin_url + "/pacing", {"pacing": 0.5})
    assert answer.status == 200 and answer.body == {"pacing": 0.5}
    assert realtime_server.script.pacing == 0.5
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(item=HELLO)
        started = time.monotonic()  # before asking: the response cannot start earlier, however loaded the machine
        conn.response.create()
        while conn.recv().type != "response.done":
            pass
    # "You said: hello" takes 1 s at 15 characters a second, half that at pacing 0.5 (a lower bound only)
    assert time.monotonic() - started >= 0.4
    assert admin("PUT", realtime_server.admin_url + "/pacing", {"pacing": None}).body == {"pacing": None}
    assert realtime_server.script.pacing is None
    assert admin("PUT", realtime_server.admin_url + "/pacing", {"pacing": -1}).status == 400
    assert admin("PUT", realtime_server.admin_url + "/pacing", {"pace": 1}).status == 400
    assert admin("PUT", realtime_server.admin_url + "/script", {"pacing": 2}).status == 200
    assert realtime_server.script.pacing == 2


def test_a_reset_with_a_broken_start_script_changes_nothing(tmp_path: Path) -> None:
    start = tmp_path / "start.json"
    start.write_text(json.dumps({"rules": [{"reply": {"say": "From the file."}}]}))
    with FakeRealtimeServer(script_file=str(start)) as server:
        client = OpenAI(api_key="sk-test", websocket_base_url=server.base_url)
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.recv()
            start.write_text(json.dumps({"rules": 5}))  # someone breaks the file while the server runs
            answer = admin("POST", server.admin_url + "/reset")
            assert answer.status == 400
            assert answer.body["error"]["message"] == (
                "nothing was reset: the start script cannot be used: rules: expected a list of rules, got 5")
            [session] = admin("GET", server.admin_url + "/sessions").body["sessions"]
            assert session["open"]  # still there, still served, still checked
            conn.conversation.item.create(item=WRONG)
            while conn.recv().type != "error":
                pass
        server.settle()
        assert admin("GET", server.admin_url + "/problems").body["problems"]
        start.unlink()
        answer = admin("POST", server.admin_url + "/reset")
        assert answer.status == 400 and answer.body["error"]["message"] == (
            f"nothing was reset: the start script cannot be used: {start}: No such file or directory")
        assert len(admin("GET", server.admin_url + "/sessions").body["sessions"]) == 1
        server.allow_errors()


def test_faults_injected_over_http_hit_the_next_connection(realtime_server: FakeRealtimeServer) -> None:
    answer = admin("POST", realtime_server.admin_url + "/faults", {"close_before_created": [1011, "chaos"]})
    assert answer.status == 200

    async def first_event() -> tuple[int | None, str | None]:
        async with connect(realtime_server.url + "?model=gpt-realtime",
                           additional_headers={"Authorization": "Bearer sk-test"}) as ws:
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason
        return None, None

    assert asyncio.run(first_event()) == (1011, "chaos")
    assert admin("POST", realtime_server.admin_url + "/faults", {"drop": 1.5}).status == 400
    assert admin("POST", realtime_server.admin_url + "/faults", {"shake": True}).status == 400


def test_errors_problems_and_expected_errors(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.conversation.item.create(item=WRONG)
        while (event := conn.recv()).type != "error":
            pass
    realtime_server.settle()
    [report] = admin("GET", realtime_server.admin_url + "/errors").body["errors"]
    assert report["client_event"]["type"] == "conversation.item.create"
    assert report["error"]["code"] == event.error.code and report["error"]["param"] == event.error.param
    [problem] = admin("GET", realtime_server.admin_url + "/problems").body["problems"]
    assert event.error.message in problem
    declared = admin("POST", realtime_server.admin_url + "/expected-errors",
                     {"code": event.error.code, "client_event": "conversation.item.create", "times": 1})
    assert declared.status == 200
    assert admin("GET", realtime_server.admin_url + "/problems").body == {"problems": []}
    assert admin("POST", realtime_server.admin_url + "/expected-errors", {"cod": "x"}).status == 400
    assert admin("POST", realtime_server.admin_url + "/expected-errors", {"message_matches": "("}).status == 400


def test_allow_errors_lets_every_error_pass(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.conversation.item.create(item=WRONG)
        while conn.recv().type != "error":
            pass
    realtime_server.settle()
    assert admin("GET", realtime_server.admin_url + "/problems").body["problems"]
    assert admin("POST", realtime_server.admin_url + "/allow-errors", {"allowed": True}).body == {"allowed": True}
    assert admin("GET", realtime_server.admin_url + "/problems").body == {"problems": []}
    assert admin("POST", realtime_server.admin_url + "/allow-errors", {"allowed": "yes"}).status == 400


# --- HTTP edge cases --------------------------------------------------------------------------


def test_a_request_trickling_in_byte_by_byte_is_answered(realtime_server: FakeRealtimeServer) -> None:
    body = json.dumps({"rules": [{"reply": {"say": "Slowly."}}]}).encode()
    request = (b"PUT /__admin/script HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    answer = raw_exchange(realtime_server, request, chunk=1)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in answer
    assert talk(realtime_server) == "Slowly."


async def test_a_websocket_upgrade_trickling_in_still_upgrades(realtime_server: FakeRealtimeServer) -> None:
    request = (b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-test\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", realtime_server.port)
    for byte in request:
        writer.write(bytes([byte]))
        await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    writer.close()
    await writer.wait_closed()
    connection = await realtime_server.wait_for_connection()
    assert connection.accepted
    await connection.wait_closed()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /__admin/script HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
        (b"POST /__admin/reset HTTP/1.1\r\nContent-Length: many\r\n\r\n", b"400"),
        (b"POST /__admin/reset HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"GET /__admin HTTP/1.1\r\nX-Long: " + b"a" * 70_000, b"431"),
        (b"GET /__admin HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"POST /__admin/allow-errors HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", b"400"),
    ],
)
def test_malformed_admin_requests_get_a_clear_status(
    realtime_server: FakeRealtimeServer, request_bytes: bytes, status: bytes
) -> None:
    answer = raw_exchange(realtime_server, request_bytes)
    assert answer.split(b" ")[1] == status
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"]
    assert talk(realtime_server) == "You said: hello"  # the server is fine


def test_a_failing_route_is_a_500_and_the_server_lives_on(
    realtime_server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("inside the route")

    monkeypatch.setattr(realtime_server, "problems", broken)
    answer = admin("GET", realtime_server.admin_url + "/problems")
    assert answer.status == 500 and "RuntimeError: inside the route" in answer.body["error"]["message"]
    monkeypatch.undo()
    assert admin("GET", realtime_server.admin_url + "/problems").body == {"problems": []}


# --- CORS and switching it off ------------------------------------------------------------------


def test_browsers_are_refused_unless_their_origin_is_allowed(realtime_server: FakeRealtimeServer) -> None:
    origin = {"Origin": "http://localhost:5173"}
    plain = admin("GET", realtime_server.admin_url + "/sessions", headers=origin)
    assert plain.status == 200 and "access-control-allow-origin" not in plain.headers
    preflight = admin("OPTIONS", realtime_server.admin_url + "/script",
                      headers={**origin, "Access-Control-Request-Method": "PUT"})
    assert preflight.status == 403


@pytest.fixture
def cors_server() -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer(cors_origins=["http://localhost:5173"]) as server:
        yield server


def test_an_allowed_origin_gets_cors_headers(cors_server: FakeRealtimeServer) -> None:
    origin = {"Origin": "http://localhost:5173"}
    preflight = admin("OPTIONS", cors_server.admin_url + "/script",
                      headers={**origin, "Access-Control-Request-Method": "PUT",
                               "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204 and preflight.body is None
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    answer = admin("GET", cors_server.admin_url + "/sessions", headers=origin)
    assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
    other = admin("GET", cors_server.admin_url + "/sessions", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_without_the_admin_api_the_path_is_just_not_found() -> None:
    async with FakeRealtimeServer(admin=False) as server:
        with pytest.raises(RuntimeError):
            _ = server.admin_url
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{server.port}/__admin/sessions"):
                pass
        assert refused.value.response.status_code == 404


def test_a_large_script_body_arrives_whole(realtime_server: FakeRealtimeServer) -> None:
    never = "pizza " * 400_000  # a 2.4 MB body: many TCP reads
    script = {"rules": [{"when": {"turn": 99}, "reply": {"say": never}}, {"reply": {"say": "Big."}}]}
    answer = admin("PUT", realtime_server.admin_url + "/script", script)
    assert answer.status == 200 and answer.body["rules"] == 2
    assert talk(realtime_server) == "Big."

"""The fake's port (transport/front.py): one test per behaviour of websockets the front relies on.

The front peeks at the first request line of each TCP connection: admin requests are read whole and
answered without websockets ever knowing the connection; anything else is handed to websockets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

import fake_server.transport.front as front
from fake_server import FakeRealtimeServer
from fake_server.transport.front import BatchingConnection

UPGRADE = (b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-test\r\n\r\n")


def exchange(server: FakeRealtimeServer, *pieces: bytes, pause: float = 0.0, timeout: float = 10) -> bytes:
    """Send each piece in its own TCP write (``pause`` seconds apart), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            sock.sendall(piece)
            if pause:
                time.sleep(pause)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # dropped without a goodbye
            pass
    return received


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body(answer: bytes) -> Any:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# --- admin requests: never websockets' ---------------------------------------------------------------


def test_a_plain_get_to_the_admin_prefix_is_answered_and_the_connection_closed(
    realtime_server: FakeRealtimeServer,
) -> None:
    answer = exchange(realtime_server, b"GET /__admin HTTP/1.1\r\nHost: x\r\n\r\n")  # returns: the server closed
    assert status(answer) == 200 and b"Connection: close\r\n" in answer
    assert {"method": "GET", "path": "/__admin/problems"}.items() <= body(answer)["routes"][-1].items()
    assert realtime_server.connections == []  # websockets never had it, so no WebSocket connection either


def test_a_post_body_split_across_several_tcp_writes_is_read_whole(realtime_server: FakeRealtimeServer) -> None:
    script = json.dumps({"rules": [{"reply": {"say": "one"}}, {"reply": {"say": "two"}}]}).encode()
    head = (b"PUT /__admin/script HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(script)).encode() + b"\r\n\r\n")
    third = len(script) // 3
    answer = exchange(realtime_server, head, script[:third], script[third:2 * third], script[2 * third:], pause=0.05)
    assert status(answer) == 200 and body(answer) == {"script": "loaded", "rules": 2}


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([b"GET /__admin HTTP/1.1\r\nX-Long: ", b"a" * 40_000, b"a" * 40_000], 431),
        ([b"PUT /__admin/script HTTP/1.1\r\nContent-Length: " + str(16 * 1024 * 1024 + 1).encode() + b"\r\n\r\n"],
         413),
    ],
    ids=["head", "body"],
)
def test_an_oversize_head_or_body_is_refused(
    realtime_server: FakeRealtimeServer, pieces: list[bytes], expected: int
) -> None:
    answer = exchange(realtime_server, *pieces, pause=0.02)
    assert status(answer) == expected and body(answer)["error"]["message"]


def test_an_admin_request_that_never_completes_is_dropped_after_the_open_timeout(
    realtime_server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "OPEN_TIMEOUT", 0.3)
    started = time.monotonic()
    answer = exchange(realtime_server, b"PUT /__admin/script HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    assert answer == b"" and time.monotonic() - started < 5


async def test_a_port_probe_is_dropped_quietly(
    realtime_server: FakeRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, writer = await asyncio.open_connection("127.0.0.1", realtime_server.port)
    writer.close()
    await writer.wait_closed()
    for _ in range(200):
        if any("before it sent a request line" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.01)
    assert [r for r in caplog.records if "before it sent a request line" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- everything else: handed to websockets -----------------------------------------------------------


async def test_a_websocket_upgrade_on_the_same_port_still_works_and_negotiates_its_subprotocol(
    realtime_server: FakeRealtimeServer,
) -> None:
    # serve() asks the front for `.protocol` when a subprotocol is selected: the websocket's is there
    offered = [Subprotocol("realtime"), Subprotocol("openai-insecure-api-key.sk-test")]
    async with connect(realtime_server.url + "?model=gpt-realtime", subprotocols=offered) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(await ws.recv())["type"] == "session.created"
    assert (await realtime_server.wait_for_connection()).accepted


async def test_an_upgrade_whose_head_came_with_the_first_line_is_handed_over_whole(
    realtime_server: FakeRealtimeServer,
) -> None:
    # the front read the whole head before it decided: websockets gets every byte of it, once
    reader, writer = await asyncio.open_connection("127.0.0.1", realtime_server.port)
    writer.write(UPGRADE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    writer.close()
    await writer.wait_closed()
    assert (await realtime_server.wait_for_connection()).accepted


@pytest.mark.parametrize("path", [b"/v1/models", b"/__adminx", b"/"])
def test_a_non_admin_http_path_gets_websockets_404(realtime_server: FakeRealtimeServer, path: bytes) -> None:
    answer = exchange(realtime_server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status(answer) == 404 and answer.endswith(b"Not Found\n")


def test_a_first_line_longer_than_the_peek_goes_to_websockets(realtime_server: FakeRealtimeServer) -> None:
    answer = exchange(realtime_server, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"/__admin" not in answer and not answer.startswith(b"HTTP/1.1 200")


def test_an_end_of_stream_before_the_first_line_goes_to_websockets(
    realtime_server: FakeRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.create_connection(("127.0.0.1", realtime_server.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/realt")
        sock.shutdown(socket.SHUT_WR)
        try:
            assert sock.recv(65536) == b""  # websockets saw the request cut short and ended the connection
        except ConnectionResetError:
            pass
    assert realtime_server.connections == []
    for _ in range(200):  # websockets says so in its own words
        if any("opening handshake failed" in r.getMessage() for r in caplog.records):
            break
        time.sleep(0.01)
    assert [r for r in caplog.records if r.name == "websockets.server" and "opening handshake failed" in r.getMessage()]


# --- batched writes ----------------------------------------------------------------------------------


class _Transport:
    """Records what a connection writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True


async def test_frames_queued_together_go_out_in_one_write_and_the_end_of_stream_after_them() -> None:
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    connection = BatchingConnection(protocol, None)  # type: ignore[arg-type]  # no server needed to write
    transport = _Transport()
    connection.transport = transport  # type: ignore[assignment]
    protocol.send_text(b"one")
    protocol.send_text(b"two")
    connection.send_data()
    assert transport.writes == [Frame(Opcode.TEXT, b"one").serialize(mask=False, extensions=[])
                                + Frame(Opcode.TEXT, b"two").serialize(mask=False, extensions=[])]
    protocol.fail(1011, "bye")  # a server that fails sends a close frame, then ends the stream
    connection.send_data()
    assert len(transport.writes) == 2 and transport.eof

"""Inspection and verification: redaction, waits, bounded journals, reports."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from websockets.asyncio.client import connect
from websockets.sync.client import connect as sync_connect

from fake_server import FakeRealtimeServer
from fake_server.core.journal import Handshake
from fake_server.transport.journal_wait import WaitableJournal
from fake_server.verify import allowed_content_types, explain_rejection, summarize

CANARY = "sk-canary-7f3c9e1d5b2a4c6e8f0a"


def _everything_recorded(server: FakeRealtimeServer) -> str:
    parts = []
    for connection in server.connections:
        parts += [repr(connection), repr(connection.journal), repr(connection.handshake)]
        parts += [repr(entry) for entry in connection.entries()]
        parts += [report.describe() for report in connection.errors()]
    return "\n".join(parts + server.problems())


def test_a_canary_key_never_reaches_the_journal(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.api_keys = frozenset({CANARY})
    with sync_connect(realtime_server.url + "?model=gpt-realtime",
                      additional_headers={"Authorization": f"Bearer {CANARY}", "api-key": CANARY}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
    with sync_connect(realtime_server.url + f"?model=gpt-realtime&api-key={CANARY}",
                      subprotocols=["realtime", f"openai-insecure-api-key.{CANARY}"]) as ws:  # type: ignore[list-item]
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
    realtime_server.policy.api_keys = frozenset({"sk-another-key-entirely"})
    realtime_server.expect_error(code="invalid_api_key")
    with sync_connect(realtime_server.url + "?model=gpt-realtime",
                      additional_headers={"Authorization": f"Bearer {CANARY}"}) as ws:
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "invalid_api_key"
    first, second, rejected = realtime_server.connections
    assert rejected.wait_closed_sync() == 3000
    recorded = _everything_recorded(realtime_server)
    assert CANARY not in recorded
    assert first.handshake is not None and second.handshake is not None
    assert first.handshake.headers["authorization"] == "Bearer sk-canar" + "*" * (len(CANARY) - 12) + "8f0a"
    assert first.handshake.headers["api-key"].endswith("8f0a") and "*" in first.handshake.headers["api-key"]
    assert "openai-insecure-api-key.sk-canar" in second.handshake.headers["sec-websocket-protocol"]
    assert all(CANARY not in p for p in second.handshake.subprotocols)
    assert CANARY not in second.handshake.query and "model=gpt-realtime" in second.handshake.query


def test_redaction_of_each_place_a_key_can_travel() -> None:
    handshake = Handshake.redacted(
        "/v1/realtime", f"model=m&api-key={CANARY}",
        {"authorization": f"Bearer {CANARY}", "x-api-key": CANARY, "sec-websocket-protocol":
         f"realtime, openai-insecure-api-key.{CANARY}", "user-agent": "ua"},
        ["realtime", f"openai-insecure-api-key.{CANARY}"], 0.0,
    )
    assert CANARY not in repr(handshake)
    assert handshake.headers["user-agent"] == "ua"
    assert handshake.subprotocols[0] == "realtime"
    assert handshake.target.startswith("/v1/realtime?model=m&api-key=sk-canar")
    assert Handshake.redacted("/", "", {"authorization": "Bearer short"}, [], 0.0).headers["authorization"] == \
        "Bearer *****"


async def test_sync_waits_refuse_to_block_the_servers_own_loop() -> None:
    async with FakeRealtimeServer() as server:
        async with connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk"}) as ws:
            await ws.recv()
            connection = await server.wait_for_connection()
            with pytest.raises(RuntimeError, match="await wait_for"):
                connection.wait_for_sync("session.created")
            with pytest.raises(RuntimeError, match="await wait_for_connection"):
                server.wait_for_connection_sync()
            assert (await connection.wait_for("session.created"))["type"] == "session.created"
            assert connection.conversation() == []  # on the loop's own thread: read directly


async def test_a_wait_that_times_out_shows_the_latest_frames(realtime_server: FakeRealtimeServer) -> None:
    async with connect(realtime_server.url + "?model=gpt-realtime",
                       additional_headers={"Authorization": "Bearer sk"}) as ws:
        await ws.recv()
        connection = await realtime_server.wait_for_connection()
        with pytest.raises(TimeoutError) as failure:
            await connection.wait_for("response.done", timeout=0.05)
        assert "no server event 'response.done' on connection 0 within 0.05 s" in str(failure.value)
        assert "server: {\"type\": \"session.created\"" in str(failure.value)
        with pytest.raises(TimeoutError, match="connection 1 did not come within 0.05 s"):
            await realtime_server.wait_for_connection(1, timeout=0.05)
        with pytest.raises(TimeoutError, match="still open"):
            await connection.wait_closed(timeout=0.05)


def test_a_client_that_hangs_up_at_once_is_still_heard(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_value", times=20)
    with sync_connect(realtime_server.url + "?model=gpt-realtime",
                      additional_headers={"Authorization": "Bearer sk"}) as ws:
        for n in range(20):
            ws.send(json.dumps({"type": "session.reset", "event_id": f"r{n}"}))
    connection = realtime_server.wait_for_connection_sync()
    assert connection.wait_closed_sync() == 1000
    assert [e["event_id"] for e in connection.client_events()] == [f"r{n}" for n in range(20)]


def test_the_journal_is_bounded_and_positions_survive_drops() -> None:
    journal = WaitableJournal(max_entries=3)
    for n in range(5):
        journal.client(float(n), {"type": "x", "n": n})
    assert journal.dropped == 2 and journal.position == 5
    assert [e.event["n"] for e in journal.entries() if e.event] == [2, 3, 4]
    assert [e.event["n"] for e in journal.entries(since=4) if e.event] == [4]
    assert journal.wait_for("x", {"n": 4}, direction="client", timeout=0) is not None
    assert journal.wait_for("x", direction="client", since=5, timeout=0) is None


def test_a_journal_wakes_a_waiting_thread_and_loop() -> None:
    journal = WaitableJournal()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        waiting = asyncio.ensure_future(journal.wait_for_async("b", timeout=5))
        threaded = loop.run_in_executor(None, lambda: journal.wait_for("b", timeout=5))
        await asyncio.sleep(0)
        await loop.run_in_executor(None, journal.server, 1.0, [{"type": "a"}, {"type": "b"}])
        assert (await waiting) is not None and (await threaded) is not None

    asyncio.run(main())


def test_declared_errors_that_do_not_happen_as_declared(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_value", times=2)
    realtime_server.expect_error(message=re.compile("never"), client_event="session.update")
    with sync_connect(realtime_server.url + "?model=gpt-realtime",
                      additional_headers={"Authorization": "Bearer sk"}) as ws:
        ws.recv(timeout=10)
        ws.send(json.dumps({"type": "session.reset"}))
        ws.recv(timeout=10)
    realtime_server.settle()
    assert realtime_server.problems() == [
        "expect_error(code='invalid_value') declared 2 time(s), but it was sent 1 time(s)",
        "expect_error(message='never', client_event='session.update') declared, but no such error was sent",
    ]
    realtime_server.reset()


def test_expectations_for_a_connection_that_never_came(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.client_expectations(1).then("session.update")
    assert realtime_server.problems() == [
        "connection 1 never opened; expected from its client:\n  #1 session.update"]
    realtime_server.reset()
    assert realtime_server.problems() == []


def test_allowed_content_types_come_from_the_schema() -> None:
    assert allowed_content_types() == {
        "system": ("input_text",), "user": ("input_text", "input_audio", "input_image"),
        "assistant": ("output_text",)}


def test_summaries_shorten_audio_and_long_text() -> None:
    event = {"type": "input_audio_buffer.append", "audio": "AAAA" * 100, "note": "x" * 500}
    line = summarize(event)
    assert '"audio": "<300 bytes base64>"' in line and "(500 chars)" in line
    assert summarize(b"\x00\x01") == "<binary frame, 2 bytes>"
    assert explain_rejection({"type": "response.create", "response": {"input": [{"type": "message", "role": "system",
                             "content": [{"type": "output_text", "text": "x"}]}]}},
                             "response.input[0].content[0].type")[-1] == \
        "content part types the schema allows for role 'system': input_text"


def test_check_sees_an_error_whose_frame_is_still_in_flight(realtime_server: FakeRealtimeServer) -> None:
    # The test ends right after sending, with the connection open: the frame may not even have
    # been read by the server yet. check() waits for it, so the error is not missed.
    for _ in range(10):
        with sync_connect(realtime_server.url + "?model=gpt-realtime",
                          additional_headers={"Authorization": "Bearer sk"}) as ws:
            ws.recv(timeout=10)
            ws.send(json.dumps({"type": "session.reset", "event_id": "in_flight"}))
            with pytest.raises(AssertionError, match="in_flight"):
                realtime_server.check()
        realtime_server.reset()


def test_settle_returns_at_once_when_every_connection_is_idle(realtime_server: FakeRealtimeServer) -> None:
    with sync_connect(realtime_server.url + "?model=gpt-realtime",
                      additional_headers={"Authorization": "Bearer sk"}) as ws:
        ws.recv(timeout=10)
        assert realtime_server.settle(timeout=5.0) is True

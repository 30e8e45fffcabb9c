"""The recording proxy with the fake as upstream: what it writes, what it never writes, the record command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _serve_process import ServeProcess, child_env
from openai import AsyncOpenAI
from websockets.asyncio.client import connect

from fake_server import FakeRealtimeServer
from fake_server.scenarios.record import RecordingProxy, scrub
from fake_server.scenarios.replay import replay, replay_sync
from fake_server.scenarios.format import ClientLine, ServerLine, load_scenario

REPO = Path(__file__).resolve().parents[2]
CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"
EPHEMERAL = "ek_canary_68af3c2d9e1b4f7a0c5d2e8b"


def assert_no_secret(text: str) -> None:
    for secret in (CANARY, EPHEMERAL):
        assert secret not in text
        assert secret[8:-4] not in text  # not even the middle of it


def test_scrub_masks_known_keys_ephemeral_secrets_and_api_keys_anywhere() -> None:
    value = {"a": f"Bearer {CANARY}", "nested": [{"secret": EPHEMERAL}], EPHEMERAL: "key too",
             "other": "sk-another-0123456789abcdefghij", "short": "sk-x", "fine": "item_abc"}
    scrubbed = scrub(value, [CANARY])
    assert_no_secret(json.dumps(scrubbed))
    assert scrubbed["a"] == "Bearer sk-canar" + "*" * (len(CANARY) - 12) + "9c1e"
    assert scrubbed["nested"][0]["secret"].startswith("ek_canar") and scrubbed["nested"][0]["secret"].endswith("2e8b")
    assert "0123456789abcdef" not in scrubbed["other"]
    assert (scrubbed["short"], scrubbed["fine"]) == ("sk-x", "item_abc")


def test_short_secrets_are_masked_whole_but_for_their_prefix() -> None:
    """Keeping the first 8 and last 4 characters of a 13-character secret would show 12 of them."""
    assert scrub("ek_abcdefgh12") == "ek_" + "*" * 10
    assert scrub({"k": "token sk-abcdefghijklmnop1 end"}) == {"k": "token sk-" + "*" * 17 + " end"}
    assert scrub({"instructions": "use sk-short123 here"}) == {"instructions": "use sk-******** here"}
    assert scrub("Bearer hunter2hunter2", ["hunter2hunter2"]) == "Bearer " + "*" * 14  # a known key, no prefix
    long = "ek_" + "a1" * 12  # 27 characters: masked as the live error masks a key
    assert scrub(long) == long[:8] + "*" * 15 + long[-4:]


async def test_a_recorded_sdk_session_replays_against_a_fresh_fake_and_holds_no_key(tmp_path: Path) -> None:
    out = tmp_path / "turn.jsonl"
    async with FakeRealtimeServer(seed=3) as upstream:
        async with RecordingProxy(upstream.url, out=out, name="turn", description="an SDK turn") as proxy:
            client = AsyncOpenAI(api_key=CANARY, websocket_base_url=proxy.base_url)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                assert (await conn.recv()).type == "session.created"
                await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                                   "instructions": f"Use the token {EPHEMERAL} nowhere."})
                while (await conn.recv()).type != "session.updated":
                    pass
                await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "hello"}]})
                added = await conn.recv()
                await conn.recv()
                await conn.response.create()
                while (await conn.recv()).type != "rate_limits.updated":
                    pass
                await conn.conversation.item.delete(item_id=added.item.id, event_id="del")
                assert (await conn.recv()).type == "conversation.item.deleted"
        assert upstream.connections[0].handshake is not None
    text = out.read_text()
    assert_no_secret(text)
    scenario = load_scenario(out)
    assert (scenario.name, scenario.description, scenario.model) == ("turn", "an SDK turn", "gpt-realtime")
    assert scenario.source.startswith("fake-realtime record, upstream ws://127.0.0.1:")
    assert scenario.recorded_at is not None and scenario.recorded_at.endswith("Z")
    delete = next(line for line in scenario.lines if isinstance(line, ClientLine) and line.label ==
                  "conversation.item.delete")
    assert delete.event is not None and delete.event["item_id"] == {"$ref": "item_1"}
    deltas = [line for line in scenario.lines if isinstance(line, ServerLine) and line.stream]
    assert len(deltas) == 1  # the text deltas of one answer collapse into one streamed expectation
    assert scenario.lines[-1].close == {"code": 1000}
    async with FakeRealtimeServer(seed=99) as fresh:
        result = await replay(scenario, fresh.url)
        assert result.passed, result.report()
        [update] = fresh.connections[0].client_events("session.update")
    # what is replayed is what was recorded: the masked secret, never the secret
    assert update["session"]["instructions"].startswith("Use the token ek_canar")
    assert EPHEMERAL not in update["session"]["instructions"]


async def test_subprotocol_keys_never_reach_the_file_and_audio_can_be_summarized(tmp_path: Path) -> None:
    out = tmp_path / "voice.jsonl"
    async with FakeRealtimeServer() as upstream:
        async with RecordingProxy(upstream.url, out=out, summarize_audio=True) as proxy, connect(
                proxy.url + "?model=gpt-realtime",
                subprotocols=["realtime", f"openai-insecure-api-key.{CANARY}"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "realtime"
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps({"type": "response.create"}))
            while json.loads(await ws.recv())["type"] != "rate_limits.updated":
                pass
        [conn] = upstream.connections
        assert conn.handshake is not None and any("openai-insecure-api-key." in p for p in conn.handshake.subprotocols)
    text = out.read_text()
    assert_no_secret(text)
    audio = [line.event for line in load_scenario(out).lines
             if isinstance(line, ServerLine) and line.label == "response.output_audio.delta"]
    assert audio and all(set(e["delta"]["$audio"]) == {"bytes", "sha256"} for e in audio if e is not None)
    assert '"delta": {"$audio": {"bytes": ' in text


async def test_a_rejected_handshake_is_recorded_as_the_error_and_the_server_close(tmp_path: Path) -> None:
    out = tmp_path / "no_model.jsonl"
    async with FakeRealtimeServer() as upstream, RecordingProxy(upstream.url, out=out) as proxy:
        async with connect(proxy.url, additional_headers={"Authorization": f"Bearer {CANARY}"}) as ws:
            event = json.loads(await ws.recv())
            await ws.wait_closed()
        assert (ws.close_code, event["error"]["code"]) == (4000, "missing_model")
    scenario = load_scenario(out)
    assert scenario.connections[0].model is None
    assert [line.label for line in scenario.lines] == ["error", "close"]
    assert scenario.lines[1].close == {"code": 4000, "reason": "invalid_request_error.missing_model"}
    async with FakeRealtimeServer() as fresh:
        assert (await replay(scenario, fresh.url)).passed
    assert_no_secret(out.read_text())


async def test_two_client_connections_become_two_named_connections(tmp_path: Path) -> None:
    out = tmp_path / "two.jsonl"
    async with FakeRealtimeServer() as upstream, RecordingProxy(upstream.url, out=out) as proxy:
        headers = {"Authorization": f"Bearer {CANARY}"}
        async with connect(proxy.url + "?model=gpt-realtime", additional_headers=headers) as first:
            await first.recv()
            async with connect(proxy.url + "?model=gpt-realtime-mini&intent=chat",
                               additional_headers=headers) as second:
                await second.recv()
    scenario = load_scenario(out)
    assert [(c.name, c.model, dict(c.query)) for c in scenario.connections] == [
        ("main", "gpt-realtime", {}), ("conn2", "gpt-realtime-mini", {"intent": "chat"})]
    assert {line.conn for line in scenario.lines} == {"main", "conn2"}


def test_record_command_proxies_to_a_served_fake_writes_the_file_and_stops_on_sigint(tmp_path: Path) -> None:
    """`fake-realtime record --summarize-audio`: one line per delta pattern whatever the chunking (so the file
    replays against a fake that chunks otherwise), and client audio as the placeholder that regenerates it."""
    import base64
    import hashlib

    from fake_server import speech
    from fake_server.core.session import SessionLimits

    serve = ServeProcess([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0"], cwd=str(REPO),
                         env=child_env(PYTHONUNBUFFERED="1"))
    out = tmp_path / "cli.jsonl"
    record = None
    spoken = speech.silence(300) + speech.synthesize("book a table") + speech.silence(200)
    noise = bytes(range(256)) * 8  # no placeholder makes these bytes: kept as they are

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    try:
        upstream = serve.field("url")
        record = ServeProcess([sys.executable, "-m", "fake_server.cli", "record", "--upstream", upstream,
                               "--port", "0", "--out", str(out), "--name", "from_cli", "--summarize-audio"],
                              cwd=str(REPO), env=child_env(PYTHONUNBUFFERED="1"))
        url = record.field("url")
        assert url.startswith("ws://127.0.0.1:") and url != upstream
        from websockets.sync.client import connect as sync_connect

        with sync_connect(url + "?model=gpt-realtime", additional_headers={"Authorization": f"Bearer {CANARY}"},
                          max_size=None) as ws:
            assert json.loads(ws.recv())["type"] == "session.created"
            ws.send(json.dumps({"type": "session.reset", "event_id": "r1"}))
            assert json.loads(ws.recv())["error"]["param"] == "type"
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech.silence(100))}))
            for audio in (spoken, noise):
                ws.send(json.dumps({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user", "content": [{"type": "input_audio", "audio": b64(audio)}]}}))
                ws.recv()
                ws.recv()
            ws.send(json.dumps({"type": "response.create"}))
            deltas = []
            while (event := json.loads(ws.recv()))["type"] != "rate_limits.updated":
                if event["type"] == "response.output_audio.delta":
                    deltas.append(base64.b64decode(event["delta"]))
        assert record.field("saved") == str(out)
        code, stderr = record.interrupt()
        assert code == 0, stderr
        assert "Traceback" not in stderr
        stdout = record.rest_of_stdout()
        assert "stopped" in stdout
        assert_no_secret(stdout + stderr + out.read_text())
    finally:
        if record is not None:
            record.kill()
        serve.interrupt()
    scenario = load_scenario(out)
    assert scenario.name == "from_cli"
    assert [line.label for line in scenario.lines][:4] == ["session.created", "session.reset", "error",
                                                           "input_audio_buffer.append"]
    sent = [line.event for line in scenario.lines if isinstance(line, ClientLine) and line.event is not None]
    assert sent[1]["audio"] == {"$silence": 100}
    assert sent[2]["item"]["content"][0]["audio"] == {"$speech": {"text": "book a table", "before_ms": 300,
                                                                  "after_ms": 200}}
    assert sent[3]["item"]["content"][0]["audio"] == b64(noise)
    audio_lines = [line.event for line in scenario.lines if line.label == "response.output_audio.delta"]
    assert len(deltas) > 3 and len(audio_lines) == 1  # the summary is of all the deltas, in one line
    whole = b"".join(deltas)
    assert audio_lines[0]["delta"] == {"$audio": {"bytes": len(whole), "sha256": hashlib.sha256(whole).hexdigest()}}
    for chunk_ms in (1000.0, 20.0):  # fewer and more chunks than recorded
        with FakeRealtimeServer(limits=SessionLimits(audio_chunk_ms=chunk_ms)) as fresh:
            result = replay_sync(scenario, fresh.url, timeout=5)
            assert result.passed, result.report()
            [conn] = fresh.connections
            got = [base64.b64decode(e["delta"]) for e in conn.server_events("response.output_audio.delta")]
            assert len(got) != len(deltas) and b"".join(got) == whole
            [append] = conn.client_events("input_audio_buffer.append")
            items = conn.client_events("conversation.item.create")
        assert base64.b64decode(append["audio"]) == speech.silence(100)
        assert [base64.b64decode(i["item"]["content"][0]["audio"]) for i in items] == [spoken, noise]


async def test_a_beta_session_is_recorded_as_beta_and_replays_with_the_beta_header(tmp_path: Path) -> None:
    """The SDK's beta client sends `OpenAI-Beta: realtime=v1`; a browser-style client says it by subprotocol.
    Either is recorded, and the replay offers it the same way: today's fake answers both with the retirement
    error and close 4000 (FACTS §1), and so does the replay, at once."""
    from websockets.exceptions import ConnectionClosed

    header_file, protocol_file = tmp_path / "beta_header.jsonl", tmp_path / "beta_subprotocol.jsonl"
    async with FakeRealtimeServer() as upstream:
        async with RecordingProxy(upstream.url, out=header_file) as proxy:
            client = AsyncOpenAI(api_key=CANARY, websocket_base_url=proxy.base_url)
            async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
                event = await conn.recv()
                assert event.type == "error" and event.error.code == "beta_api_shape_disabled"
                with pytest.raises(ConnectionClosed):
                    await conn.recv()  # then the close 4000
        async with RecordingProxy(upstream.url, out=protocol_file) as proxy, connect(
                proxy.url + "?model=gpt-4o-realtime-preview",
                subprotocols=["realtime", f"openai-insecure-api-key.{CANARY}",  # type: ignore[list-item]
                              "openai-beta.realtime-v1"]) as ws:
            assert json.loads(await ws.recv())["error"]["code"] == "beta_api_shape_disabled"
            await ws.wait_closed()
    for path in (header_file, protocol_file):
        assert_no_secret(path.read_text())
        scenario = load_scenario(path)
        assert scenario.dialect == "beta" and json.loads(path.read_text().splitlines()[0])["dialect"] == "beta"
        assert [line.label for line in scenario.lines] == ["error", "close"]
        assert scenario.lines[1].close == {"code": 4000, "reason": "invalid_request_error.beta_api_shape_disabled"}
    assert load_scenario(header_file).connections[0].subprotocols == ()
    assert load_scenario(protocol_file).connections[0].subprotocols == ("realtime", "openai-beta.realtime-v1")
    async with FakeRealtimeServer() as fresh:
        for path in (header_file, protocol_file):
            result = await replay(load_scenario(path), fresh.url, timeout=2)
            assert result.passed, result.report()
            assert result.duration < 1  # the answer, not a timeout
        first, second = (c.handshake for c in fresh.connections)
    assert first is not None and first.headers.get("openai-beta") == "realtime=v1"
    assert second is not None and "openai-beta" not in second.headers
    assert second.subprotocols == ("realtime", "openai-beta.realtime-v1")

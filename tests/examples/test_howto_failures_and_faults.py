"""How to: make the fake fail like the live service does, and misbehave reproducibly."""

import pytest
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed

from fake_server import script as s


def client(server):
    return AsyncOpenAI(api_key="sk-test", websocket_base_url=server.base_url)


async def test_a_failed_response_and_a_rate_limit(realtime_server):
    realtime_server.script.reply(s.server_error(), s.rate_limited())
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        for expected_code in (None, "rate_limit_exceeded"):
            await conn.response.create()
            while (event := await conn.recv()).type != "response.done":
                pass
            assert event.response.status == "failed"
            assert event.response.status_details.error.code == expected_code


async def test_the_connection_drops_mid_response(realtime_server):
    realtime_server.script.reply(s.combine(s.say("This answer never finishes"), s.close(1011, "", after_events=3)))
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.response.create()
        received = [(await conn.recv()).type for _ in range(3)]
        assert received[0] == "response.created"
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
        assert closed.value.rcvd.code == 1011


async def test_the_connection_closes_before_session_created(realtime_server):
    realtime_server.script.inject(close_before_created=(1013, "try again later"))
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "try again later")


async def test_the_connection_closes_after_some_events(realtime_server):
    realtime_server.script.inject(close_after_events=(3, 1011, ""))  # the 3 first server events, then a close
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.response.create()
        received = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                received.append((await conn.recv()).type)
        assert received == ["session.created", "response.created", "response.output_item.added"]
        assert closed.value.rcvd.code == 1011


async def record_with_faults(server):
    # Faults on the text deltas only, so the events this client waits for always come.
    server.script.inject(seed=7, drop=0.15, duplicate=0.15, reorder=0.3,
                         types=frozenset({"response.output_text.delta"}))
    seen = []
    async with client(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "tell me something with quite a few words in it"}]})
        await conn.response.create()
        while (event := await conn.recv()).type != "rate_limits.updated":
            seen.append((event.type, getattr(event, "delta", None)))
    return seen


async def test_seeded_faults_replay_identically(realtime_server):
    first = await record_with_faults(realtime_server)
    realtime_server.reset()
    second = await record_with_faults(realtime_server)
    assert first == second
    assert len(first) != len(set(first))  # duplicates happened

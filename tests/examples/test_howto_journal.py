"""How to: look at what crossed the wire: the journal, the handshake, snapshots and waits.

Every connection to the fake gets a record in ``realtime_server.connections`` (in the order
they came, rejected handshakes included): its journal of frames both ways, its redacted
handshake, its session and how it closed. Waits work from sync tests and from async tests.
"""

import json
import threading

from openai import AsyncOpenAI, OpenAI

HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}


async def test_every_frame_both_ways_with_direction_and_time(realtime_server):
    client = AsyncOpenAI(api_key="sk-test-journal-0123456789", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(item=HELLO)
        # wait for what the fake sent, from this test's event loop (the fixture's server runs its own)
        server_side = await realtime_server.wait_for_connection()
        added = await server_side.wait_for("conversation.item.added", item={"role": "user"})
        assert added["item"]["content"] == HELLO["content"]
        await conn.response.create()
        while (await conn.recv()).type != "response.done":  # your client reads its events as usual
            pass
        done = await server_side.wait_for("response.done", response={"status": "completed"})
        assert done["response"]["output"][0]["content"][0]["text"] == "You said: hello"

    [connection] = realtime_server.connections
    assert [event["type"] for event in connection.client_events()] == [
        "session.update", "conversation.item.create", "response.create"]
    assert connection.server_events("conversation.item.done")[0]["item"]["role"] == "user"
    entries = connection.entries()  # Entry(direction, time, event, raw), oldest first
    assert (entries[0].direction, entries[0].type) == ("server", "session.created")
    assert (entries[1].direction, entries[1].type) == ("client", "session.update")
    assert all(a.time <= b.time for a, b in zip(entries, entries[1:]))
    assert await connection.wait_closed() == 1000 and connection.closed_by == "client"


async def test_the_handshake_is_recorded_with_the_key_redacted(realtime_server):
    client = AsyncOpenAI(api_key="sk-test-journal-0123456789", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
    handshake = realtime_server.connections[0].handshake
    assert (handshake.path, handshake.query) == ("/v1/realtime", "model=gpt-realtime")
    assert handshake.headers["authorization"] == "Bearer sk-test-**************6789"
    assert "sk-test-journal-0123456789" not in repr(realtime_server.connections[0].journal)


def test_a_snapshot_of_the_conversation_at_any_moment(realtime_server):
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(item=HELLO)
        server_side = realtime_server.wait_for_connection_sync()
        server_side.wait_for_sync("conversation.item.done")  # blocks this (sync) test's thread only
        assert [(i["role"], i["type"], i["content"], i["status"]) for i in server_side.conversation()] == [
            ("user", "message", [{"type": "input_text", "text": "hello"}], "completed")]

        since = server_side.journal.position  # only what comes after this point
        conn.response.create()
        while conn.recv().type != "response.done":  # your client reads its events as usual
            pass
        server_side.wait_for_sync("response.done", since=since)
        assert [i["role"] for i in server_side.conversation()] == ["user", "assistant"]
        assert server_side.conversation()[1]["content"] == [{"type": "output_text", "text": "You said: hello"}]


def test_wait_from_another_thread_while_the_client_talks(realtime_server):
    """An observer thread (a UI, a logger) can wait on the journal while the test drives the client."""
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(
        realtime_server.wait_for_connection_sync(timeout=10).wait_for_sync(
            "conversation.item.create", direction="client", item={"role": "user"}, timeout=10)))
    watcher.start()
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.conversation.item.create(item=HELLO)
        watcher.join(10)
    assert json.dumps(seen[0]["item"]["content"]) == json.dumps(HELLO["content"])


def test_sessions_in_order_and_rejected_handshakes_too(realtime_server):
    realtime_server.expect_error(code="invalid_model")  # the second connection is refused on purpose
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
    with client.realtime.connect(model="gpt-nope") as conn:
        assert conn.recv().error.code == "invalid_model"
    first, refused = realtime_server.connections
    assert first.accepted and first.session is realtime_server.sessions[0]
    assert not refused.accepted and refused.session is None
    assert refused.handshake.query == "model=gpt-nope"
    assert refused.wait_closed_sync() == 4000 and refused.closed_by == "server"
    assert [report.code for report in refused.errors()] == ["invalid_model"]

"""How to: test two clients on one server, such as a voice agent and an observer beside it.

Each connection has its own session, conversation and journal: what one client does never
shows in the other's. ``realtime_server.connections`` lists them in the order they came, and
``wait_for_connection(n)`` waits for the n-th (from 0).
"""

import asyncio
import base64

from openai import AsyncOpenAI

from fake_server import speech

TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


async def answer(conn):
    """Read events until the response is done; return the text or transcript it carried."""
    said = ""
    while (event := await conn.recv()).type != "response.done":
        if event.type in ("response.output_text.delta", "response.output_audio_transcript.delta"):
            said += event.delta
    return said


async def test_a_voice_agent_and_an_observer_have_separate_conversations(realtime_server):
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as agent, \
            client.realtime.connect(model="gpt-realtime-mini") as observer:
        agent_side = await realtime_server.wait_for_connection(0)
        observer_side = await realtime_server.wait_for_connection(1)

        # the voice agent hears the user; server VAD commits the turn and answers in audio
        audio = speech.silence(300) + speech.synthesize("book a table") + speech.silence(700)
        await agent.input_audio_buffer.append(audio=base64.b64encode(audio).decode())
        heard = await answer(agent)
        assert heard == "You said: book a table"

        # the observer gets the transcript as text and answers in text, in its own conversation
        await observer.session.update(session=TEXT_ONLY)
        await observer.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"summarise: {heard}"}]})
        await observer.response.create()
        assert await answer(observer) == "You said: summarise: You said: book a table"

        # snapshots and journals are per connection
        agent_items = agent_side.conversation()
        observer_items = observer_side.conversation()
        assert [(i["role"], i["content"][0]["type"]) for i in agent_items] == [
            ("user", "input_audio"), ("assistant", "output_audio")]
        assert [(i["role"], i["content"][0]["type"]) for i in observer_items] == [
            ("user", "input_text"), ("assistant", "output_text")]
        assert {i["id"] for i in agent_items}.isdisjoint(i["id"] for i in observer_items)
        assert [e["type"] for e in observer_side.client_events()] == [
            "session.update", "conversation.item.create", "response.create"]
        assert agent_side.client_events("input_audio_buffer.append") != []
        assert observer_side.client_events("input_audio_buffer.append") == []
        assert (agent_side.session.model, observer_side.session.model) == ("gpt-realtime", "gpt-realtime-mini")


async def test_two_clients_at_once_each_get_their_own_answer(realtime_server):
    """Two clients talking at the same time: each connection's journal holds its own turn."""
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)

    async def one_turn(text):
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session=TEXT_ONLY)
            await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": text}]})
            await conn.response.create()
            return await answer(conn)

    said = await asyncio.gather(one_turn("first"), one_turn("second"))
    assert sorted(said) == ["You said: first", "You said: second"]
    texts = set()
    for index in (0, 1):
        connection = await realtime_server.wait_for_connection(index)
        done = await connection.wait_for("response.done")
        texts.add(done["response"]["output"][0]["content"][0]["text"])
        assert len(connection.conversation()) == 2
    assert texts == {"You said: first", "You said: second"}

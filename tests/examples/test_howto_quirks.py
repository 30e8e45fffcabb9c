"""How to: turn on a live-service quirk so your client's fallback gets tested."""

from openai import AsyncOpenAI


async def test_text_history_makes_the_model_answer_in_text(realtime_server):
    realtime_server.script.quirk("text_history_answers_in_text")
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        for role, part in (("user", "input_text"), ("assistant", "output_text"), ("user", "input_text")):
            await conn.conversation.item.create(item={"type": "message", "role": role,
                                                      "content": [{"type": part, "text": "..."}]})
        await conn.response.create()  # audio is the session default
        kinds = set()
        while (event := await conn.recv()).type != "response.done":
            kinds.add(event.type)
        assert "response.output_audio.delta" not in kinds  # the reply came back as text only
        assert "response.output_text.delta" in kinds
        assert event.response.output_modalities == ["audio"]

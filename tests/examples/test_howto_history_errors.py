"""How to: check that your history loader uses the right content types (README example)."""

import json

from openai import AsyncOpenAI


async def test_my_history_loader(realtime_server):
    realtime_server.expect_error(code="invalid_value", param="item.content[0].type")  # provoked on purpose
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        await conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "h1", "item": {
            "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi!"}]}}))
        error = await conn.recv()
        assert error.error.message == "Invalid value: 'text'. Value must be 'output_text'."
        assert error.error.param == "item.content[0].type"
        assert error.error.event_id == "h1"

    [session] = realtime_server.sessions
    assert session.conversation() == []  # the rejected item was not added

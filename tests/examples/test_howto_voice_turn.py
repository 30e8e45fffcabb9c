"""How to: speak to the fake and hear its answer (README example)."""

import base64

from openai import AsyncOpenAI

from fake_server import speech


async def test_voice_turn(realtime_server):
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        audio = speech.silence(300) + speech.synthesize("book a table") + speech.silence(700)
        await conn.input_audio_buffer.append(audio=base64.b64encode(audio).decode())
        reply = b""
        while (event := await conn.recv()).type != "response.done":  # VAD commits and answers
            if event.type == "response.output_audio.delta":
                reply += base64.b64decode(event.delta)
        assert speech.transcribe(reply) == "You said: book a table"

"""How to: make the fake slow: a late first delta, slow deltas, jitter, and responses at the speed of speech.

The clock is the client's: each test times what it receives. The fake never sends early, so the
times are lower bounds, whatever the machine's load.
"""

import time

from openai import AsyncOpenAI

from fake_server import script as s


async def time_a_response(server, text="hi"):
    """Ask for a text response; return (seconds to the first delta, seconds to response.done), from asking."""
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": text}]})
        started = time.monotonic()  # before asking: the response cannot start earlier, however loaded the machine
        await conn.response.create(response={"output_modalities": ["text"]})
        first_delta = None
        while (event := await conn.recv()).type != "response.done":
            if event.type == "response.output_text.delta" and first_delta is None:
                first_delta = time.monotonic() - started
        return first_delta, time.monotonic() - started


async def test_a_slow_first_delta_then_slow_deltas(realtime_server):
    # the default answer ("You said: hi"), 300 ms before its first delta and 100 ms before each later one
    realtime_server.script.reply(s.delays(first_delta_ms=300, per_delta_ms=100))
    first_delta, done = await time_a_response(realtime_server)
    assert first_delta >= 0.25 and done >= 0.45  # 3 deltas: 300 + 100 + 100 ms
    # with a scripted reply: s.combine(s.say("Let me think..."), s.delays(first_delta_ms=2000))


async def test_jitter_delays_every_step_by_a_seeded_random_amount(realtime_server):
    realtime_server.script.inject(seed=7, jitter_ms=200)  # each streamed step: up to 200 ms late
    _, done = await time_a_response(realtime_server, "a sentence long enough for a dozen steps or so")
    assert done >= 0.1


async def test_responses_at_the_speed_of_speech(realtime_server):
    realtime_server.script.pace(1.0)  # real time: audio as long as it plays, text at 15 characters a second
    _, done = await time_a_response(realtime_server)
    assert done >= 0.6  # "You said: hi" is 12 characters: 0.8 s

"""How to: decide what the fake model says, turn by turn (queues, rules, tool calls, states, errors)."""

import base64
import json
import re

from openai import AsyncOpenAI

from fake_server import script as s


async def answer(conn, text):
    """Send a user message, ask for a response, return (text said, function calls made)."""
    await conn.conversation.item.create(item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": text}]})
    return await respond(conn)


async def respond(conn, **response):
    """Ask for a response; return (text said, function calls made)."""
    await conn.response.create(response={"output_modalities": ["text"], **response})
    said, calls = "", []
    while (event := await conn.recv()).type != "response.done":
        if event.type == "response.output_text.delta":
            said += event.delta
        elif event.type == "response.function_call_arguments.done":
            calls.append(event)
    return said, calls


async def test_scripted_pizza_order(realtime_server):
    script = realtime_server.script
    script.reply(s.say("Welcome to Pizza Place! What can I get you?"))            # first response, once
    script.on(s.user_says("pizza"), s.call("order_pizza", {"size": "large"}))     # every time pizza is mentioned
    script.on(s.tool_output("order_pizza", contains="ok"), s.say("Your pizza is on its way."))

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        assert (await answer(conn, "hello"))[0] == "Welcome to Pizza Place! What can I get you?"
        _, [call] = await answer(conn, "A pizza, please")
        assert (call.name, json.loads(call.arguments)) == ("order_pizza", {"size": "large"})
        await conn.conversation.item.create(item={"type": "function_call_output", "call_id": call.call_id,
                                                  "output": "ok, order 42"})
        assert (await respond(conn))[0] == "Your pizza is on its way."
        assert (await answer(conn, "thanks"))[0] == "You said: thanks"  # unscripted: the default responder


async def test_a_scenario_moves_through_named_states(realtime_server):
    script = realtime_server.script
    script.on(s.always, s.say("Which city?"), state="start", then_state="asked_city")
    script.on(s.user_says("paris"), s.say("Paris it is."), state="asked_city", then_state="done")
    script.on(s.always, s.say("Sorry, which city?"), state="asked_city")

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        assert (await answer(conn, "book me a hotel"))[0] == "Which city?"
        assert (await answer(conn, "somewhere nice"))[0] == "Sorry, which city?"
        assert (await answer(conn, "Paris"))[0] == "Paris it is."
    assert script.state(connection=0) == "done"


async def test_conditions_a_regex_a_turn_number_and_your_own_predicate(realtime_server):
    script = realtime_server.script
    script.on(s.user_says(re.compile(r"order #?\d+", re.IGNORECASE)), s.say("Let me look that order up."))
    script.on(s.turn(2), s.say("Second question already?"))
    script.on(lambda context: context.user_text.isupper(), s.say("No need to shout."))

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        assert (await answer(conn, "Where is Order #1234?"))[0] == "Let me look that order up."
        assert (await answer(conn, "hello"))[0] == "Second question already?"
        assert (await answer(conn, "HELLO?"))[0] == "No need to shout."


async def test_a_rule_for_one_connection(realtime_server):
    realtime_server.script.on(s.always, s.say("Welcome back."), connection=1)  # the second connection only

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    for expected in ("You said: hi", "Welcome back."):
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            assert (await answer(conn, "hi"))[0] == expected


async def test_answer_by_what_the_client_asked_for(realtime_server):
    # a response.create whose metadata says "weather" gets this reply; the others the default answer
    realtime_server.script.on_event("response.create", s.say("Sunny all week."),
                                    match={"response": {"metadata": {"topic": "weather"}}})

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        assert (await respond(conn, metadata={"topic": "weather"}))[0] == "Sunny all week."
        assert (await respond(conn, metadata={"topic": "news"}))[0] == "Hello! How can I help you today?"


async def test_speak_your_own_audio(realtime_server):
    recording = b"\x00\x10\x00\xf0" * 2400  # 200 ms of PCM16 at 24 kHz: any audio in the output format
    realtime_server.script.reply(s.speak("Here is the recording.", pcm=recording))

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.response.create()
        audio, transcript = b"", ""
        while (event := await conn.recv()).type != "response.done":
            if event.type == "response.output_audio.delta":
                audio += base64.b64decode(event.delta)
            elif event.type == "response.output_audio_transcript.delta":
                transcript += event.delta
        assert (audio, transcript) == (recording, "Here is the recording.")


async def test_an_error_instead_of_a_response_and_an_incomplete_one(realtime_server):
    script = realtime_server.script
    script.reply(s.error("rate_limit_exceeded", "Slow down.", type="rate_limit_error"),
                 s.incomplete("I can't talk about", reason="content_filter"))
    realtime_server.expect_error(code="rate_limit_exceeded")  # provoked on purpose: not a test failure

    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.response.create(event_id="ask-1")
        error = await conn.recv()
        assert (error.type, error.error.code, error.error.event_id) == ("error", "rate_limit_exceeded", "ask-1")
        await conn.response.create()
        while (event := await conn.recv()).type != "response.done":
            pass
        assert (event.response.status, event.response.status_details.reason) == ("incomplete", "content_filter")
        assert event.response.output[0].content[0].transcript == "I can't talk about"

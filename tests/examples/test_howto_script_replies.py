"""How to: decide what the fake model says, turn by turn (queues, rules, tool calls, states)."""

import json

from openai import AsyncOpenAI

from fake_server import script as s


async def answer(conn, text):
    """Send a user message, ask for a response, return (text said, function calls made)."""
    await conn.conversation.item.create(item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": text}]})
    return await respond(conn)


async def respond(conn):
    """Ask for a response; return (text said, function calls made)."""
    await conn.response.create(response={"output_modalities": ["text"]})
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

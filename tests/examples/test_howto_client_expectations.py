"""How to: say what your client must send, in order, and read why it did not.

``realtime_server.expect_client(type, **fields)`` starts the ordered list of what the client
of the first connection must send; ``.then(...)`` adds the next one. Fields match as a
subset (nested dicts too). At teardown (or when you call ``realtime_server.check()``) every
event the client sent must have been the next expected one, and every expected one sent.
"""

import base64

import pytest
from openai import AsyncOpenAI, OpenAI

from fake_server import speech

HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}


async def test_the_client_sends_what_you_expect_in_order(realtime_server):
    realtime_server.expect_client("session.update", session={"output_modalities": ["text"]}) \
        .then("conversation.item.create", item={"role": "user", "content": [{"type": "input_text"}]}) \
        .then("response.create")
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(item=HELLO)
        await conn.response.create()
        while (await conn.recv()).type != "response.done":
            pass
    realtime_server.check()  # passes now; the fixture checks again at teardown


def test_noise_can_be_ignored(realtime_server):
    realtime_server.client_expectations().ignore("input_audio_buffer.append") \
        .then("session.update", session={"audio": {"input": {"turn_detection": None}}}) \
        .then("input_audio_buffer.commit")
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        audio = speech.synthesize("one two")
        for start in range(0, len(audio), 4800):  # 100 ms chunks, as a microphone would send them
            conn.input_audio_buffer.append(audio=base64.b64encode(audio[start:start + 4800]).decode())
        conn.input_audio_buffer.commit()
        while conn.recv().type != "input_audio_buffer.committed":
            pass


def test_a_near_miss_shows_what_was_sent_and_what_the_schema_allows(realtime_server):
    realtime_server.expect_client("conversation.item.create", item={"role": "user"}).then("response.create")
    realtime_server.expect_error(code="invalid_value")  # the rejection itself is on purpose here
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "audio", "audio": base64.b64encode(speech.silence(100)).decode()}]})
        conn.response.create()
        while conn.recv().type != "response.done":
            pass
    with pytest.raises(AssertionError) as failure:
        realtime_server.check()
    report = str(failure.value)
    assert "the client on connection 0 did not send what was expected:" in report
    assert "1. conversation.item.create: REJECTED by the fake (near miss for #1 conversation.item.create " \
           '{"item": {"role": "user"}})' in report
    assert "error invalid_value at item.content[0].type: Invalid value: 'audio'. " \
           "Supported values are: 'input_text' and 'input_audio'." in report
    assert '"content": [{"type": "audio", "audio": "<4800 bytes base64>"}]' in report  # audio summarised
    assert "content part types the schema allows for role 'user': input_text, input_audio, input_image" in report
    assert "2. response.create: UNEXPECTED (expected #1 conversation.item.create" in report
    assert "never sent: #1 conversation.item.create" in report
    realtime_server.reset()  # the failure was the point of this test: start clean for teardown

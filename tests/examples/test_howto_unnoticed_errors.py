"""How to: make sure no error event goes unnoticed.

The live service answers a bad client event with an ``error`` event and carries on; nothing
raises in the client. The ``realtime_server`` fixture therefore fails the test at teardown
for every error event the test did not declare, with the client event that caused it.
"""

import base64
import json
import re

import pytest
from openai import AsyncOpenAI, OpenAI

WRONG = {"type": "message", "role": "user", "content": [{"type": "text", "text": "hi"}]}


async def test_declare_the_errors_you_provoke(realtime_server):
    realtime_server.expect_error(code="invalid_value", param="item.content[0].type",
                                 client_event="conversation.item.create")
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.conversation.item.create(item=WRONG)
        await conn.input_audio_buffer.append(audio=base64.b64encode(b"\0\0" * 240).decode())  # 10 ms
        await conn.input_audio_buffer.commit(event_id="commit_1")
        # the test does not read the errors: declaring them is what makes them noticed
        realtime_server.expect_error(code="input_audio_buffer_commit_empty", times=1,
                                     message=re.compile(r"buffer only has 10\.00ms of audio"))


def test_read_what_was_sent_and_why(realtime_server):
    realtime_server.expect_error(code="invalid_value")
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "load_1", "item": WRONG}))
        realtime_server.wait_for_connection_sync().wait_for_sync("error")
    [report] = realtime_server.errors()
    assert (report.code, report.param, report.client_event["event_id"]) == (
        "invalid_value", "item.content[0].type", "load_1")
    assert report.message == "Invalid value: 'text'. Supported values are: 'input_text' and 'input_audio'."


def test_this_is_what_an_unnoticed_error_looks_like(realtime_server):
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "load_1", "item": WRONG}))
        realtime_server.wait_for_connection_sync().wait_for_sync("error")
    with pytest.raises(AssertionError) as failure:
        realtime_server.check()  # what the fixture does at teardown
    report = str(failure.value)
    assert "sent 1 error event(s) this test did not declare" in report
    assert "in answer to conversation.item.create (event_id 'load_1')" in report
    assert "code: invalid_value" in report and "param: item.content[0].type" in report
    assert "content part types the schema allows for role 'user': input_text, input_audio, input_image" in report
    realtime_server.allow_errors()  # seen here: let teardown pass


@pytest.mark.realtime_allow_errors
def test_opt_out_for_one_test(realtime_server):
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.send_raw("not json")
        conn.send_raw(json.dumps({"type": "session.reset"}))
        assert conn.recv().type == "session.created"
        assert conn.recv().type == "error"
        assert conn.recv().type == "error"

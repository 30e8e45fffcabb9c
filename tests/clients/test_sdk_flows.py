"""Issue-2 flows driven by the real openai SDK (async and sync) against the fixture."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _events import assistant_text, b64, event, item_create, message, pcm, session_config, system_text, user_text
from _live_verdicts import WRONG_CONTENT_TYPES
from openai import AsyncOpenAI, OpenAI

from fake_server import FakeRealtimeServer

HISTORY: list[dict[str, Any]] = [
    system_text("You are terse."), user_text("What is 2+2?"), assistant_text("4."), user_text("And 3+3?")]


def pcm_b64(ms: int) -> str:
    return b64(pcm(ms, b"\x10\x00"))


async def connect(server: FakeRealtimeServer) -> Any:
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=server.base_url)
    return client.realtime.connect(model="gpt-realtime")


async def test_async_sdk_loads_history_with_correct_content_types(realtime_server: FakeRealtimeServer) -> None:
    async with await connect(realtime_server) as conn:
        assert (await conn.recv()).type == "session.created"
        previous = None
        for item in HISTORY:
            await conn.conversation.item.create(item=item)
            added, done = await conn.recv(), await conn.recv()
            assert (added.type, done.type) == ("conversation.item.added", "conversation.item.done")
            assert added.previous_item_id == previous
            previous = added.item.id
        [session] = realtime_server.sessions
        assert [(i["role"], i["content"][0]["type"]) for i in session.conversation()] == [
            ("system", "input_text"), ("user", "input_text"), ("assistant", "output_text"), ("user", "input_text")]


@pytest.mark.parametrize(("role", "part_type", "wording"), WRONG_CONTENT_TYPES)
async def test_async_sdk_wrong_content_type_gets_the_live_error_and_session_survives(
    realtime_server: FakeRealtimeServer, role: str, part_type: str, wording: str
) -> None:
    realtime_server.expect_error(code="invalid_value", message=wording, param="item.content[0].type", times=1)
    async with await connect(realtime_server) as conn:
        await conn.recv()
        await conn.send_raw(json.dumps(item_create(message(role, {"type": part_type, "text": "hello"}),
                                                   event_id=f"load_{role}")))
        error = await conn.recv()
        assert error.type == "error"
        assert (error.error.code, error.error.message, error.error.param, error.error.event_id) == (
            "invalid_value", wording, "item.content[0].type", f"load_{role}")
        # the connection is still usable and nothing was added
        await conn.conversation.item.create(item=HISTORY[1])
        assert (await conn.recv()).type == "conversation.item.added"
        assert (await conn.recv()).type == "conversation.item.done"
        assert len(realtime_server.sessions[0].conversation()) == 1


async def test_async_sdk_audio_commit_delete_and_reset_by_deleting_everything(
    realtime_server: FakeRealtimeServer,
) -> None:
    realtime_server.expect_error(code="item_delete_invalid_item_id", times=1)
    async with await connect(realtime_server) as conn:
        await conn.recv()
        await conn.session.update(session=session_config(vad=False))
        assert (await conn.recv()).type == "session.updated"
        for item in HISTORY[:2]:
            await conn.conversation.item.create(item=item)
            await conn.recv(), await conn.recv()
        await conn.input_audio_buffer.append(audio=pcm_b64(250))
        await conn.input_audio_buffer.commit()
        committed, added, done = await conn.recv(), await conn.recv(), await conn.recv()
        assert [committed.type, added.type, done.type] == [
            "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert added.item.content[0].type == "input_audio" and added.item.content[0].transcript is None
        audio_item = committed.item_id
        await conn.conversation.item.delete(item_id=audio_item)
        deleted = await conn.recv()
        assert (deleted.type, deleted.item_id) == ("conversation.item.deleted", audio_item)
        await conn.conversation.item.delete(item_id=audio_item)
        gone = await conn.recv()
        assert gone.error.code == "item_delete_invalid_item_id"
        # reset: delete every remaining item, one by one (there is no session.reset)
        for item in realtime_server.sessions[0].conversation():
            await conn.conversation.item.delete(item_id=item["id"])
            assert (await conn.recv()).type == "conversation.item.deleted"
        assert realtime_server.sessions[0].conversation() == []


async def test_async_sdk_commit_too_small(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="input_audio_buffer_commit_empty", client_event="input_audio_buffer.commit")
    async with await connect(realtime_server) as conn:
        await conn.recv()
        await conn.input_audio_buffer.append(audio=pcm_b64(40))
        await conn.input_audio_buffer.commit(event_id="commit_1")
        error = await conn.recv()
        assert error.error.code == "input_audio_buffer_commit_empty"
        assert error.error.message.endswith("but buffer only has 40.00ms of audio.")
        assert error.error.event_id == "commit_1"


async def test_async_sdk_session_reset_is_an_unknown_event_type(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_value", param="type", client_event="session.reset")
    async with await connect(realtime_server) as conn:
        await conn.recv()
        await conn.send_raw(json.dumps(event("session.reset", "reset_1")))
        error = await conn.recv()
        assert (error.error.code, error.error.param, error.error.event_id) == ("invalid_value", "type", "reset_1")
        assert error.error.message.startswith("Invalid value: 'session.reset'. Supported values are: 'session.update'")
        await conn.conversation.item.create(item=HISTORY[1])
        assert (await conn.recv()).type == "conversation.item.added"


def test_sync_sdk_history_wrong_type_and_delete(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="invalid_value", param="item.content[0].type", times=1)
    realtime_server.expect_error(code="item_retrieve_invalid_item_id", times=1)
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        assert conn.recv().type == "session.created"
        conn.conversation.item.create(item=HISTORY[0])
        added = conn.recv()
        assert conn.recv().type == "conversation.item.done"
        conn.send_raw(json.dumps(item_create(message("user", {"type": "text", "text": "hi"}))))
        error = conn.recv()
        assert error.error.message == WRONG_CONTENT_TYPES[0][2] and error.error.event_id is None
        conn.conversation.item.delete(item_id=added.item.id)
        assert conn.recv().type == "conversation.item.deleted"
        conn.conversation.item.retrieve(item_id=added.item.id)
        assert conn.recv().error.code == "item_retrieve_invalid_item_id"


def test_two_connections_have_separate_conversations(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="item_retrieve_invalid_item_id", client_event="conversation.item.retrieve")
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as first, \
            client.realtime.connect(model="gpt-realtime") as observer:
        first.recv(), observer.recv()
        first.conversation.item.create(item=HISTORY[1])
        first.recv(), first.recv()
        observer.conversation.item.retrieve(item_id=realtime_server.sessions[0].conversation()[0]["id"])
        assert observer.recv().error.code == "item_retrieve_invalid_item_id"
        assert len(realtime_server.sessions) == 2
        assert realtime_server.sessions[1].conversation() == []


def test_the_suite_checks_every_server_event_against_the_schemas(
    realtime_server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_server.core.session import Session

    original = Session._event

    def malformed(self: Session, type_: str, **payload: Any) -> dict[str, Any]:
        event = original(self, type_, **payload)
        if type_ == "conversation.item.added":
            event["surprise"] = True
        return event

    monkeypatch.setattr(Session, "_event", malformed)
    realtime_server.expect_error(error_type="server_error", client_event="conversation.item.create", times=1)
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=HISTORY[1])
        error = conn.recv()
        assert (error.type, error.error.type) == ("error", "server_error")
    [(session_id, report)] = realtime_server.internal_errors
    assert "ServerEventError" in report and "conversation.item.added" in report
    realtime_server.internal_errors.clear()  # seen: do not fail this test at teardown

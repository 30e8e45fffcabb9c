"""Whole turns with real clients: the openai SDK (async and sync) and openai-agents' RealtimeRunner."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from _events import b64, function_call_output, session_config, user_text
from openai import AsyncOpenAI, OpenAI

from fake_server import FakeRealtimeServer, speech

TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def client(server: FakeRealtimeServer) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test", websocket_base_url=server.base_url)


async def until(conn: Any, event_type: str, timeout: float = 10) -> list[Any]:
    """Every event up to and including the first of ``event_type``."""
    seen: list[Any] = []

    async def collect() -> list[Any]:
        while True:
            event = await conn.recv()
            seen.append(event)
            if event.type == event_type:
                return seen

    return await asyncio.wait_for(collect(), timeout)


async def test_async_sdk_text_turn(realtime_server: FakeRealtimeServer) -> None:
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(session=session_config(output_modalities=["text"]))
        await conn.conversation.item.create(item=user_text("how are you"))
        await conn.response.create()
        events = await until(conn, "response.done")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "You said: how are you"
        assert events[-1].response.status == "completed"
        assert events[-1].response.usage.total_tokens > 0
        assert (await conn.recv()).type == "rate_limits.updated"


async def test_async_sdk_audio_turn_audio_decodes_to_transcript(realtime_server: FakeRealtimeServer) -> None:
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.conversation.item.create(item=user_text("sing"))
        await conn.response.create()
        events = await until(conn, "response.done")
        audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
        transcript = next(e for e in events if e.type == "response.output_audio_transcript.done").transcript
        assert transcript == "You said: sing" == speech.transcribe(audio)
        part = next(e for e in events if e.type == "response.content_part.added").part
        assert part.type == "audio"


async def test_async_sdk_function_call_round_trip(realtime_server: FakeRealtimeServer) -> None:
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(session=session_config(output_modalities=["text"], tools=TOOLS))
        await conn.conversation.item.create(item=user_text("call get_weather for Paris"))
        await conn.response.create()
        events = await until(conn, "response.done")
        call = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "example"})
        await conn.conversation.item.create(item=function_call_output(call.call_id, "rainy"))
        await conn.response.create()
        events = await until(conn, "response.done")
        assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == (
            "The get_weather tool returned: rainy")


async def test_async_sdk_two_creates_back_to_back_conflict(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.expect_error(code="conversation_already_has_active_response", client_event="response.create",
                                 times=1)
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.response.create()
        await conn.response.create(event_id="second")
        events = await until(conn, "error")
        created = next(e for e in events if e.type == "response.created")
        assert events[-1].error.code == "conversation_already_has_active_response"
        assert created.response.id in events[-1].error.message
        assert events[-1].error.event_id == "second"
        rest = await until(conn, "response.done")
        assert [e.type for e in rest].count("response.created") == 0  # the rejected request got none


async def test_async_sdk_cancel_mid_response(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.limits.pacing = 1.0  # real time: the reply takes seconds to stream
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.conversation.item.create(item=user_text("please tell me a rather long story about the sea"))
        await conn.response.create()
        await until(conn, "response.output_audio.delta")
        await conn.response.cancel()
        events = await until(conn, "response.done")
        done = events[-1].response
        assert done.status == "cancelled" and done.status_details.reason == "client_cancelled"
        assert done.output[0].status == "incomplete"
        assert "response.content_part.done" in [e.type for e in events]


async def test_async_sdk_out_of_band_response(realtime_server: FakeRealtimeServer) -> None:
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.conversation.item.create(item=user_text("keep me"))
        await until(conn, "conversation.item.done")
        await conn.response.create(response={"conversation": "none", "output_modalities": ["text"],
                                             "metadata": {"purpose": "classify"},
                                             "input": [user_text("classify this")]})
        events = await until(conn, "response.done")
        assert events[0].response.conversation_id is None
        assert events[-1].response.metadata == {"purpose": "classify"}
        assert not [e for e in events if e.type.startswith("conversation.item.")]
        assert len(realtime_server.sessions[0].conversation()) == 1


async def test_async_sdk_server_vad_turn_from_codec_audio(realtime_server: FakeRealtimeServer) -> None:
    async with client(realtime_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(session=session_config(output_modalities=["text"], audio={
            "input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}))
        await conn.recv()
        audio = speech.silence(400) + speech.synthesize("book a table for two") + speech.silence(700)
        for start in range(0, len(audio), 4800):  # 100 ms chunks
            await conn.input_audio_buffer.append(audio=b64(audio[start:start + 4800]))
        events = await until(conn, "response.done")
        names = [e.type for e in events]
        assert names[:5] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                             "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == (
            "You said: book a table for two")
        transcribed = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
        if not transcribed:  # transcription is asynchronous: it may come after the response
            transcribed = [e for e in await until(conn, "conversation.item.input_audio_transcription.completed")
                           if e.type == "conversation.item.input_audio_transcription.completed"]
        assert transcribed[0].transcript == "book a table for two"


def test_sync_sdk_text_and_audio_turns(realtime_server: FakeRealtimeServer) -> None:
    with OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url).realtime.connect(
            model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=user_text("sync hello"))
        conn.response.create(response={"output_modalities": ["text"]})
        text = ""
        while (event := conn.recv()).type != "response.done":
            if event.type == "response.output_text.delta":
                text += event.delta
        assert text == "You said: sync hello"
        conn.session.update(session=session_config(vad=False))
        conn.input_audio_buffer.append(audio=b64(speech.synthesize("spoken sync")))
        conn.input_audio_buffer.commit()
        conn.response.create()
        audio = b""
        while (event := conn.recv()).type != "response.done":
            if event.type == "response.output_audio.delta":
                audio += base64.b64decode(event.delta)
        assert speech.transcribe(audio) == "You said: spoken sync"


async def test_session_expiry_sends_the_error_then_closes_1001() -> None:
    from fake_server import SessionLimits

    async with FakeRealtimeServer(limits=SessionLimits(max_duration_seconds=0.3),
                                  validate_server_events=True) as server:
        async with client(server).realtime.connect(model="gpt-realtime") as conn:
            created = await conn.recv()
            assert created.session.expires_at == int(server.sessions[0].expires_at)
            error = await until(conn, "error", timeout=5)
            assert error[-1].error.code == "session_expired"
            from websockets.exceptions import ConnectionClosed

            with pytest.raises(ConnectionClosed) as closed:
                await conn.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


# ---------------------------------------------------------------- openai-agents
async def test_agents_runner_text_and_audio_turns_without_errors(realtime_server: FakeRealtimeServer) -> None:
    from agents.realtime import RealtimeAgent, RealtimeRunner

    agent = RealtimeAgent(name="assistant", instructions="Be brief.")
    runner = RealtimeRunner(agent)
    session = await runner.run(model_config={"url": realtime_server.url + "?model=gpt-realtime",
                                             "api_key": "sk-test"})
    errors: list[Any] = []
    audio_chunks = 0

    async def turn() -> None:
        nonlocal audio_chunks
        async for event in session:
            if event.type == "error":
                errors.append(event.error)
            elif event.type == "audio":
                audio_chunks += 1
            elif event.type == "agent_end":
                return

    async with session:
        await session.send_message("Hello agent")
        await asyncio.wait_for(turn(), 15)
        spoken = speech.silence(300) + speech.synthesize("what is the time") + speech.silence(1200)
        await session.send_audio(spoken)
        await asyncio.wait_for(turn(), 15)
    assert errors == []
    assert audio_chunks > 0
    [server_session] = realtime_server.sessions
    replies = [item["content"][0] for item in server_session.conversation() if item.get("role") == "assistant"]
    assert [part["type"] for part in replies] == ["output_audio", "output_audio"]
    assert replies[1]["transcript"] == "You said: what is the time"
    # When the user starts speaking, the agents client truncates the audio it believes is still
    # playing, and a truncate drops the transcript (as live): the first reply may have lost it.
    assert replies[0]["transcript"] in ("You said: Hello agent", "")
    first = server_session.responses[0]
    assert first.status == "completed" and first.usage is not None

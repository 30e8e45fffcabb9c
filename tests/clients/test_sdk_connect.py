"""The real openai SDK connects to the fake, async and sync, by either base URL."""

from __future__ import annotations

from openai import AsyncOpenAI, OpenAI

from fake_server import FakeRealtimeServer


async def test_async_sdk_with_websocket_base_url(realtime_server: FakeRealtimeServer) -> None:
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        event = await conn.recv()
    assert event.type == "session.created"
    assert event.session.type == "realtime"
    [session] = realtime_server.sessions
    assert getattr(event.session, "id") == session.id  # not in the SDK type, present on the wire


async def test_async_sdk_with_http_base_url(realtime_server: FakeRealtimeServer) -> None:
    client = AsyncOpenAI(api_key="sk-test", base_url=realtime_server.http_base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"


def test_sync_sdk_with_websocket_base_url(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        event = conn.recv()
    assert event.type == "session.created"
    assert len(realtime_server.sessions) == 1


def test_sync_sdk_with_http_base_url(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", base_url=realtime_server.http_base_url)
    with client.realtime.connect(model="gpt-realtime") as conn:
        assert conn.recv().type == "session.created"


async def test_async_sdk_sees_the_rejection_of_a_wrong_key(realtime_server: FakeRealtimeServer) -> None:
    realtime_server.policy.api_keys = frozenset({"sk-only-this-one"})
    realtime_server.expect_error(code="invalid_api_key")
    client = AsyncOpenAI(api_key="sk-some-other-key-123456", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        event = await conn.recv()
    assert event.type == "error"
    assert event.error.code == "invalid_api_key"

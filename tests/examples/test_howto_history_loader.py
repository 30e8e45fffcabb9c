"""How to: check your history loader with generated histories (``fake_server.strategies.histories``).

Your app keeps its chat log in its own format (here: Chat Completions messages, as many apps do) and a
*history loader* turns it into ``conversation.item.create`` events when a Realtime session starts. The
live service does not raise on a wrong item: it sends an ``error`` event and leaves the item out. So the
property to test is: for every valid history, loading it gives no error and the server's conversation is
that history.

The recipe: draw a ``History`` with ``histories()``, give your loader ``history.chat_messages()`` (or
convert ``history.items`` to your own format), load it through the openai SDK into the ``realtime_server``
fixture, and compare the server's conversation with ``history.matches(..., ids=False)`` (your loader does
not send item ids, so the server's own ids are fine). Open a connection per example; the fixture's
server is shared, so an example costs a few milliseconds.

A loader with a classic bug (user text sent as ``text``, the beta-era type) fails, and hypothesis shrinks
the failure to the smallest history that shows it: one user message with an empty text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from openai import OpenAI

from fake_server import FakeRealtimeServer
from fake_server.strategies import History, histories

TEXT_TYPE = {"system": "input_text", "user": "input_text", "assistant": "output_text"}


def load_history(conn: Any, messages: list[dict[str, Any]], user_text_type: str = "input_text") -> None:
    """The code under test: a Chat Completions log into Realtime items, one create per item."""
    for message in messages:
        role = message["role"]
        if role == "tool":
            conn.conversation.item.create(item={"type": "function_call_output", "call_id": message["tool_call_id"],
                                                "output": message["content"]})
        elif message.get("tool_calls"):
            for call in message["tool_calls"]:
                conn.conversation.item.create(item={"type": "function_call", "call_id": call["id"],
                                                    "name": call["function"]["name"],
                                                    "arguments": call["function"]["arguments"]})
        else:
            text_type = user_text_type if role == "user" else TEXT_TYPE[role]
            content = message["content"]
            parts = [{"type": text_type, "text": content}] if isinstance(content, str) else [
                {"type": "input_audio", "audio": part["input_audio"]["data"]} if part["type"] == "input_audio"
                else {"type": text_type, "text": part["text"]} for part in content]
            conn.conversation.item.create(item={"type": "message", "role": role, "content": parts})


def buggy_load_history(conn: Any, messages: list[dict[str, Any]]) -> None:
    """The same loader with a classic bug: user text goes out as ``text``."""
    load_history(conn, messages, user_text_type="text")


def check_loader(server: FakeRealtimeServer, client: OpenAI, loader: Callable[[Any, list[dict[str, Any]]], None],
                 history: History) -> None:
    """The property: no error, and the server's conversation is the history."""
    with client.realtime.connect(model="gpt-realtime") as conn:
        assert conn.recv().type == "session.created"
        connection = server.connections[-1]
        loader(conn, history.chat_messages())
        for _ in range(len(history)):  # every item is answered by added + done, or by an error
            event = conn.recv()
            assert event.type != "error", event.error.message
            assert conn.recv().type == "conversation.item.done"
        assert history.matches(connection.conversation(), ids=False)


CHECKS = settings(max_examples=25, derandomize=True, database=None, deadline=None, print_blob=False,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_my_loader_loads_every_history(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)

    @CHECKS
    @given(histories(max_items=6))
    def loads(history: History) -> None:
        check_loader(realtime_server, client, load_history, history)

    loads()


@pytest.mark.realtime_allow_errors  # the buggy loader provokes the live error on purpose
def test_hypothesis_finds_the_buggy_loader_and_shrinks_the_history(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)

    @CHECKS
    @given(histories(max_items=6))
    def loads(history: History) -> None:
        check_loader(realtime_server, client, buggy_load_history, history)

    with pytest.raises(AssertionError) as failure:
        loads()
    # the live error, and the minimal history hypothesis reports for it
    assert "Invalid value: 'text'. Supported values are: 'input_text' and 'input_audio'." in str(failure.value)
    report = " ".join(" ".join(getattr(failure.value, "__notes__", [])).split())
    assert "loads( history=History([{'id': 'msg_001', 'type': 'message', 'role': 'user', " \
           "'content': [{'type': 'input_text', 'text': ''}]}]), )" in report

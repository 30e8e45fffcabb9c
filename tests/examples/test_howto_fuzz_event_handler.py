"""How to: fuzz your client's event handler with generated server streams (``server_streams``).

The code that turns server events into what your app shows (the assistant's text, its audio, the tool
calls it must run) meets, on the live service, deltas cut anywhere, audio and transcript deltas
interleaved, responses cancelled halfway, ``rate_limits.updated`` and ``error`` events in between, and
event types that did not exist when you wrote it. ``server_streams()`` generates all of that in the
live order, and each stream says what a correct client ends up with (``stream.responses``).

The recipe: connect through the openai SDK to the ``realtime_server`` fixture, queue the stream with
``session.play(stream.events)`` on the connection's server session, send ``response.create`` (the
stream is sent instead of the fake's own answer), feed every event to your handler, and compare its
result with ``stream.responses``. The stream's ``error`` events are generated on purpose, hence the
``realtime_allow_errors`` marker.

A handler that dispatches on the SDK's event classes has a trap hypothesis finds at once: the SDK
parses an event type it does not know into its first class, ``ConversationCreatedEvent``, keeping the
unknown ``type``. Dispatch on ``event.type`` instead.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from openai import OpenAI
from openai.types.realtime import ConversationCreatedEvent

from fake_server import FakeRealtimeServer
from fake_server.strategies import ServerStream, server_streams


class AssistantView:
    """The client code under test: what the assistant said, per output item, and how responses ended."""

    def __init__(self) -> None:
        self.text: dict[str, str] = {}
        self.audio: dict[str, bytes] = {}
        self.calls: dict[str, tuple[str, str, str]] = {}  # item id: (name, call id, arguments)
        self.status: dict[str, str] = {}  # response id: final status
        self.errors: list[str] = []

    def handle(self, event: Any) -> None:
        kind = event.type
        if kind in ("response.output_text.delta", "response.output_audio_transcript.delta"):
            self.text[event.item_id] = self.text.get(event.item_id, "") + event.delta
        elif kind == "response.output_audio.delta":
            self.audio[event.item_id] = self.audio.get(event.item_id, b"") + base64.b64decode(event.delta)
        elif kind == "response.output_item.added" and event.item.type == "function_call":
            self.calls[event.item.id] = (event.item.name, event.item.call_id, "")
        elif kind == "response.function_call_arguments.delta":
            name, call_id, arguments = self.calls[event.item_id]
            self.calls[event.item_id] = (name, call_id, arguments + event.delta)
        elif kind == "response.done":
            self.status[event.response.id] = event.response.status
        elif kind == "error":
            self.errors.append(event.error.message)
        # anything else (rate limits, lifecycle events, types from the future) is not our business


class ClassDispatchView(AssistantView):
    """The same view, dispatching on the SDK classes: resets on a ``ConversationCreatedEvent``."""

    def handle(self, event: Any) -> None:
        if isinstance(event, ConversationCreatedEvent):
            self.__init__()  # type: ignore[misc]  # a new conversation: start over
            return
        super().handle(event)


def check_view(server: FakeRealtimeServer, client: OpenAI, view: AssistantView, stream: ServerStream) -> None:
    with client.realtime.connect(model="gpt-realtime") as conn:
        assert conn.recv().type == "session.created"
        server.sessions[-1].play(stream.events)  # the answer to the next response.create
        conn.response.create()
        for _ in stream.events:
            view.handle(conn.recv())
    for outcome in stream.responses:
        assert view.status[outcome.response_id] == outcome.status
        for output in outcome.outputs:
            if output.kind == "function_call":
                assert view.calls[output.item_id] == (output.name, output.call_id, output.text)
            else:
                assert view.text.get(output.item_id, "") == output.text
                assert view.audio.get(output.item_id, b"") == output.audio
    assert view.errors == [error["message"] for error in stream.errors]


FUZZ = settings(max_examples=30, derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.realtime_allow_errors  # the streams carry error events on purpose
def test_my_event_handler_survives_every_stream(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)

    @FUZZ
    @given(server_streams())
    def handles(stream: ServerStream) -> None:
        check_view(realtime_server, client, AssistantView(), stream)

    handles()


@pytest.mark.realtime_allow_errors
def test_hypothesis_finds_the_class_dispatch_trap(realtime_server: FakeRealtimeServer) -> None:
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)
    failing: list[ServerStream] = []

    @settings(FUZZ, report_multiple_bugs=False, phases=[Phase.generate, Phase.shrink])
    @given(server_streams(max_responses=1, modalities=("text",), tool_calls=False, rate_limits=False, errors=False))
    def handles(stream: ServerStream) -> None:
        try:
            check_view(realtime_server, client, ClassDispatchView(), stream)
        except (AssertionError, KeyError):
            failing.append(stream)
            raise

    with pytest.raises((AssertionError, KeyError)) as failure:
        handles()
    # the last failing stream is the shrunk one: one response, and one event of a type the SDK does not know
    minimal = failing[-1]
    types = [event["type"] for event in minimal.events]
    assert len(minimal.unknown_types) == 1 and len(minimal.responses) == 1
    assert types[0] == "response.created" and types.count("response.done") == 1
    report = " ".join(" ".join(getattr(failure.value, "__notes__", [])).split())
    assert f"'{minimal.unknown_types[0]}'" in report  # hypothesis shows the shrunk stream

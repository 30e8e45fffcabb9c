"""The strategies' properties over a real socket: the fixture's server, loopback, fewer examples."""

from __future__ import annotations

import json
from collections import Counter
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test
from websockets.sync.client import connect

from fake_server import FakeRealtimeServer
from fake_server.strategies import History, InvalidEvent, histories, invalid_events, socket_machine

QUICK = settings(max_examples=15, derandomize=True, database=None, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.realtime_allow_errors  # the machine sends invalid events on purpose, and probes with one
def test_the_state_machine_finds_no_divergence_over_a_socket(realtime_server: FakeRealtimeServer) -> None:
    class Counted(socket_machine(realtime_server)):  # type: ignore[misc]
        outcomes: ClassVar[Counter[str]] = Counter()

    run_state_machine_as_test(Counted, settings=settings(
        max_examples=20, stateful_step_count=25, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
    assert len(realtime_server.connections) >= 20
    # The success paths, over the wire too (a cancel may race its response here, so only what cannot be lost).
    outcomes = Counted.outcomes
    for path in ("append: ", "commit: committed", "truncate: truncated", "delete: deleted"):
        assert any(o.startswith(path) for o in outcomes), (path, outcomes)
    assert any(o.startswith("retrieve: ") and o != "retrieve: unknown id" for o in outcomes), outcomes


def test_histories_load_over_a_socket(realtime_server: FakeRealtimeServer) -> None:
    @QUICK
    @given(histories(max_items=5))
    def loads(history: History) -> None:
        index = len(realtime_server.connections)
        with connect(realtime_server.url + "?model=gpt-realtime",
                     additional_headers={"Authorization": "Bearer sk-test"}) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
            for event, previous in zip(history.events(), history.previous):
                ws.send(json.dumps(event))
                added, done = json.loads(ws.recv(timeout=5)), json.loads(ws.recv(timeout=5))
                assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
                assert added["previous_item_id"] == previous
            conversation = realtime_server.wait_for_connection_sync(index).conversation()
        assert history.matches(conversation)

    loads()


def test_invalid_events_get_their_error_over_a_socket(realtime_server: FakeRealtimeServer) -> None:
    @QUICK
    @given(invalid_events(max_items=2))
    def rejected(case: InvalidEvent) -> None:
        realtime_server.expect_error(code=case.error.code, message=case.error.message, param=case.error.param)
        index = len(realtime_server.connections)
        with connect(realtime_server.url + "?model=gpt-realtime",
                     additional_headers={"Authorization": "Bearer sk-test"}) as ws:
            ws.recv(timeout=5)
            for event in case.history.events():
                ws.send(json.dumps(event))
                ws.recv(timeout=5), ws.recv(timeout=5)
            for event in case.setup:
                ws.send(json.dumps(event))
            ws.send(json.dumps(case.event))
            error = json.loads(ws.recv(timeout=5))
            assert error["type"] == "error" and error["error"] == case.error.body()
            conversation = realtime_server.wait_for_connection_sync(index).conversation()
        assert case.history.matches(conversation)

    rejected()

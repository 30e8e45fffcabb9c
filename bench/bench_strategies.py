"""Throughput of property-based tests built on ``fake_server.strategies``.

    python bench/bench_strategies.py [--histories 1000] [--socket-examples 300]

Measures:
- generation plus validation of N histories over the sans-I/O core: hypothesis draws each
  history, a fresh ``Session`` loads it (every client event checked against ``schemas/``), and
  its conversation snapshot is compared with the history; with the server-event check off (the
  default of a served fake) and on (what our own suite runs);
- generation alone, for comparison;
- examples per second through the server the ``realtime_server`` fixture runs (in-process,
  background thread, loopback): one connection per example with a raw ``websockets`` client and
  with the openai SDK (as in tests/examples/test_howto_history_loader.py), and one connection
  for every example, the conversation emptied with deletes in between.
This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openai import OpenAI
from websockets.sync.client import connect

from fake_server import FakeRealtimeServer
from fake_server.protocol.ids import IdGenerator
from fake_server.core.session import Session, SessionLimits
from fake_server.strategies import History, histories

NOW = 1_790_000_000.0


def run(strategy: st.SearchStrategy[Any], examples: int, body: Callable[[Any], None]) -> tuple[int, float]:
    """Run ``body`` on ``examples`` generated values; how many ran and how long it took (s)."""
    count = 0

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def each(value: Any) -> None:
        nonlocal count
        count += 1
        body(value)

    start = time.perf_counter()
    each()
    return count, time.perf_counter() - start


def load_core(validate_server_events: bool) -> Callable[[History], None]:
    def load(history: History) -> None:
        clock = lambda: NOW
        session = Session(model="gpt-realtime", ids=IdGenerator(1, clock), clock=clock,
                          limits=SessionLimits(validate_server_events=validate_server_events))
        for event in history.events():
            session.receive_text(json.dumps(event))
            answer = session.events_to_send()
            assert answer[0]["type"] == "conversation.item.added", answer
        assert history.matches(session.conversation())

    return load


def load_raw(server: FakeRealtimeServer) -> Callable[[History], None]:
    def load(history: History) -> None:
        with connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-test"},
                     compression=None) as ws:
            ws.recv()
            for event in history.events():
                ws.send(json.dumps(event))
            for _ in range(2 * len(history)):
                assert '"error"' not in ws.recv()[:20]
            assert history.matches(server.connections[-1].conversation())

    return load


class ReusedConnection:
    """One connection for every example: after each, the conversation is emptied with deletes
    (the only way to reset one, FACTS §5.6), pipelined."""

    def __init__(self, server: FakeRealtimeServer) -> None:
        self.server = server
        self.ws = connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-test"},
                          compression=None)
        self.ws.recv()
        self.connection = server.connections[-1]

    def __call__(self, history: History) -> None:
        for event in history.events():
            self.ws.send(json.dumps(event))
        for _ in range(2 * len(history)):
            assert '"error"' not in self.ws.recv()[:20]
        assert history.matches(self.connection.conversation())
        for item_id in history.item_ids():
            self.ws.send(json.dumps({"type": "conversation.item.delete", "item_id": item_id}))
        for _ in history.item_ids():
            assert '"conversation.item.deleted"' in self.ws.recv()[:40]


def load_sdk(server: FakeRealtimeServer) -> Callable[[History], None]:
    client = OpenAI(api_key="sk-test", websocket_base_url=server.base_url)

    def load(history: History) -> None:
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.recv()
            for event in history.events():
                conn.conversation.item.create(item=event["item"], previous_item_id=event.get("previous_item_id"))
            for _ in range(2 * len(history)):
                assert conn.recv().type != "error"
            assert history.matches(server.connections[-1].conversation())

    return load


def report(label: str, result: tuple[int, float]) -> None:
    count, seconds = result
    print(f"{label:<58} {count:>6} in {seconds:6.2f} s = {count / seconds:>8,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--histories", type=int, default=1000)
    parser.add_argument("--socket-examples", type=int, default=300)
    args = parser.parse_args()
    strategy = histories()
    report("generation only", run(strategy, args.histories, lambda history: None))
    report("generation + load + snapshot check, core", run(strategy, args.histories, load_core(False)))
    report("same, every server event checked against schemas/", run(strategy, args.histories, load_core(True)))
    with FakeRealtimeServer() as server:  # what the realtime_server fixture runs
        report("socket, raw websockets, a connection per example", run(strategy, args.socket_examples,
                                                                         load_raw(server)))
        server.reset()
        report("socket, openai SDK, a connection per example", run(strategy, args.socket_examples, load_sdk(server)))
        server.reset()
        report("socket, raw websockets, one connection, reset by deletes", run(strategy, args.socket_examples,
                                                                               ReusedConnection(server)))


if __name__ == "__main__":
    main()

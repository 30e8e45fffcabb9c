"""How to: replay recorded scenarios, from pytest and from Python (docs/scenarios.md).

A scenario is a recorded session in JSON Lines: the client events to send and the server events
expected back, with matchers for what varies between runs (ids, text, audio). The library in
``scenarios/`` covers the rules that burn real users. From a shell::

    fake-realtime replay scenarios/ --url ws://127.0.0.1:8000/v1/realtime

In pytest, the ``realtime_scenario`` marker replays a scenario of the library (or any file) against
the ``realtime_server`` fixture, and the test looks at what happened.
"""

from pathlib import Path

import pytest

from fake_server.scenarios.replay import replay_sync
from fake_server.scenarios.format import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.realtime_scenario("audio_commit_then_delete")
def test_reset_leaves_nothing(realtime_scenario, realtime_server):
    assert realtime_server.connections[0].conversation() == []


@pytest.mark.realtime_scenario("observer_second_connection")
def test_an_observer_has_a_conversation_of_its_own(realtime_scenario, realtime_server):
    assert realtime_scenario.passed
    agent, observer = realtime_server.connections
    agent_items, observer_items = agent.conversation(), observer.conversation()
    assert agent_items and observer_items
    assert not {i["id"] for i in agent_items} & {i["id"] for i in observer_items}  # nothing shared


def test_replay_reports_what_differs(realtime_server, tmp_path):
    # the library's wrong-type scenario, edited to expect a different param than the live one
    original = (SCENARIOS / "history_wrong_user_types.jsonl").read_text()
    edited = tmp_path / "edited.jsonl"
    edited.write_text(original.replace('"param": "item.content[0].type"', '"param": "item.content"', 1))
    result = replay_sync(load_scenario(edited), realtime_server.url, api_key="sk-test")
    assert not result.passed
    assert "item.content[0].type" in result.report()  # what came instead, for the readable diff
    realtime_server.allow_errors()  # the scenario provokes errors on purpose

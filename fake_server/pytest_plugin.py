"""pytest fixtures for the fake Realtime server (registered as the ``fake_realtime`` plugin).

One :class:`~fake_server.transport.server.FakeRealtimeServer` listens per pytest process (port 0,
so every pytest-xdist worker has its own) in a background thread; ``realtime_server``
resets it before each test, so a test sees fresh state while the port stays the same.
Works from sync and async tests; needs no async plugin.

At teardown ``realtime_server`` fails the test on what the test did not notice: ``error``
events it did not declare with ``expect_error``, declared errors that never came, client
expectations not met (``expect_client``), internal errors of the fake. The marker
``@pytest.mark.realtime_allow_errors`` lets a test's errors pass unchecked.

Recorded scenarios (``fake_server.pytest_scenarios``, docs/scenarios.md): scenario files in the
``realtime_scenarios`` ini directories are collected as tests; ``realtime_scenario`` replays the scenario
named by ``@pytest.mark.realtime_scenario``; ``realtime_cassette`` records or checks a test's own client
by ``--realtime-record-mode``; ``realtime_contract`` runs the contract tests (``--realtime-live``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import pytest_scenarios as _scenarios
from .pytest_scenarios import realtime_cassette, realtime_contract, realtime_scenario
from .transport.server import FakeRealtimeServer

__all__ = [
    "ALLOW_ERRORS_MARKER",
    "realtime_cassette",
    "realtime_contract",
    "realtime_listener",
    "realtime_scenario",
    "realtime_server",
]

ALLOW_ERRORS_MARKER = "realtime_allow_errors"


def pytest_addoption(parser: pytest.Parser) -> None:
    _scenarios.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ALLOW_ERRORS_MARKER}: the realtime_server fixture lets this test's error events pass unchecked",
    )
    _scenarios.configure(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Scenario files in the ``realtime_scenarios`` directories are tests (docs/scenarios.md)."""
    return _scenarios.collect_file(file_path, parent)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _scenarios.terminal_summary(terminalreporter, config)


@pytest.fixture(scope="session")
def realtime_listener() -> Iterator[FakeRealtimeServer]:
    """The one fake server of this pytest process; prefer ``realtime_server`` in tests."""
    with FakeRealtimeServer() as server:
        yield server


@pytest.fixture
def realtime_server(
    request: pytest.FixtureRequest, realtime_listener: FakeRealtimeServer
) -> Iterator[FakeRealtimeServer]:
    """The shared fake server, reset for this test; at teardown, fails the test on unnoticed
    errors, unmet expectations and internal errors (:meth:`FakeRealtimeServer.check`)."""
    realtime_listener.reset()
    if request.node.get_closest_marker(ALLOW_ERRORS_MARKER) is not None:
        realtime_listener.allow_errors()
    yield realtime_listener
    realtime_listener.settle()
    problems = realtime_listener.problems()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)

"""pytest fixtures for the fake Realtime server (registered as the ``fake_realtime`` plugin).

One :class:`~fake_server.server.FakeRealtimeServer` listens per pytest process (port 0,
so every pytest-xdist worker has its own) in a background thread; ``realtime_server``
resets it before each test, so a test sees fresh state while the port stays the same.
Works from sync and async tests; needs no async plugin.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .server import FakeRealtimeServer

__all__ = ["realtime_listener", "realtime_server"]


def _report(server: FakeRealtimeServer) -> str:
    parts = [f"the fake realtime server hit {len(server.internal_errors)} internal error(s) during this test:"]
    for session_id, trace in server.internal_errors:
        parts.append(f"--- session {session_id or '(none)'} ---\n{trace.rstrip()}")
    return "\n".join(parts)


@pytest.fixture(scope="session")
def realtime_listener() -> Iterator[FakeRealtimeServer]:
    """The one fake server of this pytest process; prefer ``realtime_server`` in tests."""
    with FakeRealtimeServer() as server:
        yield server


@pytest.fixture
def realtime_server(realtime_listener: FakeRealtimeServer) -> Iterator[FakeRealtimeServer]:
    """The shared fake server, reset for this test; fails the test on internal errors."""
    realtime_listener.reset()
    yield realtime_listener
    if realtime_listener.internal_errors:
        pytest.fail(_report(realtime_listener), pytrace=False)

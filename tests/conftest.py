"""Shared test setup: pytester for the plugin tests, and the fixtures even when not installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from fake_server import FakeRealtimeServer

pytest_plugins = ["pytester"]

# Property-based tests stay deterministic and unhurried on a loaded machine (tests may still set their own).
settings.register_profile("fake-realtime", derandomize=True, database=None, deadline=None)
settings.load_profile("fake-realtime")


def pytest_configure(config: pytest.Config) -> None:
    # Installed, the package registers its fixtures through the ``pytest11`` entry point;
    # from a bare checkout (``python -m pytest``) register the same module here.
    import fake_server.pytest_plugin as plugin

    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "fake_realtime")


@pytest.fixture(scope="session")
def realtime_listener() -> "Iterator[FakeRealtimeServer]":
    """Our own suite checks every server event the fake sends against ``schemas/``.

    A mismatch raises inside the session, is recorded as an internal error, and fails the
    test at teardown through the ``realtime_server`` fixture.
    """
    from fake_server import FakeRealtimeServer

    with FakeRealtimeServer(validate_server_events=True) as server:
        yield server

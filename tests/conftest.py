"""Shared test setup: pytester for the plugin tests, the fixtures even when not installed, and
property-based examples that depend on the test alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest
from hypothesis import settings
from hypothesis.internal.conjecture import providers as hypothesis_providers
from hypothesis.internal.constants_ast import Constants

if TYPE_CHECKING:
    from fake_server import FakeRealtimeServer

pytest_plugins = ["pytester"]

NO_CONSTANTS = Constants()


def no_local_constants() -> Constants:
    """What hypothesis sees as the constants of the project's source: none.

    Now and then hypothesis draws a constant instead of a random value: from its own list, and from the
    string and number literals of the "local" modules imported so far. Which modules count as local
    depends on where they live (not in site-packages, no folder named ``test`` or ``tests`` in the path)
    and which were imported depends on the tests run before; so the derandomized examples changed with
    the checkout's path, with an installed package, with the order of the tests. Hypothesis 6.170 has
    no setting for this (a ``backend`` does not reach the draws that start new paths, which use its own
    provider class), so its one function that scans the local modules is replaced.
    tests/test_suite_setup.py checks that this still takes effect.
    """
    return NO_CONSTANTS


hypothesis_providers._get_local_constants = no_local_constants

# Property-based tests stay deterministic and unhurried on a loaded machine (tests may still set their own).
settings.register_profile("fake-realtime", derandomize=True, database=None, deadline=None)
settings.load_profile("fake-realtime")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Installed, the package registers its plugin through the ``pytest11`` entry point; from a bare
    checkout (``python -m pytest``) register the same module here, while options are still being
    declared, so that its command-line options exist too (registering calls its ``pytest_addoption``).
    A run that blocks the entry point's name (``-p no:fake_realtime``) gets no plugin."""
    import fake_server.pytest_plugin as plugin

    if not pluginmanager.is_registered(plugin) and not pluginmanager.is_blocked("fake_realtime"):
        pluginmanager.register(plugin, "fake_realtime")


@pytest.fixture(scope="session")
def realtime_listener() -> "Iterator[FakeRealtimeServer]":
    """Our own suite checks every server event the fake sends against ``schemas/``.

    A mismatch raises inside the session, is recorded as an internal error, and fails the
    test at teardown through the ``realtime_server`` fixture.
    """
    from fake_server import FakeRealtimeServer

    with FakeRealtimeServer(validate_server_events=True) as server:
        yield server

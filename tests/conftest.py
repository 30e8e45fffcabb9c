"""Shared test setup: pytester for the plugin tests, and the fixtures even when not installed."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # Installed, the package registers its fixtures through the ``pytest11`` entry point;
    # from a bare checkout (``python -m pytest``) register the same module here.
    import fake_server.pytest_plugin as plugin

    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "fake_realtime")

"""Run pytest on a generated project with the ``fake_realtime`` plugin loaded, installed or not.

The plugin's tests write a small project with ``pytester`` and run pytest on it. Loading the plugin
from a ``conftest.py`` is too late for its command-line options (``--realtime-record-mode`` and the
others are parsed before ``pytest_configure``), and from a bare checkout, not pip-installed, there is
no ``pytest11`` entry point to load it. So every run names the module with ``-p``, and blocks the
entry point's name so that an installed package does not register the same module a second time.

A run in a child process imports the same ``fake_server`` as this process (``source_pythonpath``).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import pytest
from _serve_process import source_pythonpath

ENTRY_POINT = "fake_realtime"  # the pytest11 entry point pyproject.toml declares ...
PLUGIN_MODULE = "fake_server.pytest_plugin"  # ... and the module it names
PLUGIN_ARGS = ("-p", f"no:{ENTRY_POINT}", "-p", PLUGIN_MODULE, "-p", "no:cacheprovider")
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
SCENARIO_LIBRARY = Path(__file__).resolve().parents[1] / "scenarios"


def start_project(pytester: pytest.Pytester, ini: str = "") -> Path:
    """Write the ini file every generated project shares, with ``ini``'s extra lines; returns the
    project's folder."""
    pytester.makeini(INI + ini)
    return pytester.path


def copy_scenarios(directory: Path, *names: str) -> Path:
    """Copy scenarios of the library (``scenarios/NAME.jsonl``) into ``directory``, created if need be."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SCENARIO_LIBRARY / f"{name}.jsonl", directory / f"{name}.jsonl")
    return directory


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest on the project in this process, the plugin loaded by ``-p``."""
    return pytester.runpytest_inprocess(*PLUGIN_ARGS, *args)


def run_pytest_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest on the project in a process of its own (and its pytest-xdist workers), the plugin
    loaded by ``-p``."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PYTHONPATH", source_pythonpath())
        return pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)


def run_pytest_subprocess_by_entry_point(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a process of its own that finds the plugin as an installed package's user does:
    through the ``pytest11`` entry point, with no ``-p`` and no conftest.

    From a bare checkout the entry point is not installed; then the child also gets, on its
    ``PYTHONPATH``, the metadata of a distribution that declares it as the wheel does."""
    path = source_pythonpath()
    if not _entry_point_installed():
        metadata = pytester.path.parent / f"{pytester.path.name}-entry-point"
        _write_entry_point(metadata)
        path = os.pathsep.join([str(metadata), path])
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PYTHONPATH", path)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def _entry_point_installed() -> bool:
    return any(ep.name == ENTRY_POINT and ep.value == PLUGIN_MODULE
               for ep in importlib.metadata.entry_points(group="pytest11"))


def _write_entry_point(folder: Path) -> None:
    """The metadata of a distribution whose only content is the plugin's entry point."""
    info = folder / "fake_realtime_entry_point-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-realtime-entry-point\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{ENTRY_POINT} = {PLUGIN_MODULE}\n")

"""pytest integration of recorded scenarios (part of the ``fake_realtime`` plugin).

* Scenario files in the directories named by the ``realtime_scenarios`` ini option are collected: each
  file is one test that replays it against the ``realtime_server`` fixture.
* ``@pytest.mark.realtime_scenario("name")`` with the ``realtime_scenario`` fixture replays the named
  scenario (a path, or ``<name>.jsonl`` in those directories, else in ``scenarios/`` under the rootdir)
  against the fixture and hands the test the result; the test can then look at ``realtime_server``.
* ``--realtime-live`` (with ``OPENAI_API_KEY``) lets contract tests replay against the live API through
  the ``realtime_contract`` fixture; the fake-vs-live divergence report goes to ``--realtime-report``.
* ``--realtime-record-mode`` (``none``, ``once``, ``new_episodes``, ``all``) drives the
  ``realtime_cassette`` fixture, which records a test's own client through the recording proxy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .scenarios.record import RecordingProxy
from .scenarios.replay import LIVE_URL, ReplayResult, divergence_report, replay_sync
from .scenarios.format import Scenario, ScenarioError, load_scenario
from .transport.runner import LoopRunner
from .transport.server import FakeRealtimeServer

__all__ = [
    "CASSETTE_MARKER",
    "RECORD_MODES",
    "SCENARIO_MARKER",
    "Contract",
    "realtime_cassette",
    "realtime_contract",
    "realtime_scenario",
    "replay_against",
]

SCENARIO_MARKER = "realtime_scenario"
CASSETTE_MARKER = "realtime_cassette"
RECORD_MODES = ("none", "once", "new_episodes", "all")


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fake-realtime", "fake OpenAI Realtime server")
    group.addoption("--realtime-live", action="store_true", default=False,
                    help="also replay scenarios against the live Realtime API (needs OPENAI_API_KEY)")
    group.addoption("--realtime-live-url", default=LIVE_URL, metavar="URL",
                    help=f"the live endpoint for --realtime-live (default: {LIVE_URL})")
    group.addoption("--realtime-report", default=None, metavar="FILE",
                    help="write the fake-vs-live divergence report of the contract tests here")
    group.addoption("--realtime-live-recordings", default=None, metavar="DIR",
                    help="record every live contract run into DIR/<scenario>.jsonl (keys redacted)")
    group.addoption("--realtime-record-mode", default="none", choices=RECORD_MODES,
                    help="how realtime_cassette records: none (default, never), once (when the file is "
                         "missing), new_episodes (add connections the file lacks), all (always re-record)")
    group.addoption("--realtime-timeout", type=float, default=None, metavar="SECONDS",
                    help="how long a replay waits for an awaited server event (default: the scenario's, else 10)")
    parser.addini("realtime_scenarios", "directories of scenario files (*.jsonl) collected as tests",
                  type="paths", default=[])


def configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{SCENARIO_MARKER}(name): replay this scenario against realtime_server (realtime_scenario)")
    config.addinivalue_line(
        "markers", f"{CASSETTE_MARKER}(path): the scenario file realtime_cassette records to and checks against")


def _timeout(config: pytest.Config) -> float | None:
    value = config.getoption("--realtime-timeout", None)
    return float(value) if value is not None else None


def replay_against(scenario: Scenario, server: FakeRealtimeServer, *, timeout: float | None = None) -> ReplayResult:
    """Replay ``scenario`` against a fake (the fixture); fail the test with the diff, or xfail a known
    divergence. The scenario checks its own error events, so the fixture's unnoticed-error check is off."""
    server.allow_errors()
    result = replay_sync(scenario, server.url, timeout=timeout)
    if not result.passed:
        if scenario.divergence:
            pytest.xfail(f"known divergence of the fake: {scenario.divergence}\n{result.report()}")
        pytest.fail(result.report(), pytrace=False)
    return result


# --- collection ---------------------------------------------------------------------------------


def _scenario_dirs(config: pytest.Config) -> list[Path]:
    return [Path(p).resolve() for p in config.getini("realtime_scenarios")]


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".jsonl":
        return None
    resolved = file_path.resolve()
    if not any(resolved.parent == d or d in resolved.parents for d in _scenario_dirs(parent.config)):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _scenario_test(path: Path) -> Callable[..., None]:
    def test(realtime_server: FakeRealtimeServer, request: pytest.FixtureRequest) -> None:
        replay_against(load_scenario(path), realtime_server, timeout=_timeout(request.config))

    return test


class ScenarioFile(pytest.File):
    """A scenario file collected as one test, named after the scenario."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        yield pytest.Function.from_parent(self, name=scenario.name, callobj=_scenario_test(self.path))


# --- the named-scenario marker ---------------------------------------------------------------------


def resolve_scenario(config: pytest.Config, name: str) -> Path:
    """A scenario path from a marker argument: a path (absolute, or from the rootdir), or ``<name>.jsonl`` in
    the ``realtime_scenarios`` directories, else in ``scenarios/`` under the rootdir."""
    root = Path(config.rootpath)
    given = Path(name)
    for candidate in (given, root / given):
        if candidate.suffix == ".jsonl" and candidate.is_file():
            return candidate
    for directory in [*_scenario_dirs(config), root / "scenarios"]:
        candidate = directory / f"{name}.jsonl"
        if candidate.is_file():
            return candidate
    raise pytest.UsageError(f"no scenario {name!r} (looked in {[str(d) for d in _scenario_dirs(config)]} "
                            f"and {root / 'scenarios'})")


@pytest.fixture
def realtime_scenario(request: pytest.FixtureRequest, realtime_server: FakeRealtimeServer) -> ReplayResult:
    """Replays the scenario named by ``@pytest.mark.realtime_scenario("name")`` against ``realtime_server``;
    fails the test with the diff when the server side differs. Returns the :class:`ReplayResult`."""
    marker = request.node.get_closest_marker(SCENARIO_MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(f"realtime_scenario needs @pytest.mark.{SCENARIO_MARKER}(\"name\") on the test")
    path = resolve_scenario(request.config, str(marker.args[0]))
    return replay_against(load_scenario(path), realtime_server, timeout=_timeout(request.config))


# --- contract tests: the fake always, the live API on request ----------------------------------------


@dataclass
class Contract:
    """Replays scenarios against the fake and (with ``--realtime-live``) the live API, and keeps every
    result for the divergence report written at the end of the run."""

    live: bool
    live_url: str
    report_path: str | None
    timeout: float | None
    recordings: Path | None = None
    fake_results: dict[str, ReplayResult] = field(default_factory=dict)
    live_results: dict[str, ReplayResult] = field(default_factory=dict)

    def against_fake(self, path: str | Path, server: FakeRealtimeServer) -> ReplayResult:
        """Replay against the fixture's fake; fails the test on a difference (xfail for a known divergence)."""
        scenario = load_scenario(path)
        server.allow_errors()
        result = replay_sync(scenario, server.url, timeout=self.timeout)
        self.fake_results[scenario.name] = result
        return self._verdict(result)

    def against_live(self, path: str | Path) -> ReplayResult:
        """Replay against the live API through a recording proxy (the key comes from ``OPENAI_API_KEY``);
        skipped without ``--realtime-live`` or without a key."""
        if not self.live:
            pytest.skip("live contract tests run with --realtime-live")
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            pytest.skip("--realtime-live needs OPENAI_API_KEY")
        scenario = load_scenario(path)
        out = self.recordings / f"{scenario.name}.jsonl" if self.recordings is not None else None
        result = _replay_through_proxy(scenario, self.live_url, key, self.timeout, out)
        self.live_results[scenario.name] = result
        if not result.passed:
            pytest.fail(result.report(), pytrace=False)
        return result

    def _verdict(self, result: ReplayResult) -> ReplayResult:
        if not result.passed:
            if result.scenario.divergence:
                pytest.xfail(f"known divergence of the fake: {result.scenario.divergence}")
            pytest.fail(result.report(), pytrace=False)
        return result

    def report(self) -> str | None:
        """The divergence report over the scenarios replayed on both sides (None when none were)."""
        pairs = [(self.fake_results[name], live) for name, live in self.live_results.items()
                 if name in self.fake_results]
        return divergence_report(pairs) if pairs else None


def _replay_through_proxy(scenario: Scenario, url: str, key: str, timeout: float | None,
                          out: Path | None) -> ReplayResult:
    """Replay via a :class:`RecordingProxy` (in this thread's own loop) so the run is also recorded."""
    from .scenarios.replay import replay

    async def run() -> ReplayResult:
        async with RecordingProxy(url, out=out, name=scenario.name,
                                  description=f"Live run of the scenario {scenario.name}.") as proxy:
            return await replay(scenario, proxy.url, api_key=key, timeout=timeout)

    return asyncio.run(run())


_CONTRACT_KEY = pytest.StashKey[Contract]()


def _contract(config: pytest.Config) -> Contract:
    contract = config.stash.get(_CONTRACT_KEY, None)
    if contract is None:
        contract = Contract(
            live=bool(config.getoption("--realtime-live", False)),
            live_url=str(config.getoption("--realtime-live-url", LIVE_URL)),
            report_path=config.getoption("--realtime-report", None),
            timeout=_timeout(config),
            recordings=Path(str(config.getoption("--realtime-live-recordings"))) if config.getoption(
                "--realtime-live-recordings", None) else None,
        )
        config.stash[_CONTRACT_KEY] = contract
    return contract


@pytest.fixture(scope="session")
def realtime_contract(request: pytest.FixtureRequest) -> Contract:
    """The run's :class:`Contract` (see ``tests/contract/``)."""
    return _contract(request.config)


def terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    contract = config.stash.get(_CONTRACT_KEY, None)
    if contract is None:
        return
    text = contract.report()
    if text is None:
        return
    if contract.report_path:
        Path(contract.report_path).write_text(text, encoding="utf-8")
        terminalreporter.write_line(f"fake-vs-live divergence report: {contract.report_path}")
    else:
        terminalreporter.section("fake vs live")
        terminalreporter.write(text)


# --- record modes ----------------------------------------------------------------------------------


class _ProxyThread:
    """A :class:`RecordingProxy` on its own event loop in a daemon thread (so sync and async tests can use it)."""

    def __init__(self, proxy: RecordingProxy) -> None:
        self.proxy = proxy
        self.runner = LoopRunner("realtime-recorder", start_timeout=10)

    def __enter__(self) -> RecordingProxy:
        self.runner.start(self.proxy.start, self.proxy.stop)
        return self.proxy

    def __exit__(self, *exc: object) -> None:
        self.runner.stop()


class Cassette:
    """What ``realtime_cassette`` gives a test: where its client connects, and what happens at the end.

    * recording (``once`` with no file yet, ``new_episodes``, ``all``): ``url`` is a recording proxy in
      front of the upstream (the live API with ``--realtime-live``, else the fake); at teardown the file is
      written (``new_episodes`` keeps the connections the file already had and adds the new ones);
    * replaying (``none``, or ``once`` with the file there): ``url`` is the fake itself; at teardown the
      conversation the client had (from the fake's journal) is checked against the file, client events
      included, each connection against the file's connection with the same client events (VCR-style,
      whatever order they opened in), and the test fails with the diff.
    """

    def __init__(self, path: Path, mode: str, server: FakeRealtimeServer, upstream: str | None,
                 api_key: str) -> None:
        self.path = path
        self.mode = mode
        self.server = server
        self.api_key = api_key
        """The key the client should send: ``OPENAI_API_KEY`` against the live API, else a placeholder."""
        self.recording = mode in ("new_episodes", "all") or (mode == "once" and not path.exists())
        self.upstream = upstream or server.url
        self._proxy: _ProxyThread | None = None
        self._url = server.url

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime`` for raw WebSocket clients."""
        return self._url

    @property
    def base_url(self) -> str:
        """What the SDK's ``websocket_base_url`` takes."""
        return self._url.rsplit("/realtime", 1)[0]

    def start(self) -> None:
        if self.recording:
            self._proxy = _ProxyThread(RecordingProxy(self.upstream, name=self.path.stem,
                                                      description=f"Recorded by realtime_cassette ({self.mode})."))
            self._url = self._proxy.__enter__().url
        elif not self.path.exists():
            pytest.fail(f"no recording at {self.path}: run with --realtime-record-mode=once to make it",
                        pytrace=False)

    def finish(self) -> None:
        self.server.allow_errors()  # the file holds the errors the client gets; a replay checks them
        if self._proxy is not None:
            proxy = self._proxy.proxy
            self._proxy.__exit__(None, None, None)
            recorded = proxy.scenario()
            if self.mode == "new_episodes" and self.path.exists():
                recorded = merge_episodes(load_scenario(self.path), recorded)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            from .scenarios.format import dump_scenario

            self.path.write_text(dump_scenario(recorded), encoding="utf-8")
            return
        scenario = load_scenario(self.path)
        self.server.settle()
        conversations = []
        for conn in self.server.connections:
            frames: list[Any] = []
            for entry in conn.entries():
                if entry.event is not None:
                    frames.append((entry.direction, entry.time, entry.event, None))
            if conn.closed_by == "server" and conn.close_code is not None:
                frames.append(("server", float("inf"), None, (conn.close_code, conn.close_reason or "")))
            conversations.append(frames)
        names = match_connections(scenario, [[f[2] for f in frames if f[0] == "client"] for frames in conversations])
        from .scenarios.replay import check_frames

        result = check_frames(scenario, [(name, *frame) for name, frames in zip(names, conversations)
                                         for frame in frames])
        if not result.passed:
            if scenario.divergence:
                pytest.xfail(f"known divergence of the fake: {scenario.divergence}")
            pytest.fail(f"the conversation differs from the recording {self.path}:\n{result.report()}",
                        pytrace=False)


def _same_requests(scenario: Scenario, name: str, events: list[dict[str, Any]]) -> bool:
    from .scenarios.format import ClientLine, client_expectation, match_value

    lines = [line.event for line in scenario.lines
             if isinstance(line, ClientLine) and line.conn == name and line.event is not None]
    return len(lines) == len(events) and all(
        not match_value(client_expectation(line), event, {}) for line, event in zip(lines, events))


def match_connections(scenario: Scenario, requests: list[list[dict[str, Any]]]) -> list[str]:
    """Which of the file's connections each connection of a run is, as VCR matches a request: by what the
    client sent (its events, ids the server chose aside). A connection that matches none takes the first
    connection of the file not taken yet (and so gets the diff of what it sent); more connections than the
    file has are ``extraN``."""
    free = [c.name for c in scenario.connections]
    names: list[str | None] = [None] * len(requests)
    for index, events in enumerate(requests):
        for name in free:
            if _same_requests(scenario, name, events):
                names[index] = name
                free.remove(name)
                break
    for index in range(len(requests)):
        if names[index] is None:
            names[index] = free.pop(0) if free else f"extra{index}"
    return [str(name) for name in names]


def merge_episodes(old: Scenario, new: Scenario) -> Scenario:
    """``new_episodes``: the old file's connections stay as recorded; connections of the new recording whose
    client events no old connection has are added (renamed ``episodeN``), their bound names renamed too
    (``item_1`` -> the next ``item_N`` the file does not use), so they never clash with the old ones."""
    import dataclasses
    import json
    import re

    from .scenarios.format import ClientLine, bound_names, client_expectation, rename_bindings

    def client_side(scenario: Scenario, name: str) -> str:
        # what the client sent, ids the server chose aside (as match_connections compares): the same flow
        # recorded at another place in the run binds its ids under other names
        return json.dumps([client_expectation(line.event) for line in scenario.lines if isinstance(line, ClientLine)
                           and line.conn == name and line.event is not None], sort_keys=True)

    def fresh(name: str) -> str:
        stem, number = re.fullmatch(r"(.*?)_?(\d*)", name).groups()  # type: ignore[union-attr]
        count = int(number) if number else 1
        while f"{stem}_{count}" in taken_names:
            count += 1
        taken_names.add(f"{stem}_{count}")
        return f"{stem}_{count}"

    known = {client_side(old, c.name) for c in old.connections}
    connections = list(old.connections)
    lines = list(old.lines)
    number = max((line.number for line in old.lines), default=1)
    taken = {c.name for c in connections}
    taken_names = {name for line in old.lines for name in bound_names(line.event)}
    added: dict[str, str] = {}
    for conn in new.connections:
        if client_side(new, conn.name) in known:
            continue
        name = f"episode{len(connections) + 1}"
        while name in taken:
            name += "_"
        taken.add(name)
        added[conn.name] = name
        connections.append(dataclasses.replace(conn, name=name))
    renamed = {bound: fresh(bound) for line in new.lines if line.conn in added for bound in sorted(
        bound_names(line.event), key=lambda n: [int(d) if d.isdigit() else d for d in re.split(r"(\d+)", n)])}
    for line in new.lines:
        if line.conn not in added:
            continue
        number += 1
        changes: dict[str, Any] = {"conn": added[line.conn], "number": number,
                                   "event": rename_bindings(line.event, renamed)}
        if isinstance(line, ClientLine) and isinstance(line.wait, dict):
            wait = rename_bindings(line.wait, renamed)
            if wait.get("conn") in added:
                wait["conn"] = added[wait["conn"]]
            changes["wait"] = wait
        lines.append(dataclasses.replace(line, **changes))
    return dataclasses.replace(old, connections=tuple(connections), lines=tuple(lines))


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    if marker is not None and marker.args:
        given = Path(str(marker.args[0]))
        return given if given.is_absolute() else Path(request.node.path).parent / given
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in request.node.name)
    return Path(request.node.path).parent / "cassettes" / f"{safe}.jsonl"


@pytest.fixture
def realtime_cassette(request: pytest.FixtureRequest, realtime_server: FakeRealtimeServer) -> Iterator[Cassette]:
    """Record this test's own client into a scenario file, or check it against that file, by
    ``--realtime-record-mode``. Point the client at ``realtime_cassette.url`` / ``.base_url`` with
    ``realtime_cassette.api_key``. The file: ``@pytest.mark.realtime_cassette("path")`` (relative to the
    test file), else ``cassettes/<test name>.jsonl`` beside the test file."""
    config = request.config
    live = bool(config.getoption("--realtime-live", False))
    mode = str(config.getoption("--realtime-record-mode", "none"))
    key = os.environ.get("OPENAI_API_KEY", "") if live else "sk-fake-realtime-cassette"
    if live and not key:
        pytest.skip("--realtime-live needs OPENAI_API_KEY")
    upstream = str(config.getoption("--realtime-live-url", LIVE_URL)) if live else None
    cassette = Cassette(_cassette_path(request), mode, realtime_server, upstream, key)
    cassette.start()
    yield cassette
    cassette.finish()

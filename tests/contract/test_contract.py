"""Contract tests: every library scenario against the fake, always; against the live API with --realtime-live.

    pytest tests/contract                                        # the fake only (CI)
    OPENAI_API_KEY=sk-... pytest tests/contract --realtime-live --realtime-report divergence.md

The live runs go through the recording proxy (``--realtime-live-recordings DIR`` keeps them, keys redacted).
At the end of the run the fake-vs-live report lists every divergence, error codes and messages included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_server import FakeRealtimeServer
from fake_server.pytest_scenarios import Contract

LIBRARY = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.jsonl"))


def test_the_library_is_there() -> None:
    assert len(LIBRARY) >= 14


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_against_the_fake(path: Path, realtime_server: FakeRealtimeServer, realtime_contract: Contract) -> None:
    result = realtime_contract.against_fake(path, realtime_server)
    assert result.passed and realtime_server.connections


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_against_the_live_api(path: Path, realtime_contract: Contract) -> None:
    result = realtime_contract.against_live(path)
    assert result.passed

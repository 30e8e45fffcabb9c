"""Without network: the live runner, the recorder in front of it and the fake-vs-live report, end to end,
with a second fake standing in for the live API. A canary key must never reach a recording or the report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _pytester import copy_scenarios, run_pytest, start_project
from fake_server import FakeRealtimeServer
from fake_server import script as s

REPO = Path(__file__).resolve().parents[2]
CANARY = "sk-canary-live-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PICKED = ["out_of_band_response", "session_reset_unknown_type", "history_wrong_user_types"]


def inner_project(pytester: pytest.Pytester) -> None:
    """The contract test module as it is in the repo, beside a copy of three library scenarios."""
    copy_scenarios(start_project(pytester) / "scenarios", *PICKED)
    tests = pytester.mkdir("tests")
    contract = tests / "contract"
    contract.mkdir()
    source = (REPO / "tests" / "contract" / "test_contract.py").read_text()
    (contract / "test_contract_inner.py").write_text(source.replace(">= 14", f">= {len(PICKED)}"))


def test_live_runs_through_the_recorder_and_the_report_lists_each_divergence(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inner_project(pytester)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    report = tmp_path / "divergence.md"
    recordings = tmp_path / "live"
    with FakeRealtimeServer(api_keys=[CANARY]) as stand_in:
        stand_in.script.on(s.always, s.server_error())  # "live" answers every response with a failure
        result = run_pytest(
            pytester, "--realtime-live", f"--realtime-live-url={stand_in.url}",
            f"--realtime-report={report}", f"--realtime-live-recordings={recordings}")
        handshakes = [c.handshake for c in stand_in.connections]
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed")) == (1 + 3 + 2, 1), result.stdout.str()
    result.stdout.fnmatch_lines(["FAIL out_of_band_response *", "*response.done differs*",
                                 "*response.status: expected \"completed\" (equal), got \"failed\"*"])
    result.stdout.fnmatch_lines(["FAILED *test_against_the_live_api?out_of_band_response?*"])
    result.stdout.fnmatch_lines([f"fake-vs-live divergence report: {report}"])

    # the live runner used the key from OPENAI_API_KEY (the stand-in accepts only that one) ...
    assert len(handshakes) == 3 and all(h is not None and "Bearer sk-canar" in h.headers["authorization"]
                                        for h in handshakes)
    # ... and recorded each run, without the key
    files = sorted(p.name for p in recordings.iterdir())
    assert files == sorted(f"{name}.jsonl" for name in PICKED)
    text = report.read_text()
    for path in [report, *recordings.iterdir()]:
        content = path.read_text()
        assert CANARY not in content and CANARY[8:-4] not in content
    assert text.startswith("# fake vs live: divergence report\n3 scenario(s), ")
    assert "## session_reset_unknown_type: fake pass, live pass, 0 divergence(s)" in text
    assert "## history_wrong_user_types: fake pass, live pass, 0 divergence(s)" in text
    oob = text.split("## out_of_band_response")[1].split("\n## ")[0]
    assert "fake pass, live FAIL" in oob
    assert "response.done differs: response.status: \"completed\" vs \"failed\"" in oob
    assert "only in the fake run: response.output_item.added" in oob
    assert "live vs the scenario: [main] line" in oob


def test_without_the_option_or_the_key_the_live_half_is_skipped(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    inner_project(pytester)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = run_pytest(pytester, "-rs")
    result.assert_outcomes(passed=1 + 3, skipped=3)
    result.stdout.fnmatch_lines(["*live contract tests run with --realtime-live*"])
    result = run_pytest(pytester, "-rs", "--realtime-live")
    result.assert_outcomes(passed=1 + 3, skipped=3)
    result.stdout.fnmatch_lines(["*--realtime-live needs OPENAI_API_KEY*"])
    assert "OPENAI_API_KEY" not in os.environ

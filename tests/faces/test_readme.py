"""The README's examples are the how-to tests, word for word."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["test_howto_history_errors.py", "test_howto_voice_turn.py"])
def test_readme_example_is_a_test(name: str) -> None:
    body = (ROOT / "tests" / "examples" / name).read_text()
    function = body[body.index("async def"):].strip()
    assert function in (ROOT / "README.md").read_text()


def test_readme_scenario_example_is_a_test() -> None:
    body = (ROOT / "tests" / "examples" / "test_howto_recorded_scenarios.py").read_text()
    start = body.index('@pytest.mark.realtime_scenario("audio_commit_then_delete")')
    example = body[start:body.index("\n\n\n", start)]
    assert example in (ROOT / "README.md").read_text()

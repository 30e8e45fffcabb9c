"""The suite's own setup and helpers: property-based examples depend on the test alone (tests/conftest.py),
and the event builders (tests/_events.py) make events the schemas accept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from _events import (
    append,
    assistant_text,
    clear,
    commit,
    delete,
    function_call,
    function_call_output,
    item_create,
    pcm,
    response_cancel,
    response_create,
    retrieve,
    session_config,
    session_update,
    system_text,
    truncate,
    user_audio,
    user_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_server.protocol.schema import load_schemas

LOCAL_CONSTANT = "!zq"  # sorts before most literals; hypothesis keeps those of up to 20 characters


def examples() -> list[str]:
    drawn: list[str] = []

    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    @given(st.text())
    def draw(text: str) -> None:
        drawn.append(text)

    draw()
    return drawn


def test_examples_do_not_change_when_a_local_module_with_string_literals_is_imported(tmp_path: Path) -> None:
    """Hypothesis mixes the literals of imported local modules into its draws; which modules count as
    local depends on the checkout's path and which were imported on the tests run before. The suite's
    provider leaves them out, so the derandomized examples are the same wherever and whenever."""
    before = examples()
    module = tmp_path / "literals_here.py"
    module.write_text("".join(f"WORD_{i} = {LOCAL_CONSTANT + str(i)!r}\n" for i in range(50)))
    spec = importlib.util.spec_from_file_location("literals_here", module)
    assert spec is not None and spec.loader is not None
    sys.modules["literals_here"] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(sys.modules["literals_here"])
        after = examples()
    finally:
        del sys.modules["literals_here"]
    assert not any(LOCAL_CONSTANT in text for text in after)
    assert after == before


@pytest.mark.parametrize("event", [
    session_update(), session_update("u1", vad=False, instructions="Be brief.", audio={"output": {"voice": "marin"}}),
    session_update(type="transcription"),
    item_create(user_text("hi")), item_create(system_text("be brief"), previous="root", event_id="c1"),
    item_create(assistant_text("4.")), item_create(user_audio(pcm(100))), item_create(user_audio("AAAA")),
    item_create(function_call("get_weather", "call_1")), item_create(function_call_output("call_1", "rainy")),
    response_create(), response_create("r1", output_modalities=["text"], input=[user_text("classify")]),
    response_cancel(), response_cancel("resp_1", "x1"),
    append(pcm(10)), append("AAAA", "a1"), commit(), commit("c1"), clear(),
    truncate("item_1", 500), delete("item_1", "d1"), retrieve("item_1"),
], ids=lambda event: event["type"])
def test_the_event_builders_make_events_the_schemas_accept(event: dict[str, object]) -> None:
    load_schemas().validate_client_event(event)


def test_session_config_without_vad_keeps_the_other_audio_settings() -> None:
    assert session_config(vad=False, audio={"input": {"noise_reduction": None}, "output": {"voice": "marin"}}) == {
        "type": "realtime", "audio": {"input": {"noise_reduction": None, "turn_detection": None},
                                      "output": {"voice": "marin"}}}
    assert session_update("u1", instructions="x") == {
        "type": "session.update", "event_id": "u1", "session": {"type": "realtime", "instructions": "x"}}
    assert item_create(user_text("hi"), previous="item_0") == {
        "type": "conversation.item.create", "previous_item_id": "item_0", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}

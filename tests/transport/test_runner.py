"""The event loop a server runs on (transport/runner.py): its own thread, or the caller's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fake_server.transport.runner import LoopRunner


async def _nothing() -> None:
    pass


def test_a_loop_of_its_own_runs_setup_then_teardown_and_takes_calls_from_any_thread() -> None:
    seen: list[str] = []

    async def setup() -> None:
        seen.append(f"setup on {threading.current_thread().name}")

    async def teardown() -> None:
        seen.append("teardown")

    runner = LoopRunner("test-loop")
    runner.start(setup, teardown)
    try:
        assert seen == ["setup on test-loop"] and runner.busy and runner.can_wait()
        assert runner.call(lambda: threading.current_thread().name) == "test-loop"
        assert runner.run(asyncio.sleep(0, "slept"), timeout=5) == "slept"
        with pytest.raises(ZeroDivisionError):
            runner.call(lambda: 1 // 0)
    finally:
        runner.stop()
    assert seen == ["setup on test-loop", "teardown"] and not runner.busy and runner.loop is None


def test_a_failing_setup_is_raised_in_the_caller_and_the_runner_can_start_again() -> None:
    async def broken() -> None:
        raise OSError("port busy")

    runner = LoopRunner("test-loop")
    with pytest.raises(OSError, match="port busy"):
        runner.start(broken, _nothing)
    assert not runner.busy
    runner.start(_nothing, _nothing)
    runner.stop()


def test_a_failing_teardown_is_raised_by_stop() -> None:
    async def broken() -> None:
        raise RuntimeError("could not save")

    runner = LoopRunner("test-loop")
    runner.start(_nothing, broken)
    with pytest.raises(RuntimeError, match="could not save"):
        runner.stop()
    assert not runner.busy


def test_a_server_runner_logs_a_failing_teardown_instead(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("could not close")

    runner = LoopRunner("test-loop", raise_teardown_errors=False)
    runner.start(_nothing, broken)
    with caplog.at_level("ERROR", logger="fake_server.transport.runner"):
        runner.stop()
    assert not runner.busy
    assert any("could not close" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


async def test_on_the_callers_loop_calls_run_here_and_now() -> None:
    runner = LoopRunner("unused")
    runner.attach()
    try:
        assert runner.busy and runner.on_loop_thread() and not runner.can_wait()
        with pytest.raises(RuntimeError, match="already running"):
            runner.attach()
        assert runner.call(lambda: "now") == "now"
        done: list[str] = []
        runner.call_soon(lambda: done.append("now too"))
        assert done == ["now too"]
    finally:
        runner.detach()
    assert not runner.busy


def test_without_a_loop_calls_run_in_the_caller_and_nothing_is_scheduled() -> None:
    runner = LoopRunner("idle")
    assert runner.call(lambda: "here") == "here"
    runner.call_soon(lambda: pytest.fail("nothing runs without a loop"))
    coroutine = _nothing()
    with pytest.raises(RuntimeError):
        runner.run(coroutine, timeout=1)

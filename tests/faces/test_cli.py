"""``fake-realtime serve`` from a shell: prints its URLs, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openai import AsyncOpenAI

from _bad_scripts import BAD_SCRIPTS
from _events import session_config, user_text
from _serve_process import ServeProcess, child_env
from fake_server.cli import main

REPO = Path(__file__).resolve().parents[2]


def serve(*args: str) -> ServeProcess:
    return ServeProcess(
        [sys.executable, "-m", "fake_server.cli", "serve", "--port", "0", *args],
        cwd=str(REPO),
        env=child_env(PYTHONUNBUFFERED="1"),
    )


async def test_serve_prints_urls_serves_the_sdk_and_stops_on_sigint() -> None:
    child = serve("--seed", "5")
    try:
        url = child.field("url")
        base_url = child.field("websocket_base_url")
        http_base_url = child.field("base_url")
        assert url == base_url + "/realtime"
        assert http_base_url == "http" + base_url.removeprefix("ws")
        assert url.startswith("ws://127.0.0.1:")
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=base_url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            assert (await conn.recv()).type == "session.created"
        code, stderr = child.interrupt()
    finally:
        child.kill()
    assert code == 0, stderr
    assert "Traceback" not in stderr


async def test_api_keys_are_enforced_and_never_printed() -> None:
    secret = "sk-cli-secret-key-0123456789"
    child = serve("--api-key", secret, "--api-key", "sk-other-key-abcdefghij")
    try:
        base_url = child.field("websocket_base_url")
        client = AsyncOpenAI(api_key="sk-not-accepted-000000000", websocket_base_url=base_url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            event = await conn.recv()
        assert event.type == "error" and event.error.code == "invalid_api_key"
        client = AsyncOpenAI(api_key=secret, websocket_base_url=base_url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            assert (await conn.recv()).type == "session.created"
        child.proc.send_signal(signal.SIGTERM)
        code = child.proc.wait(30)
        stdout = child.rest_of_stdout()
        stderr = child.stderr()
    finally:
        child.kill()
    assert code == 0, stderr
    assert secret not in stdout and secret not in stderr


def test_help_and_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fake_server.cli", "serve", "--help"],
        cwd=str(REPO), capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert "--port" in out and "--api-key" in out and "--seed" in out
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0


def test_a_busy_port_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    from fake_server import FakeRealtimeServer

    with FakeRealtimeServer() as busy:
        assert main(["serve", "--port", str(busy.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


async def test_serve_with_a_script_file_answers_as_scripted() -> None:
    script = Path(__file__).resolve().parents[2] / "scenarios" / "pizza_order.yaml"
    child = serve("--script", str(script))
    try:
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=child.field("websocket_base_url"))
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            await conn.response.create(response={"output_modalities": ["text"]})
            said = ""
            while (event := await conn.recv()).type != "response.done":
                if event.type == "response.output_text.delta":
                    said += event.delta
        assert said == "Welcome to Pizza Place! What can I get you?"
        code, stderr = child.interrupt()
    finally:
        child.kill()
    assert code == 0, stderr


def test_serve_refuses_a_broken_script_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": 5}')
    result = subprocess.run([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0", "--script", str(bad)],
                            capture_output=True, text=True, timeout=60, env=child_env())
    assert result.returncode == 2
    assert result.stderr == f"fake-realtime: {bad}: rules: expected a list of rules, got 5\n"


@pytest.mark.parametrize(("data", "message"), BAD_SCRIPTS)
def test_serve_says_where_a_script_file_is_broken_and_what_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: Any, message: str
) -> None:
    from fake_server import FakeRealtimeServer

    for path, text in ((tmp_path / "bad.json", json.dumps(data)), (tmp_path / "bad.yaml", yaml.safe_dump(data))):
        path.write_text(text)
        with FakeRealtimeServer() as busy:  # should the script pass, serving fails at once (exit 1) instead of hanging
            assert main(["serve", "--port", str(busy.port), "--script", str(path)]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"fake-realtime: {path}: {message}")


def test_serve_says_when_a_script_file_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["serve", "--script", str(missing)]) == 2
    assert capsys.readouterr().err == f"fake-realtime: {missing}: cannot read it: No such file or directory\n"
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    assert main(["serve", "--script", str(binary)]) == 2
    assert capsys.readouterr().err.startswith(f"fake-realtime: {binary}: not UTF-8 text: ")


def test_serve_prints_the_admin_url_and_can_turn_it_off() -> None:
    from _admin_http import admin

    child = serve("--cors-origin", "http://localhost:5173")
    try:
        origin = "http" + child.field("url").removeprefix("ws").removesuffix("/v1/realtime")
        admin_url = child.field("admin")
        assert admin_url == origin + "/__admin"
        answer = admin("GET", admin_url + "/sessions", headers={"Origin": "http://localhost:5173"})
        assert answer.body == {"sessions": []}
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
    finally:
        child.kill()
    child = serve("--no-admin")
    try:
        origin = "http" + child.field("url").removeprefix("ws").removesuffix("/v1/realtime")
        assert child.field("admin") == "off"
        assert admin("GET", origin + "/__admin/sessions").status == 404
    finally:
        child.kill()


def test_serve_paces_responses_when_asked() -> None:
    from _admin_http import admin
    from openai import OpenAI

    child = serve("--pacing", "0.5")
    try:
        base_url = child.field("websocket_base_url")
        admin_url = child.field("admin")
        client = OpenAI(api_key="sk-test", websocket_base_url=base_url)
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.session.update(session=session_config(output_modalities=["text"]))
            conn.conversation.item.create(item=user_text("hi"))
            conn.response.create()
            while conn.recv().type != "response.done":
                pass
        frames = admin("GET", admin_url + "/sessions/0/journal?direction=server").body["frames"]
        sent = {f["event"]["type"]: f["time"] for f in frames}
        # "You said: hi" takes 0.8 s in real time (15 characters a second), half that at pacing 0.5:
        # ~0.4 s from the first event of the response to its end (checked as a lower bound only)
        assert sent["response.done"] - sent["response.created"] >= 0.3
    finally:
        child.kill()


def test_serve_refuses_a_negative_pacing() -> None:
    result = subprocess.run([sys.executable, "-m", "fake_server.cli", "serve", "--pacing", "-1"],
                            capture_output=True, text=True, timeout=60, env=child_env())
    assert result.returncode == 2 and "pacing is 0 or more" in result.stderr

"""The built wheel works on its own: schemas inside, console script serves from outside the repo."""

from __future__ import annotations

import asyncio
import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

from websockets.asyncio.client import connect

from _serve_process import ServeProcess, child_env

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=str(REPO)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def isolated_env(target: Path) -> dict[str, str]:
    """Only the installed wheel and the interpreter's dependencies; no .pth files (so no editable repo)."""
    paths = [str(target), *site.getsitepackages()]
    return child_env(PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1")


async def test_wheel_installs_and_serves_outside_the_repo(tmp_path: Path) -> None:
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "target", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip("wheel", str(REPO), "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels))
    [wheel] = wheels.glob("fake_realtime-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "fake_server/schemas/ga/client_events.json" in names
    assert "fake_server/schemas/script.json" in names
    assert "fake_server/py.typed" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        declared = archive.read(entry_points).decode()
    assert "fake-realtime = fake_server.cli:main" in declared
    assert "fake_realtime = fake_server.pytest_plugin" in declared

    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    assert (target / "fake_server" / "schemas" / "ga" / "client_events.json").is_file()
    script = target / "bin" / "fake-realtime"
    assert script.is_file()

    env = isolated_env(target)
    # -S: the interpreter's .pth files (an editable install of this repo) stay out of sys.path.
    check = subprocess.run(
        [sys.executable, "-S", "-c",
         "import json, sys, fake_server; print(json.dumps([fake_server.__file__, sys.path]))"],
        cwd=str(elsewhere), env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert check.returncode == 0, check.stderr
    module_file, sys_path = json.loads(check.stdout)
    assert Path(module_file).resolve().is_relative_to(target.resolve())
    assert not any(p and Path(p).resolve() == REPO for p in sys_path)

    child = ServeProcess([sys.executable, "-S", str(script), "serve", "--port", "0"], cwd=str(elsewhere), env=env)
    try:
        url = child.field("url")
        async with connect(url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-test"}) as ws:
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert event["type"] == "session.created"
        code, stderr = child.interrupt()
    finally:
        child.kill()
    assert code == 0, stderr
    assert "Traceback" not in stderr

"""Run ``fake-realtime serve`` as a child process and read the URLs it prints."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, Sequence

import fake_server

STARTUP_TIMEOUT = 60.0
EXIT_TIMEOUT = 30.0
SOURCE_ROOT = Path(fake_server.__file__).resolve().parents[1]  # the folder that holds fake_server/


class ServeProcess:
    """A ``serve`` child whose stdout is read in a thread (no polling, no sleeps)."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        assert self.proc.stdout is not None
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self._pump_thread.start()
        self._stderr: str | None = None

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def field(self, name: str) -> str:
        """The value of the first ``name: value`` line printed, waiting for it."""
        while True:
            try:
                line = self.lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {name!r} line in time; got {self.stdout!r}") from None
            if line is None:
                raise AssertionError(f"exited before printing {name!r}: {self.stdout!r}, stderr {self.stderr()!r}")
            self.stdout.append(line)
            key, sep, value = line.partition(": ")
            if sep and key == name:
                return value.split()[0]

    def rest_of_stdout(self) -> str:
        """Everything printed, once the child has closed its stdout."""
        while True:
            try:
                line = self.lines.get(timeout=EXIT_TIMEOUT)
            except queue.Empty:
                raise AssertionError("stdout did not close in time") from None
            if line is None:
                return "".join(self.stdout)
            self.stdout.append(line)

    def interrupt(self) -> tuple[int, str]:
        """Send SIGINT; return the exit code and the whole of stderr."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(EXIT_TIMEOUT)
        finally:
            self.kill()
        return code, self.stderr()

    def stderr(self) -> str:
        """All of stderr once the child has exited ("" while it runs)."""
        if self._stderr is None:
            if self.proc.poll() is None:
                return ""
            assert self.proc.stderr is not None
            self._stderr = self.proc.stderr.read()
        return self._stderr

    def kill(self) -> None:
        """Make sure the child is gone and its pipes are closed."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(EXIT_TIMEOUT)
        self.stderr()
        self._pump_thread.join(EXIT_TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def source_pythonpath() -> str:
    """``PYTHONPATH`` for a child process that imports the ``fake_server`` this process imported:
    the folder holding it first, whether the package is installed or run from a bare checkout, and
    wherever that checkout lives."""
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(SOURCE_ROOT), *([inherited] if inherited else [])])


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without API keys or pytest's own variables, the source on
    ``PYTHONPATH`` (``source_pythonpath``), then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env["PYTHONPATH"] = source_pythonpath()
    env.update(extra)
    return env

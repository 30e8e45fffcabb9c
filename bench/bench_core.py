"""Throughput of the hot paths, with validation on.

    python bench/bench_core.py [--seconds 3]

Measures, on the sans-I/O core and over a loopback WebSocket (one connection):
- ``input_audio_buffer.append`` of 20 ms PCM16 chunks (aimock reference: about 66k appends/s),
- ``conversation.item.create`` of a user text item (answered by added + done),
- text turns (item create + ``response.create`` to ``rate_limits.updated``) on one connection
  (aimock reference: about 660 turns/s) and over 500 connections at once (about 4k turns/s).
This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import signal
import subprocess
import sys
import time

from websockets.asyncio.client import connect

from fake_server.protocol.ids import IdGenerator
from fake_server.core.session import Session

APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x01\x02" * 480).decode()})
CREATE = json.dumps({"type": "conversation.item.create", "item": {
    "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}})
CLEAR = json.dumps({"type": "input_audio_buffer.clear"})


def core(frame: str, seconds: float) -> float:
    session = Session(model="gpt-realtime", ids=IdGenerator(1, time.time), clock=time.time)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            session.receive_text(frame)
            session.events_to_send()
        done += 1000
        if frame is APPEND:
            session.receive_text(CLEAR)
            session.events_to_send()
        else:
            session.history.items.clear()
    return done / (time.perf_counter() - start)


class _Target:
    """The server under test, in a process of its own so the client does not share its GIL."""

    def __enter__(self) -> "_Target":
        self.process = subprocess.Popen([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0"],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("url: "):
                self.url = line.split()[1]
                return self
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(10)


def _connect(server: _Target) -> connect:
    return connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk"},
                   compression=None, max_size=None)


async def socket_appends(server: _Target, seconds: float) -> float:
    async with _connect(server) as ws:
        await ws.recv()
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(1000):
                await ws.send(APPEND)
            done += 1000
            await ws.send(CLEAR)
            await ws.recv()  # the cleared event: the server has handled every append before it
        return done / (time.perf_counter() - start)


async def socket_creates(server: _Target, seconds: float) -> float:
    async with _connect(server) as ws:
        await ws.recv()
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(200):
                await ws.send(CREATE)
            for _ in range(400):
                await ws.recv()
            done += 200
        return done / (time.perf_counter() - start)


TEXT_MODE = json.dumps({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
RESPOND = json.dumps({"type": "response.create"})


async def _turns(server: _Target, count: int) -> None:
    async with _connect(server) as ws:
        await ws.recv()
        await ws.send(TEXT_MODE)
        await ws.recv()
        for _ in range(count):
            await ws.send(CREATE)
            await ws.send(RESPOND)
            while '"rate_limits.updated"' not in await ws.recv():
                pass


async def socket_turns(server: _Target, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await _turns(server, 200)
        done += 200
    return done / (time.perf_counter() - start)


async def many_connection_turns(server: _Target, connections: int, turns_each: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(_turns(server, turns_each) for _ in range(connections)))
    return connections * turns_each / (time.perf_counter() - start)


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 500 connections, both ends in this process
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = parser.parse_args().seconds
    print(f"core   appends/s        {core(APPEND, seconds):>10,.0f}")
    print(f"core   item creates/s   {core(CREATE, seconds):>10,.0f}")
    with _Target() as server:
        print(f"socket appends/s        {asyncio.run(socket_appends(server, seconds)):>10,.0f}")
        print(f"socket item creates/s   {asyncio.run(socket_creates(server, seconds)):>10,.0f}")
        print(f"text turns/s, 1 conn    {asyncio.run(socket_turns(server, seconds)):>10,.0f}")
        print(f"text turns/s, 500 conns {asyncio.run(many_connection_turns(server, 500, 4)):>10,.0f}")


if __name__ == "__main__":
    main()

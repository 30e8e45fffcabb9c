"""Throughput of the hot paths, with validation on.

    python bench/bench_core.py [--seconds 3]

Measures, on the sans-I/O core and over a loopback WebSocket (one connection):
- ``input_audio_buffer.append`` of 20 ms PCM16 chunks (aimock reference: about 66k appends/s),
- ``conversation.item.create`` of a user text item (answered by added + done).
This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time

from websockets.asyncio.client import connect

from fake_server import FakeRealtimeServer
from fake_server.protocol.ids import IdGenerator
from fake_server.session import Session

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
        done += 1000
        if frame is APPEND:
            session.receive_text(CLEAR)
        else:
            session.items.clear()
    return done / (time.perf_counter() - start)


def _connect(server: FakeRealtimeServer) -> connect:
    return connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk"},
                   compression=None, max_size=None)


async def socket_appends(server: FakeRealtimeServer, seconds: float) -> float:
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


async def socket_creates(server: FakeRealtimeServer, seconds: float) -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = parser.parse_args().seconds
    print(f"core   appends/s        {core(APPEND, seconds):>10,.0f}")
    print(f"core   item creates/s   {core(CREATE, seconds):>10,.0f}")
    with FakeRealtimeServer() as server:
        print(f"socket appends/s        {asyncio.run(socket_appends(server, seconds)):>10,.0f}")
        print(f"socket item creates/s   {asyncio.run(socket_creates(server, seconds)):>10,.0f}")


if __name__ == "__main__":
    main()

"""Recording proxy: sits between any Realtime client and an upstream (the live API or the fake) and
writes what passed as a scenario file.

The proxy listens on 127.0.0.1 only. Each client connection is forwarded to the upstream URL with the
client's query (``?model=...``), ``Authorization`` header, ``OpenAI-Beta`` header and subprotocols, and
frames are relayed both ways unchanged. What is written is not: API keys never reach the file. Keys the
client presented (header or ``openai-insecure-api-key.<key>`` subprotocol), any ``ek_...`` ephemeral
secret and any ``sk-...`` key inside a payload are masked the way the live error masks a key (first 8
characters, stars, last 4; a secret shorter than 24 characters keeps only its ``ek_``/``sk-`` prefix), and
key-like query parameters are masked too. With ``summarize_audio`` the
server's audio (output deltas, retrieved items) is stored as length and SHA-256 instead of base64 (one line
per delta pattern, summarising all the audio of its deltas), and client audio that a ``$silence`` or
``$speech`` placeholder regenerates byte for byte becomes that placeholder; other client audio is kept,
because a replay has to send what the server heard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as _dt
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ..protocol.rules import KEY_SUBPROTOCOL, offers_beta
from ..protocol.secrets import redact
from .format import (
    DEFAULT_CONNECTION,
    ClientLine,
    Connection,
    Generalizer,
    Scenario,
    ServerLine,
    dump_scenario,
    is_stream_type,
    server_line_order,
    summarize_client_audio,
)

__all__ = ["RecordingProxy", "mask", "scrub"]

_SECRET = re.compile(r"\b(?:ek_[A-Za-z0-9_\-]{6,}|sk-[A-Za-z0-9_\-]{6,})")
_KEY_PARAM = re.compile(r"(?:api[-_]?key|key|token|secret)", re.IGNORECASE)
_FORWARD_HEADERS = ("authorization", "openai-beta", "openai-organization", "openai-project")


def mask(secret: str) -> str:
    """A secret as a recording keeps it: as every output of the fake shows one
    (:func:`fake_server.protocol.secrets.redact`; ``ek_abcdefgh12`` -> ``ek_**********``)."""
    return redact(secret)


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (any JSON) with every known secret, ``ek_...`` secret and ``sk-...`` key masked (:func:`mask`)."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(s: str) -> str:
        for secret in known:
            if secret in s:
                s = s.replace(secret, mask(secret))
        return _SECRET.sub(lambda m: mask(m.group(0)), s)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return text(v)
        if isinstance(v, dict):
            return {text(k): walk(item) for k, item in v.items()}
        if isinstance(v, list):
            return [walk(item) for item in v]
        return v

    return walk(value)


@dataclass(frozen=True)
class _Frame:
    conn: str
    direction: str
    t: float
    event: dict[str, Any] | None = None
    close: dict[str, Any] | None = None


def _client_key(headers: Any, subprotocols: Iterable[str]) -> list[str]:
    keys = []
    auth = headers.get("Authorization", "") or ""
    _, _, token = auth.strip().partition(" ")
    if token.strip():
        keys.append(token.strip())
    elif auth.strip():
        keys.append(auth.strip())
    keys.extend(p[len(KEY_SUBPROTOCOL):] for p in subprotocols if p.startswith(KEY_SUBPROTOCOL))
    return keys


class RecordingProxy:
    """A recording proxy in the running event loop: ``async with RecordingProxy(upstream) as proxy:``.

    Point a client at ``proxy.url`` (or ``proxy.base_url`` for the SDK). ``scenario()`` builds the
    recording so far; with ``out`` set it is written after every connection ends and at exit.
    """

    def __init__(
        self, upstream: str, *, port: int = 0, out: str | Path | None = None, name: str | None = None,
        description: str = "Recorded with fake-realtime record.", summarize_audio: bool = False,
        on_saved: Callable[[Path], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.port = port
        self.out = Path(out) if out is not None else None
        self.name = name or (self.out.stem if self.out is not None else "recording")
        self.description = description
        self.summarize_audio = summarize_audio
        self.on_saved = on_saved
        self._server: Server | None = None
        self._frames: list[_Frame] = []
        self._connections: list[Connection] = []
        self._secrets: set[str] = set()
        self._start: float | None = None
        self._recorded_at: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.skipped = 0
        """Client frames that were not JSON objects (forwarded, not recorded)."""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> RecordingProxy:  # noqa: PYI034 (Self needs Python 3.11)
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", self.port, max_size=None,
                                   select_subprotocol=_select_subprotocol, ping_interval=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.save()

    # recording

    def _now(self) -> float:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            self._recorded_at = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return round(now - self._start, 3)

    def _record(self, conn: str, direction: str, event: dict[str, Any] | None = None,
                close: dict[str, Any] | None = None) -> None:
        self._frames.append(_Frame(conn, direction, self._now(), scrub(event, self._secrets) if event else None,
                                   scrub(close, self._secrets) if close else None))

    def scenario(self) -> Scenario:
        """The recording so far as a scenario (what :meth:`save` writes)."""
        generalizer = Generalizer(summarize_audio=self.summarize_audio)
        lines: list[ClientLine | ServerLine] = []
        seen_streams: dict[str, dict[str, int]] = {}
        """Per connection, the delta patterns of the current run of deltas -> their line's index."""
        audio: dict[int, list[bytes]] = {}
        """Index of a summarised audio delta line -> the audio of every delta it stands for."""
        for number, frame in enumerate(self._frames, start=2):
            if frame.direction == "client":
                event = generalizer.client_event(frame.event) if frame.event is not None else None
                if event is not None and self.summarize_audio:
                    event = summarize_client_audio(event)
                lines.append(ClientLine(number, frame.conn, frame.t, event, frame.close))
                continue
            if frame.event is None:
                lines.append(ServerLine(number, frame.conn, frame.t, None, frame.close))
                continue
            event = generalizer.server_event(frame.event)
            if is_stream_type(str(frame.event.get("type"))):
                raw = None
                if self.summarize_audio and isinstance(event.get("delta"), dict) and "$audio" in event["delta"]:
                    raw = _audio_bytes(frame.event.get("delta"))
                    event["delta"] = {"$audio": True}  # a pattern of deltas; the summary is of all of them
                key = json.dumps(event, sort_keys=True)
                run = seen_streams.setdefault(frame.conn, {})
                if key in run:
                    if raw is not None:
                        audio[run[key]].append(raw)
                    continue
                run[key] = len(lines)
                if raw is not None:
                    audio[len(lines)] = [raw]
            else:
                seen_streams.pop(frame.conn, None)
            lines.append(ServerLine(number, frame.conn, frame.t, event, None, server_line_order(frame.event)))
        for index, chunks in audio.items():
            data = b"".join(chunks)
            event = lines[index].event
            assert event is not None
            event["delta"] = {"$audio": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
        connections = tuple(self._connections) or (Connection(DEFAULT_CONNECTION, "gpt-realtime"),)
        model = connections[0].model or "gpt-realtime"
        upstream = urlsplit(self.upstream)
        dialect = connections[0].dialect  # the file's; a connection that differs says so
        return Scenario(
            name=self.name, description=self.description, dialect=dialect, model=model,
            source=f"fake-realtime record, upstream {upstream.scheme}://{upstream.netloc}{upstream.path}",
            recorded_at=self._recorded_at, connections=connections, lines=tuple(lines), path=self.out,
        )

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the recording (to ``path``, else ``out``); returns where, or None with nowhere to write."""
        target = Path(path) if path is not None else self.out
        if target is None or not self._frames:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(dump_scenario(self.scenario()), encoding="utf-8")
        tmp.replace(target)
        if self.on_saved is not None:
            self.on_saved(target)
        return target

    # relaying

    def _upstream_url(self, query: str) -> str:
        parts = urlsplit(self.upstream)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query or parts.query, ""))

    def _connection(self, query: str, headers: Any, offered: Sequence[str]) -> Connection:
        name = DEFAULT_CONNECTION if not self._connections else f"conn{len(self._connections) + 1}"
        params = dict(parse_qsl(query, keep_blank_values=True))
        model = params.pop("model", None)
        kept = {k: (mask(v) if _KEY_PARAM.search(k) else v) for k, v in params.items()}
        dialect = "beta" if offers_beta(headers.get("OpenAI-Beta"), offered) else "ga"
        protocols = tuple(p for p in offered if not p.startswith(KEY_SUBPROTOCOL))  # the key: never written
        conn = Connection(name, model, kept, dialect, protocols)
        self._connections.append(conn)
        return conn

    async def _handle(self, client: ServerConnection) -> None:
        request = client.request
        assert request is not None
        offered = [p.strip() for value in request.headers.get_all("Sec-WebSocket-Protocol")
                   for p in value.split(",") if p.strip()]
        self._secrets.update(_client_key(request.headers, offered))
        _, _, query = request.path.partition("?")
        self._now()
        conn = self._connection(query, request.headers, offered)
        headers = {name: request.headers[name] for name in _FORWARD_HEADERS if name in request.headers}
        try:
            upstream = await connect(self._upstream_url(query), additional_headers=headers,
                                     subprotocols=offered or None,  # type: ignore[arg-type]
                                     max_size=None, ping_interval=None)
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            await client.close(1011, f"upstream handshake failed: {type(exc).__name__}")
            return
        try:
            await self._relay(conn.name, client, upstream)
        finally:
            self.save()

    async def _relay(self, name: str, client: ServerConnection, upstream: ClientConnection) -> None:
        async def pump(source: Any, sink: Any, direction: str) -> None:
            try:
                async for frame in source:
                    if direction == "client":
                        self._record_client(name, frame)
                    else:
                        self._record_server(name, frame)
                    await sink.send(frame)
            except ConnectionClosed:
                pass
            code = source.close_code if source.close_code is not None else 1006
            reason = source.close_reason or ""
            if sink.close_code is None:
                closer = source.protocol.close_rcvd is not None
                if closer:
                    self._record(name, direction, close={"code": code, "reason": reason} if reason
                                 else {"code": code})
                await sink.close(code if code not in (1005, 1006) else 1000, reason)

        to_upstream = asyncio.create_task(pump(client, upstream, "client"))
        to_client = asyncio.create_task(pump(upstream, client, "server"))
        await asyncio.gather(to_upstream, to_client)

    def _record_client(self, conn: str, frame: str | bytes) -> None:
        event = _decode(frame)
        if event is None:
            self.skipped += 1
            return
        self._record(conn, "client", event)

    def _record_server(self, conn: str, frame: str | bytes) -> None:
        event = _decode(frame)
        if event is not None:
            self._record(conn, "server", event)


def _select_subprotocol(_conn: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Negotiate ``realtime`` when offered, as the live service and the fake do."""
    return Subprotocol("realtime") if "realtime" in offered else None


def _audio_bytes(b64: Any) -> bytes:
    if not isinstance(b64, str):
        return b""
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return b64.encode("utf-8", "replace")


def _decode(frame: str | bytes) -> dict[str, Any] | None:
    if isinstance(frame, bytes):
        return None
    try:
        event = json.loads(frame)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("type"), str) else None

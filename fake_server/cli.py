"""The ``fake-realtime`` command: run the fake Realtime server from a shell."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Sequence

from .script import load_script
from .server import FakeRealtimeServer

__all__ = ["main"]


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python without importlib.metadata
        return "unknown"
    try:
        return version("fake-realtime")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake-realtime", description="A fake OpenAI Realtime API server (GA, WebSocket) for testing clients."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve until Ctrl-C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind, 0 for any free port (default: 8000)")
    serve.add_argument("--seed", type=int, default=None, help="seed for reproducible ids (default: random)")
    serve.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        default=None,
        metavar="KEY",
        help="accept only this API key (repeatable; default: any non-empty key)",
    )
    serve.add_argument("--script", metavar="FILE", default=None,
                       help="a JSON or YAML script file: what the model says, faults, quirks (docs/scripting.md)")
    return parser


def _banner(server: FakeRealtimeServer, keys_required: bool) -> str:
    key = "<one of your --api-key values>" if keys_required else "sk-test"
    return "\n".join(
        [
            f"fake-realtime {_version()} listening",
            f"url: {server.url}",
            f"websocket_base_url: {server.base_url}",
            f"base_url: {server.http_base_url}   (OPENAI_BASE_URL)",
            "api keys: " + ("only the ones given with --api-key" if keys_required else "any non-empty key"),
            "example:",
            f'  client = AsyncOpenAI(api_key="{key}", websocket_base_url="{server.base_url}")',
            '  async with client.realtime.connect(model="gpt-realtime") as connection: ...',
            "press Ctrl-C to stop",
        ]
    )


async def _serve(args: argparse.Namespace) -> None:
    server = FakeRealtimeServer(args.host, args.port, api_keys=args.api_keys, seed=args.seed,
                                script_file=args.script)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # platforms without loop signal handlers
            pass
    async with server:
        print(_banner(server, args.api_keys is not None), flush=True)
        await stop.wait()
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    try:
        if args.script:  # check it before listening; the server loads it (again after every reset)
            load_script(args.script)
    except (OSError, ValueError) as exc:  # ScriptFileError and JSON errors are ValueErrors
        print(f"fake-realtime: cannot use the script {args.script}: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # the loop had no signal handler (e.g. on Windows)
        pass
    except OSError as exc:
        print(f"fake-realtime: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

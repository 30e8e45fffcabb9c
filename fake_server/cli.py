"""The ``fake-realtime`` command: run the fake Realtime server from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Sequence

from .transport.signals import stop_requested
from .script import ScriptFileError, load_script
from .transport.server import FakeRealtimeServer
from .core.session import SessionLimits

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


def _pacing(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"pacing is 0 or more, got {text}")
    return value


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
    serve.add_argument("--pacing", type=_pacing, default=0.0, metavar="K",
                       help="how fast responses stream: 0 as fast as possible (default), 1 real time "
                            "(audio as it would play), k k times slower than real time")
    serve.add_argument("--no-admin", dest="admin", action="store_false",
                       help="do not serve the HTTP admin API under /__admin (docs/admin.md)")
    serve.add_argument("--cors-origin", dest="cors_origins", action="append", default=[], metavar="ORIGIN",
                       help="a browser origin allowed to call the admin API, e.g. http://localhost:5173 "
                            "(repeatable; '*' for any; default: none)")
    replay = commands.add_parser("replay", help="replay recorded scenarios against a URL and check the answers")
    replay.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                        help="scenario files (JSON Lines), or directories of *.jsonl (docs/scenarios.md)")
    replay.add_argument("--url", required=True,
                        help="the realtime endpoint, e.g. ws://127.0.0.1:8000/v1/realtime or "
                             "wss://api.openai.com/v1/realtime (key from OPENAI_API_KEY)")
    replay.add_argument("--timeout", type=float, default=None,
                        help="seconds to wait for an awaited server event (default: the scenario's, else 10)")
    replay.add_argument("--compare-url", default=None, metavar="URL",
                        help="replay there too and report every divergence (fake vs live)")
    replay.add_argument("--report", default=None, metavar="FILE",
                        help="write the divergence report here (with --compare-url; default: print it)")
    record = commands.add_parser("record", help="record a session through a proxy into a scenario file")
    record.add_argument("--upstream", required=True,
                        help="where to forward, e.g. wss://api.openai.com/v1/realtime or a fake's url")
    record.add_argument("--port", type=int, default=8001,
                        help="port to listen on at 127.0.0.1, 0 for any free port (default: 8001)")
    record.add_argument("--out", required=True, metavar="FILE", help="the scenario file to write")
    record.add_argument("--name", default=None, help="scenario name (default: the file name)")
    record.add_argument("--description", default=None, help="scenario description")
    record.add_argument("--summarize-audio", action="store_true",
                        help="store the server's audio as length and SHA-256 instead of base64 (one line per "
                             "delta pattern), and client audio as $silence/$speech when that regenerates it exactly")
    return parser


def _banner(server: FakeRealtimeServer, keys_required: bool, admin: bool) -> str:
    key = "<one of your --api-key values>" if keys_required else "sk-test"
    return "\n".join(
        [
            f"fake-realtime {_version()} listening",
            f"url: {server.url}",
            f"websocket_base_url: {server.base_url}",
            f"base_url: {server.http_base_url}   (OPENAI_BASE_URL)",
            f"admin: {server.admin_url if admin else 'off'}",
            "api keys: " + ("only the ones given with --api-key" if keys_required else "any non-empty key"),
            "example:",
            f'  client = AsyncOpenAI(api_key="{key}", websocket_base_url="{server.base_url}")',
            '  async with client.realtime.connect(model="gpt-realtime") as connection: ...',
            "press Ctrl-C to stop",
        ]
    )


async def _serve(args: argparse.Namespace) -> None:
    server = FakeRealtimeServer(args.host, args.port, api_keys=args.api_keys, seed=args.seed,
                                script_file=args.script, admin=args.admin, cors_origins=args.cors_origins,
                                limits=SessionLimits(pacing=args.pacing))
    async with server:
        print(_banner(server, args.api_keys is not None, args.admin), flush=True)
        await stop_requested()
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "replay":
        from .scenarios.replay import run_replay_command

        try:
            return run_replay_command(args.scenarios, args.url, timeout=args.timeout,
                                      compare_url=args.compare_url, report=args.report,
                                      out=lambda text: print(text, flush=True),
                                      err=lambda text: print(text, file=sys.stderr, flush=True))
        except BrokenPipeError:  # `fake-realtime replay ... | head`: the reader left; stop quietly
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 1
    if args.command == "record":
        from .scenarios.record import run_record_command

        return run_record_command(args.upstream, args.port, args.out, name=args.name,
                                  description=args.description, summarize_audio=args.summarize_audio,
                                  out=lambda text: print(text, flush=True))
    if args.command != "serve":
        parser.print_help()
        return 2
    if args.script:  # check it before listening; the server loads it (again after every reset)
        try:
            load_script(args.script)
        except OSError as exc:
            print(f"fake-realtime: {args.script}: cannot read it: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except ScriptFileError as exc:  # says where, and what is expected
            print(f"fake-realtime: {args.script}: {exc}", file=sys.stderr)
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

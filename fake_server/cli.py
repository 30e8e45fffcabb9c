"""The ``fake-realtime`` command: run the fake Realtime server from a shell (``serve``), replay recorded
scenarios against a URL (``replay``), record a session through a proxy (``record``).

The scenario commands are here, not in ``fake_server.scenarios``: they print, wait for Ctrl-C and run event
loops, which is the face's job; the scenario modules are imported when their command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Callable, Sequence

from .core.session import SessionLimits
from .script import ScriptFileError, load_script
from .transport.server import FakeRealtimeServer
from .transport.signals import stop_requested

if TYPE_CHECKING:
    from .scenarios.record import RecordingProxy

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


def run_replay_command(
    paths: Sequence[str], url: str, *, timeout: float | None = None, compare_url: str | None = None,
    report: str | None = None, names: tuple[str, str] = ("fake", "live"),
    out: Callable[[str], None] = print, err: Callable[[str], None] | None = None,
) -> int:
    """``fake-realtime replay``: replay scenario files (and directories of them) against ``url``.

    Prints one progress line per scenario, then the failures with their diffs, then a total. With
    ``compare_url`` each scenario is replayed there too and a fake-vs-live divergence report is written
    to ``report`` (or printed). Exit code: 0 when every scenario passed (a scenario with a known
    ``divergence`` may fail), 1 when one failed, 2 when a scenario file could not be used."""
    from .scenarios.format import ScenarioError, load_scenarios
    from .scenarios.replay import ReplayResult, divergence_report, replay_many

    def error(text: str) -> None:
        (err or out)(text)

    try:
        scenarios = load_scenarios(paths)
    except ScenarioError as exc:
        error(f"fake-realtime replay: {exc}")
        return 2
    if not scenarios:
        error("fake-realtime replay: no scenario files given (a directory is searched for *.jsonl)")
        return 2
    targets = [url] if compare_url is None else [url, compare_url]
    runs: list[list[ReplayResult]] = []
    for target in targets:
        label = "" if compare_url is None else f"{names[len(runs)]} "

        def progress(done: int, total: int, result: ReplayResult, label: str = label) -> None:
            known = " (known divergence)" if not result.passed and result.scenario.divergence else ""
            out(f"[{done}/{total}] {label}{result.summary()}{known}")

        runs.append(asyncio.run(replay_many(scenarios, target, timeout=timeout, progress=progress)))
    failed = 0
    for results in runs:
        for result in results:
            if not result.passed:
                out("")
                out(result.report())
                if not result.scenario.divergence:
                    failed += 1
    if compare_url is not None:
        text = divergence_report(list(zip(runs[0], runs[1])), names=names)
        if report:
            with open(report, "w", encoding="utf-8") as handle:
                handle.write(text)
            out(f"divergence report: {report}")
        else:
            out("")
            out(text)
    total = sum(len(r) for r in runs)
    passed = sum(r.passed for results in runs for r in results)
    out(f"{passed} passed, {total - passed} failed ({total - passed - failed} of them known divergences)")
    return 1 if failed else 0


async def _record_until_stopped(proxy: RecordingProxy, out: Callable[[str], None]) -> None:
    async with proxy:
        out("fake-realtime record listening")
        out(f"url: {proxy.url}")
        out(f"websocket_base_url: {proxy.base_url}")
        out(f"upstream: {proxy.upstream}")
        out(f"out: {proxy.out}")
        out("press Ctrl-C to stop; the file is written after every connection")
        await stop_requested()


def run_record_command(
    upstream: str, port: int, out_file: str, *, name: str | None = None, description: str | None = None,
    summarize_audio: bool = False, out: Callable[[str], None] = print,
) -> int:
    """``fake-realtime record``: proxy 127.0.0.1:``port`` to ``upstream`` until Ctrl-C/SIGTERM, writing
    the scenario to ``out_file``. Exit code 0, or 1 when the port cannot be bound."""
    from .scenarios.record import RecordingProxy

    proxy = RecordingProxy(
        upstream, port=port, out=out_file, name=name, summarize_audio=summarize_audio,
        description=description or "Recorded with fake-realtime record.",
        on_saved=lambda path: out(f"saved: {path}"),
    )
    try:
        asyncio.run(_record_until_stopped(proxy, out))
    except KeyboardInterrupt:  # the loop had no signal handler
        pass
    except OSError as exc:
        out(f"fake-realtime record: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
        return 1
    out("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "replay":
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

"""Waiting for Ctrl-C or SIGTERM in the commands that serve until stopped."""

from __future__ import annotations

import asyncio
import signal


async def stop_requested() -> None:
    """Return once SIGINT or SIGTERM arrives (where the loop cannot take signal handlers,
    Ctrl-C raises KeyboardInterrupt out of ``asyncio.run`` instead)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # platforms without loop signal handlers
            pass
    await stop.wait()

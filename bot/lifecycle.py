"""Stopping and starting again: SIGTERM/SIGINT as a stop request, and retries with backoff.

A platform (Heroku, Kubernetes, systemd) stops a process with SIGTERM and waits a little before
SIGKILL; a person at a terminal presses Ctrl-C. Either sets ``Stop``: the long-running parts of
a process (``hostbot run``, ``worker``, ``shell``) stop taking work, finish or hand back what they
hold, close their connections, and the command returns 0.

``keep_trying`` starts something that needs a remote service (a platform's API) without letting
its outage stop the rest of the process: it tries again with exponential backoff and reports each
state to ``Health`` (what ``/healthz`` shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger("hostbot")

FIRST_RETRY = 1.0  # seconds before the second attempt; doubled after each failure
MAX_RETRY = 60.0
T = TypeVar("T")


def started() -> None:
    """Call once a long-running process serves: what it built to start (modules, the app, the
    drivers, the compiled statements) lives as long as the process, so the garbage collector
    stops walking it (``gc.freeze``). A full collection then sees only what requests leave
    behind, instead of the whole heap some tenths of a second at a time under load."""
    gc.collect()
    gc.freeze()


class Stop(asyncio.Event):
    """Set once SIGTERM or SIGINT arrives (or by ``set()``); ``signal`` names the one that came."""

    def __init__(self) -> None:
        super().__init__()
        self.signal = ""

    def install(self) -> Stop:
        """Catch SIGTERM and SIGINT on the running loop from now on (instead of dying at once)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._caught, sig)
        return self

    def _caught(self, sig: signal.Signals) -> None:
        """The first signal asks to stop; a second one (Ctrl-C again) gets Python's default
        handling back, to quit at once when a graceful stop takes too long."""
        self.signal = sig.name
        self.set()
        loop = asyncio.get_running_loop()
        for caught in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(caught)

    async def first(self, work: Awaitable[T], within: float | None = None) -> T | None:
        """What ``work`` returns; or None, with ``work`` cancelled, once asked to stop (even if
        ``work`` could finish too: a queued line is not handled after Ctrl-C) or after ``within``
        seconds."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self.wait())
        try:
            await asyncio.wait({task, stopping}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if self.is_set() or not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            if not self.is_set():
                return task.result()
            task.exception()  # retrieved, so that asyncio does not report it: we are stopping
            return None
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None


class Health:
    """Each component's state, set by whoever runs it, for ``/healthz``."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def report(self, name: str, state: str, **details: Any) -> None:
        self.components[name] = {"state": state, **details}


async def keep_trying(
    name: str,
    start: Callable[[], Awaitable[None]],
    undo: Callable[[], Awaitable[None]],
    health: Health,
    tried: asyncio.Event | None = None,
) -> None:
    """``start()`` until it succeeds, waiting 1, 2, 4 ... up to 60 s between attempts; ``tried``
    is set once the first attempt is over (so a reachable service is up before traffic arrives).

    After a failure ``undo()`` releases whatever the attempt opened. Each failure is one log line
    (no traceback: an unreachable API is an outage, not a bug) and shows in ``/healthz``. The
    caller stops it by cancelling the task, then releases what a started component holds."""
    delay = FIRST_RETRY
    attempts = 0
    health.report(name, "starting")
    while True:
        attempts += 1
        try:
            await start()
        except Exception as err:
            with contextlib.suppress(Exception):
                await undo()
            log.warning("%s unavailable (attempt %d, next in %.0f s): %r", name, attempts, delay, err)
            # Only the error's type in /healthz, which anyone can read; the message is in the log.
            health.report(name, "retrying", attempts=attempts, error=type(err).__name__, retry_in=delay)
        else:
            health.report(name, "up", attempts=attempts)
            return
        finally:
            if tried is not None:
                tried.set()
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY)


@contextlib.asynccontextmanager
async def supervised(
    name: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    health: Health,
) -> AsyncIterator[None]:
    """``keep_trying`` in the background while the block runs (after the first attempt); on the
    way out cancel the attempts and ``stop()`` whatever was started."""
    tried = asyncio.Event()
    task = asyncio.create_task(keep_trying(name, start, stop, health, tried))
    await tried.wait()
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stop()
        health.report(name, "stopped")

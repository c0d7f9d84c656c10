"""A ``hostbot`` process under test, started as a platform starts it, stopped with real signals.

Its log goes to a file, so a test can wait for a line while the process runs and then read what
it logged after a given point (``lines(since=...)``).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.cli import ROOT, env

START = 90  # seconds a starting process may take on a busy 2-core machine (imports, migrations)


def free_port() -> int:
    """A port nothing listens on (closed, for "no route to the API"; or to serve on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hostbot:
    def __init__(self, tmp_path: Path, *args: str, **environment: str) -> None:
        self.args = args
        self.port = free_port()
        self.env = env(tmp_path, PORT=str(self.port), STOP_GRACE_SECONDS="1", **environment)
        self.log = tmp_path / f"hostbot-{self.port}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, stdin: int | None = asyncio.subprocess.DEVNULL) -> Hostbot:
        with self.log.open("w") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdin=stdin,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self, since: int = 0) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()[since:]

    async def wait_for_log(self, text: str, within: float = START) -> int:
        """Until a logged line contains ``text``; returns how many lines were logged by then."""
        deadline = time.monotonic() + within
        while True:
            lines = self.lines()
            if any(text in line for line in lines):
                return len(lines)
            assert self.proc is not None and self.proc.returncode is None, "\n".join(lines)
            assert time.monotonic() < deadline, f"no {text!r} in the log:\n" + "\n".join(lines)
            await asyncio.sleep(0.1)  # polling a running process's log file

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as response:
            assert response.status == 200, await response.text()
            found: dict[str, Any] = await response.json()
            return found

    async def until_healthy(self, component: str, state: str, within: float = 60) -> dict[str, Any]:
        """Until ``/healthz`` shows ``component`` in ``state``; returns that report."""
        deadline = time.monotonic() + within
        while True:
            report = await self.health()
            if report["components"].get(component, {}).get("state") == state:
                return report
            assert time.monotonic() < deadline, report
            await asyncio.sleep(0.2)  # polling a running process

    async def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 30) -> int:
        """Send ``sig`` and wait for the exit status."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), within)

    async def kill(self) -> None:
        """After a failed test: never leave the process behind."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

"""Graceful stop: ``hostbot run``, ``worker`` and ``shell`` as real processes, stopped with real
signals (SIGTERM as a platform sends it, SIGINT / Ctrl-C as a person at a terminal does)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from storage.models import Alert, ChatIdentity
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.support.cli import ROOT, env
from tests.support.processes import Hostbot

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STOPPED = {signal.SIGTERM: "(SIGTERM)", signal.SIGINT: "(SIGINT)"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    api = FakeTelegramAPI()
    await api.start()
    yield api
    await api.close()


def _only_the_stop_line(lines: list[str], command: str, sig: signal.Signals) -> None:
    assert len(lines) == 1, lines
    assert f"hostbot {command} stopped {STOPPED[sig]}" in lines[0]


@SQLITE
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_stops_polling_and_exits_0_with_one_line(
    tmp_path: Path, database_url: str, fake: FakeTelegramAPI, sig: signal.Signals
) -> None:
    """Stopped in the middle of a long poll: it stops polling, closes its connections, says so once."""
    bot = Hostbot(
        tmp_path, "run", DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url
    )
    try:
        await bot.start()
        mark = await bot.wait_for_log("listening on")
        await fake.wait_for(lambda: bool(fake.of("getUpdates")))
        assert await bot.stop(sig) == 0
        _only_the_stop_line(bot.lines(since=mark), "run", sig)
    finally:
        await bot.kill()


@SQLITE
async def test_worker_hands_back_the_alerts_it_holds_at_once(
    tmp_path: Path, database_url: str, dispatcher: Dispatcher, fake: FakeTelegramAPI
) -> None:
    """Stopped while its alerts wait out Telegram's flood control: after the grace period (1 s
    here) they are handed back, due at once for another worker, not held for the 5-minute lease."""
    async with dispatcher.db.uow() as uow:
        uow.session.add(ChatIdentity(platform="telegram", user_id="777", customer_id=1))
        await uow.commit()
    fake.fail_next("sendMessage", retry_after=600, times=100)
    worker = Hostbot(
        tmp_path, "worker", DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url
    )
    try:
        await worker.start()
        await fake.wait_for(lambda: bool(fake.of("sendMessage")))
        # The hourly pass's last line: nothing else is logged until the next hour.
        mark = await worker.wait_for_log("rows merged into longer intervals")
        async with dispatcher.db.uow() as uow:
            # Only alerts to a linked chat are held for flood control: one to a customer without a
            # chat may be "sending" for the moment it takes to drop it.
            linked = select(ChatIdentity.customer_id)
            sending = select(Alert).where(Alert.state == "sending", Alert.customer_id.in_(linked))
            held = (await uow.session.scalars(sending)).all()
        assert held and all(a.claimed_by for a in held)
        assert await worker.stop(signal.SIGTERM) == 0
        lines = worker.lines(since=mark)
        # (The demo's invoices are mailed meanwhile: the mail outbox's lines are not about alerts.)
        lines = [line for line in lines if "flood control" not in line and "hostbot.mail" not in line]
        _only_the_stop_line(lines, "worker", signal.SIGTERM)
    finally:
        await worker.kill()
    async with dispatcher.db.uow() as uow:
        alerts = (await uow.session.scalars(select(Alert))).all()
    # What it held is due again at once (alerts of customers with no linked chat may have been
    # dropped meanwhile: that is not what this test is about).
    handed_back = [a for a in alerts if a.id in {h.id for h in held}]
    assert handed_back and {a.state for a in handed_back} == {"pending"}
    assert all(a.claimed_by is None and a.claimed_until is None for a in alerts)


# -- the shell ------------------------------------------------------------------------------------


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty on stdin, so the
    terminal turns Ctrl-C into SIGINT and Ctrl-D into end of input, as for a person typing."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _read_until(master: int, text: bytes, within: float = 90) -> bytes:
    loop = asyncio.get_running_loop()
    seen = b""
    async with asyncio.timeout(within):
        while text not in seen:
            chunk = await loop.run_in_executor(None, os.read, master, 4096)
            assert chunk, seen
            seen += chunk
    return seen


@pytest.mark.parametrize(("key", "name"), [(b"\x03", "Ctrl-C"), (b"\x04", "Ctrl-D")])
async def test_shell_leaves_quietly_on_ctrl_c_and_ctrl_d(tmp_path: Path, key: bytes, name: str) -> None:
    master, slave = os.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "shell",
        cwd=ROOT,
        env=env(tmp_path),
        stdin=slave,
        stdout=slave,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    try:
        await _read_until(master, b"you> ")
        os.write(master, b"balance\n")
        await _read_until(master, b"you> ")
        os.write(master, key)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, name
        assert proc.stderr is not None
        assert await proc.stderr.read() == b""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)


async def test_shell_with_piped_input_leaves_quietly_on_sigint(tmp_path: Path) -> None:
    """Stopped while it waits for more input on a pipe (the old blocking read kept it from leaving)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "shell",
        cwd=ROOT,
        env=env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(b"balance\n")
        await proc.stdin.drain()
        async with asyncio.timeout(90):
            while b"Your balance" not in await proc.stdout.readline():
                pass
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert await proc.stderr.read() == b""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_shell_greets_in_the_language_asked_for(tmp_path: Path) -> None:
    master, slave = os.openpty()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "shell", "--lang", "tr"),
        cwd=ROOT,
        env=env(tmp_path),
        stdin=slave,
        stdout=slave,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    try:
        seen = await _read_until(master, b"you> ")
        assert "yardım yazın; çıkmak için Ctrl-D".encode() in seen
        os.write(master, b"\x04")
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)

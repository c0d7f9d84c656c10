"""A process imports what its command and its configured platforms and drivers need, nothing more:
a one-shot command, or ``hostbot run`` with the demo configuration, never loads the PDF or chart
libraries, Alembic (on a database already migrated, or an empty one), dnspython, the platforms'
libraries, the optional drivers or cryptography; a one-shot command not even aiohttp, nor the composition root
(the chat's dispatcher, the handlers, the rate limits). What each process loaded is read from its own ``sys.modules`` at exit (no timing)."""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import camt053
from tests.support.cli import ROOT, env, output

HEAVY = (
    "aiohttp",  # the web process's: a one-shot command serves nothing
    "alembic",
    "fpdf",
    "matplotlib",
    "qrcode",
    "proxmoxer",
    "slack_bolt",
    "slack_sdk",
    "telegram",
    "aiosmtplib",
    "stripe",
    "dns",  # dnspython: the forward confirmation's, at its first lookup
    "cryptography",  # services.sealing's, when a secret is first sealed, opened or derived
)
# What a process that chats, serves or runs the jobs builds, and a command that only reads and
# writes records does without.
APP = ("bot.bootstrap", "bot.core.dispatcher", "handlers", "limits")
# The command, run as ``hostbot`` runs it, telling at exit which of HEAVY and of APP it had imported.
PROBE = (
    "import atexit, sys\n"
    f"atexit.register(lambda: print('loaded:', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr))\n"
    f"atexit.register(lambda: print('app:', [m for m in {APP!r} if m in sys.modules], file=sys.stderr))\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _loaded(stderr: str, label: str = "loaded") -> list[str]:
    line = next(line for line in stderr.splitlines() if line.startswith(f"{label}: "))
    found: list[str] = ast.literal_eval(line.removeprefix(f"{label}: "))
    return found


def _demo_database(tmp_path: Path) -> None:
    output(tmp_path, "shell")  # created, migrated and filled with the demo data


def test_link_code_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    _demo_database(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "link-code", "1", "--platform", "shell"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(tmp_path),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Link code for" in done.stdout
    assert _loaded(done.stderr) == []
    assert _loaded(done.stderr, "app") == []  # the database alone


@pytest.mark.parametrize("command", [["meter", "snapshot"], ["meter", "invoice"], ["payments", "import"]])
def test_metering_and_a_bank_statement_open_the_database_alone(tmp_path: Path, command: list[str]) -> None:
    """They write money (usage invoices, payments) but need no chat: not the composition root."""
    _demo_database(tmp_path)
    if command[0] == "payments":
        path = tmp_path / "statement.xml"
        path.write_bytes(camt053.statement([camt053.Entry("12.00", reference="nothing of ours")]))
        command = [*command, str(path)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(tmp_path, BANK_IBAN=camt053.IBAN),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _loaded(done.stderr) == []
    assert _loaded(done.stderr, "app") == []


def test_a_telegram_link_code_loads_telegram_only(tmp_path: Path) -> None:
    """With a bot username configured, the t.me link needs the Telegram adapter: it is loaded then."""
    _demo_database(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "link-code", "1", "--platform", "telegram"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(tmp_path, TELEGRAM_BOT_USERNAME="hostbot_test_bot"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "t.me/hostbot_test_bot" in done.stdout
    # python-telegram-bot brings cryptography in itself (for Telegram Passport).
    assert _loaded(done.stderr) == ["aiohttp", "telegram", "cryptography"]


@pytest.mark.parametrize("database", ["migrated", "empty"])
def test_run_with_the_demo_configuration_imports_none_of_them(tmp_path: Path, database: str) -> None:
    """On a migrated database with nothing to send (the demo data's mails would bring the PDF
    library in, to attach invoices: imported when used, as it should be), and on an empty one,
    which it creates without Alembic."""
    if database == "migrated":
        output(tmp_path, "migrate")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, "run"],
        cwd=ROOT,
        env=env(tmp_path, PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "web process did not come up"
                time.sleep(0.1)  # polling a starting process, not synchronising test steps
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert _loaded(err) == ["aiohttp"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

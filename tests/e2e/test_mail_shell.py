"""Mail end to end through whole ``hostbot`` processes and a real SMTP server (aiosmtpd): a terminal
user no account knows links with a code mailed to the account's address, adds a technical mailbox
with its code, and opens a ticket whose copy lands there; ``hostbot worker`` sends what is due,
``hostbot mail status`` shows the dead letters and ``hostbot mail requeue`` sends them again."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import ROOT, env, hostbot
from tests.support.processes import START
from tests.support.smtp import SmtpServer, running, text_of

TECH = "tech@lumiere.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running(SmtpServer()) as server:
        yield server


class Terminal:
    """``hostbot shell`` with its input and output on pipes, typed into line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def say(self, line: str, until: str) -> str:
        """Type ``line``; what the shell wrote until a line containing ``until``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{line}\n".encode())
        await self.proc.stdin.drain()
        seen: list[str] = []
        deadline = time.monotonic() + START
        while not any(until in s for s in seen):
            assert time.monotonic() < deadline, "\n".join(seen)
            raw = await asyncio.wait_for(self.proc.stdout.readline(), deadline - time.monotonic())
            assert raw, "the shell ended:\n" + "\n".join(seen)
            seen.append(raw.decode())
        return "".join(seen)

    async def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return await asyncio.wait_for(self.proc.wait(), START)


async def _mail_to(smtp: SmtpServer, to: str, subject: str) -> str:
    """The text of the mail the shell's own sender delivered (it sends as soon as it commits)."""
    deadline = time.monotonic() + START
    while True:
        found = [
            r.message for r in smtp.received if r.message["To"] == to and subject in r.message["Subject"]
        ]
        if found:
            return text_of(found[-1])
        assert time.monotonic() < deadline, [r.message["Subject"] for r in smtp.received]
        await asyncio.sleep(0.1)  # polling a server that another process sends to


def _code(text: str) -> str:
    [code] = re.findall(r"^\d{6}$", text, re.MULTILINE)
    return code


async def test_link_add_a_mailbox_and_a_ticket_copy_from_the_shell(tmp_path: Path, smtp: SmtpServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "shell",
        "--unlinked",
        cwd=ROOT,
        env=env(tmp_path, MAIL_DRIVER="smtp", SMTP_URL=smtp.url()),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    shell = Terminal(proc)
    try:
        await shell.say("link", "What is the e-mail address")
        await shell.say("contact@atelier-lumiere.example", "Send the 6-digit code")
        code = _code(await _mail_to(smtp, "contact@atelier-lumiere.example", "Your code to link"))
        await shell.say(code, "now linked to the account of Atelier Lumière SARL")
        await shell.say(f"mailboxes add technical {TECH}", "[1] Send code")
        await shell.say("1", "A 6-digit code was sent")
        code = _code(await _mail_to(smtp, TECH, "Confirm your new mailbox"))
        await shell.say(f"mailboxes {code}", "is now the mailbox for: Technical tickets")
        for answer, prompt in [
            ("newticket", "Which department"),
            ("technical", "How important"),
            ("high", "Which order"),
            ("none", "Subject"),
            ("Disque plein", "Message"),
        ]:
            await shell.say(answer, prompt)
        done = await shell.say("Le disque de web-1 est plein, pouvez-vous l’agrandir ?", "is open")
        assert TECH in done
        copy = await _mail_to(smtp, TECH, "Disque plein")
        assert "Le disque de web-1 est plein, pouvez-vous l’agrandir ?" in copy
        assert await shell.close() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    assert b"Traceback" not in await proc.stderr.read()


def test_status_shows_dead_letters_and_requeue_sends_them(tmp_path: Path, smtp: SmtpServer) -> None:
    mail = {"MAIL_DRIVER": "smtp", "SMTP_URL": smtp.url(), "MAIL_BACKOFF_SECONDS": "0"}
    assert hostbot(tmp_path, "migrate", "--demo").returncode == 0  # the demo's invoices wait to be mailed
    smtp.handler.refused_recipients.add("compta@atelier-lumiere.example")
    worked = hostbot(tmp_path, "worker", "--once", **mail)
    assert worked.returncode == 0, worked.stderr
    status = hostbot(tmp_path, "mail", "status").stdout
    dead = re.findall(r"#(\d+) invoice to compta@atelier-lumiere\.example .*550", status)
    assert dead and f"dead: {len(dead)}" in status
    assert "pending: 0" in status and "sending: 0" in status
    delivered = len(smtp.received)
    assert delivered > 0 and all(r.message["To"] != "compta@atelier-lumiere.example" for r in smtp.received)
    smtp.handler.refused_recipients.clear()
    assert hostbot(tmp_path, "mail", "requeue").returncode == 2  # says which, or --all
    requeued = hostbot(tmp_path, "mail", "requeue", *dead)
    assert f"{len(dead)} mails are pending again" in requeued.stdout
    assert hostbot(tmp_path, "worker", "--once", **mail).returncode == 0
    assert len(smtp.received) == delivered + len(dead)
    assert "dead: 0" in hostbot(tmp_path, "mail", "status").stdout

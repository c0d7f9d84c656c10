"""Every server command end to end in ``hostbot shell`` on the demo, as a newcomer tries them: the
real process with piped input, the inventory drivers, on SQLite and PostgreSQL. Forward
confirmation asks the tests' PowerDNS server (DNS_RESOLVER), so nothing leaves the machine."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from sqlalchemy import select

from storage.models import AuditEntry, Server
from storage.uow import Database
from tests.support.cli import hostbot
from tests.support.powerdns import PowerDnsServer

# One line per step; a number presses that button of the reply before it.
SCRIPT = [
    "server web-1",
    "stop web-1",
    "1",  # Shut down
    "server web-1",
    "reboot web-1",  # stopped: refused
    "poweron web-1",
    "1",  # Start
    "reboot my server",  # two servers: which one?
    "2",  # web-1
    "1",  # Reboot
    "reinstall web-1",
    "2",  # Ubuntu 24.04 LTS
    "web-2",  # not its name: nothing happens
    "reinstall web-1",
    "2",
    "web-1",  # typed confirmation
    "login web-1",
    "console web-1",
    "rdns web-1 bad_host!",
    "rdns web-1 mail.bakery.example",
    "1",  # Change
    "rdns web-1",
    "server 203.0.113.20",  # another customer's server
    "traffic web-1 month",
]


def _replies(out: str) -> list[str]:
    """The shell's replies in order (each ends with an empty line)."""
    return [block.strip() for block in out.split("\n\n") if block.strip()]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_every_server_command_in_the_shell(
    tmp_path: Path, database_url: str, db: Database, powerdns: PowerDnsServer
) -> None:
    powerdns.create_zone("bakery.example.", {("mail.bakery.example.", "A"): ["203.0.113.10"]})
    done = hostbot(
        tmp_path,
        "shell",
        stdin="\n".join(SCRIPT) + "\n",
        DATABASE_URL=database_url,
        DNS_RESOLVER=powerdns.resolver,
        SECRET_KEY="e2e-secret-key",
        TMPDIR=str(tmp_path),
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    replies = _replies(done.stdout)
    shown = iter(replies)

    def next_starting(prefix: str) -> str:
        """The next reply that starts with ``prefix`` (the replies between are checked elsewhere)."""
        for reply in shown:
            if reply.startswith(prefix):
                return reply
        raise AssertionError(f"no reply starting {prefix!r} in order:\n" + "\n---\n".join(replies))

    server = next_starting("web-1 (order #1) — running").splitlines()
    assert server[1:6] == [
        "Configuration: 2 vCPUs · 4 GB RAM · 80 GB disk · Debian 12",
        "IPv4: 203.0.113.10, netmask 255.255.255.0, gateway 203.0.113.1",
        "MAC address: 52:54:00:01:00:00",
        "IPv6: 2001:db8:1::10/64",
        "Reverse DNS: web-1.customer1.example",
    ]
    assert next_starting("Shut web-1 (203.0.113.10) down?").endswith("[1] Shut down  [2] Cancel")
    next_starting("web-1 was shut down and is stopped.")
    next_starting("web-1 (order #1) — stopped")
    next_starting("web-1 is not running, so it cannot be rebooted.")
    next_starting("Start web-1 (203.0.113.10)? It is stopped now.")
    next_starting("web-1 was started and is running.")
    assert next_starting("Which server?").endswith("[1] db-1  [2] web-1")
    next_starting("Reboot web-1 (203.0.113.10)?")
    next_starting("web-1 was rebooted and is running.")
    assert "[2] Ubuntu 24.04 LTS" in next_starting("Which operating system should web-1 get?")
    assert "type the server's name: web-1" in next_starting("Reinstalling web-1 with Ubuntu 24.04 LTS")
    next_starting("That is not the server's name, so nothing was reinstalled.")
    next_starting("Reinstalling web-1 with Ubuntu 24.04 LTS")
    reinstalled = next_starting("web-1 was reinstalled with Ubuntu 24.04 LTS and is running.")
    password = re.search(r"password: (\S+)", reinstalled)
    assert password is not None and "Only you can see this message." in reinstalled
    login = next_starting("Login details of web-1 (203.0.113.10)")
    assert login.endswith(f"user root, password {password.group(1)}")  # the new one, kept sealed
    console = next_starting("Console of web-1: the link works once")
    assert re.search(r"https://\S+token%3D[\w.-]+", console) and "[1] Open the console" in console
    assert "is not a host name" in next_starting("“bad_host!”")
    preview = next_starting("Change the reverse DNS of web-1?").splitlines()
    assert preview[1:3] == [
        "203.0.113.10: web-1.customer1.example → mail.bakery.example",
        "2001:db8:1::10: web-1.customer1.example → mail.bakery.example",
    ]
    changed = next_starting("The reverse DNS of web-1 is now mail.bakery.example.").splitlines()
    assert changed[1] == "mail.bakery.example resolves to 203.0.113.10: the forward confirmation is complete."
    assert changed[2].startswith("mail.bakery.example does not resolve to 2001:db8:1::10.")
    assert next_starting("Reverse DNS of web-1:").splitlines()[1] == "203.0.113.10 → mail.bakery.example"
    next_starting("Not found.")  # 203.0.113.20 is customer 2's
    chart = next_starting("web-1, last 30 days:")
    attached = re.search(r"📎 (\S+traffic-web-1-month\.png)", chart)
    assert attached is not None and Path(attached.group(1)).is_relative_to(tmp_path)
    width, height = _png_size(Path(attached.group(1)))
    assert width > height > 0

    async with db.uow() as uow:
        web = await uow.session.scalar(
            select(Server).where(Server.hostname == "web-1", Server.customer_id == 1)
        )
        actions = (
            await uow.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith("server."))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert web is not None
    assert (web.power_state, web.os, web.reverse_dns) == (
        "running",
        "Ubuntu 24.04 LTS",
        "mail.bakery.example",
    )
    assert actions == [
        "server.stop",
        "server.start",
        "server.reboot",
        "server.reinstall",
        "server.login",
        "server.console",
        "server.rdns",
    ]

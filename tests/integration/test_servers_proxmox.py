"""``SERVER_DRIVER=proxmox`` end to end: the chat commands, built by bootstrap from the settings,
against the fake Proxmox VE API, on SQLite and PostgreSQL. The demo's servers name their VMs
(node ``pve1``; Atelier Lumière's web-1 is VM 110)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import bootstrap, demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services.drivers.proxmox import ProxmoxDriver
from storage.models import AuditEntry, Server
from storage.uow import Database
from tests.fakes.proxmox_api import TOKEN_ID, TOKEN_SECRET, FakeProxmox
from tests.support.chat import Chat


@pytest.fixture
async def pve(tmp_path: Path) -> AsyncIterator[FakeProxmox]:
    async with FakeProxmox(tmp_path) as fake:
        fake.vm(110, "web-1", "52:54:00:01:00:00", "203.0.113.10/24", "203.0.113.1", cores=4, memory=8192)
        fake.vm(111, "db-1", "52:54:00:01:00:01", "203.0.113.11/24", "203.0.113.1")
        fake.add_template(9000, "Debian 12")
        fake.add_template(9001, "Ubuntu 24.04 LTS")
        yield fake


@pytest.fixture
async def chat(db: Database, settings: Settings, pve: FakeProxmox) -> Dispatcher:
    configured = settings.model_copy(
        update={
            "server_driver": "proxmox",
            "proxmox_url": pve.url,
            "proxmox_token_id": TOKEN_ID,
            "proxmox_token_secret": TOKEN_SECRET,
            "proxmox_verify_tls": str(pve.ca),
            "proxmox_poll_seconds": 0.01,
        }
    )
    dispatcher = bootstrap.dispatcher(db, configured)
    assert isinstance(dispatcher.drivers.servers, ProxmoxDriver)
    async with db.uow() as uow:
        await demo.seed(uow, dispatcher.seller)
    return dispatcher


@pytest.fixture
async def owner(chat: Dispatcher) -> Chat:
    return await Chat.linked(chat, "alice", customer_id=1)


async def _web1(chat: Dispatcher) -> Server:
    async with chat.db.uow() as uow:
        found = await uow.session.scalar(
            select(Server).where(Server.customer_id == 1, Server.hostname == "web-1")
        )
    assert found is not None
    return found


async def test_a_server_shows_what_proxmox_reports(owner: Chat, pve: FakeProxmox) -> None:
    pve.vms[110].config["ipconfig0"] += ",ip6=2001:db8:1::10/64"
    text = (await owner.say("server web-1")).text
    assert "4 vCPUs · 8 GB RAM · 80 GB disk" in text
    assert "IPv6: 2001:db8:1::10/64" in text and "Reverse DNS: web-1.customer1.example" in text
    pve.vms[110].status = "stopped"
    assert (await owner.say("server web-1")).text.startswith("web-1 (order #1) — stopped")


async def test_when_proxmox_does_not_answer_the_record_is_shown(owner: Chat, pve: FakeProxmox) -> None:
    pve.broken = True
    text = (await owner.say("server web-1")).text
    assert "2 vCPUs · 4 GB RAM" in text and "did not answer" in text


async def test_reboot_goes_to_the_vm_and_is_audited(chat: Dispatcher, owner: Chat, pve: FakeProxmox) -> None:
    done = await owner.press("Reboot", await owner.say("reboot web-1"))
    assert "web-1 was rebooted and is running" in done.text
    assert len(pve.calls("POST", "/qemu/110/status/reboot")) == 1
    assert not pve.calls("POST", "/qemu/111/status/reboot")
    async with chat.db.uow() as uow:
        outcomes = (
            await uow.session.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "server.reboot"))
        ).all()
    assert outcomes == ["ok"]


async def test_a_locked_vm_changes_nothing_and_the_failure_is_audited(
    chat: Dispatcher, owner: Chat, pve: FakeProxmox
) -> None:
    ask = await owner.say("stop web-1")
    pve.locked.add(110)
    answer = await owner.press("Shut down", ask)
    assert "did not respond as expected, so nothing was changed" in answer.text
    assert "locked" not in answer.text  # the reason is for the log and the audit
    assert (await _web1(chat)).power_state == "running"
    async with chat.db.uow() as uow:
        [entry] = (
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "server.stop"))
        ).all()
    assert entry.outcome == "failed" and "locked" in entry.detail["reason"]


async def test_a_vm_stopped_from_inside_is_seen_before_acting(
    chat: Dispatcher, owner: Chat, pve: FakeProxmox
) -> None:
    ask = await owner.say("reboot web-1")
    pve.vms[110].status = "stopped"  # shut down from inside the guest meanwhile
    assert "not running" in (await owner.press("Reboot", ask)).text
    assert not pve.calls("POST", "/status/reboot")
    assert (await _web1(chat)).power_state == "running"  # the refusal rolled back: nothing was done


async def test_reinstall_from_a_template_with_the_name_typed(
    chat: Dispatcher, owner: Chat, pve: FakeProxmox
) -> None:
    offer = await owner.say("reinstall web-1")
    assert [b.label for b in offer.all_buttons()] == ["Debian 12", "Ubuntu 24.04 LTS"]
    await owner.press("Ubuntu 24.04 LTS", offer)
    done = await owner.say("web-1")
    assert done.private and "reinstalled with Ubuntu 24.04 LTS" in done.text
    password = done.text.split("password: ")[1].splitlines()[0]
    assert pve.vms[110].config["cipassword"] == password and pve.calls("POST", "/qemu/9001/clone")
    assert (await _web1(chat)).os == "Ubuntu 24.04 LTS"
    assert password in (await owner.say("login web-1")).text


async def test_the_console_is_a_private_vnc_link(owner: Chat, pve: FakeProxmox) -> None:
    reply = await owner.say("console web-1")
    assert reply.private and "vncticket=PVEVNC" in reply.text
    assert pve.calls("POST", "/qemu/110/vncproxy") == [{"websocket": "1"}]

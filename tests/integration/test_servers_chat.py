"""Server commands through the dispatcher on the demo (the inventory driver), on SQLite and
PostgreSQL: naming a server, power behind confirmations, a reinstall confirmed by typing the name,
login details and console links sent privately, and the console link's one-time redemption."""

from __future__ import annotations

import datetime as dt

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock
from storage.models import AuditEntry, Server
from storage.uow import Database
from tests.support.chat import Chat


async def _server(dispatcher: Dispatcher, name: str = "web-1", customer_id: int = 1) -> Server:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(
            select(Server).where(Server.customer_id == customer_id, Server.hostname == name)
        )
    assert found is not None
    return found


async def _audit(dispatcher: Dispatcher, action: str) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_a_server_shows_its_configuration_network_and_reverse_dns(alice: Chat) -> None:
    reply = await alice.say("server web-1")
    assert reply.text.splitlines() == [
        "web-1 (order #1) — running",
        "Configuration: 2 vCPUs · 4 GB RAM · 80 GB disk · Debian 12",
        "IPv4: 203.0.113.10, netmask 255.255.255.0, gateway 203.0.113.1",
        "MAC address: 52:54:00:01:00:00",
        "IPv6: 2001:db8:1::10/64",
        "Reverse DNS: web-1.customer1.example",
    ]
    db1 = await alice.say("server db-1")
    assert "IPv6" not in db1.text and "1 vCPU · 2 GB RAM · 40 GB disk · Ubuntu 24.04" in db1.text


async def test_a_server_is_named_by_hostname_address_or_order(alice: Chat) -> None:
    by_name = (await alice.say("server WEB-1")).text
    assert by_name == (await alice.say("server 203.0.113.10")).text
    assert by_name == (await alice.say("server 2001:db8:1::10")).text
    assert by_name == (await alice.say("server #1")).text  # order 1 has one server
    assert "Not found" in (await alice.say("server 203.0.113.99")).text


async def test_without_a_name_several_servers_are_offered_as_buttons(alice: Chat) -> None:
    ask = await alice.say("reboot my server")
    assert ask.text == "Which server?"
    assert [b.label for b in ask.all_buttons()] == ["db-1", "web-1"]
    chosen = await alice.press("web-1", ask)
    assert "Reboot web-1 (203.0.113.10)?" in chosen.text


async def test_someone_elses_server_looks_missing_and_is_audited(dispatcher: Dispatcher, alice: Chat) -> None:
    foreign = await _server(dispatcher, customer_id=2)
    assert (await alice.say(f"server {foreign.ip}")).text == (await alice.say("server 198.51.100.1")).text
    denied = [e for e in await _audit(dispatcher, "access") if e.outcome == "denied"]
    assert [e.target for e in denied] == [f"server:{foreign.id}"]


async def test_stop_and_start_are_confirmed_and_audited(dispatcher: Dispatcher, alice: Chat) -> None:
    assert "already running" in (await alice.say("poweron web-1")).text
    ask = await alice.say("stop web-1")
    assert (await _server(dispatcher)).power_state == "running"
    assert "web-1 was shut down and is stopped" in (await alice.press("Shut down", ask)).text
    assert "not running" in (await alice.say("reboot web-1")).text
    started = await alice.press("Start", await alice.say("allumer web-1"))
    assert "web-1 was started and is running" in started.text
    assert [e.outcome for e in await _audit(dispatcher, "server.stop")] == ["ok"]
    assert [e.outcome for e in await _audit(dispatcher, "server.start")] == ["ok"]


async def test_changes_need_an_admin(dispatcher: Dispatcher) -> None:
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    assert "Configuration" in (await member.say("server web-1")).text
    for line in ("stop web-1", "reinstall web-1", "console web-1", "login web-1"):
        assert "does not allow" in (await member.say(line)).text, line


async def test_a_suspended_server_cannot_be_acted_on(dispatcher: Dispatcher, alice: Chat) -> None:
    async with dispatcher.db.uow() as uow:
        server = await uow.session.get(Server, (await _server(dispatcher)).id)
        assert server is not None
        server.power_state = "suspended"
        await uow.commit()
    for line in ("reboot web-1", "poweron web-1", "reinstall web-1 debian-12", "console web-1"):
        assert "suspended by your provider" in (await alice.say(line)).text, line


async def test_reinstall_offers_the_systems_and_needs_the_name_typed(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    offer = await alice.say("reinstall web-1")
    assert [b.label for b in offer.all_buttons()] == [
        "Debian 12",
        "Ubuntu 24.04 LTS",
        "AlmaLinux 9",
        "Rocky Linux 9",
    ]
    ask = await alice.press("AlmaLinux 9", offer)
    assert "type the server's name: web-1" in ask.text and not ask.private
    wrong = await alice.say("db-1")
    assert "nothing was reinstalled" in wrong.text
    assert (await _server(dispatcher)).os == "Debian 12"
    assert await _audit(dispatcher, "server.reinstall") == []

    await alice.say("reinstall web-1 almalinux-9")
    done = await alice.say("WEB-1")
    assert done.private
    assert done.text.startswith("web-1 was reinstalled with AlmaLinux 9 and is running.")
    password = done.text.split("password: ")[1].splitlines()[0]
    stored = await _server(dispatcher)
    assert stored.os == "AlmaLinux 9" and stored.login_user == "root"
    assert stored.login_secret is not None and password not in stored.login_secret
    [entry] = await _audit(dispatcher, "server.reinstall")
    assert entry.detail == {"hostname": "web-1", "os": "almalinux-9"}

    login = await alice.say("login web-1")
    assert login.private and f"user root, password {password}" in login.text
    assert len(await _audit(dispatcher, "server.login")) == 1


async def test_a_typed_confirmation_expires_and_can_be_cancelled(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("reinstall web-1 debian-12")
    later = clock.now() + dt.timedelta(seconds=dispatcher.settings.confirm_ttl_seconds + 1)
    with clock.frozen(later):
        assert "expired" in (await alice.say("web-1")).text
    ask = await alice.say("reinstall web-1 debian-12")
    assert "Cancelled" in (await alice.press("Cancel", ask)).text
    assert "Configuration" in (await alice.say("server web-1")).text  # the name is a command again
    assert await _audit(dispatcher, "server.reinstall") == []


async def test_an_unknown_system_is_offered_the_list(alice: Chat) -> None:
    reply = await alice.say("reinstall web-1 windows")
    assert "cannot get that system" in reply.text and len(reply.all_buttons()) == 4


async def test_without_a_secret_key_nothing_is_wiped(
    db: Database, settings: Settings, dispatcher: Dispatcher
) -> None:
    keyless = bootstrap.dispatcher(db, settings.model_copy(update={"secret_key": ""}))
    alice = await Chat.linked(keyless, "alice", customer_id=1)
    await alice.say("reinstall web-1 debian-12")
    assert "secret key" in (await alice.say("web-1")).text
    assert await _audit(keyless, "server.reinstall") == []


async def test_login_details_are_private_and_missing_ones_said_so(alice: Chat) -> None:
    reply = await alice.say("login db-1")
    assert reply.private and "no login details on file for db-1" in reply.text


async def test_a_console_link_is_private_and_leads_to_the_machine_once(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    reply = await alice.say("console web-1")
    assert reply.private and "works once, for the next 2 minutes" in reply.text
    [button] = reply.all_buttons()
    assert button.url is not None and button.url.startswith("https://console.example.net/vnc.html")
    token = button.url.split("token%3D")[1]
    app = bootstrap.web_app(bootstrap.assemble(settings, dispatcher.db, dispatcher))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        first = await client.get(f"/console/{token}")
        assert first.status == 200 and await first.json() == {"host": "203.0.113.10", "port": 5900}
        assert (await client.get(f"/console/{token}")).status == 404
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert (await client.get(f"/console/{forged}")).status == 404
        late = await alice.say("console web-1")
        [late_button] = late.all_buttons()
        assert late_button.url is not None
        later = clock.now() + dt.timedelta(seconds=settings.console_ttl_seconds + 1)
        with clock.frozen(later):
            assert (await client.get(f"/console/{late_button.url.split('token%3D')[1]}")).status == 404
    assert len(await _audit(dispatcher, "server.console")) == 2

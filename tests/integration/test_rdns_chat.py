"""``rdns``: the PTR of a server's addresses shown and set from the chat, on both databases, with
the inventory driver (the server's record is the zone) and with DNS_DRIVER=powerdns against a real
PowerDNS server that also answers the forward confirmation."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import select

from bot import bootstrap
from bot.core.dispatcher import Dispatcher
from storage.models import AuditEntry, Server
from tests.support.chat import Chat
from tests.support.powerdns import PowerDnsServer

REVERSE_ZONE = "113.0.203.in-addr.arpa."
REVERSE_ZONE_V6 = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
FORWARD_ZONE = "customer1.example."


async def server_record(dispatcher: Dispatcher, customer_id: int, hostname: str) -> Server:
    async with dispatcher.db.uow() as uow:
        server = await uow.session.scalar(
            select(Server).where(Server.customer_id == customer_id, Server.hostname == hostname)
        )
    assert server is not None
    return server


async def rdns_audit(dispatcher: Dispatcher) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "server.rdns"))
        return list(rows.all())


# -- the inventory driver: the server's record holds the PTR -------------------------------------


async def test_lists_the_ptr_of_each_of_the_accounts_servers(alice: Chat) -> None:
    lines = (await alice.say("rdns")).text.splitlines()
    assert lines == [
        "Reverse DNS of your servers:",
        "db-1 · 203.0.113.11 → db-1.customer1.example",
        "web-1 · 203.0.113.10 → web-1.customer1.example",
        "web-1 · 2001:db8:1::10 → web-1.customer1.example",  # the inventory holds one name per server
    ]


async def test_one_server_by_name_or_address(alice: Chat) -> None:
    lines = (await alice.say("rdns web-1")).text.splitlines()
    assert lines == [
        "Reverse DNS of web-1:",
        "203.0.113.10 → web-1.customer1.example",
        # The tests' settings look nothing up (DNS_RESOLVER=none).
        "Whether web-1.customer1.example resolves to 203.0.113.10 could not be checked right now.",
        "2001:db8:1::10 → web-1.customer1.example",
        "Whether web-1.customer1.example resolves to 2001:db8:1::10 could not be checked right now.",
        "To change it, send: /rdns web-1 mail.example.com",
    ]
    assert (await alice.say("ptr 203.0.113.11")).text.splitlines()[:2] == [
        "Reverse DNS of db-1:",
        "203.0.113.11 → db-1.customer1.example",
    ]


async def test_set_after_confirmation_recorded_and_audited(dispatcher: Dispatcher, alice: Chat) -> None:
    preview = await alice.say("rdns web-1 Mail.Exämple.com.")
    assert preview.text.splitlines() == [
        "Change the reverse DNS of web-1?",
        "203.0.113.10: web-1.customer1.example → mail.exämple.com",
        "2001:db8:1::10: web-1.customer1.example → mail.exämple.com",
    ]
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == "web-1.customer1.example"
    assert await rdns_audit(dispatcher) == []

    done = await alice.press("Change", preview)

    assert done.text.splitlines() == [
        "The reverse DNS of web-1 is now mail.exämple.com.",
        "Whether mail.exämple.com resolves to 203.0.113.10 could not be checked right now.",
        "Whether mail.exämple.com resolves to 2001:db8:1::10 could not be checked right now.",
    ]
    server = await server_record(dispatcher, 1, "web-1")
    assert server.reverse_dns == "mail.xn--exmple-cua.com"
    [entry] = await rdns_audit(dispatcher)
    assert (entry.customer_id, entry.target, entry.outcome) == (1, f"server:{server.id}", "ok")
    assert entry.detail["old"] == {
        "203.0.113.10": "web-1.customer1.example",
        "2001:db8:1::10": "web-1.customer1.example",
    }
    assert entry.detail["new"] == "mail.xn--exmple-cua.com"
    assert "→ mail.exämple.com" in (await alice.say("rdns web-1")).text
    # The confirmation was used up.
    assert "Change" not in (await alice.press_key(alice.button("Change", preview).key)).text
    assert len(await rdns_audit(dispatcher)) == 1


async def test_the_same_name_again_changes_nothing(dispatcher: Dispatcher, alice: Chat) -> None:
    reply = await alice.say("rdns web-1 WEB-1.customer1.example")
    assert reply.text == "The reverse DNS of web-1 is already web-1.customer1.example."
    assert reply.buttons == []


@pytest.mark.parametrize(
    "name",
    [
        "mail",
        "mail.",
        "-mail.example.com",
        "mail-.example.com",
        "mail_1.example.com",
        "mail..example.com",
        "mail.example.com;reboot",
        "mail.example.com/",
        "203.0.113.10",
        "mail.example.123",
        "x" * 64 + ".example.com",
        ".".join(["a" * 63] * 3 + ["b" * 54, "example"]),  # 254 characters
        "mail.ex ample.com",
    ],
)
async def test_a_name_that_is_no_host_name_is_refused(dispatcher: Dispatcher, alice: Chat, name: str) -> None:
    reply = await alice.say(f"rdns web-1 {name}")
    if " " in name:
        assert reply.text == "Usage: /rdns [SERVER [HOSTNAME]]"
    else:
        assert "is not a host name a reverse DNS record can hold" in reply.text
        assert name[:40] in reply.text
    assert reply.buttons == []
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == "web-1.customer1.example"


async def test_the_longest_names_that_are_allowed(dispatcher: Dispatcher, alice: Chat) -> None:
    label = "a" * 63
    name = ".".join([label, label, label, "b" * 53, "example"])
    assert len(name) == 253
    await alice.press("Change", await alice.say(f"rdns web-1 {name}"))
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == name


async def test_only_the_accounts_own_servers(dispatcher: Dispatcher, alice: Chat, budi: Chat) -> None:
    missing = (await alice.say("rdns 198.51.100.1 mail.example.com")).text
    assert "Not found" in missing
    assert (await alice.say("rdns 203.0.113.20 mail.example.com")).text == missing  # Budi's web-1
    foreign = await server_record(dispatcher, 2, "web-1")
    assert (await alice.say(f"rdns {foreign.order_id} mail.example.com")).text == missing  # an order number
    assert (await alice.say("rdns 203.0.113.20")).text == missing
    assert "203.0.113.2" not in (await alice.say("rdns")).text
    # Alice's own web-1 is hers, Budi's is his.
    await alice.press("Change", await alice.say("rdns web-1 mail.example.com"))
    assert (await server_record(dispatcher, 2, "web-1")).reverse_dns == "web-1.customer2.example"
    assert "web-1.customer2.example" in (await budi.say("rdns web-1")).text


async def test_a_member_reads_but_does_not_set(dispatcher: Dispatcher) -> None:
    member = await Chat.linked(dispatcher, "intern", customer_id=1, role="member")
    assert "web-1.customer1.example" in (await member.say("rdns")).text
    assert "does not allow" in (await member.say("rdns web-1 mail.example.com")).text
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == "web-1.customer1.example"


async def test_in_french(alice: Chat) -> None:
    alice.language = "fr"
    preview = await alice.say("dnsinverse web-1 mail.example.com")
    assert preview.text.splitlines()[0] == "Modifier le DNS inverse de web-1\xa0?"
    done = await alice.press("Modifier", preview)
    assert done.text.splitlines()[0] == "Le DNS inverse de web-1 est désormais mail.example.com."
    assert "n’est pas un nom d’hôte" in (await alice.say("rdns web-1 mail")).text


# -- DNS_DRIVER=powerdns, picked by the settings -------------------------------------------------


@pytest.fixture
def zones(powerdns: PowerDnsServer) -> PowerDnsServer:
    """The demo's 203.0.113.0/24 and the forward zone of customer 1's names."""
    powerdns.create_zone(REVERSE_ZONE)
    powerdns.create_zone(REVERSE_ZONE_V6)
    powerdns.create_zone(
        FORWARD_ZONE,
        {
            ("web-1.customer1.example.", "A"): ["203.0.113.10"],
            ("web-1.customer1.example.", "AAAA"): ["2001:db8:1::10"],
            ("mail.customer1.example.", "A"): ["203.0.113.10"],
            ("mail.customer1.example.", "AAAA"): ["2001:db8:1::10"],
            ("elsewhere.customer1.example.", "A"): ["198.51.100.5"],
        },
    )
    return powerdns


def with_powerdns(dispatcher: Dispatcher, server: PowerDnsServer, key: str | None = None) -> Dispatcher:
    """The bot over the same database, with the DNS driver its settings pick."""
    settings = dispatcher.settings.model_copy(
        update={
            "dns_driver": "powerdns",
            "powerdns_api_url": server.api_url,
            "powerdns_api_key": key or server.api_key,
            "dns_resolver": server.resolver,
        }
    )
    return bootstrap.dispatcher(dispatcher.db, settings)


async def test_powerdns_set_and_confirmed_forward(
    dispatcher: Dispatcher, alice: Chat, zones: PowerDnsServer
) -> None:
    chat = Chat(with_powerdns(dispatcher, zones), "alice")
    assert (await chat.say("rdns")).text.splitlines()[1:] == [
        "db-1 · 203.0.113.11 → not set",
        "web-1 · 203.0.113.10 → not set",
        "web-1 · 2001:db8:1::10 → not set",
    ]
    preview = await chat.say("rdns web-1 mail.customer1.example")
    assert preview.text.splitlines()[1] == "203.0.113.10: not set → mail.customer1.example"

    done = await chat.press("Change", preview)

    assert done.text.splitlines() == [
        "The reverse DNS of web-1 is now mail.customer1.example.",
        "mail.customer1.example resolves to 203.0.113.10: the forward confirmation is complete.",
        "mail.customer1.example resolves to 2001:db8:1::10: the forward confirmation is complete.",
    ]
    assert await zones.query("10.113.0.203.in-addr.arpa.", "PTR") == ["mail.customer1.example."]
    v6 = ipaddress.ip_address("2001:db8:1::10").reverse_pointer + "."
    assert await zones.query(v6, "PTR") == ["mail.customer1.example."]
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == "mail.customer1.example"
    assert (await chat.say("rdns web-1")).text.splitlines()[1:3] == [
        "203.0.113.10 → mail.customer1.example",
        "mail.customer1.example resolves to 203.0.113.10: the forward confirmation is complete.",
    ]


async def test_powerdns_forward_that_does_not_match(
    dispatcher: Dispatcher, alice: Chat, zones: PowerDnsServer
) -> None:
    chat = Chat(with_powerdns(dispatcher, zones), "alice")
    for name in ("elsewhere.customer1.example", "nothing.customer1.example"):
        done = await chat.press("Change", await chat.say(f"rdns db-1 {name}"))
        assert done.text.splitlines()[1] == (
            f"{name} does not resolve to 203.0.113.11. Add an A record for {name} with 203.0.113.11 in its "
            "domain's DNS: mail servers and others check that both directions match."
        )
        assert await zones.query("11.113.0.203.in-addr.arpa.", "PTR") == [name + "."]


async def test_powerdns_address_outside_its_zones(
    dispatcher: Dispatcher, alice: Chat, powerdns: PowerDnsServer
) -> None:
    chat = Chat(with_powerdns(dispatcher, powerdns), "alice")
    assert (await chat.say("rdns web-1")).text.splitlines()[1] == "203.0.113.10 → not managed here"
    reply = await chat.say("rdns web-1 mail.customer1.example")
    assert reply.text.startswith("The reverse DNS of 203.0.113.10 is not managed here")
    assert reply.buttons == []


async def test_powerdns_failing_is_said_and_audited(
    dispatcher: Dispatcher, alice: Chat, zones: PowerDnsServer
) -> None:
    good = Chat(with_powerdns(dispatcher, zones), "alice")
    preview = await good.say("rdns web-1 mail.customer1.example")
    refused = Chat(with_powerdns(dispatcher, zones, key="a-wrong-key"), "alice")

    answer = await refused.press("Change", preview)

    assert answer.text == "The DNS server is not answering right now. Please try again in a few minutes."
    [entry] = await rdns_audit(dispatcher)
    assert entry.outcome == "failed"
    assert "401" in entry.detail["reason"] and "a-wrong-key" not in str(entry.detail)
    assert (await server_record(dispatcher, 1, "web-1")).reverse_dns == "web-1.customer1.example"
    assert await zones.query("10.113.0.203.in-addr.arpa.", "PTR") == []
    assert (await refused.say("rdns web-1")).text == answer.text

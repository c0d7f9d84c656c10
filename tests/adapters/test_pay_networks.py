"""Allowed networks: set from the chat, enforced on the pay pages over HTTP (the client's address from
the socket, or from X-Forwarded-For only behind a trusted proxy); on SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from services import networks
from services.networks import client_address
from storage.models import AuditEntry
from tests.support.chat import Chat
from tests.support.paysite import PaySite, pay_site

PROXY = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.fixture
async def site(dispatcher: Dispatcher) -> AsyncIterator[PaySite]:
    async with pay_site(dispatcher) as running:
        yield running


async def _allow(chat: Chat, network: str) -> str:
    preview = await chat.say(f"networks add {network}")
    return (await chat.press("Allow", preview)).text


async def test_networks_from_the_chat(dispatcher: Dispatcher, alice: Chat) -> None:
    assert "open from anywhere" in (await alice.say("networks")).text
    assert "is not an IP address or network" in (await alice.say("networks add 300.1.2.3/8")).text
    shown = await _allow(alice, "203.0.113.77/24")
    assert "only from these networks:\n• 203.0.113.0/24" in shown
    assert "• 2001:db8::/48" in await _allow(alice, "2001:db8::1/48")
    assert "is not on the list" in (await alice.say("networks remove 198.51.100.0/24")).text
    preview = await alice.say("networks remove 203.0.113.0/24")
    assert "open only from these networks:\n• 2001:db8::/48" in (await alice.press("Remove", preview)).text
    preview = await alice.say("networks remove all")
    assert "open from anywhere" in (await alice.press("Remove", preview)).text
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    assert "does not allow" in (await member.say("networks add 192.0.2.0/24")).text
    async with dispatcher.db.uow() as uow:
        actions = list(
            await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("networks.%")))
        )
    assert actions == ["networks.add", "networks.add", "networks.remove", "networks.remove"]


async def test_pay_page_only_from_allowed_networks(site: PaySite, alice: Chat) -> None:
    path = site.path(await site.link(3))
    assert (await site.client.get(path)).status == 200  # no list: from anywhere
    await _allow(alice, "203.0.113.0/24")
    refused = await site.client.get(path)
    assert refused.status == 403 and "Not from this network" in await refused.text()
    # Without a trusted proxy, what the client writes in X-Forwarded-For is not believed.
    spoofed = await site.client.get(path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status == 403
    card = await site.client.post(f"{path}/card", data={"lang": "fr"})
    assert card.status == 403 and "Pas depuis ce réseau" in await card.text()
    await _allow(alice, "127.0.0.1")
    assert (await site.client.get(path)).status == 200
    other = site.path(await site.link(6))  # customer 2 allows everything: untouched
    assert (await site.client.get(other)).status == 200
    async with site.dispatcher.db.uow() as uow:
        denied = list(await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "pay.page")))
    assert [(e.customer_id, e.outcome, e.detail["address"]) for e in denied] == [
        (1, "denied", "127.0.0.1")
    ] * 3


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    dispatcher.settings.trusted_proxies = "127.0.0.1/32, ::1/128"
    await _allow(alice, "203.0.113.0/24")
    async with pay_site(dispatcher) as site:
        path = site.path(await site.link(3))
        allowed = await site.client.get(path, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
        assert allowed.status == 200
        # The client wrote 203.0.113.9 itself; the proxy saw 198.51.100.1.
        forged = await site.client.get(path, headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
        assert forged.status == 403


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # not a proxy: its header is ignored
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["203.0.113.9, 10.0.0.3"], "203.0.113.9"),  # through two proxies
        ("10.0.0.2", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # two headers are one list
        ("10.0.0.2", [], "10.0.0.2"),  # the proxy itself asked
        ("10.0.0.2", ["10.0.0.5"], "10.0.0.5"),
        ("10.0.0.2", ["not-an-address"], None),
        ("::ffff:203.0.113.9", [], "203.0.113.9"),
        (None, [], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    assert client_address(peer, forwarded, PROXY) == expected


def test_contains() -> None:
    assert networks.contains([], None)
    assert networks.contains(["203.0.113.0/24"], "203.0.113.255")
    assert not networks.contains(["203.0.113.0/24"], "203.0.114.1")
    assert not networks.contains(["203.0.113.0/24"], None)
    assert networks.contains(["2001:db8::/32", "203.0.113.0/24"], "2001:db8::5")
    assert not networks.contains(["2001:db8::/32"], "203.0.113.1")

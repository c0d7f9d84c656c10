"""Paying and destructive actions run once, only when confirmed, only before they expire."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from services import clock
from storage.models import AuditEntry, Domain, Invoice, Server
from tests.support.chat import Chat


async def _reboots(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        return int(
            await uow.session.scalar(select(func.count()).where(AuditEntry.action == "server.reboot")) or 0
        )


async def _server(dispatcher: Dispatcher, name: str = "web-1") -> Server:
    async with dispatcher.db.uow() as uow:
        server = await uow.session.scalar(
            select(Server).where(Server.customer_id == 1, Server.hostname == name)
        )
        assert server is not None
        return server


async def test_reboot_needs_confirmation_and_runs_once(dispatcher: Dispatcher, alice: Chat) -> None:
    ask = await alice.say("reboot web-1")
    assert "Reboot web-1" in ask.text
    assert await _reboots(dispatcher) == 0
    assert (await _server(dispatcher)).last_boot_at is None
    done = await alice.press("Reboot", ask)
    assert "web-1 was rebooted" in done.text
    assert (await _server(dispatcher)).power_state == "running"
    assert (await _server(dispatcher)).last_boot_at is not None
    again = await alice.press("Reboot", ask)
    assert "already handled" in again.text
    assert await _reboots(dispatcher) == 1


async def test_cancel_voids_the_confirmation(dispatcher: Dispatcher, alice: Chat) -> None:
    ask = await alice.say("reboot web-1")
    assert "Cancelled" in (await alice.press("Cancel", ask)).text
    assert "already handled" in (await alice.press("Reboot", ask)).text
    assert await _reboots(dispatcher) == 0


async def test_confirmation_expires(dispatcher: Dispatcher, alice: Chat) -> None:
    ask = await alice.say("reboot web-1")
    later = clock.now() + dt.timedelta(seconds=dispatcher.settings.confirm_ttl_seconds + 1)
    with clock.frozen(later):
        assert "expired" in (await alice.press("Reboot", ask)).text
    assert await _reboots(dispatcher) == 0


async def test_renew_from_balance(dispatcher: Dispatcher, alice: Chat) -> None:
    async with dispatcher.db.uow() as uow:
        domain = await uow.session.scalar(
            select(Domain).where(Domain.customer_id == 1).order_by(Domain.expires_on)
        )
    assert domain is not None
    before = domain.expires_on
    ask = await alice.say(f"renew {domain.name}")
    assert "paid from your balance" in ask.text
    done = await alice.press("Renew", ask)
    assert "is renewed until" in done.text
    assert "already handled" in (await alice.press("Renew", ask)).text
    async with dispatcher.db.uow() as uow:
        renewed = await uow.session.get(Domain, domain.id)
        assert renewed is not None
        assert renewed.expires_on == before.replace(year=before.year + 1)
        paid = await uow.session.scalar(
            select(func.count()).where(Invoice.customer_id == 1, Invoice.status == "paid")
        )
    assert paid == 3  # top-up, last period, and this renewal


async def test_renew_without_enough_balance_creates_an_invoice(dispatcher: Dispatcher, alice: Chat) -> None:
    # Spend the balance first: pay the unpaid invoice from it.
    pay = await alice.say("paybalance 3")
    await alice.press("Confirm", pay)
    async with dispatcher.db.uow() as uow:
        domain = await uow.session.scalar(
            select(Domain).where(Domain.customer_id == 1).order_by(Domain.expires_on)
        )
        assert domain is not None
        domain.renewal_minor = 1_000_000
        await uow.commit()
    ask = await alice.say(f"renew {domain.name}")
    assert "an invoice will be created" in ask.text
    done = await alice.press("Renew", ask)
    assert "will be renewed as soon as it is paid" in done.text
    async with dispatcher.db.uow() as uow:
        same = await uow.session.get(Domain, domain.id)
        assert same is not None and same.expires_on == domain.expires_on
        invoice = await uow.session.scalar(select(Invoice).order_by(Invoice.id.desc()).limit(1))
        assert invoice is not None and invoice.status == "unpaid" and invoice.total_minor == 1_000_000

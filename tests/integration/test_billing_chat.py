"""Billing commands through the dispatcher: confirmations run once, roles, other customers' ids."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from storage.models import AuditEntry, Invoice, Order
from tests.support.chat import Chat


async def test_delete_invoice_is_confirmed_once_and_audited(dispatcher: Dispatcher, alice: Chat) -> None:
    ask = await alice.say("delete invoice 3")
    assert "Delete invoice" in ask.text
    done = await alice.press("Delete", ask)
    assert "is deleted" in done.text
    assert "already handled" in (await alice.press("Delete", ask)).text
    async with dispatcher.db.uow() as uow:
        inv = await uow.session.get(Invoice, 3)
        deleted = (
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "invoice.delete"))
        ).all()
    assert inv is not None and inv.status == "cancelled" and len(deleted) == 1
    again = await alice.say("delete invoice 3")
    assert "cannot be deleted" in again.text and not again.all_buttons()


async def test_someone_elses_order_looks_missing(dispatcher: Dispatcher, alice: Chat) -> None:
    for line in ("extend 6", "quote 6", "settings 6 on", "delete invoice 4"):
        assert "Not found" in (await alice.say(line)).text, line


async def test_members_cannot_change_billing(dispatcher: Dispatcher) -> None:
    member = await Chat.linked(dispatcher, "mo", customer_id=1, role="member")
    for line in ("plan", "mail", "extend 3", "settings 3 on", "delete invoice 3"):
        assert "does not allow" in (await member.say(line)).text, line
    assert "Auto-renew" in (await member.say("settings")).text  # looking is reading
    assert "VAT" in (await member.say("vat DE")).text


async def test_auto_renew_toggle_needs_confirmation(dispatcher: Dispatcher, alice: Chat) -> None:
    ask = await alice.say("settings 3 on")
    async with dispatcher.db.uow() as uow:
        order = await uow.session.get(Order, 3)
        assert order is not None and not order.auto_renew
    assert "now on" in (await alice.press("Confirm", ask)).text
    async with dispatcher.db.uow() as uow:
        order = await uow.session.get(Order, 3)
        assert order is not None and order.auto_renew
    listing = await alice.say("settings")
    assert "#3: turn off" in [b.label for b in listing.all_buttons()]

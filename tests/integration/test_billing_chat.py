"""Billing commands through the dispatcher: confirmations run once, roles, other customers' ids."""

from __future__ import annotations

from sqlalchemy import select

from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import renewal_costs
from storage.models import AuditEntry, Customer, Domain, Invoice, Order
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


async def _domain(dispatcher: Dispatcher, name: str) -> Domain:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(select(Domain).where(Domain.name == name))
        assert found is not None
        return found


async def test_domain_auto_renew_is_set_in_chat_after_confirmation(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    """``settings domain NAME on|off``: the preview names the date and what one more year costs (as
    the billing job will charge it), the change waits for the confirmation and is audited."""
    plain, auto = (
        await _domain(dispatcher, "atelier-lumiere.example"),
        await _domain(dispatcher, "atelier-lumiere-shop.example"),
    )
    ask = await alice.say("settings domain atelier-lumiere.example on")
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        cost = await renewal_costs.of_domain(uow, customer, dispatcher.seller, plain)
    with use_locale("en"):
        assert formatting.money(cost.amount) in ask.text and formatting.date(plain.expires_on) in ask.text
    assert not (await _domain(dispatcher, "atelier-lumiere.example")).auto_renew
    assert "now on" in (await alice.press("Confirm", ask)).text
    assert (await _domain(dispatcher, "atelier-lumiere.example")).auto_renew
    assert "already on" in (await alice.say("settings domain atelier-lumiere-shop.example on")).text
    off = await alice.say("settings domain atelier-lumiere-shop.example off")
    assert "now off" in (await alice.press("Confirm", off)).text
    assert not (await _domain(dispatcher, auto.name)).auto_renew
    listing = await alice.say("settings")
    assert "atelier-lumiere-shop.example: turn on" in [b.label for b in listing.all_buttons()]
    async with dispatcher.db.uow() as uow:
        actions = (await uow.session.scalars(select(AuditEntry.action))).all()
    assert actions.count("domain.auto_renew") == 2


async def test_domain_auto_renew_in_french_and_for_someone_elses_domain(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    alice.language = "fr"
    ask = await alice.say("parametres domaine atelier-lumiere.example activer")
    assert "renouvellement automatique" in ask.text
    assert "désormais activé" in (await alice.press("Confirmer", ask)).text
    assert (await _domain(dispatcher, "atelier-lumiere.example")).auto_renew
    budi_domain = (await _domain(dispatcher, "majujaya.example")).name
    assert "Introuvable" in (await alice.say(f"parametres domaine {budi_domain} activer")).text
    member = await Chat.linked(dispatcher, "mo2", customer_id=1, role="member")
    assert "does not allow" in (await member.say("settings domain atelier-lumiere.example off")).text

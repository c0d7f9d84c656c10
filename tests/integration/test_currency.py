"""``currency CODE``: billed next in another currency at the price list's prices, only on a settled
account, never touching what was invoiced; end to end through the chat, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from sqlalchemy import delete, select

from bot.core.dispatcher import Dispatcher
from services import ledger, paying, quotes
from services.audit import Actor
from services.errors import InvalidState
from services.money import Money
from storage.models import (
    AlertSettings,
    AuditEntry,
    Customer,
    Domain,
    DomainPrice,
    Invoice,
    Order,
    OrderAddon,
    Plan,
)
from tests.support.chat import Chat

JAN = 4  # Jan de Vries: NL consumer, EUR, no pay-as-you-use packages


def _eur(amount: str) -> str:
    return format_currency(Decimal(amount), "EUR", locale="en")


def _try(amount: str) -> str:
    return format_currency(Decimal(amount), "TRY", locale="en")


async def _settle(dispatcher: Dispatcher, customer_id: int) -> None:
    """Pay every open invoice by bank transfer, then refund the balance: nothing open any more."""
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get_one(Customer, customer_id)
        unpaid = await uow.session.scalars(
            select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status == "unpaid")
        )
        for invoice in unpaid.all():
            await paying.mark_paid(uow, invoice, "bank", None)
        left = await ledger.balance(uow, customer)
        if left.minor:
            await ledger.post(
                uow, customer, Money(-left.minor, left.currency), "refund", "test", None, floor="none"
            )
        await uow.commit()


async def _invoices(dispatcher: Dispatcher, customer_id: int) -> list[tuple[int, str, int, str]]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.execute(
            select(Invoice.id, Invoice.currency, Invoice.total_minor, Invoice.status)
            .where(Invoice.customer_id == customer_id)
            .order_by(Invoice.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_change_once_settled_reprices_what_is_billed_next(dispatcher: Dispatcher) -> None:
    jan = await Chat.linked(dispatcher, "jan", customer_id=JAN)
    shown = await jan.say("currency")
    assert "Your account is billed in EUR. Our prices exist in: EUR, IDR, TRY." in shown.text
    assert [b.label for b in shown.all_buttons()] == ["IDR", "TRY"]
    assert "is not a currency code" in (await jan.say("currency XYZ")).text
    assert "We have no prices in USD. Prices exist in: EUR, IDR, TRY." in (await jan.say("currency usd")).text
    assert "already billed in EUR" in (await jan.say("currency EUR")).text
    assert "no invoice is unpaid" in (await jan.press("TRY", shown)).text

    await jan.press("Confirm", await jan.say("paybalance 12"))
    refused = (await jan.say("currency TRY")).text
    assert f"Your balance is {_eur('29.63')}" in refused and "refund" in refused
    await jan.say("alerts threshold 10")
    await _settle(dispatcher, JAN)
    before = await _invoices(dispatcher, JAN)

    preview = await jan.say("currency try")
    text = preview.text
    assert "Bill the account in TRY from now on?" in text
    async with dispatcher.db.uow() as uow:
        web = await uow.session.scalar(
            select(Order).join(Plan).where(Order.customer_id == JAN, Plan.code == "vps-m")
        )
        assert web is not None
    assert f"• VPS M (order #{web.id}): {_eur('19.90')} → {_try('699.00')}" in text
    assert "• Extra mailbox (order #" in text and f"{_eur('2.00')} → {_try('70.00')}" in text
    assert f"• devries.example: {_eur('12.00')} → {_try('420.00')}" in text
    assert "low-balance alert threshold is in EUR, so it is cleared" in text
    assert "now billed in TRY" in (await jan.press("Change currency", preview)).text

    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get_one(Customer, JAN)
        assert customer.currency == "TRY" and customer.balance_minor == 0
        orders = list(await uow.session.scalars(select(Order).where(Order.customer_id == JAN)))
        assert {(o.currency, o.plan.currency) for o in orders} == {("TRY", "TRY")}
        assert {o.price_minor for o in orders if o.plan.code == "vps-m"} == {69900}
        addons = await uow.session.scalars(select(OrderAddon).join(Order).where(Order.customer_id == JAN))
        assert {a.addon.currency for a in addons} == {"TRY"}
        domains = await uow.session.scalars(select(Domain).where(Domain.customer_id == JAN))
        assert {(d.currency, d.renewal_minor) for d in domains} == {("TRY", 42000)}
        prefs = await uow.session.get_one(AlertSettings, JAN)
        assert prefs.low_balance_minor is None
        [entry] = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "account.currency"))
        assert entry.detail == {"before": "EUR", "after": "TRY"} and entry.customer_id == JAN
    assert await _invoices(dispatcher, JAN) == before  # what was invoiced never changes

    assert _try("0.00") in (await jan.say("balance")).text
    extend = await jan.say(f"extend {web.id}")
    assert (
        f"VPS M #{web.id}" in extend.text and f": {_try('699.00')}" in extend.text and "€" not in extend.text
    )
    await jan.press("Create invoice", extend)
    _id, currency, total, status = (await _invoices(dispatcher, JAN))[-1]
    assert (currency, status) == ("TRY", "unpaid")
    assert f"Total: {_try(str(Decimal(total) / 100))}" in extend.text


async def test_refusals_say_why(dispatcher: Dispatcher, alice: Chat) -> None:
    jan = await Chat.linked(dispatcher, "jan", customer_id=JAN)
    await _settle(dispatcher, 1)
    assert (
        "pay-as-you-use packages are billed at the end of each month in EUR"
        in (await alice.say("currency IDR")).text
    )

    await _settle(dispatcher, JAN)
    async with dispatcher.db.uow() as uow:
        await uow.session.execute(delete(DomainPrice).where(DomainPrice.currency == "TRY"))
        await uow.commit()
    assert "Renewing devries-shop.example has no price in TRY" in (await jan.say("currency TRY")).text
    async with dispatcher.db.uow() as uow:
        legacy = Plan(
            code="legacy",
            name="Legacy VPS",
            kind="server",
            currency="EUR",
            monthly_minor=500,
            yearly_minor=5000,
        )
        uow.session.add(legacy)
        await uow.flush()
        web = await uow.session.scalar(select(Order).where(Order.customer_id == JAN).order_by(Order.id))
        assert web is not None
        web.plan_id = legacy.id
        customer = await uow.session.get_one(Customer, JAN)
        customer.overdraft_limit_minor = 5000
        await uow.commit()
    assert "credit limit in EUR" in (await jan.say("currency IDR")).text
    async with dispatcher.db.uow() as uow:
        (await uow.session.get_one(Customer, JAN)).overdraft_limit_minor = 0
        await uow.commit()
    assert f"Legacy VPS (order #{web.id}) has no price in IDR" in (await jan.say("currency IDR")).text
    member = await Chat.linked(dispatcher, "mia", customer_id=JAN, role="member")
    assert "billed in EUR" in (await member.say("currency")).text  # anyone may look
    assert "does not allow" in (await member.say("currency TRY")).text
    async with dispatcher.db.uow() as uow:
        assert (await uow.session.get_one(Customer, JAN)).currency == "EUR"


async def test_a_quote_in_the_old_currency_is_not_invoiced(dispatcher: Dispatcher) -> None:
    jan = await Chat.linked(dispatcher, "jan", customer_id=JAN)
    await _settle(dispatcher, JAN)
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get_one(Customer, JAN)
        order_id = await uow.session.scalar(select(Order.id).where(Order.customer_id == JAN).limit(1))
        assert order_id is not None
        quote = await quotes.for_extension(uow, customer, order_id, dispatcher.seller, Actor(JAN))
    await jan.press("Change currency", await jan.say("currency IDR"))
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get_one(Customer, JAN)
        try:
            await quotes.convert(uow, customer, quote.id, dispatcher.seller, Actor(JAN))
        except InvalidState as err:
            assert err.params == {"number": quote.number, "currency": "EUR", "account": "IDR"}
        else:
            raise AssertionError("an EUR quote became an IDR invoice")

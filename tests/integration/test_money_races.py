"""Whatever arrives at the same moment, money moves once: on SQLite and on PostgreSQL, through the
dispatcher (each press its own transaction and connection) and the Stripe webhook over HTTP.

Each scenario runs several rounds, so a pass is not one lucky interleaving."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from services import clock, invoices, ledger, renewals
from services.invoices import LineSpec
from services.money import Money
from storage.models import Customer, Domain, Invoice, LedgerEntry, Order, Payment
from storage.uow import Database
from tests.fakes.stripe_api import event
from tests.support.chat import Chat
from tests.support.paysite import PaySite, pay_site

ROUNDS = 3
PRESSES = 50
ALICE = 1


async def _set_balance(db: Database, customer_id: int, minor: int, overdraft: int = 0) -> None:
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        customer.overdraft_limit_minor = overdraft
        now = await ledger.balance(uow, customer)
        if minor != now.minor:
            await ledger.post(
                uow, customer, Money(minor - now.minor, now.currency), "adjustment", "test", None
            )
        await uow.commit()


async def _balance(db: Database, customer_id: int) -> int:
    async with db.uow() as uow:
        return int(
            await uow.session.scalar(select(Customer.balance_minor).where(Customer.id == customer_id)) or 0
        )


async def _new_invoice(dispatcher: Dispatcher, net_minor: int) -> Invoice:
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, ALICE)
        assert customer is not None
        inv = await invoices.create(
            uow, customer, [LineSpec("Support hours", net_minor)], dispatcher.seller, None
        )
        await uow.commit()
        return inv


async def _count(db: Database, model: type, *where: object) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _ledger_matches_balances(db: Database) -> None:
    """Every customer's balance is the sum of its ledger and never below its overdraft limit."""
    async with db.uow() as uow:
        sums = dict(
            (
                await uow.session.execute(
                    select(LedgerEntry.customer_id, func.sum(LedgerEntry.amount_minor))
                    .join(Customer, Customer.id == LedgerEntry.customer_id)
                    .where(LedgerEntry.currency == Customer.currency)
                    .group_by(LedgerEntry.customer_id)
                )
            ).all()
        )
        for customer in (await uow.session.scalars(select(Customer))).all():
            assert customer.balance_minor == int(sums.get(customer.id, 0)), customer.name
            assert customer.balance_minor >= -customer.overdraft_limit_minor, customer.name


async def _confirm_keys(chat: Chat, line: str, n: int = PRESSES) -> list[str]:
    """``n`` separate confirmations of the same request, as if asked for again and again."""
    keys = []
    for _ in range(n):
        reply = await chat.say(line)
        key = next(b.key for b in reply.all_buttons() if b.confirm is not None)
        assert key is not None
        keys.append(key)
    return keys


async def _press_all(chat: Chat, keys: list[str]) -> None:
    await asyncio.gather(*(chat.press_key(key) for key in keys))


async def test_fifty_confirmations_of_one_invoice_charge_it_once(dispatcher: Dispatcher, alice: Chat) -> None:
    db = dispatcher.db
    for _ in range(ROUNDS):
        inv = await _new_invoice(dispatcher, 10_000)
        start = inv.total_minor + inv.total_minor // 2  # covers it once, not twice
        await _set_balance(db, ALICE, start)
        await _press_all(alice, await _confirm_keys(alice, f"paybalance {inv.id}"))
        assert await _count(db, Payment, Payment.invoice_id == inv.id) == 1
        assert (
            await _count(db, LedgerEntry, LedgerEntry.invoice_id == inv.id, LedgerEntry.kind == "charge") == 1
        )
        assert await _balance(db, ALICE) == start - inv.total_minor
        await _ledger_matches_balances(db)


async def test_many_invoices_at_once_never_pass_the_overdraft_limit(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    """Ten different invoices confirmed at the same moment: only as many are paid as the balance and
    the overdraft limit allow together."""
    db = dispatcher.db
    for _ in range(ROUNDS):
        bills = [await _new_invoice(dispatcher, 1_000) for _ in range(10)]
        each = bills[0].total_minor
        await _set_balance(db, ALICE, 2 * each, overdraft=each // 2)  # room for two, not three
        keys = [(await _confirm_keys(alice, f"paybalance {inv.id}", 1))[0] for inv in bills]
        await _press_all(alice, keys)
        ids = [inv.id for inv in bills]
        assert await _count(db, Invoice, Invoice.id.in_(ids), Invoice.status == "paid") == 2
        assert await _count(db, LedgerEntry, LedgerEntry.invoice_id.in_(ids)) == 2
        assert await _balance(db, ALICE) == 0
        await _ledger_matches_balances(db)


async def _domain(db: Database) -> Domain:
    """Alice's domain that is not renewed automatically (the first one by id)."""
    async with db.uow() as uow:
        found = await uow.session.scalar(
            select(Domain)
            .where(Domain.customer_id == ALICE, Domain.auto_renew.is_(False))
            .order_by(Domain.id)
        )
        assert found is not None
        return found


async def _renewals_of(db: Database, domain: Domain, status: str) -> int:
    async with db.uow() as uow:
        keys = select(Invoice.renewal_key).where(
            Invoice.renewal_key.like(f"domain:{domain.id}:%"), Invoice.status == status
        )
        return len((await uow.session.scalars(keys)).all())


async def test_fifty_confirmations_of_one_domain_renewal_renew_one_year(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    db = dispatcher.db
    for n in range(ROUNDS):
        before = await _domain(db)
        await _set_balance(db, ALICE, 1_000_000)
        await _press_all(alice, await _confirm_keys(alice, f"renew {before.name}"))
        after = await _domain(db)
        assert after.expires_on == before.expires_on + relativedelta(years=1)
        assert await _renewals_of(db, before, "paid") == n + 1
        assert await _renewals_of(db, before, "unpaid") == 0
        renewing = select(Invoice.id).where(Invoice.renewal_key.like(f"domain:{before.id}:%"))
        assert await _count(db, LedgerEntry, LedgerEntry.invoice_id.in_(renewing)) == n + 1
        await _ledger_matches_balances(db)


async def test_renewal_the_balance_does_not_cover_leaves_one_invoice(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    """Not covered: fifty confirmations leave one unpaid invoice (not fifty); once the balance
    covers it, fifty more pay that same invoice once."""
    db = dispatcher.db
    before = await _domain(db)
    await _set_balance(db, ALICE, 0)
    await _press_all(alice, await _confirm_keys(alice, f"renew {before.name}"))
    assert (await _domain(db)).expires_on == before.expires_on
    assert await _renewals_of(db, before, "unpaid") == 1
    await _set_balance(db, ALICE, 1_000_000)
    await _press_all(alice, await _confirm_keys(alice, f"renew {before.name}"))
    assert (await _domain(db)).expires_on == before.expires_on + relativedelta(years=1)
    assert await _renewals_of(db, before, "unpaid") == 0
    assert await _renewals_of(db, before, "paid") == 1
    await _ledger_matches_balances(db)


async def test_fifty_confirmations_of_extend_create_one_invoice(dispatcher: Dispatcher, alice: Chat) -> None:
    db = dispatcher.db
    async with db.uow() as uow:
        order = await uow.session.scalar(
            select(Order).where(Order.customer_id == ALICE, Order.auto_renew.is_(False)).limit(1)
        )
        assert order is not None
        assert await renewals.pending_invoice(uow, order) is None
    await _press_all(alice, await _confirm_keys(alice, f"extend {order.id}"))
    key = invoices.renewal_key("order_renewal", order.id, order.period_end)
    assert await _count(db, Invoice, Invoice.renewal_key == key) == 1


async def test_auto_renew_by_four_workers_at_once_renews_once(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    for n in range(ROUNDS):
        due = clock.today() - dt.timedelta(days=n)  # a period not renewed before
        async with db.uow() as uow:
            order = await uow.session.scalar(
                select(Order).where(Order.customer_id == ALICE, Order.auto_renew.is_(True)).limit(1)
            )
            assert order is not None
            order.period_end = due
            order_id = order.id
            await uow.commit()
        await _set_balance(db, ALICE, 10_000_000)

        async def worker() -> renewals.RenewalRun:
            async with db.uow() as uow:
                return await renewals.run_due(uow, dispatcher.seller)

        runs = await asyncio.gather(*(worker() for _ in range(4)))
        assert sum(run.renewed.count(order_id) for run in runs) == 1
        async with db.uow() as uow:
            renewed = await uow.session.get(Order, order_id)
            assert renewed is not None and renewed.period_start == due
        key = invoices.renewal_key("order_renewal", order_id, due)
        assert await _count(db, Invoice, Invoice.renewal_key == key, Invoice.status == "paid") == 1
        await _ledger_matches_balances(db)


@pytest.fixture
async def site(dispatcher: Dispatcher) -> AsyncIterator[PaySite]:
    async with pay_site(dispatcher) as running:
        yield running


async def test_card_and_balance_at_once_pay_the_invoice_once(site: PaySite, alice: Chat) -> None:
    """Stripe reports the card payment while the customer confirms paying from the balance: one of
    them pays the invoice; if the card came second, its money is on the balance, not lost."""
    db = site.dispatcher.db
    for n in range(2 * ROUNDS):
        inv = await _new_invoice(site.dispatcher, 5_000)
        start = 2 * inv.total_minor
        await _set_balance(db, ALICE, start)
        key = (await _confirm_keys(alice, f"paybalance {inv.id}", 1))[0]
        card = event(
            "checkout.session.completed", site.stripe.session(inv.id, inv.total_minor, payment_status="paid")
        )
        sends = [alice.press_key(key), site.stripe.send(card)]
        results = await asyncio.gather(*(sends if n % 2 else reversed(sends)))
        webhook = next(r for r in results if isinstance(r, tuple))
        assert webhook[0] == 200 and json.loads(webhook[1])["outcome"] in ("paid", "credited")
        assert (
            await _count(db, LedgerEntry, LedgerEntry.invoice_id == inv.id, LedgerEntry.kind == "charge") == 1
        )
        # Paid by card (balance untouched), or from the balance with the card's money credited back.
        assert await _balance(db, ALICE) == start
        await _ledger_matches_balances(db)


def test_renewal_key_names_item_and_period() -> None:
    assert invoices.renewal_key("domain_renewal", 7, dt.date(2027, 3, 1)) == "domain:7:2027-03-01"


async def test_paying_and_deleting_at_once_do_not_both_happen(dispatcher: Dispatcher, alice: Chat) -> None:
    db = dispatcher.db
    for n in range(2 * ROUNDS):
        inv = await _new_invoice(dispatcher, 2_000)
        start = 3 * inv.total_minor
        await _set_balance(db, ALICE, start)
        pay = (await _confirm_keys(alice, f"paybalance {inv.id}", 1))[0]
        delete = (await _confirm_keys(alice, f"deleteinvoice {inv.id}", 1))[0]
        presses = [pay, delete] if n % 2 else [delete, pay]
        await _press_all(alice, presses)
        async with db.uow() as uow:
            status = (await uow.session.get(Invoice, inv.id) or inv).status
        charged = await _count(db, LedgerEntry, LedgerEntry.invoice_id == inv.id)
        assert (status, charged) in {("paid", 1), ("cancelled", 0)}
        assert await _balance(db, ALICE) == start - charged * inv.total_minor
        await _ledger_matches_balances(db)

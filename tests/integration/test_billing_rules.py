"""Billing rules as services, on SQLite and PostgreSQL, with a controlled clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from services import clock, invoices, ledger, mail, paying, plans, proration, quotes, renewals
from services.audit import Actor
from services.errors import InvalidState, NotFound
from services.money import Money
from storage.models import AuditEntry, BillingNotice, Customer, Invoice, Order, OrderChange, Ticket
from storage.uow import Database

# Demo customer 1: French business (reverse charge, EUR); orders 1 VPS M (auto-renew), 3 Growth,
# 5 Mail Business. Demo customer 4: Dutch consumer (21 % VAT); orders 16 to 20 likewise.
ALICE, JAN = Actor(1), Actor(4)


@contextmanager
def on(day: dt.date, hour: int = 9) -> Iterator[None]:
    with clock.frozen(dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)):
        yield


async def _get(db: Database, model: type, ident: int):  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        row = await uow.session.get(model, ident)
        assert row is not None
        return row


async def _kind_order(db: Database, customer_id: int, kind: str) -> Order:
    async with db.uow() as uow:
        order = await plans.order_of_kind(uow, customer_id, kind)
        assert order is not None
        return order


async def _spend_down_to(db: Database, customer_id: int, left: int) -> None:
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        bal = await ledger.balance(uow, customer)
        await ledger.post(uow, customer, Money(left - bal.minor, bal.currency), "adjustment", "test", None)
        await uow.commit()


async def test_auto_renew_pays_from_balance_when_it_covers_the_invoice(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _get(db, Order, 1)
    end = order.period_end
    with on(end - dt.timedelta(days=1)):
        async with db.uow() as uow:
            assert await renewals.run_due(uow, seller) == renewals.RenewalRun([], [])
    with on(end):
        async with db.uow() as uow:
            assert (await renewals.run_due(uow, seller)).renewed == [1, 6, 11, 16]  # each customer's web-1
        async with db.uow() as uow:
            assert await renewals.run_due(uow, seller) == renewals.RenewalRun([], [])
    renewed = await _get(db, Order, 1)
    assert (renewed.period_start, renewed.period_end) == (end, proration.add_cycle(end, "monthly"))
    assert (await _get(db, Invoice, 3)).status == "paid"  # the open renewal invoice was used, not a new one


async def test_auto_renew_never_pays_part_and_says_what_is_missing(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    await _spend_down_to(db, 1, 1000)
    end = (await _get(db, Order, 1)).period_end
    with on(end):
        async with db.uow() as uow:
            assert (await renewals.run_due(uow, seller)).short == [1]  # the others are covered
    with on(end, hour=9):  # the next pass: the ledger has not moved, the order is not tried again
        async with db.uow() as uow:
            assert await renewals.run_due(uow, seller) == renewals.RenewalRun([], [])
    async with db.uow() as uow:
        notices = (await uow.session.scalars(select(BillingNotice))).all()
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        assert (await ledger.balance(uow, customer)).minor == 1000
    assert len(notices) == 1
    assert notices[0].params["missing_minor"] == 2485 - 1000 and notices[0].params["invoice_id"] == 3
    assert (await _get(db, Order, 1)).period_end == end and (await _get(db, Invoice, 3)).status == "unpaid"
    async with db.uow() as uow:  # a top-up, and the next pass renews
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        await ledger.post(uow, customer, Money(2000, "EUR"), "topup", "", None)
        await uow.commit()
    with on(end, hour=10):
        async with db.uow() as uow:
            assert (await renewals.run_due(uow, seller)).renewed == [1]  # the others were renewed before


async def test_auto_renew_creates_the_renewal_invoice_with_its_breakdown(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 4, "subscription")
    await _spend_down_to(db, 4, 20000)  # covers this renewal and web-1 of the same day
    async with db.uow() as uow:
        row = await uow.session.get(Order, order.id)
        assert row is not None
        row.auto_renew = True
        await uow.commit()
    with on(order.period_end):
        async with db.uow() as uow:
            assert order.id in (await renewals.run_due(uow, seller)).renewed
    async with db.uow() as uow:
        inv = await uow.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert inv is not None and inv.status == "paid"
    # Growth 29.00 + extra storage 3.00 + 2.5 % processing 0.80 = 32.80, plus 21 % Dutch VAT.
    assert [(line.kind, line.amount_minor) for line in inv.lines] == [
        ("platform", 2900),
        ("addon", 300),
        ("processing", 80),
    ]
    assert (inv.subtotal_minor, inv.vat_rate, inv.vat_minor, inv.total_minor) == (
        3280,
        Decimal(21),
        689,
        3969,
    )


async def test_extend_invoices_the_next_period_once(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 1, "subscription")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        first = await renewals.extend(uow, customer, order.id, seller, ALICE)
    async with db.uow() as uow:
        again = await renewals.extend(uow, customer, order.id, seller, ALICE)
    assert first.id == again.id and first.reverse_charge
    assert first.lines[0].period_start == order.period_end
    assert first.lines[0].period_end == proration.add_cycle(order.period_end, "monthly")
    async with db.uow() as uow:
        await paying.mark_paid(uow, await invoices.get(uow, first.id, ALICE), "balance", ALICE)
        await uow.commit()
    assert (await _get(db, Order, order.id)).period_start == order.period_end
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await renewals.extend(uow, customer, 6, seller, ALICE)  # customer 2's order


async def test_upgrade_now_is_prorated_on_real_days_and_invoiced(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 4, "subscription")
    customer = await _get(db, Customer, 4)
    today = order.period_start + dt.timedelta(days=7)
    async with db.uow() as uow:
        options = await plans.options(uow, order)
    enterprise = plans.find(options, "enterprise")
    assert enterprise is not None and plans.find(options, "ENTERPRISE") is enterprise
    with on(today):
        async with db.uow() as uow:
            done = await plans.change(uow, customer, order.id, enterprise.id, "monthly", None, seller, JAN)
    expected = proration.prorate(9900 - 2900, order.period_start, order.period_end, today, order.period_end)
    assert done.preview.upgrade and done.change is None and done.invoice is not None
    assert done.preview.days_left == (order.period_end - today).days
    assert done.invoice.lines[0].amount_minor == expected and done.invoice.vat_rate == Decimal(21)
    changed = await _get(db, Order, order.id)
    assert (changed.plan_id, changed.price_minor) == (enterprise.id, 9900)


async def test_downgrade_takes_effect_at_the_end_of_the_period(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 1, "subscription")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        basic = plans.find(await plans.options(uow, order), "basic")
    assert basic is not None
    async with db.uow() as uow:
        done = await plans.change(uow, customer, order.id, basic.id, "monthly", None, seller, ALICE)
    assert done.invoice is None and done.change is not None
    assert done.preview.effective_on == order.period_end
    with on(order.period_end - dt.timedelta(days=1)):
        async with db.uow() as uow:
            assert await plans.apply_due(uow, seller) == 0
    assert (await _get(db, Order, order.id)).plan_id == order.plan_id
    with on(order.period_end):
        async with db.uow() as uow:
            assert await plans.apply_due(uow, seller) == 1
    after = await _get(db, Order, order.id)
    assert (after.plan_id, after.price_minor) == (basic.id, 0)


async def test_a_change_can_be_scheduled_and_cancelled_before_its_date(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 1, "support")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        options = await plans.options(uow, order)
    premium, priority = plans.find(options, "premium"), plans.find(options, "priority")
    assert premium is not None and priority is not None
    day = order.period_start + dt.timedelta(days=15)
    with on(order.period_start + dt.timedelta(days=11)):
        async with db.uow() as uow:
            done = await plans.change(uow, customer, order.id, premium.id, "monthly", day, seller, ALICE)
        assert done.change is not None and done.change.effective_on == day
        async with db.uow() as uow:
            with pytest.raises(InvalidState):
                await plans.change(uow, customer, order.id, priority.id, "monthly", day, seller, ALICE)
        async with db.uow() as uow:
            with pytest.raises(NotFound):
                await plans.cancel(uow, done.change.id, Actor(2))
        async with db.uow() as uow:
            cancelled = await plans.cancel(uow, done.change.id, ALICE)
        assert cancelled.status == "cancelled"
    with on(day):
        async with db.uow() as uow:
            assert await plans.apply_due(uow, seller) == 0
    # Scheduled again, it applies on its date with a prorated invoice for the rest of the period.
    with on(order.period_start + dt.timedelta(days=12)):
        async with db.uow() as uow:
            await plans.change(uow, customer, order.id, premium.id, "monthly", day, seller, ALICE)
    with on(day):
        async with db.uow() as uow:
            assert await plans.apply_due(uow, seller) == 1
        async with db.uow() as uow:
            row = await uow.session.scalar(select(OrderChange).where(OrderChange.status == "done"))
            assert row is not None and row.invoice_id is not None
            inv = await uow.session.get(Invoice, row.invoice_id)
            assert inv is not None
            assert inv.lines[0].amount_minor == proration.prorate(
                14900, order.period_start, order.period_end, day, order.period_end
            )
    assert (await _get(db, Order, order.id)).plan_id == premium.id


async def test_one_pending_mail_upgrade_at_a_time(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 1, "mail")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        pro = plans.find(await plans.options(uow, order), "pro")
    assert pro is not None
    async with db.uow() as uow:
        first = await mail.upgrade(uow, customer, order.id, pro.id, seller, ALICE)
    async with db.uow() as uow:
        with pytest.raises(mail.PendingUpgrade) as refused:
            await mail.add_mailboxes(uow, customer, order.id, 3, seller, ALICE)
    assert refused.value.params == {"number": first.number}
    assert (await _get(db, Order, order.id)).plan_id == order.plan_id  # not before it is paid
    async with db.uow() as uow:
        await paying.mark_paid(uow, await invoices.get(uow, first.id, ALICE), "balance", ALICE)
        await uow.commit()
    assert (await _get(db, Order, order.id)).plan_id == pro.id
    async with db.uow() as uow:
        boxes = await mail.add_mailboxes(uow, customer, order.id, 3, seller, ALICE)
    assert boxes.lines[0].quantity == 3
    async with db.uow() as uow:
        await paying.mark_paid(uow, await invoices.get(uow, boxes.id, ALICE), "bank", ALICE)
        await uow.commit()
    assert mail.mailboxes(await _get(db, Order, order.id)) == 2 + 3


async def test_deleting_the_pending_invoice_frees_the_upgrade(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 1, "mail")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        first = await mail.add_mailboxes(uow, customer, order.id, 1, seller, ALICE)
    async with db.uow() as uow:
        await invoices.delete(uow, first.id, ALICE)
    async with db.uow() as uow:
        await mail.add_mailboxes(uow, customer, order.id, 1, seller, ALICE)


async def test_mail_downgrade_only_15_to_30_days_before_due(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    order = await _kind_order(db, 1, "mail")
    customer = await _get(db, Customer, 1)
    async with db.uow() as uow:
        starter = plans.find(await plans.options(uow, order), "starter")
    assert starter is not None
    due = order.period_end
    for early_or_late in (due - dt.timedelta(days=31), due - dt.timedelta(days=14)):
        with on(early_or_late):
            async with db.uow() as uow:
                with pytest.raises(InvalidState) as refused:
                    await mail.request_downgrade(uow, customer, order.id, starter.id, "s", "b", ALICE)
        opens = refused.value.params["opens"]
        assert opens == refused.value.params["due"] - dt.timedelta(days=30) and opens > early_or_late
    for inside in (due - dt.timedelta(days=30), due - dt.timedelta(days=15)):
        with on(inside):
            async with db.uow() as uow:
                ticket = await mail.request_downgrade(
                    uow, customer, order.id, starter.id, "Downgrade", "Please", ALICE
                )
        assert ticket.department == "financial" and ticket.order_id == order.id
    async with db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.subject == "Downgrade")
        )
    assert count == 2


async def test_quote_has_its_own_series_and_becomes_an_invoice(dispatcher: Dispatcher) -> None:
    db, seller = dispatcher.db, dispatcher.seller
    order = await _kind_order(db, 4, "subscription")
    customer = await _get(db, Customer, 4)
    async with db.uow() as uow:
        quote = await quotes.for_extension(uow, customer, order.id, seller, JAN)
    assert (
        quote.kind == "quote" and quote.number.startswith("Q") and quote.seq == 1 and quote.status == "draft"
    )
    async with db.uow() as uow:
        inv = await quotes.convert(uow, customer, quote.id, seller, JAN)
    assert inv.kind == "invoice" and inv.total_minor == quote.total_minor
    assert [(li.description, li.amount_minor, li.effect) for li in inv.lines] == [
        (li.description, li.amount_minor, li.effect) for li in quote.lines
    ]
    async with db.uow() as uow:
        with pytest.raises(InvalidState):
            await quotes.convert(uow, customer, quote.id, seller, JAN)
        again = await quotes.for_extension(uow, customer, order.id, seller, JAN)
    async with db.uow() as uow:
        with pytest.raises(InvalidState):  # the period is already invoiced
            await quotes.convert(uow, customer, again.id, seller, JAN)
    async with db.uow() as uow:
        enterprise = plans.find(await plans.options(uow, order), "enterprise")
        assert enterprise is not None
        up = await quotes.for_upgrade(uow, customer, order.id, enterprise.id, "monthly", seller, JAN)
    async with db.uow() as uow:
        paid = await quotes.convert(uow, customer, up.id, seller, JAN)
    async with db.uow() as uow:
        await paying.mark_paid(uow, await invoices.get(uow, paid.id, JAN), "bank", JAN)
        await uow.commit()
    assert (await _get(db, Order, order.id)).plan_id == enterprise.id


async def test_delete_only_unpaid_without_payment_and_audited(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    async with db.uow() as uow:
        with pytest.raises(InvalidState):
            await invoices.delete(uow, 2, ALICE)  # paid
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await invoices.delete(uow, 6, ALICE)  # customer 2's
    async with db.uow() as uow:
        gone = await invoices.delete(uow, 3, ALICE)
    assert gone.status == "cancelled"
    async with db.uow() as uow:
        actions = (
            await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.customer_id == 1))
        ).all()
        with pytest.raises(InvalidState):
            await invoices.delete(uow, 3, ALICE)
    assert "invoice.delete" in actions and "access" in actions

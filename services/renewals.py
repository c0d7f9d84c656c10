"""Renewal of orders: the invoice for the next period, and auto-renew from the balance.

Auto-renew at the end of a period pays from the balance only when the balance covers the whole
invoice — never a part of it. Otherwise a billing notice records what is missing, once per period,
for the alerts sender; the job tries again on its next pass (a top-up in between is enough).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import audit, breakdown, clock, invoices, ledger, renewal_costs
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.models import BillingNotice, Customer, Invoice, InvoiceLine, Order
from storage.uow import UnitOfWork


async def pending_invoice(uow: UnitOfWork, order: Order) -> Invoice | None:
    """The unpaid invoice that already renews the order for its next period, if any."""
    return await uow.session.scalar(
        select(Invoice)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.customer_id == order.customer_id,
            Invoice.kind == "invoice",
            Invoice.status == "unpaid",
            InvoiceLine.effect == "order_renewal",
            InvoiceLine.ref_id == order.id,
            InvoiceLine.period_start == order.period_end,
        )
        .limit(1)
    )


@dataclass(frozen=True)
class RenewalPreview:
    order: Order
    start: dt.date
    end: dt.date
    lines: list[LineSpec]
    totals: Totals
    balance: Money
    existing: Invoice | None


async def preview(uow: UnitOfWork, customer: Customer, order: Order, seller: Seller) -> RenewalPreview:
    if order.status == "cancelled":
        raise InvalidState(N_("Order #{id} is cancelled and cannot be extended."), id=order.id)
    start, end = renewal_costs.order_period(order)
    lines = renewal_costs.order_lines(order)
    return RenewalPreview(
        order,
        start,
        end,
        lines,
        breakdown.totals(customer, lines, seller, start),
        await ledger.balance(uow, customer),
        await pending_invoice(uow, order),
    )


async def extend(uow: UnitOfWork, customer: Customer, order_id: int, seller: Seller, actor: Actor) -> Invoice:
    """The invoice for the order's next period; the one already open when there is one."""
    order = await owned(uow, Order, order_id, actor)
    existing = await pending_invoice(uow, order)
    if existing is not None:
        return existing
    invoice = await _create(uow, customer, order, seller, actor)
    await uow.commit()
    return invoice


async def _create(
    uow: UnitOfWork, customer: Customer, order: Order, seller: Seller, actor: Actor | None
) -> Invoice:
    start, _end = renewal_costs.order_period(order)
    invoice = await invoices.create(
        uow, customer, renewal_costs.order_lines(order), seller, actor, order_id=order.id, supply_date=start
    )
    audit.record(uow, "order.extend", actor, f"order:{order.id}", invoice=invoice.id)
    return invoice


async def set_auto_renew(uow: UnitOfWork, order_id: int, on: bool, actor: Actor) -> Order:
    order = await owned(uow, Order, order_id, actor)
    order.auto_renew = on
    audit.record(uow, "order.auto_renew", actor, f"order:{order.id}", on=on)
    await uow.commit()
    return order


@dataclass
class RenewalRun:
    renewed: list[int]
    short: list[int]


async def run_due(uow: UnitOfWork, seller: Seller) -> RenewalRun:
    """The worker's job: renew every auto-renew order whose period has ended, from the balance.

    Each order is handled in its own transaction, its row locked (SKIP LOCKED on PostgreSQL) so
    that several workers never renew the same order twice.
    """
    run = RenewalRun([], [])
    today = clock.today()
    query = (
        select(Order)
        .where(Order.auto_renew.is_(True), Order.status == "active", Order.period_end <= today)
        .order_by(Order.id)
        .limit(1)
    )
    last_id = 0
    while True:
        order = await uow.session.scalar(
            query.where(Order.id > last_id).with_for_update(skip_locked=True, of=Order)
        )
        if order is None:
            return run
        last_id = order.id
        customer = await uow.session.get(Customer, order.customer_id)
        assert customer is not None
        invoice = await pending_invoice(uow, order) or await _create(uow, customer, order, seller, None)
        balance = await ledger.balance(uow, customer)
        if balance.minor >= invoice.total_minor:
            await invoices.mark_paid(uow, invoice, "balance", None)
            audit.record(uow, "order.auto_renewed", None, f"order:{order.id}", invoice=invoice.id)
            run.renewed.append(order.id)
        else:
            await notify_shortfall(uow, customer, order, invoice, balance)
            run.short.append(order.id)
        await uow.commit()


async def notify_shortfall(
    uow: UnitOfWork, customer: Customer, order: Order, invoice: Invoice, balance: Money
) -> None:
    """Record, once per period, that the balance misses ``total - balance`` to renew the order."""
    missing = invoice.total_minor - balance.minor
    values = {
        "customer_id": customer.id,
        "kind": "renewal_shortfall",
        "key": f"renewal-shortfall:{order.id}:{order.period_end.isoformat()}",
        "params": {
            "order_id": order.id,
            "invoice_id": invoice.id,
            "currency": invoice.currency,
            "total_minor": invoice.total_minor,
            "balance_minor": balance.minor,
            "missing_minor": missing,
        },
        "created_at": clock.now(),
    }
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    result = await uow.session.execute(insert(BillingNotice).values(**values).on_conflict_do_nothing())
    if result.rowcount:  # type: ignore[attr-defined]
        audit.record(
            uow, "order.renewal_short", None, f"order:{order.id}", invoice=invoice.id, missing=missing
        )


async def notice_delivered(uow: UnitOfWork, notice_id: int) -> None:
    """The customer was told (an alert carrying the notice was sent): the notice is settled."""
    notice = await uow.session.get(BillingNotice, notice_id)
    if notice is not None and notice.delivered_at is None:
        notice.delivered_at = clock.now()
    await uow.commit()

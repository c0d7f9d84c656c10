"""Renewal of orders: the invoice for the next period, and auto-renew from the balance.

Auto-renew at the end of a period pays from the balance only when the balance covers the whole
invoice — never a part of it. Otherwise a billing notice records what is missing, once per period,
for the alerts sender; the job tries again on its next pass (a top-up in between is enough).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Row, Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import audit, breakdown, clock, domains, invoices, ledger, paying, renewal_costs
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.models import BillingNotice, Customer, Domain, Invoice, Order
from storage.uow import UnitOfWork


async def pending_invoice(uow: UnitOfWork, order: Order) -> Invoice | None:
    """The unpaid invoice that already renews the order for its next period, if any."""
    found = await invoices.renewal(uow, "order_renewal", order.id, order.period_end)
    return found if found is not None and found.status == "unpaid" else None


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
    _extendable(order)
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


def _extendable(order: Order) -> None:
    if order.status == "cancelled":
        raise InvalidState(N_("Order #{id} is cancelled and cannot be extended."), id=order.id)
    if order.status == "terminated":
        raise InvalidState(N_("Order #{id} was terminated and cannot be extended."), id=order.id)


async def extend(
    uow: UnitOfWork,
    customer: Customer,
    order_id: int,
    seller: Seller,
    actor: Actor,
    start: dt.date | None = None,
) -> Invoice:
    """The invoice for the order's next period; the one already open when there is one.

    ``start`` is the period the customer was shown: when the order has moved on since (another
    renewal was paid meanwhile), nothing is created. The customer's row is locked first, so
    concurrent requests find the one invoice the first of them created."""
    await owned(uow, Order, order_id, actor)
    await ledger.lock(uow, customer.id)
    order = await _fresh(uow, order_id)
    _extendable(order)
    if start is not None and order.period_end != start:
        raise InvalidState(N_("Order #{id} was already extended."), id=order.id)
    existing = await pending_invoice(uow, order)
    if existing is not None:
        return existing
    invoice = await _create(uow, customer, order, seller, actor)
    await uow.commit()
    return invoice


async def _fresh(uow: UnitOfWork, order_id: int) -> Order:
    """The order as the database has it now (read after the lock, not from the session's cache)."""
    order = await uow.session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None
    return order


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
    """Order ids renewed and short of balance; the same for domains."""

    renewed: list[int]
    short: list[int]
    domains_renewed: list[int] = field(default_factory=list)
    domains_short: list[int] = field(default_factory=list)


async def run_due(uow: UnitOfWork, seller: Seller) -> RenewalRun:
    """The worker's job: renew every auto-renew order whose period has ended, and every auto-renew
    domain that expires today or earlier, from the balance (the whole amount or nothing).

    Each item is handled in its own transaction with its customer's row locked and the item read
    again under the lock, so several workers never renew one twice; the debit itself only passes
    while the balance covers the whole invoice. What the balance does not cover is recorded once
    per period for the alerts (``notify_shortfall``) and tried again on the next pass.
    """
    run = RenewalRun([], [])
    today = clock.today()
    # A suspended order is renewed too: paying its renewal brings it back (``service_lifecycle``).
    renewable = ("active", "suspended")
    due = (Order.auto_renew.is_(True), Order.status.in_(renewable), Order.period_end <= today)
    last_id = 0
    while found := await _next(uow, select(Order.id, Order.customer_id).where(*due, Order.id > last_id)):
        last_id = found.id
        await ledger.lock(uow, found.customer_id)
        order = await _fresh(uow, found.id)
        customer = await uow.session.get(Customer, order.customer_id)
        if (
            customer is not None
            and order.auto_renew
            and order.status in renewable
            and order.period_end <= today
        ):
            invoice = await pending_invoice(uow, order) or await _create(uow, customer, order, seller, None)
            if await paying.from_balance_if_covered(uow, customer, invoice, None):
                audit.record(uow, "order.auto_renewed", None, f"order:{order.id}", invoice=invoice.id)
                run.renewed.append(order.id)
            else:
                await notify_shortfall(uow, customer, "order", order.id, order.period_end, invoice)
                run.short.append(order.id)
        await uow.commit()  # also when another worker renewed it meanwhile: the lock is released
    await _run_due_domains(uow, seller, today, run)
    return run


async def _next(uow: UnitOfWork, query: Select[int, int]) -> Row[int, int] | None:
    """The first (id, customer id) of a due item after the last one handled."""
    return (await uow.session.execute(query.order_by(query.selected_columns[0]).limit(1))).first()


async def _run_due_domains(uow: UnitOfWork, seller: Seller, today: dt.date, run: RenewalRun) -> None:
    due = (Domain.auto_renew.is_(True), Domain.expires_on <= today)
    last_id = 0
    while found := await _next(uow, select(Domain.id, Domain.customer_id).where(*due, Domain.id > last_id)):
        last_id = found.id
        await ledger.lock(uow, found.customer_id)
        domain = await uow.session.scalar(
            select(Domain).where(Domain.id == found.id).execution_options(populate_existing=True)
        )
        customer = await uow.session.get(Customer, found.customer_id)
        if domain is not None and customer is not None and domain.auto_renew and domain.expires_on <= today:
            start = domain.expires_on
            invoice = await domains.renewal_invoice(uow, customer, domain, seller, None)
            if await paying.from_balance_if_covered(uow, customer, invoice, None):
                audit.record(uow, "domain.auto_renewed", None, f"domain:{domain.id}", invoice=invoice.id)
                run.domains_renewed.append(domain.id)
            else:
                await notify_shortfall(uow, customer, "domain", domain.id, start, invoice)
                run.domains_short.append(domain.id)
        await uow.commit()


async def notify_shortfall(
    uow: UnitOfWork, customer: Customer, item: str, ref_id: int, start: dt.date, invoice: Invoice
) -> None:
    """Record, once per item and period, that the balance misses ``total - balance`` to renew an
    order or a domain (``item``) whose period starts on ``start``."""
    balance = await ledger.balance(uow, customer)
    missing = invoice.total_minor - balance.minor
    # Orders keep the key they always had, so that notices already recorded still count.
    key = f"renewal-shortfall:{ref_id}" if item == "order" else f"renewal-shortfall:{item}:{ref_id}"
    values = {
        "customer_id": customer.id,
        "kind": "renewal_shortfall",
        "key": f"{key}:{start.isoformat()}",
        "params": {
            "item": item,
            "ref_id": ref_id,
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
            uow, f"{item}.renewal_short", None, f"{item}:{ref_id}", invoice=invoice.id, missing=missing
        )


async def notice_delivered(uow: UnitOfWork, notice_id: int) -> None:
    """The customer was told (an alert carrying the notice was sent): the notice is settled."""
    notice = await uow.session.get(BillingNotice, notice_id)
    if notice is not None and notice.delivered_at is None:
        notice.delivered_at = clock.now()
    await uow.commit()

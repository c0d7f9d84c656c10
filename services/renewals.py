"""Renewal of orders: the invoice for the next period, and auto-renew from the balance.

Auto-renew at the end of a period pays from the balance only when the balance covers the whole
invoice — never a part of it. Otherwise a billing notice records what is missing, once per period,
for the alerts sender; the job tries again once the customer's ledger has moved (a top-up is enough).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import audit, breakdown, clock, domains, invoices, ledger, paying, renewal_costs
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.models import BillingNotice, Customer, Domain, Invoice, LedgerEntry, Order
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


BATCH = 500  # due items selected per statement of the renewal pass


async def run_due(uow: UnitOfWork, seller: Seller, batch: int = BATCH) -> RenewalRun:
    """The worker's job: renew every auto-renew order whose period has ended, and every auto-renew
    domain that expires today or earlier, from the balance (the whole amount or nothing).

    The due items are selected a batch at a time (keyset by id, one statement per batch); an item
    whose renewal the balance did not cover is selected again only once the customer's ledger has
    moved since (``renewal_short_mark``), so a pass does not redo every uncovered renewal. A batch is
    one transaction: the rows of all its customers are locked first, in id order (``_lock_batch``),
    so passes racing on one batch wait for each other instead of deadlocking, and each item is read
    again under the lock, so several workers never renew one twice; the debit itself only passes
    while the balance covers the whole invoice. A customer's items are handled in id order, so what
    the balance covers is decided the same way whatever the batch size. What the balance does not
    cover is recorded once per period for the alerts (``notify_shortfall``).
    """
    run = RenewalRun([], [])
    today = clock.today()
    # A suspended order is renewed too: paying its renewal brings it back (``service_lifecycle``).
    due = (Order.auto_renew.is_(True), Order.status.in_(RENEWABLE), Order.period_end <= today)
    after = 0
    while found := await _due(uow, Order, due, after, batch):
        customers = await _lock_batch(uow, found)
        orders = await _read_batch(uow, Order, found)
        for order_id, customer_id in found:
            await _renew_order(uow, seller, today, orders.get(order_id), customers.get(customer_id), run)
        await uow.commit()  # also when another worker renewed them meanwhile: the locks are released
        after = found[-1][0]
    domain_due = (Domain.auto_renew.is_(True), Domain.expires_on <= today)
    after = 0
    while found := await _due(uow, Domain, domain_due, after, batch):
        customers = await _lock_batch(uow, found)
        domains = await _read_batch(uow, Domain, found)
        for domain_id, customer_id in found:
            await _renew_domain(uow, seller, today, domains.get(domain_id), customers.get(customer_id), run)
        await uow.commit()
        after = found[-1][0]
    return run


_Item = TypeVar("_Item", Order, Domain)


async def _lock_batch(uow: UnitOfWork, found: list[tuple[int, int]]) -> dict[int, Customer]:
    """Hold the rows of every customer of a batch until it commits (``ledger.lock`` for many), taken
    in customer id order by one statement, as every holder of several customers' rows must; the
    customers as they are under the lock, by id."""
    ids = sorted({customer_id for _item, customer_id in found})
    query = select(Customer).where(Customer.id.in_(ids)).execution_options(populate_existing=True)
    if uow.dialect == "postgresql":
        query = query.order_by(Customer.id).with_for_update(of=Customer)
    else:  # SQLite: the first write takes the database's one write lock
        await ledger.lock(uow, ids[0])
    return {customer.id: customer for customer in await uow.session.scalars(query)}


async def _read_batch(uow: UnitOfWork, item: type[_Item], found: list[tuple[int, int]]) -> dict[int, _Item]:
    """The batch's orders or domains as the database has them under their customers' locks (not
    from the session's cache), by id, in one statement (an order's add-ons in one more)."""
    rows = await uow.session.scalars(
        select(item)
        .where(item.id.in_([item_id for item_id, _customer in found]))
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


RENEWABLE = ("active", "suspended")


async def _due(
    uow: UnitOfWork, item: type[Order] | type[Domain], due: tuple[Any, ...], after: int, limit: int
) -> list[tuple[int, int]]:
    """(id, customer id) of the next ``limit`` due items after ``after``, leaving out those whose
    renewal the balance did not cover while the customer's ledger has not moved since."""
    moved = exists().where(
        LedgerEntry.customer_id == item.customer_id, LedgerEntry.id > item.renewal_short_mark
    )
    rows = await uow.session.execute(
        select(item.id, item.customer_id)
        .where(*due, item.id > after, item.renewal_short_mark.is_(None) | moved)
        .order_by(item.id)
        .limit(limit)
    )
    return [(int(i), int(c)) for i, c in rows]


async def _ledger_mark(uow: UnitOfWork, customer_id: int) -> int:
    """The customer's last ledger entry id (0: none), read under the customer's lock."""
    mark = await uow.session.scalar(
        select(func.max(LedgerEntry.id)).where(LedgerEntry.customer_id == customer_id)
    )
    return int(mark or 0)


async def _renew_order(
    uow: UnitOfWork,
    seller: Seller,
    today: dt.date,
    order: Order | None,
    customer: Customer | None,
    run: RenewalRun,
) -> None:
    """``order`` and ``customer`` as read under the lock of the customer the order was selected with."""
    if (
        order is None
        or customer is None
        or order.customer_id != customer.id
        or not order.auto_renew
        or order.status not in RENEWABLE
        or order.period_end > today
    ):
        return
    invoice = await pending_invoice(uow, order) or await _create(uow, customer, order, seller, None)
    if await paying.from_balance_if_covered(uow, customer, invoice, None):
        audit.record(uow, "order.auto_renewed", None, f"order:{order.id}", invoice=invoice.id)
        order.renewal_short_mark = None
        run.renewed.append(order.id)
    else:
        await notify_shortfall(uow, customer, "order", order.id, order.period_end, invoice)
        order.renewal_short_mark = await _ledger_mark(uow, customer.id)
        run.short.append(order.id)


async def _renew_domain(
    uow: UnitOfWork,
    seller: Seller,
    today: dt.date,
    domain: Domain | None,
    customer: Customer | None,
    run: RenewalRun,
) -> None:
    """``domain`` and ``customer`` as read under the lock of the customer the domain was selected with."""
    if (
        domain is None
        or customer is None
        or domain.customer_id != customer.id
        or not domain.auto_renew
        or domain.expires_on > today
    ):
        return
    start = domain.expires_on
    invoice = await domains.renewal_invoice(uow, customer, domain, seller, None)
    if await paying.from_balance_if_covered(uow, customer, invoice, None):
        audit.record(uow, "domain.auto_renewed", None, f"domain:{domain.id}", invoice=invoice.id)
        domain.renewal_short_mark = None
        run.domains_renewed.append(domain.id)
    else:
        await notify_shortfall(uow, customer, "domain", domain.id, start, invoice)
        domain.renewal_short_mark = await _ledger_mark(uow, customer.id)
        run.domains_short.append(domain.id)


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

"""Renewal of orders: the invoice for the next period, and auto-renew from the balance.

Auto-renew at the end of a period pays from the balance only when the balance covers the whole
invoice — never a part of it. Otherwise a billing notice records what is missing, once per period,
for the alerts sender; the job tries again once the customer's ledger has moved (a top-up is enough).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Integer, exists, func, select, update

from services import audit, breakdown, clock, garbage, invoices, ledger, paying, renewal_costs
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.models import BillingNotice, Customer, Domain, Invoice, LedgerEntry, Order
from storage.sets import among, insert_rows, rows_table
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


# Due items selected per statement of the renewal pass, each batch one transaction. 2,000 rather
# than 500: a quarter of the statements and commits per pass and a quarter less CPU at 1 M
# customers, for at most 2,000 customers' rows held for the batch's second or less and about 30 MB
# of the batch's rows in memory (whatever the number of customers).
BATCH = 2000


async def run_due(uow: UnitOfWork, seller: Seller, batch: int = BATCH) -> RenewalRun:
    """The worker's job: renew every auto-renew order whose period has ended, and every auto-renew
    domain that expires today or earlier, from the balance (the whole amount or nothing).

    The due items are selected a batch at a time (keyset by id, one statement per batch); an item
    whose renewal the balance did not cover is selected again only once the customer's ledger has
    moved since (``renewal_short_mark``), so a pass does not redo every uncovered renewal. A batch is
    one transaction: the rows of all its customers are locked first, in id order (``_lock_batch``),
    so passes racing on one batch wait for each other instead of deadlocking, and each item is read
    again under the lock, so several workers never renew one twice. The batch is then decided in
    memory and written with a few statements for all its items (``_renew_batch``).
    """
    run = RenewalRun([], [])
    today = clock.today()
    # A suspended order is renewed too: paying its renewal brings it back (``service_lifecycle``).
    due = (Order.auto_renew.is_(True), Order.status.in_(RENEWABLE), Order.period_end <= today)
    domain_due = (Domain.auto_renew.is_(True), Domain.expires_on <= today)
    with garbage.per_batch() as collect:
        after = 0
        while found := await _due(uow, Order, due, after, batch):
            await _batch(uow, seller, Order, found, _order_due, today, run.renewed, run.short)
            collect()
            after = found[-1][0]
        after = 0
        while found := await _due(uow, Domain, domain_due, after, batch):
            await _batch(
                uow, seller, Domain, found, _domain_due, today, run.domains_renewed, run.domains_short
            )
            collect()
            after = found[-1][0]
    return run


async def _batch(
    uow: UnitOfWork,
    seller: Seller,
    model: type[_Item],
    found: list[tuple[int, int]],
    still_due: Callable[[_Item | None, Customer | None, dt.date], _Due | None],
    today: dt.date,
    renewed: list[int],
    short: list[int],
) -> None:
    """One batch (``found``: item and customer ids), in one transaction: its customers locked, its
    items read again under the locks, those ``still_due`` renewed, committed. (A function of its
    own, so that the batch's objects are released before the garbage is collected.)"""
    customers = await _lock_batch(uow, found)
    items = await _read_batch(uow, model, found)
    dues = [still_due(items.get(i), customers.get(c), today) for i, c in found]
    await _renew_batch(uow, seller, model, [d for d in dues if d is not None], renewed, short)
    await uow.commit()  # also when another worker renewed them meanwhile: the locks are released


_Item = TypeVar("_Item", Order, Domain)


async def _lock_batch(uow: UnitOfWork, found: list[tuple[int, int]]) -> dict[int, Customer]:
    """Hold the rows of every customer of a batch until it commits (``ledger.lock`` for many), taken
    in customer id order by one statement, as every holder of several customers' rows must; the
    customers as they are under the lock, by id."""
    ids = sorted({customer_id for _item, customer_id in found})
    query = (
        select(Customer).where(among(uow.dialect, Customer.id, ids)).execution_options(populate_existing=True)
    )
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
        .where(among(uow.dialect, item.id, [item_id for item_id, _customer in found]))
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


@dataclass(frozen=True)
class _Due:
    """An order or domain (``item``) still due once read under its customer's lock: the renewal
    invoice it needs, for the period starting on ``start``."""

    item: str
    id: int
    customer: Customer
    start: dt.date
    lines: list[LineSpec]
    order_id: int | None = None

    @property
    def key(self) -> str:
        return invoices.renewal_key(renewal_costs.EFFECTS[self.item], self.id, self.start)


def _order_due(order: Order | None, customer: Customer | None, today: dt.date) -> _Due | None:
    """The order's renewal, if it is still due and still the customer's it was selected with."""
    if (
        order is None
        or customer is None
        or order.customer_id != customer.id
        or not order.auto_renew
        or order.status not in RENEWABLE
        or order.period_end > today
    ):
        return None
    start, _end = renewal_costs.order_period(order)
    return _Due("order", order.id, customer, start, renewal_costs.order_lines(order), order.id)


def _domain_due(domain: Domain | None, customer: Customer | None, today: dt.date) -> _Due | None:
    """The domain's renewal, if it is still due and still the customer's it was selected with."""
    if (
        domain is None
        or customer is None
        or domain.customer_id != customer.id
        or not domain.auto_renew
        or domain.expires_on > today
    ):
        return None
    start, _end = renewal_costs.domain_period(domain)
    return _Due("domain", domain.id, customer, start, renewal_costs.domain_lines(domain))


@dataclass(frozen=True)
class _Bill:
    """The live invoice renewing an item, as the pass needs it (no ORM object)."""

    id: int
    number: str
    status: str
    total_minor: int
    currency: str


@dataclass(frozen=True)
class _Outcome:
    """What the pass decided for one item: its bill paid from the balance, or not (``balance``: what
    the balance was when the item's turn came)."""

    due: _Due
    bill: _Bill
    covered: bool
    balance: int


async def _renew_batch(
    uow: UnitOfWork,
    seller: Seller,
    model: type[Order] | type[Domain],
    items: list[_Due],
    renewed: list[int],
    short: list[int],
) -> None:
    """Renew a batch's due items (in id order, their customers' rows held) with a few statements
    for all: the invoices not yet there, numbered from one range; then the decisions, taken in
    memory on the balances read under the locks; then the payments, the notices and the marks.
    Appends the ids renewed to ``renewed`` and those the balance did not cover to ``short``."""
    if not items:
        return
    outcomes = _decide(items, await _bills(uow, seller, items))
    last = await _last_entries(uow, [o.due.customer.id for o in outcomes if not o.covered])
    paid = [o for o in outcomes if o.covered]
    entries = await paying.from_balances(
        uow,
        [
            paying.Bill(o.due.customer, o.bill.id, o.bill.number, o.bill.total_minor, o.bill.currency)
            for o in paid
        ],
    )
    await audit.record_system(
        uow,
        f"{items[0].item}.auto_renewed",
        [(f"{o.due.item}:{o.due.id}", {"invoice": o.bill.id}) for o in paid],
    )
    await _notify_shortfalls(uow, [o for o in outcomes if not o.covered])
    await _set_marks(uow, model, _marks(outcomes, entries, last))
    renewed += [o.due.id for o in paid]
    short += [o.due.id for o in outcomes if not o.covered]


async def _bills(uow: UnitOfWork, seller: Seller, items: list[_Due]) -> dict[str, _Bill]:
    """The invoice renewing each item, by renewal key: the live one there is, else a new one (all
    the new ones written at once, numbered in the items' order as one at a time would)."""
    bills = await _live_bills(uow, [i.key for i in items])
    new = [i for i in items if i.key not in bills]
    issued = await invoices.create_many(
        uow, [invoices.Draft(i.customer, i.lines, i.start, i.order_id) for i in new], seller
    )
    return bills | {
        i.key: _Bill(b.id, b.number, "unpaid", b.total_minor, b.currency)
        for i, b in zip(new, issued, strict=True)
    }


async def _live_bills(uow: UnitOfWork, keys: list[str]) -> dict[str, _Bill]:
    """The live (unpaid or paid) invoices that already renew these items, by renewal key."""
    rows = await uow.session.execute(
        select(
            Invoice.renewal_key,
            Invoice.id,
            Invoice.number,
            Invoice.status,
            Invoice.total_minor,
            Invoice.currency,
        ).where(among(uow.dialect, Invoice.renewal_key, keys), Invoice.status != "cancelled")
    )
    return {key: _Bill(i, number, status, total, cur) for key, i, number, status, total, cur in rows if key}


def _decide(items: list[_Due], bills: dict[str, _Bill]) -> list[_Outcome]:
    """Whether the balance covers each item's whole invoice, a customer's items in id order, each
    paid one taken off the balance before the next is decided (the balances are those read under
    the locks). An invoice already paid is not paid again."""
    balances = {i.customer.id: i.customer.balance_minor for i in items}
    outcomes = []
    for item in items:
        bill, left = bills[item.key], balances[item.customer.id]
        covered = bill.status == "unpaid" and left >= bill.total_minor
        if covered:
            balances[item.customer.id] = left - bill.total_minor
        outcomes.append(_Outcome(item, bill, covered, left))
    return outcomes


async def _last_entries(uow: UnitOfWork, customer_ids: list[int]) -> dict[int, int]:
    """Each customer's last ledger entry id before the batch's debits, by customer id (none: absent)."""
    if not customer_ids:
        return {}
    rows = await uow.session.execute(
        select(LedgerEntry.customer_id, func.max(LedgerEntry.id))
        .where(among(uow.dialect, LedgerEntry.customer_id, set(customer_ids)))
        .group_by(LedgerEntry.customer_id)
    )
    return {int(c): int(m) for c, m in rows}


def _marks(outcomes: list[_Outcome], entries: list[int], last: dict[int, int]) -> dict[int, int | None]:
    """``renewal_short_mark`` of each item, by id: none once renewed; else the customer's last ledger
    entry id when its turn came (the batch's earlier debits included), so that the item waits until
    the ledger moves past what its decision saw. ``entries``: the debits' ids, in the paid items' order."""
    debits = iter(entries)
    marks: dict[int, int | None] = {}
    for o in outcomes:
        if o.covered:
            last[o.due.customer.id] = next(debits)
            marks[o.due.id] = None
        else:
            marks[o.due.id] = last.get(o.due.customer.id, 0)
    return marks


async def _set_marks(
    uow: UnitOfWork, model: type[Order] | type[Domain], marks: dict[int, int | None]
) -> None:
    """Write the items' ``renewal_short_mark`` in one statement, the marks joined as a table
    (``storage.sets.rows_table``: the same statement for every batch)."""
    given = rows_table(uow.dialect, "marks", {"id": Integer(), "mark": BigInteger()}, list(marks.items()))
    await uow.session.execute(
        update(model)
        .where(model.id == given.c.id)
        .values(renewal_short_mark=given.c.mark)
        .execution_options(synchronize_session=False)
    )


async def _notify_shortfalls(uow: UnitOfWork, outcomes: list[_Outcome]) -> None:
    """Record, once per item and period, what the balance missed to renew each of these items (its
    invoice's total minus the balance when its turn came), in one statement; audit the new ones."""
    if not outcomes:
        return
    now = clock.now()
    notices = {shortfall_key(o.due.item, o.due.id, o.due.start): o for o in outcomes}
    added = await insert_rows(
        uow,
        BillingNotice,
        [
            {
                "customer_id": o.due.customer.id,
                "kind": "renewal_shortfall",
                "key": key,
                "params": _shortfall(o),
                "created_at": now,
            }
            for key, o in notices.items()
        ],
        returning=[BillingNotice.key],
        skip_conflicts=True,
    )
    told = [notices[key] for _id, key in added]
    for item in ("order", "domain"):
        await audit.record_system(
            uow,
            f"{item}.renewal_short",
            [
                (f"{item}:{o.due.id}", {"invoice": o.bill.id, "missing": o.bill.total_minor - o.balance})
                for o in told
                if o.due.item == item
            ],
        )


def shortfall_key(item: str, ref_id: int, start: dt.date) -> str:
    """The notice's key: once per item (``order`` or ``domain``) and period."""
    # Orders keep the key they always had, so that notices already recorded still count.
    key = f"renewal-shortfall:{ref_id}" if item == "order" else f"renewal-shortfall:{item}:{ref_id}"
    return f"{key}:{start.isoformat()}"


def _shortfall(o: _Outcome) -> dict[str, Any]:
    """What the notice tells the alerts: the invoice, its total, the balance and what is missing."""
    return {
        "item": o.due.item,
        "ref_id": o.due.id,
        "invoice_id": o.bill.id,
        "currency": o.bill.currency,
        "total_minor": o.bill.total_minor,
        "balance_minor": o.balance,
        "missing_minor": o.bill.total_minor - o.balance,
    }


async def notice_delivered(uow: UnitOfWork, notice_id: int) -> None:
    """The customer was told (an alert carrying the notice was sent): the notice is settled."""
    notice = await uow.session.get(BillingNotice, notice_id)
    if notice is not None and notice.delivered_at is None:
        notice.delivered_at = clock.now()
    await uow.commit()

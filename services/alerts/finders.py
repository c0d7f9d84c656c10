"""The scan: what needs telling, written to the outbox in the transaction that read it.

Each rule turns today's facts into at most one key per thing and step, e.g.
``renew:order:7:2026-12-01:14`` for the 14-days rung of order 7's period ending on that date.
The key is inserted only if absent, so running the scan twice a day, after a restart, or from two
workers at once adds nothing. After downtime a ladder catches up with its latest rung only: a
worker that was down from 30 to 5 days before expiry sends the 7-day reminder, not three at once.
Only customers with a linked or a shared chat are scanned: whoever links later hears the current
step. A kind a person turned off in their own chat is still found while a shared chat of the
account takes it (``alerts here``): it then goes there only.

The scan is set-based: customers are taken in keyset-paginated batches (one transaction each, so
memory stays flat whatever the number of customers), and each rule reads the whole batch with one
query that returns only the rows that can become an alert (an order inside the ladder's window, an
overdue invoice, an unread reply ...); the few customers with such rows are then judged in Python
with the rules' own functions, and the new alerts are written with one insert per batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import QueryableAttribute

from services import alert_prefs, breakdown, clock, renewal_costs
from services.alerts import facts, outbox
from services.invoices import Seller
from services.money import Money
from storage.models import (
    Addon,
    AlertSettings,
    BillingNotice,
    ChannelBinding,
    ChatIdentity,
    Customer,
    Domain,
    Invoice,
    LedgerEntry,
    MeteredResource,
    Order,
    OrderAddon,
    Plan,
    Ticket,
    TicketMessage,
)
from storage.sets import among
from storage.uow import Database, UnitOfWork

log = logging.getLogger("hostbot.alerts")

BATCH = 10_000  # customers per transaction of the scan


class AlertRules(Protocol):
    """The settings the rules follow (bot.config.Settings has them): the rungs of the renewal and
    overdue ladders, the forecast window, and which kinds of alert are on."""

    @property
    def alerts_renewal_days(self) -> list[int]: ...
    @property
    def alerts_overdue_days(self) -> list[int]: ...
    @property
    def alerts_forecast_days(self) -> int: ...
    @property
    def alerts_autorenew_short(self) -> bool: ...
    @property
    def alerts_ticket_replies(self) -> bool: ...


@dataclass(frozen=True)
class Finding:
    key: str
    customer_id: int
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def ladder_rung(days_before: Sequence[int], left: int) -> int | None:
    """The rung reached most recently when ``left`` days remain (30/14/7/3/1 and 5 left: 7)."""
    reached = [d for d in days_before if d >= left]
    return min(reached) if reached and left >= 0 else None


def overdue_rung(days_after: Sequence[int], late: int) -> int | None:
    """The reminder reached most recently ``late`` days after the due date (1/3/7 and 5 late: 3)."""
    reached = [d for d in days_after if d <= late]
    return max(reached) if reached else None


@dataclass
class _Batch:
    """What the rules know of one batch of customers: each one's day, balance and currency."""

    span: tuple[int, int]  # the first and last customer id the batch may hold
    today: dict[int, dt.date]
    balance: dict[int, Money]
    prefs: dict[int, tuple[list[str], int | None]]  # muted kinds, low-balance threshold
    found: list[Finding] = field(default_factory=list)
    # A renewal alert that is not to be written when the key of its warning exists.
    unless: dict[str, Finding] = field(default_factory=dict)

    def mine(self, column: QueryableAttribute[int]) -> ColumnElement[bool]:
        """``column`` (a customer id) lies in the batch's range of ids: a range costs nothing to
        bind, unlike a set of thousands; rows of customers in the range but outside the batch
        (those without a chat) are dropped by the rules (``cid in batch.today``)."""
        return column.between(*self.span)

    @property
    def first_day(self) -> dt.date:
        return min(self.today.values())

    @property
    def last_day(self) -> dt.date:
        return max(self.today.values())


_CUSTOMER = (Customer.id, Customer.timezone, Customer.balance_minor, Customer.currency)


async def _next_batch(uow: UnitOfWork, after: int, limit: int) -> _Batch | None:
    """The customers with at least one linked or shared chat among the next ``limit`` customers
    after ``after`` by id (keyset); None when there are no more customers. The range is fixed
    first so that the chats are probed within it only (an unbounded ``EXISTS`` reads every chat
    of every customer, each batch)."""
    last = await uow.session.scalar(
        select(Customer.id).where(Customer.id > after).order_by(Customer.id).offset(limit - 1).limit(1)
    )
    if last is None:
        last = await uow.session.scalar(select(func.max(Customer.id)).where(Customer.id > after))
        if last is None:
            return None
    linked = exists().where(
        ChatIdentity.customer_id == Customer.id, ChatIdentity.customer_id.between(after + 1, last)
    )
    shared = exists().where(
        ChannelBinding.customer_id == Customer.id, ChannelBinding.customer_id.between(after + 1, last)
    )
    rows = await uow.session.execute(
        select(*_CUSTOMER).where(Customer.id.between(after + 1, last), linked | shared)
    )
    return await _start(uow, rows.all(), (after + 1, last))


async def _start(uow: UnitOfWork, rows: Sequence[Any], span: tuple[int, int]) -> _Batch:
    """The batch of these customers (``_CUSTOMER`` rows), whose ids lie within ``span``."""
    now = clock.now()
    days: dict[str, dt.date] = {}
    today, balance = {}, {}
    for cid, tz, minor, currency in rows:
        if tz not in days:  # facts.local_today, once per zone
            days[tz] = now.astimezone(alert_prefs.zone(tz)).date()
        today[cid] = days[tz]
        balance[cid] = Money(int(minor or 0), currency)
    batch = _Batch(span, today, balance, {})
    if today:
        prefs = await uow.session.execute(
            select(AlertSettings.customer_id, AlertSettings.muted, AlertSettings.low_balance_minor).where(
                batch.mine(AlertSettings.customer_id)
            )
        )
        batch.prefs = {cid: (muted or [], low) for cid, muted, low in prefs if cid in today}
    return batch


@dataclass(frozen=True)
class _Due:
    """A renewal that a ladder rung or the forecast window reaches; ``cost`` (as
    ``renewal_costs.renewals`` prices it) only for an automatic one: no rule weighs the others'."""

    item: str
    id: int
    due: dt.date
    auto: bool
    cost: Money | None = None


_BUYER = (Customer.country, Customer.is_business, Customer.vat_id, Customer.currency)


async def _renewals(
    uow: UnitOfWork, batch: _Batch, settings: AlertRules, seller: Seller
) -> dict[int, list[_Due]]:
    """Each customer's active orders and domains that end within reach of a rung or the forecast;
    the automatic ones priced. Everything is read as row tuples and priced from plain values
    (``renewal_costs.quoted``): building ORM objects for the thousands of automatic renewals of a
    batch cost most of the scan's CPU."""
    span = max([*settings.alerts_renewal_days, settings.alerts_forecast_days, 0])
    window = (batch.first_day, batch.last_day + dt.timedelta(days=span))
    found: dict[int, list[_Due]] = defaultdict(list)
    open_totals = await _open_renewal_totals(uow, batch)
    for cid, due in [
        *await _manual_renewals(uow, batch, window),
        *await _auto_orders(uow, batch, window, seller, open_totals),
        *await _auto_domains(uow, batch, window, seller, open_totals),
    ]:
        found[cid].append(due)
    return found


def _orders_in(batch: _Batch, window: tuple[dt.date, dt.date]) -> tuple[ColumnElement[bool], ...]:
    return (batch.mine(Order.customer_id), Order.status == "active", Order.period_end.between(*window))


def _domains_in(batch: _Batch, window: tuple[dt.date, dt.date]) -> tuple[ColumnElement[bool], ...]:
    return (batch.mine(Domain.customer_id), Domain.expires_on.between(*window))


async def _manual_renewals(
    uow: UnitOfWork, batch: _Batch, window: tuple[dt.date, dt.date]
) -> list[tuple[int, _Due]]:
    """The orders and domains in the window that do not renew by themselves (never priced: no rule
    weighs their cost)."""
    orders = await uow.session.execute(
        select(Order.id, Order.customer_id, Order.period_end).where(
            *_orders_in(batch, window), Order.auto_renew.is_not(True)
        ),
    )
    domains = await uow.session.execute(
        select(Domain.id, Domain.customer_id, Domain.expires_on).where(
            *_domains_in(batch, window), Domain.auto_renew.is_not(True)
        ),
    )
    return [
        (cid, _Due(item, item_id, due, False))
        for item, rows in (("order", orders), ("domain", domains))
        for item_id, cid, due in rows
        if cid in batch.today
    ]


async def _open_renewal_totals(uow: UnitOfWork, batch: _Batch) -> dict[int, dict[str, Money]]:
    """Each customer's unpaid renewal invoices' totals by renewal key (one live invoice per key):
    an automatic renewal already invoiced costs that invoice's total."""
    rows = await uow.session.execute(
        select(Invoice.customer_id, Invoice.renewal_key, Invoice.total_minor, Invoice.currency).where(
            batch.mine(Invoice.customer_id),
            Invoice.status == "unpaid",
            Invoice.renewal_key.is_not(None),
        ),
    )
    totals: dict[int, dict[str, Money]] = defaultdict(dict)
    for cid, key, total, currency in rows:
        totals[cid][str(key)] = Money(total, currency)
    return totals


async def _auto_orders(
    uow: UnitOfWork,
    batch: _Batch,
    window: tuple[dt.date, dt.date],
    seller: Seller,
    open_totals: dict[int, dict[str, Money]],
) -> list[tuple[int, _Due]]:
    """The automatic renewals of orders in the window, each with its plan's kind, its add-ons'
    monthly price (summed in SQL) and its customer's VAT facts, priced as the renewal invoice will be."""
    addons = (
        select(func.coalesce(func.sum(Addon.monthly_minor * OrderAddon.quantity), 0))
        .select_from(OrderAddon)
        .join(Addon, Addon.id == OrderAddon.addon_id)
        .where(OrderAddon.order_id == Order.id)
        .scalar_subquery()
    )
    rows = await uow.session.execute(
        select(
            Order.id,
            Order.customer_id,
            Order.period_end,
            Plan.kind,
            Order.billing_cycle,
            Order.currency,
            Order.price_minor,
            addons,
            *_BUYER,
        )
        .join(Plan, Plan.id == Order.plan_id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(*_orders_in(batch, window), Order.auto_renew.is_(True)),
    )
    found = []
    for row in rows:
        oid, cid, due, kind, cycle, currency, price, addons_minor = row[:8]
        if cid not in batch.today:
            continue
        subtotal = breakdown.period_subtotal(kind, cycle, currency, price, int(addons_minor))
        buyer = renewal_costs.Buyer(*row[8:])
        cost = renewal_costs.quoted("order", oid, due, subtotal, buyer, seller, open_totals.get(cid, {}))
        found.append((cid, _Due("order", oid, due, True, cost)))
    return found


async def _auto_domains(
    uow: UnitOfWork,
    batch: _Batch,
    window: tuple[dt.date, dt.date],
    seller: Seller,
    open_totals: dict[int, dict[str, Money]],
) -> list[tuple[int, _Due]]:
    """The automatic renewals of domains in the window, priced (one year at the renewal price)."""
    rows = await uow.session.execute(
        select(Domain.id, Domain.customer_id, Domain.expires_on, Domain.renewal_minor, *_BUYER)
        .join(Customer, Customer.id == Domain.customer_id)
        .where(*_domains_in(batch, window), Domain.auto_renew.is_(True)),
    )
    found = []
    for row in rows:
        did, cid, due, price = row[:4]
        if cid in batch.today:
            buyer = renewal_costs.Buyer(*row[4:])
            cost = renewal_costs.quoted("domain", did, due, price, buyer, seller, open_totals.get(cid, {}))
            found.append((cid, _Due("domain", did, due, True, cost)))
    return found


def _ladder(batch: _Batch, renewals: dict[int, list[_Due]], settings: AlertRules) -> None:
    for cid, mine in renewals.items():
        today = batch.today[cid]
        for r in mine:
            rung = ladder_rung(settings.alerts_renewal_days, (r.due - today).days)
            if rung is None:
                continue
            params = {"item": r.item, "id": r.id, "due": r.due.isoformat()}
            step = f"{r.item}:{r.id}:{r.due}:{rung}"
            if (
                r.auto
                and settings.alerts_autorenew_short
                and r.cost is not None
                and batch.balance[cid] < r.cost
            ):
                batch.found.append(Finding(f"short:{step}", cid, "autorenew", params))
            else:  # unless a warning for this step already said enough
                batch.unless[f"short:{step}"] = Finding(f"renew:{step}", cid, "renewal", params)


async def _notices(uow: UnitOfWork, batch: _Batch) -> None:
    """Auto-renewals the billing job could not pay at the period's end (``BillingNotice`` rows not
    told yet); the notice is marked delivered once its alert is sent."""
    rows = await uow.session.execute(
        select(BillingNotice.id, BillingNotice.customer_id).where(
            batch.mine(BillingNotice.customer_id),
            BillingNotice.kind == "renewal_shortfall",
            BillingNotice.delivered_at.is_(None),
        ),
    )
    for n, cid in rows:
        if cid not in batch.today:
            continue
        batch.found.append(Finding(f"notice:{n}", cid, "autorenew", {"rule": "notice", "notice": n}))


async def _forecast(uow: UnitOfWork, batch: _Batch, renewals: dict[int, list[_Due]], days: int) -> None:
    """The balance will not cover the automatic renewals and the pay-as-you-use charges of the next
    N days: one alert per first renewal due, or per month when only usage is short. Usage is
    estimated only for customers with a resource still running (the others have none ahead)."""
    if days <= 0:
        return
    metered = batch.today.keys() & set(
        (
            await uow.session.scalars(
                select(MeteredResource.customer_id)
                .where(
                    batch.mine(MeteredResource.customer_id),
                    MeteredResource.deleted_at.is_(None) | (MeteredResource.deleted_at > clock.now()),
                )
                .distinct()
            )
        ).all()
    )
    customers = (
        {
            c.id: c
            for c in await uow.session.scalars(
                select(Customer).where(among(uow.dialect, Customer.id, sorted(metered)))
            )
        }
        if metered
        else {}
    )
    for cid in sorted({*renewals, *metered}):
        today = batch.today[cid]
        until = today + dt.timedelta(days=days)
        due = [r for r in renewals.get(cid, []) if r.auto and r.cost is not None and today <= r.due <= until]
        usage = (await facts.usage_ahead(uow, customers[cid], until)).minor if cid in metered else 0
        need = sum(r.cost.minor for r in due if r.cost is not None) + usage
        if need <= 0 or batch.balance[cid].minor >= need:
            continue
        step = str(min(r.due for r in due)) if due else f"usage:{today:%Y-%m}"
        params = {"rule": "forecast", "until": until.isoformat()}
        batch.found.append(Finding(f"forecast:{cid}:{step}", cid, "lowbalance", params))


async def _threshold(uow: UnitOfWork, batch: _Batch) -> None:
    """Below the customer's own threshold: one alert each time the balance crosses it downwards,
    named by the ledger entry that crossed it (found with a running sum in the database, for the
    customers whose balance is below their threshold now)."""
    below = {
        cid: low
        for cid, (_muted, low) in batch.prefs.items()
        if low is not None and batch.balance[cid].minor < low
    }
    if not below:
        return
    entries = (
        select(
            LedgerEntry.customer_id,
            LedgerEntry.id,
            LedgerEntry.amount_minor,
            func.sum(LedgerEntry.amount_minor)
            .over(partition_by=LedgerEntry.customer_id, order_by=LedgerEntry.id)
            .label("running"),
            AlertSettings.low_balance_minor.label("threshold"),
        )
        .join(Customer, Customer.id == LedgerEntry.customer_id)
        .join(AlertSettings, AlertSettings.customer_id == LedgerEntry.customer_id)
        .where(
            among(uow.dialect, LedgerEntry.customer_id, sorted(below)),
            LedgerEntry.currency == Customer.currency,
        )
        .subquery()
    )
    e = entries.c
    rows = await uow.session.execute(
        select(e.customer_id, func.max(e.id))
        .where(e.running - e.amount_minor >= e.threshold, e.threshold > e.running)
        .group_by(e.customer_id),
    )
    crossed: dict[int, int] = {int(cid): int(entry) for cid, entry in rows}
    for cid, threshold in below.items():
        entry = crossed.get(cid, 0 if threshold > 0 else None)
        if entry is not None:
            key = f"threshold:{cid}:{threshold}:{entry}"
            params = {"rule": "threshold", "threshold": threshold}
            batch.found.append(Finding(key, cid, "lowbalance", params))


async def _overdue(uow: UnitOfWork, batch: _Batch, days_after: list[int]) -> None:
    rows = await uow.session.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.due_date).where(
            batch.mine(Invoice.customer_id),
            Invoice.status == "unpaid",
            Invoice.kind == "invoice",
            Invoice.due_date < batch.last_day,
        ),
    )
    for invoice_id, cid, due in rows:
        if cid not in batch.today:
            continue
        today = batch.today[cid]
        rung = overdue_rung(days_after, (today - due).days) if due < today else None
        if rung is not None:
            batch.found.append(
                Finding(f"overdue:{invoice_id}:{rung}", cid, "overdue", {"invoice": invoice_id})
            )


async def _replies(uow: UnitOfWork, batch: _Batch) -> None:
    """One alert per unread support reply (the latest one of each ticket)."""
    rows = await uow.session.execute(
        select(Ticket.customer_id, TicketMessage.ticket_id, func.max(TicketMessage.id))
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            batch.mine(Ticket.customer_id),
            TicketMessage.author == "staff",
            TicketMessage.is_read.is_(False),
        )
        .group_by(Ticket.customer_id, TicketMessage.ticket_id),
    )
    for cid, ticket, message in rows:
        if cid not in batch.today:
            continue
        params = {"ticket": ticket, "message": message}
        batch.found.append(Finding(f"reply:{ticket}:{message}", cid, "ticket", params))


async def _taken(uow: UnitOfWork, batch: _Batch) -> dict[int, set[str]]:
    """Per customer, every kind that at least one of their shared chats takes."""
    taken: dict[int, set[str]] = defaultdict(set)
    rows = await uow.session.execute(
        select(ChannelBinding.customer_id, ChannelBinding.alert_kinds).where(
            batch.mine(ChannelBinding.customer_id)
        ),
    )
    for cid, kinds in rows:
        taken[cid].update(kinds or [])
    return taken


async def find(uow: UnitOfWork, ids: list[int], settings: AlertRules, seller: Seller) -> list[Finding]:
    """Everything worth telling these customers today, minus the kinds each turned off in their own
    chats that no shared chat of theirs takes either (what the outbox already has is among them:
    ``outbox.add_many`` skips it)."""
    rows = await uow.session.execute(select(*_CUSTOMER).where(among(uow.dialect, Customer.id, ids)))
    span = (min(ids), max(ids)) if ids else (0, 0)
    return await _find(uow, await _start(uow, rows.all(), span), settings, seller)


async def _find(uow: UnitOfWork, batch: _Batch, settings: AlertRules, seller: Seller) -> list[Finding]:
    if not batch.today:
        return []
    renewals = await _renewals(uow, batch, settings, seller)
    if settings.alerts_renewal_days:
        _ladder(batch, renewals, settings)
    if settings.alerts_autorenew_short:
        await _notices(uow, batch)
    await _forecast(uow, batch, renewals, settings.alerts_forecast_days)
    await _threshold(uow, batch)
    if settings.alerts_overdue_days:
        await _overdue(uow, batch, settings.alerts_overdue_days)
    if settings.alerts_ticket_replies:
        await _replies(uow, batch)
    # Only the warnings that silence a reminder are looked up: a key the outbox has already is
    # skipped by the insert itself (``outbox.add_many``).
    warned = set(await outbox.existing(uow, list(batch.unless))) if batch.unless else set()
    found = batch.found + [f for short, f in batch.unless.items() if short not in warned]
    taken = await _taken(uow, batch)
    muted = {cid: set(off) - taken.get(cid, set()) for cid, (off, _low) in batch.prefs.items()}
    return [f for f in found if f.kind not in muted.get(f.customer_id, ())]


async def scan(db: Database, settings: AlertRules, seller: Seller, batch: int = BATCH) -> int:
    """Scan every customer with at least one linked or shared chat, ``batch`` customers per
    transaction; returns how many alerts are new."""
    added, after = 0, 0
    while True:
        async with db.uow() as uow:
            customers = await _next_batch(uow, after, batch)
            if customers is None:
                break
            found = await _find(uow, customers, settings, seller)
            added += await outbox.add_many(uow, [(f.key, f.customer_id, f.kind, f.params) for f in found])
            await uow.commit()
        after = customers.span[1]
    if added:
        log.info("alerts scan: %d new", added)
    return added

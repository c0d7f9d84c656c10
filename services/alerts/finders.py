"""The scan: what needs telling, written to the outbox.

Each rule turns today's facts into at most one key per thing and step, e.g.
``renew:order:7:2026-12-01:14`` for the 14-days rung of order 7's period ending on that date.
The key is inserted only if absent, so running the scan twice a day, after a restart, or from two
workers at once adds nothing. After downtime a ladder catches up with its latest rung only: a
worker that was down from 30 to 5 days before expiry sends the 7-day reminder, not three at once.
Only customers with a linked or a shared chat are scanned: whoever links later hears the current
step. A kind a person turned off in their own chat is still found while a shared chat of the
account takes it (``alerts here``): it then goes there only.

The scan is set-based: customers are taken in keyset-paginated batches of ids (memory stays flat
whatever the number of customers), and each rule reads the whole range with one query that
returns only the rows that can become an alert (an order inside the ladder's window, an overdue
invoice, an unread reply ...); only the customers of those rows are then read, and judged in
Python with the rules' own functions, and the new alerts are written with one insert per batch,
while the next batch is read."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, Text, case, cast, exists, func, select
from sqlalchemy.orm import QueryableAttribute

from services import alert_prefs, breakdown, clock, garbage, renewal_costs
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


class Finding(NamedTuple):
    """One alert to write: (key, customer id, kind, params), the row ``outbox.add_many`` takes (a
    tuple, not a dataclass: a scan of a million customers makes hundreds of thousands)."""

    key: str
    customer_id: int
    kind: str
    params: dict[str, Any]


def ladder_rung(days_before: Sequence[int], left: int) -> int | None:
    """The rung reached most recently when ``left`` days remain (30/14/7/3/1 and 5 left: 7)."""
    reached = [d for d in days_before if d >= left]
    return min(reached) if reached and left >= 0 else None


def overdue_rung(days_after: Sequence[int], late: int) -> int | None:
    """The reminder reached most recently ``late`` days after the due date (1/3/7 and 5 late: 3)."""
    reached = [d for d in days_after if d <= late]
    return max(reached) if reached else None


def _within(span: tuple[int, int], column: QueryableAttribute[Any]) -> ColumnElement[bool]:
    """``column`` (a customer id) lies in the batch's range of ids: a range costs nothing to bind,
    unlike a set of thousands; rows of customers in the range but not told (those without a chat)
    are dropped once the batch's customers are known (``cid in batch.today``)."""
    return column.between(*span)


def _days_anywhere() -> tuple[dt.date, dt.date]:
    """The earliest and the latest date it is now in any time zone (UTC-12 to UTC+14): the rules'
    queries read rows for every date a customer of the batch may be living, before the customers
    are read; each customer's own day then decides."""
    now = clock.now().astimezone(dt.UTC)
    return (now - dt.timedelta(days=1)).date(), (now + dt.timedelta(days=1)).date()


class _Due(NamedTuple):
    """A renewal that a ladder rung or the forecast window reaches; ``cost`` (as
    ``renewal_costs.renewals`` prices it) only for an automatic one: no rule weighs the others'."""

    item: str
    id: int
    due: dt.date
    auto: bool
    cost: Money | None = None


@dataclass
class _Rows:
    """What the rules read for one range of customer ids, before knowing which customers are told:
    only rows that can become an alert, as row tuples. Their customers (with those whose balance
    is under their threshold, or who have a metered resource running) are the only ones read."""

    # Muted kinds (JSON), and the low-balance threshold when the balance is below it.
    prefs: dict[int, tuple[str | None, int | None]]
    manual: list[tuple[str, int, int, dt.date]]  # item, id, customer id, due
    orders: Sequence[Any]  # the automatic renewals of orders, with what prices them
    domains: Sequence[Any]  # the automatic renewals of domains, with what prices them
    notices: Sequence[tuple[int, int]]  # notice id, customer id
    overdue: Sequence[tuple[int, int, dt.date]]  # invoice id, customer id, due date
    replies: Sequence[tuple[int, int, int]]  # customer id, ticket id, message id
    metered: set[int]  # customers with a metered resource running

    def customers(self) -> set[int]:
        """Whoever may be told something: the rows' customers, those below their threshold, the
        metered."""
        return {
            *(cid for cid, (_muted, low) in self.prefs.items() if low is not None),
            *(row[2] for row in self.manual),
            *(row[1] for row in self.orders),
            *(row[1] for row in self.domains),
            *(cid for _n, cid in self.notices),
            *(cid for _i, cid, _due in self.overdue),
            *(cid for cid, _t, _m in self.replies),
            *self.metered,
        }


@dataclass
class _Batch:
    """What the rules know of the customers who may be told: each one's day, balance (and its
    currency), preferences and time zone."""

    span: tuple[int, int]  # the first and last customer id the batch may hold
    today: dict[int, dt.date]
    balance: dict[int, tuple[int, str]]  # minor units and currency (a Money only where compared)
    prefs: dict[int, tuple[str | None, int | None]]  # as in ``_Rows``
    zones: dict[int, str]
    found: list[Finding] = field(default_factory=list)
    # A renewal alert that is not to be written when the key of its warning exists.
    unless: dict[str, Finding] = field(default_factory=dict)


_CUSTOMER = (Customer.id, Customer.timezone, Customer.balance_minor, Customer.currency)


async def _next_span(uow: UnitOfWork, after: int, limit: int) -> tuple[int, int] | None:
    """The first and last id of the next ``limit`` customers after ``after`` by id (keyset); None
    when there are no more customers."""
    last = await uow.session.scalar(
        select(Customer.id).where(Customer.id > after).order_by(Customer.id).offset(limit - 1).limit(1)
    )
    if last is None:
        last = await uow.session.scalar(select(func.max(Customer.id)).where(Customer.id > after))
        if last is None:
            return None
    return after + 1, last


async def _customers(uow: UnitOfWork, span: tuple[int, int], rows: _Rows, chosen: set[int] | None) -> _Batch:
    """The batch: those of the rows' customers who have a linked or a shared chat (or, for
    ``find``, who are ``chosen``), with their day, balance and preferences. The chats are probed
    within the range only (an unbounded ``EXISTS`` reads every chat of every customer, each batch)."""
    wanted = rows.customers()
    ids = sorted(wanted if chosen is None else wanted & chosen)
    query = select(*_CUSTOMER).where(among(uow.dialect, Customer.id, ids))
    if chosen is None:
        linked = exists().where(
            ChatIdentity.customer_id == Customer.id, _within(span, ChatIdentity.customer_id)
        )
        shared = exists().where(
            ChannelBinding.customer_id == Customer.id, _within(span, ChannelBinding.customer_id)
        )
        query = query.where(linked | shared)
    now = clock.now()
    days: dict[str, dt.date] = {}
    today, balance, zones = {}, {}, {}
    for cid, tz, minor, currency in (await uow.core(query)).all() if ids else ():
        if tz not in days:  # facts.local_today, once per zone
            days[tz] = now.astimezone(alert_prefs.zone(tz)).date()
        today[cid] = days[tz]
        balance[cid] = (int(minor or 0), currency)
        zones[cid] = tz
    prefs = {cid: pref for cid, pref in rows.prefs.items() if cid in today}
    return _Batch(span, today, balance, prefs, zones)


_BUYER = (Customer.country, Customer.is_business, Customer.vat_id, Customer.currency)


async def _read(uow: UnitOfWork, span: tuple[int, int], settings: AlertRules) -> _Rows:
    """Every rule's rows for the range, one query each: alert preferences that say something (a
    threshold only while the balance is below it: those above it are not read at all), the
    orders and domains inside a rung's or the forecast's window (the automatic ones with what
    prices them: the plan's kind, the add-ons' monthly price summed in SQL, the customer's VAT
    facts), undelivered notices, overdue invoices, unread replies, and who has a metered resource
    running."""
    first, last = _days_anywhere()
    window = (
        first,
        last + dt.timedelta(days=max([*settings.alerts_renewal_days, settings.alerts_forecast_days, 0])),
    )
    # Core rows (``uow.core``), without the ORM's per-row loading.
    muting = func.json_array_length(AlertSettings.muted) > 0
    below = AlertSettings.low_balance_minor > Customer.balance_minor  # false when there is none
    prefs = {
        cid: (muted, low)
        for cid, muted, low in (
            await uow.core(
                select(
                    AlertSettings.customer_id,
                    case((muting, cast(AlertSettings.muted, Text))),  # decoded if the customer is told
                    case((below, AlertSettings.low_balance_minor)),
                )
                .join(Customer, Customer.id == AlertSettings.customer_id)
                .where(
                    _within(span, AlertSettings.customer_id),
                    _within(span, Customer.id),  # both ranges read in order and merged
                    below | muting,
                )
            )
        ).all()
    }
    orders_in = (
        _within(span, Order.customer_id),
        Order.status == "active",
        Order.period_end.between(*window),
    )
    domains_in = (_within(span, Domain.customer_id), Domain.expires_on.between(*window))
    manual: list[tuple[str, int, int, dt.date]] = [
        ("order", *row)
        for row in (
            await uow.core(
                select(Order.id, Order.customer_id, Order.period_end).where(
                    *orders_in, Order.auto_renew.is_not(True)
                )
            )
        ).all()
    ]
    manual += [
        ("domain", *row)
        for row in (
            await uow.core(
                select(Domain.id, Domain.customer_id, Domain.expires_on).where(
                    *domains_in, Domain.auto_renew.is_not(True)
                )
            )
        ).all()
    ]
    addons = (
        select(func.coalesce(func.sum(Addon.monthly_minor * OrderAddon.quantity), 0))
        .select_from(OrderAddon)
        .join(Addon, Addon.id == OrderAddon.addon_id)
        .where(OrderAddon.order_id == Order.id)
        .scalar_subquery()
    )
    orders = (
        await uow.core(
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
            .where(*orders_in, Order.auto_renew.is_(True))
        )
    ).all()
    domains = (
        await uow.core(
            select(Domain.id, Domain.customer_id, Domain.expires_on, Domain.renewal_minor, *_BUYER)
            .join(Customer, Customer.id == Domain.customer_id)
            .where(*domains_in, Domain.auto_renew.is_(True))
        )
    ).all()
    notices: Sequence[Any] = ()
    if settings.alerts_autorenew_short:
        notices = (
            await uow.core(
                select(BillingNotice.id, BillingNotice.customer_id).where(
                    _within(span, BillingNotice.customer_id),
                    BillingNotice.kind == "renewal_shortfall",
                    BillingNotice.delivered_at.is_(None),
                )
            )
        ).all()
    overdue: Sequence[Any] = ()
    if settings.alerts_overdue_days:
        overdue = (
            await uow.core(
                select(Invoice.id, Invoice.customer_id, Invoice.due_date).where(
                    _within(span, Invoice.customer_id),
                    Invoice.status == "unpaid",
                    Invoice.kind == "invoice",
                    Invoice.due_date < last,
                )
            )
        ).all()
    replies: Sequence[Any] = ()
    if settings.alerts_ticket_replies:
        # Per ticket of the range, its messages through their ticket's index: joined with the
        # messages, PostgreSQL read every unread reply of every customer, each batch.
        latest = (
            select(func.max(TicketMessage.id))
            .where(
                TicketMessage.ticket_id == Ticket.id,
                TicketMessage.author == "staff",
                TicketMessage.is_read.is_(False),
            )
            .scalar_subquery()
        )
        tickets = select(Ticket.customer_id, Ticket.id, latest.label("message")).where(
            _within(span, Ticket.customer_id)
        )
        unread = tickets.subquery()
        replies = (await uow.core(select(unread).where(unread.c.message.is_not(None)))).all()
    metered: set[int] = set()
    if settings.alerts_forecast_days > 0:
        metered = set(
            (
                await uow.core(
                    select(MeteredResource.customer_id)
                    .where(
                        _within(span, MeteredResource.customer_id),
                        MeteredResource.deleted_at.is_(None) | (MeteredResource.deleted_at > clock.now()),
                    )
                    .distinct()
                )
            ).scalars()
        )
    return _Rows(prefs, manual, orders, domains, notices, overdue, replies, metered)


async def _open_renewal_totals(uow: UnitOfWork, batch: _Batch) -> dict[int, dict[str, Money]]:
    """Each customer's unpaid renewal invoices' totals by renewal key (one live invoice per key):
    an automatic renewal already invoiced costs that invoice's total."""
    rows = await uow.core(
        select(Invoice.customer_id, Invoice.renewal_key, Invoice.total_minor, Invoice.currency).where(
            _within(batch.span, Invoice.customer_id),
            Invoice.status == "unpaid",
            Invoice.renewal_key.is_not(None),
        ),
    )
    totals: dict[int, dict[str, Money]] = defaultdict(dict)
    for cid, key, total, currency in rows:
        if cid in batch.today:
            totals[cid][str(key)] = Money(total, currency)
    return totals


async def _renewals(uow: UnitOfWork, batch: _Batch, rows: _Rows, seller: Seller) -> dict[int, list[_Due]]:
    """Each told customer's renewals in the window; the automatic ones priced from plain values
    (``renewal_costs.quoted``, the one rule, without ORM objects: building them for the thousands
    of automatic renewals of a batch cost most of the scan's CPU)."""
    found: dict[int, list[_Due]] = defaultdict(list)
    today = batch.today
    for item, item_id, cid, due in rows.manual:
        if cid in today:
            found[cid].append(_Due(item, item_id, due, False))
    if not rows.orders and not rows.domains:
        return found
    invoiced = await _open_renewal_totals(uow, batch)
    none: dict[str, Money] = {}
    for row in rows.orders:
        oid, cid, due, kind, cycle, currency, price, addons_minor = row[:8]
        if cid in today:
            subtotal = breakdown.period_subtotal(kind, cycle, currency, price, int(addons_minor))
            buyer = renewal_costs.Buyer(*row[8:])
            cost = renewal_costs.quoted("order", oid, due, subtotal, buyer, seller, invoiced.get(cid, none))
            found[cid].append(_Due("order", oid, due, True, cost))
    for row in rows.domains:
        did, cid, due, price = row[:4]
        if cid in today:
            buyer = renewal_costs.Buyer(*row[4:])
            cost = renewal_costs.quoted("domain", did, due, price, buyer, seller, invoiced.get(cid, none))
            found[cid].append(_Due("domain", did, due, True, cost))
    return found


def _ladder(batch: _Batch, renewals: dict[int, list[_Due]], settings: AlertRules) -> None:
    days = settings.alerts_renewal_days
    rungs = {left: ladder_rung(days, left) for left in range(max(days, default=-1) + 1)}  # else None
    short = settings.alerts_autorenew_short
    found, unless = batch.found, batch.unless
    for cid, mine in renewals.items():
        today, balance = batch.today[cid], batch.balance[cid]
        for r in mine:
            rung = rungs.get((r.due - today).days)
            if rung is None:
                continue
            due = r.due.isoformat()
            params = {"item": r.item, "id": r.id, "due": due}
            step = f"{r.item}:{r.id}:{due}:{rung}"
            if r.auto and short and r.cost is not None and Money(*balance) < r.cost:
                found.append(Finding(f"short:{step}", cid, "autorenew", params))
            else:  # unless a warning for this step already said enough
                unless[f"short:{step}"] = Finding(f"renew:{step}", cid, "renewal", params)


def _notices(batch: _Batch, rows: _Rows) -> None:
    """Auto-renewals the billing job could not pay at the period's end (``BillingNotice`` rows not
    told yet); the notice is marked delivered once its alert is sent."""
    for n, cid in rows.notices:
        if cid in batch.today:
            batch.found.append(Finding(f"notice:{n}", cid, "autorenew", {"rule": "notice", "notice": n}))


async def _forecast(
    uow: UnitOfWork, batch: _Batch, renewals: dict[int, list[_Due]], rows: _Rows, days: int
) -> None:
    """The balance will not cover the automatic renewals and the pay-as-you-use charges of the next
    N days: one alert per first renewal due, or per month when only usage is short. Usage is
    estimated for the batch's customers with a resource still running (the others have none
    ahead), all at once."""
    if days <= 0:
        return
    ahead = dt.timedelta(days=days)
    metered = batch.today.keys() & rows.metered
    usage = await facts.usage_ahead_many(
        uow, {cid: (batch.zones[cid], batch.today[cid] + ahead) for cid in metered}
    )
    automatic = batch.today.keys() & {row[1] for row in (*rows.orders, *rows.domains)}
    for cid in sorted(automatic | metered):  # nothing else can be short
        today = batch.today[cid]
        until = today + ahead
        due = [r for r in renewals.get(cid, ()) if r.auto and r.cost is not None and today <= r.due <= until]
        need = sum(r.cost.minor for r in due if r.cost is not None) + usage.get(cid, 0)
        if need <= 0 or batch.balance[cid][0] >= need:
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
        if low is not None and batch.balance[cid][0] < low
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


def _overdue(batch: _Batch, rows: _Rows, days_after: list[int]) -> None:
    rungs: dict[int, int | None] = {}
    for invoice_id, cid, due in rows.overdue:
        today = batch.today.get(cid)
        if today is None or due >= today:
            continue
        late = (today - due).days
        if late not in rungs:
            rungs[late] = overdue_rung(days_after, late)
        rung = rungs[late]
        if rung is not None:
            batch.found.append(
                Finding(f"overdue:{invoice_id}:{rung}", cid, "overdue", {"invoice": invoice_id})
            )


def _replies(batch: _Batch, rows: _Rows) -> None:
    """One alert per unread support reply (the latest one of each ticket)."""
    for cid, ticket, message in rows.replies:
        if cid in batch.today:
            params = {"ticket": ticket, "message": message}
            batch.found.append(Finding(f"reply:{ticket}:{message}", cid, "ticket", params))


async def _muted(uow: UnitOfWork, batch: _Batch) -> dict[int, set[str]]:
    """Per customer, the kinds they turned off in their own chats that none of their shared chats
    takes; the shared chats are read only when someone of the batch turned a kind off."""
    off = {cid: json.loads(muted) for cid, (muted, _low) in batch.prefs.items() if muted}
    if not off:
        return {}
    taken: dict[int, set[str]] = defaultdict(set)
    rows = await uow.session.execute(
        select(ChannelBinding.customer_id, ChannelBinding.alert_kinds).where(
            _within(batch.span, ChannelBinding.customer_id)
        ),
    )
    for cid, kinds in rows:
        taken[cid].update(kinds or [])
    return {cid: set(kinds).difference(taken.get(cid, ())) for cid, kinds in off.items()}


async def find(uow: UnitOfWork, ids: list[int], settings: AlertRules, seller: Seller) -> list[Finding]:
    """Everything worth telling these customers today, minus the kinds each turned off in their own
    chats that no shared chat of theirs takes either (what the outbox already has is among them:
    ``outbox.add_many`` skips it)."""
    if not ids:
        return []
    return await _find(uow, (min(ids), max(ids)), settings, seller, set(ids))


async def _find(
    uow: UnitOfWork, span: tuple[int, int], settings: AlertRules, seller: Seller, chosen: set[int] | None
) -> list[Finding]:
    """What to tell the customers of the range ``span`` who have a chat (or who are ``chosen``)."""
    rows = await _read(uow, span, settings)
    batch = await _customers(uow, span, rows, chosen)
    if not batch.today:
        return []
    renewals = await _renewals(uow, batch, rows, seller)
    if settings.alerts_renewal_days:
        _ladder(batch, renewals, settings)
    _notices(batch, rows)
    await _forecast(uow, batch, renewals, rows, settings.alerts_forecast_days)
    await _threshold(uow, batch)
    if settings.alerts_overdue_days:
        _overdue(batch, rows, settings.alerts_overdue_days)
    _replies(batch, rows)
    # Only the warnings that silence a reminder are looked up: a key the outbox has already is
    # skipped by the insert itself (``outbox.add_many``).
    warned = set(await outbox.existing(uow, list(batch.unless))) if batch.unless else set()
    found = batch.found + [f for short, f in batch.unless.items() if short not in warned]
    muted = await _muted(uow, batch)
    return [f for f in found if f.kind not in muted.get(f.customer_id, ())] if muted else found


async def _tell(db: Database, found: list[Finding]) -> int:
    """Write one batch's findings (keys the outbox has already are skipped) in a transaction of
    its own; returns how many are new."""
    async with db.uow() as uow:
        added = await outbox.add_many(uow, found)
        await uow.commit()
    return added


async def _judged(db: Database, span: tuple[int, int], settings: AlertRules, seller: Seller) -> list[Finding]:
    """``_find`` for the batch ``span``, in a read transaction of its own."""
    async with db.uow() as uow:
        return await _find(uow, span, settings, seller, None)


async def scan(db: Database, settings: AlertRules, seller: Seller, batch: int = BATCH) -> int:
    """Scan every customer with at least one linked or shared chat, ``batch`` customers at a time;
    returns how many alerts are new.

    The batches overlap so that the database and Python work at the same time: while a batch is
    read and judged, the next one is too, on another connection, and the one before is written
    in a transaction of its own (at most one batch ahead and one being written, so memory stays
    flat). The batches hold different customers and every key names its customer, so no batch's
    reads depend on another's writes; the outbox's unique key still decides "tell once". Cyclic
    garbage is collected once per batch (``garbage.per_batch``): collected automatically, it took
    a third of the scan's own CPU time at 1 M customers, mostly in full collections."""
    added, after = 0, 0
    ahead: asyncio.Task[list[Finding]] | None = None  # the batch being read and judged
    following: asyncio.Task[list[Finding]] | None = None  # the next one, read meanwhile
    writing: asyncio.Task[int] | None = None  # the one before, being written
    try:
        with garbage.per_batch() as collect:
            while True:
                async with db.uow() as uow:
                    span = await _next_span(uow, after, batch)
                following = asyncio.create_task(_judged(db, span, settings, seller)) if span else None
                if ahead is not None:
                    found = await ahead
                    if writing is not None:
                        added += await writing
                    writing = asyncio.create_task(_tell(db, found)) if found else None
                    collect()
                ahead, following = following, None
                if span is None:
                    break
                after = span[1]
            if writing is not None:
                added += await writing
    except BaseException:
        # Their transactions roll back: the next scan finds the same again.
        unfinished = [t for t in (ahead, following, writing) if t is not None and not t.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        raise
    if added:
        log.info("alerts scan: %d new", added)
    return added

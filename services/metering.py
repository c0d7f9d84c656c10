"""Pay-as-you-use for resellers: resources, the hourly recording, the month's usage and its invoice.

The rules themselves (48 free hours, month boundaries, one line per package, rounding) live in
``services.hourly_billing``; this module feeds them what was recorded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import audit, clock, meter_runs, month_close
from services.access import owned
from services.audit import Actor
from services.errors import N_, InvalidState, NotFound
from services.hourly_billing import (
    FREE_HOURS,
    Line,
    Month,
    Span,
    State,
    billed_hours,
    hour_start,
    per_day,
    resource_lines,
)
from services.invoices import LineSpec, Seller
from services.wording import names_of
from storage.models import (
    Customer,
    IdempotencyKey,
    Invoice,
    MeteredProduct,
    MeteredResource,
    MeterRun,
    MeterSnapshot,
)
from storage.sets import among
from storage.uow import UnitOfWork

# Rows per INSERT, well under the drivers' bound-parameter limits (five columns a row).
SNAPSHOT_BATCH = 1000


async def _product(uow: UnitOfWork, code: str, currency: str) -> MeteredProduct:
    product = await uow.session.scalar(
        select(MeteredProduct).where(MeteredProduct.code == code, MeteredProduct.currency == currency)
    )
    if product is None:
        raise NotFound(N_("There is no package {code}."), code=code)
    return product


async def add(
    uow: UnitOfWork, customer: Customer, name: str, product_code: str, actor: Actor
) -> MeteredResource:
    """Open a hosting account, add-on or service pack; it is metered from the next recorded hour."""
    product = await _product(uow, product_code, customer.currency)
    resource = MeteredResource(
        customer_id=customer.id, kind=product.kind, name=name, product=product, created_at=clock.now()
    )
    uow.session.add(resource)
    await uow.flush()
    audit.record(uow, "meter.add", actor, f"metered_resource:{resource.id}", product=product.code)
    return resource


async def change_package(
    uow: UnitOfWork, resource_id: int, product_code: str, actor: Actor
) -> MeteredResource:
    """Upgrade or downgrade: the hours recorded from now on carry the new package and rate."""
    resource = await owned(uow, MeteredResource, resource_id, actor)
    if resource.deleted_at is not None:
        raise InvalidState()
    customer = await uow.session.get(Customer, resource.customer_id)
    assert customer is not None
    product = await _product(uow, product_code, customer.currency)
    if product.kind != resource.kind:
        raise NotFound(N_("There is no package {code}."), code=product_code)
    audit.record(
        uow,
        "meter.change",
        actor,
        f"metered_resource:{resource.id}",
        old=resource.product.code,
        new=product.code,
    )
    resource.product = product
    return resource


async def remove(uow: UnitOfWork, resource_id: int, actor: Actor) -> MeteredResource:
    """Delete a resource: it is billed up to this hour and no longer after."""
    resource = await owned(uow, MeteredResource, resource_id, actor)
    if resource.deleted_at is None:
        resource.deleted_at = clock.now()
        audit.record(uow, "meter.remove", actor, f"metered_resource:{resource.id}")
    return resource


async def snapshot(uow: UnitOfWork) -> int:
    """Record the hour in progress for every resource that exists now; returns the rows written.

    Safe to run twice in the same hour or on two workers at once: an hour is recorded once. The
    roll-up (``services.meter_runs``) follows in the same transaction.
    """
    now = clock.now()
    rows = await uow.session.execute(
        select(
            MeteredResource.id,
            MeteredResource.customer_id,
            MeteredResource.product_id,
            MeteredProduct.hourly_minor,
        )
        .join(MeteredProduct, MeteredProduct.id == MeteredResource.product_id)
        .where(
            MeteredResource.created_at <= now,
            or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > now),
        )
    )
    hour = hour_start(now)
    values = [
        {"resource_id": rid, "hour": hour, "customer_id": cid, "product_id": pid, "hourly_minor": rate}
        for rid, cid, pid, rate in rows
    ]
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    written = 0
    for i in range(0, len(values), SNAPSHOT_BATCH):
        batch = values[i : i + SNAPSHOT_BATCH]
        result = await uow.session.execute(insert(MeterSnapshot).values(batch).on_conflict_do_nothing())
        written += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await meter_runs.extend(uow, hour)
    await uow.commit()
    return written


@dataclass(frozen=True)
class MonthUsage:
    """One customer's month as far as ``until``: the billable lines and the resources behind them."""

    month: Month
    tz: ZoneInfo
    currency: str
    lines: list[Line]
    pending: dict[int, int]
    resources: dict[int, MeteredResource]
    products: dict[int, MeteredProduct]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def days(self) -> dict[dt.date, int]:
        return per_day(self.lines, self.tz)


@dataclass(frozen=True)
class _Recorded:
    resources: dict[int, MeteredResource]
    products: dict[int, MeteredProduct]
    states: dict[int, list[tuple[dt.datetime, State]]]


async def _recorded(uow: UnitOfWork, customer: Customer, month: Month, tz: ZoneInfo) -> _Recorded:
    """The states of the customer's resources through the month, from the roll-up: the first hour
    of each run that reaches into the month, the one in progress when the month began included
    (the same states, hour by hour, as the snapshots'; see ``services.meter_runs``)."""
    start, end = month.bounds(tz)
    resources = {
        r.id: r
        for r in await uow.session.scalars(
            select(MeteredResource).where(
                MeteredResource.customer_id == customer.id,
                MeteredResource.created_at < end,
                or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > start),
            )
        )
    }
    states: dict[int, list[tuple[dt.datetime, State]]] = defaultdict(list)
    product_ids = {r.product_id for r in resources.values()}
    if resources:
        rows = await uow.session.execute(
            select(MeterRun.resource_id, MeterRun.since, MeterRun.product_id, MeterRun.hourly_minor).where(
                MeterRun.customer_id == customer.id,
                MeterRun.resource_id.in_(resources),
                MeterRun.since < end,
                or_(MeterRun.ended.is_(None), MeterRun.ended > start),
            )
        )
        for rid, since, pid, rate in rows:
            states[rid].append((since, State(pid, rate)))
            product_ids.add(pid)
    products = {
        p.id: p
        for p in await uow.session.scalars(select(MeteredProduct).where(MeteredProduct.id.in_(product_ids)))
    }
    return _Recorded(resources, products, states)


def _usage(rec: _Recorded, customer: Customer, month: Month, tz: ZoneInfo, until: dt.datetime) -> MonthUsage:
    hours = month.hours(tz)
    lines: list[Line] = []
    pending: dict[int, int] = {}
    for rid, resource in sorted(rec.resources.items()):
        found = resource_lines(rid, rec.states[rid], resource.deleted_at, hours, until)
        lines.extend(found)
        if not found:
            counted = len(billed_hours(rec.states[rid], resource.deleted_at, hours, until))
            if 0 < counted < FREE_HOURS:
                pending[rid] = counted
    return MonthUsage(month, tz, customer.currency, lines, pending, rec.resources, rec.products)


@dataclass(frozen=True)
class Usage:
    """The current month so far (billable lines, per day) and the estimate of the whole month."""

    so_far: MonthUsage
    estimate: MonthUsage


async def current_usage(uow: UnitOfWork, customer: Customer) -> Usage:
    """This month in the customer's time zone; the estimate assumes what exists now stays as it is."""
    tz = ZoneInfo(customer.timezone)
    now = clock.now()
    month = Month.of(now, tz)
    rec = await _recorded(uow, customer, month, tz)
    _, end = month.bounds(tz)
    return Usage(_usage(rec, customer, month, tz, now), _usage(rec, customer, month, tz, end))


async def usage_ahead(uow: UnitOfWork, customer: Customer, until: dt.datetime) -> int:
    """What the resources as they are now add to this month's usage between now and ``until`` (the
    month's end at the latest), in minor units: ``current_usage``'s estimate, counted to ``until``
    instead of the end of the month (the low-balance forecast adds it to the renewals due)."""
    tz = ZoneInfo(customer.timezone)
    now = clock.now()
    month = Month.of(now, tz)
    _, end = month.bounds(tz)
    if min(until, end) <= now:
        return 0
    rec = await _recorded(uow, customer, month, tz)
    ahead = _usage(rec, customer, month, tz, min(until, end)).total
    return max(ahead - _usage(rec, customer, month, tz, now).total, 0)


async def usage_ahead_many(uow: UnitOfWork, until: Mapping[int, tuple[str, dt.datetime]]) -> dict[int, int]:
    """``usage_ahead`` for many customers at once — by customer id, their time zone and ``until`` —
    in two queries whatever their number: the set-based alerts scan estimates a whole batch's
    usage this way. The queries take the widest of the customers' months; each customer's own
    month is then applied to the rows, as ``_recorded`` applies it in SQL."""
    now = clock.now()
    months: dict[int, tuple[ZoneInfo, Month, tuple[dt.datetime, dt.datetime], dt.datetime]] = {}
    for cid, (zone, moment) in until.items():
        tz = ZoneInfo(zone)
        month = Month.of(now, tz)
        bounds = month.bounds(tz)
        if min(moment, bounds[1]) > now:
            months[cid] = (tz, month, bounds, min(moment, bounds[1]))
    found = dict.fromkeys(until, 0)
    if not months:
        return found
    first = min(bounds[0] for _tz, _m, bounds, _u in months.values())
    last = max(bounds[1] for _tz, _m, bounds, _u in months.values())
    owners: dict[int, tuple[int, dt.datetime | None]] = {}  # resource id: customer id, deleted at
    for rid, cid, created, deleted in await uow.session.execute(
        select(
            MeteredResource.id,
            MeteredResource.customer_id,
            MeteredResource.created_at,
            MeteredResource.deleted_at,
        ).where(
            among(uow.dialect, MeteredResource.customer_id, sorted(months)),
            MeteredResource.created_at < last,
            or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > first),
        )
    ):
        start, end = months[cid][2]
        if created < end and (deleted is None or deleted > start):
            owners[rid] = (cid, deleted)
    states: dict[int, list[tuple[dt.datetime, State]]] = defaultdict(list)
    if owners:
        rows = await uow.session.execute(
            select(
                MeterRun.customer_id,
                MeterRun.resource_id,
                MeterRun.since,
                MeterRun.ended,
                MeterRun.product_id,
                MeterRun.hourly_minor,
            ).where(
                among(uow.dialect, MeterRun.customer_id, sorted(months)),
                among(uow.dialect, MeterRun.resource_id, sorted(owners)),
                MeterRun.since < last,
                or_(MeterRun.ended.is_(None), MeterRun.ended > first),
            )
        )
        for cid, rid, since, ended, pid, rate in rows:
            start, end = months[cid][2]
            if owners[rid][0] == cid and since < end and (ended is None or ended > start):
                states[rid].append((since, State(pid, rate)))
    hours: dict[tuple[ZoneInfo, Month], list[dt.datetime]] = {}
    for rid, (cid, deleted) in sorted(owners.items()):
        tz, month, _bounds, limit = months[cid]
        if (tz, month) not in hours:
            hours[tz, month] = month.hours(tz)
        month_hours = hours[tz, month]
        ahead = sum(line.amount for line in resource_lines(rid, states[rid], deleted, month_hours, limit))
        so_far = sum(line.amount for line in resource_lines(rid, states[rid], deleted, month_hours, now))
        found[cid] += ahead - so_far
    return {cid: max(minor, 0) for cid, minor in found.items()}


async def month_usage(uow: UnitOfWork, customer: Customer, month: Month) -> MonthUsage:
    """A whole month, as it is invoiced."""
    tz = ZoneInfo(customer.timezone)
    _, end = month.bounds(tz)
    return _usage(await _recorded(uow, customer, month, tz), customer, month, tz, end)


def invoice_lines(usage: MonthUsage) -> list[LineSpec]:
    """One invoice line per usage line: resource, package, hours and hourly rate, and its period."""
    return [
        month_close.line_spec(
            Span.of(line),
            usage.resources[line.resource_id].name,
            names_of(usage.products[line.state.product_id]),
            usage.currency,
            usage.tz,
        )
        for line in usage.lines
    ]


async def close_month(uow: UnitOfWork, customer_id: int, month: Month, seller: Seller) -> Invoice | None:
    """Create the month's usage invoice, once per customer and month however often it is asked
    (``services.month_close``, for one customer). Nothing billable: closed without an invoice."""
    claimed = await month_close.claim(uow, [(customer_id, month)])
    invoice_id = (await month_close.close_claimed(uow, claimed, seller)).get(customer_id)
    await uow.commit()
    return None if invoice_id is None else await uow.session.get(Invoice, invoice_id)


async def due(uow: UnitOfWork) -> list[tuple[int, Month]]:
    """Customers with metered resources whose last month (their time zone) has no usage invoice yet."""
    now = clock.now()
    rows = await uow.session.execute(
        select(Customer.id, Customer.timezone)
        .where(Customer.id.in_(month_close.metered(now)))
        .order_by(Customer.id)
    )
    wanted = [(cid, Month.of(now, ZoneInfo(tz)).previous()) for cid, tz in rows]
    done = set(
        await uow.session.scalars(
            select(IdempotencyKey.key).where(
                IdempotencyKey.key.in_([month_close.usage_key(c, m) for c, m in wanted])
            )
        )
    )
    return [(c, m) for c, m in wanted if month_close.usage_key(c, m) not in done]


async def billing_open(uow: UnitOfWork, customer: Customer) -> bool:
    """Whether hours of the customer's packages are recorded in their currency and not invoiced
    yet: a package that exists, or one deleted in a month whose usage invoice is still to come."""
    tz = ZoneInfo(customer.timezone)
    month = Month.of(clock.now(), tz)
    previous = month.previous()
    closed = await uow.session.get(IdempotencyKey, month_close.usage_key(customer.id, previous)) is not None
    since = (month if closed else previous).bounds(tz)[0]
    found = await uow.session.scalar(
        select(MeteredResource.id)
        .where(
            MeteredResource.customer_id == customer.id,
            or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > since),
        )
        .limit(1)
    )
    return found is not None

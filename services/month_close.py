"""The pay-as-you-use month close: each reseller's usage invoice for the month that ended.

Set-based: a batch of customers per transaction, their month claimed in one statement (the
idempotency key makes each invoice once, however many workers run), their usage read from the
roll-up (``MeterRun``, a few rows per resource) in keyset pages of bounded size, ordered by
customer and resource, so memory depends on the page and the batch, never on a reseller's history.
The rules are ``services.hourly_billing``'s (``resource_spans`` gives ``resource_lines``' lines).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import audit, clock, invoices
from services.errors import N_
from services.hourly_billing import Month, Run, Span, State, resource_spans
from services.invoices import LineSpec, Seller
from services.wording import Names, Rate, Text
from storage.models import Customer, IdempotencyKey, MeteredProduct, MeteredResource, MeterRun
from storage.uow import Database, UnitOfWork

CUSTOMERS = 500  # customers per transaction
ROWS = 5000  # runs read per page
RETAINED = dt.timedelta(days=62)  # a resource deleted longer ago has no month left to close
# TRANSLATORS: an invoice line: the reseller's account, add-on or pack, its package, the hours it
# existed and the price of an hour.
USAGE_LINE = N_("{resource} — {package}: {hours} h × {rate}/h")
KEYSET = (MeterRun.customer_id, MeterRun.resource_id, MeterRun.since)


def usage_key(customer_id: int, month: Month) -> str:
    return f"usage-invoice:{customer_id}:{month.key}"


def line_spec(span: Span, resource_name: str, package: Names, currency: str, tz: ZoneInfo) -> LineSpec:
    """One invoice line: resource, package, hours and hourly rate (written in the customer's
    language when the invoice is), and its period."""
    return LineSpec(
        Text(
            USAGE_LINE,
            {
                "resource": resource_name,
                "package": package,
                "hours": span.count,
                "rate": Rate(span.state.rate, currency),
            },
        ),
        span.amount,
        kind="usage",
        period_start=span.first.astimezone(tz).date(),
        period_end=span.last.astimezone(tz).date(),
        ref_id=span.resource_id,
    )


def metered(now: dt.datetime) -> Select[Any]:
    """Customers with a resource that may still have hours to invoice."""
    return select(MeteredResource.customer_id).where(
        MeteredResource.created_at < now,
        or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > now - RETAINED),
    )


async def claim(uow: UnitOfWork, wanted: Sequence[tuple[int, Month]]) -> list[tuple[int, Month]]:
    """Take the months not closed yet, in one statement; the others are skipped (a second worker
    waits for the first one's commit, then finds them taken). Does not commit."""
    if not wanted:
        return []
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    now = clock.now()
    taken = set(
        await uow.session.scalars(
            insert(IdempotencyKey)
            .values([{"key": usage_key(c, m), "created_at": now} for c, m in wanted])
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
    )
    return [(c, m) for c, m in wanted if usage_key(c, m) in taken]


@dataclass
class _Account:
    """One claimed customer's month while its runs are read."""

    customer: Customer
    month: Month
    tz: ZoneInfo
    bounds: tuple[dt.datetime, dt.datetime]
    lines: list[LineSpec] = field(default_factory=list)


@dataclass
class _Resource:
    id: int
    name: str
    created_at: dt.datetime
    deleted_at: dt.datetime | None
    runs: list[Run] = field(default_factory=list)
    products: dict[int, Names] = field(default_factory=dict)


def _add_lines(account: _Account, resource: _Resource) -> None:
    start, end = account.bounds
    if resource.created_at >= end or (resource.deleted_at is not None and resource.deleted_at <= start):
        return
    for span in resource_spans(resource.id, resource.runs, resource.deleted_at, account.bounds, end):
        package = resource.products[span.state.product_id]
        account.lines.append(line_spec(span, resource.name, package, account.customer.currency, account.tz))


async def close_claimed(
    uow: UnitOfWork, claimed: Sequence[tuple[int, Month]], seller: Seller, rows: int = ROWS
) -> dict[int, int | None]:
    """Invoice the claimed months (the caller holds their keys): the invoice id of each customer,
    or None when nothing was billable. Does not commit."""
    if not claimed:
        return {}
    ids = sorted(c for c, _ in claimed)
    months = dict(claimed)
    customers = await uow.session.scalars(select(Customer).where(Customer.id.in_(ids)))
    accounts: dict[int, _Account] = {}
    for customer in customers:
        tz = ZoneInfo(customer.timezone)
        month = months[customer.id]
        accounts[customer.id] = _Account(customer, month, tz, month.bounds(tz))
    lo = min(a.bounds[0] for a in accounts.values())
    hi = max(a.bounds[1] for a in accounts.values())
    query = (
        select(
            MeterRun.customer_id,
            MeterRun.resource_id,
            MeterRun.since,
            MeterRun.ended,
            MeterRun.product_id,
            MeterRun.hourly_minor,
            MeteredProduct.name,
            MeteredProduct.names,
            MeteredResource.name,
            MeteredResource.created_at,
            MeteredResource.deleted_at,
        )
        .join(MeteredResource, MeteredResource.id == MeterRun.resource_id)
        .join(MeteredProduct, MeteredProduct.id == MeterRun.product_id)
        .where(
            MeterRun.customer_id.in_(ids),
            MeterRun.since < hi,
            or_(MeterRun.ended.is_(None), MeterRun.ended > lo),
            MeteredResource.created_at < hi,
            or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > lo),
        )
        .order_by(MeterRun.customer_id, MeterRun.resource_id, MeterRun.since)
        .limit(rows)
    )
    current: tuple[_Account, _Resource] | None = None
    after: tuple[Any, ...] | None = None
    while True:
        page = query if after is None else query.where(tuple_(*KEYSET) > tuple_(*after))
        found = (await uow.session.execute(page)).all()
        for cid, rid, since, ended, pid, rate, product, names, name, created, deleted in found:
            if current is None or current[1].id != rid:
                if current is not None:
                    _add_lines(*current)
                current = (accounts[cid], _Resource(rid, name, created, deleted))
            current[1].runs.append(Run(since, ended, State(pid, rate)))
            current[1].products[pid] = Names(product, dict(names or {}))
        if len(found) < rows:
            break
        last = found[-1]
        after = (
            literal(last[0], MeterRun.customer_id.type),
            literal(last[1], MeterRun.resource_id.type),
            literal(last[2], MeterRun.since.type),
        )
    if current is not None:
        _add_lines(*current)
    return await _invoice_all(uow, [accounts[cid] for cid in ids if cid in accounts], seller)


async def _invoice_all(
    uow: UnitOfWork, accounts: Sequence[_Account], seller: Seller
) -> dict[int, int | None]:
    """The invoices of the accounts with billable lines, in the accounts' order; every close is
    audited, with its invoice or none."""
    billed = [a for a in accounts if a.lines]
    made = await invoices.create_many(
        uow, [invoices.Draft(a.customer, a.lines, a.month.last_day()) for a in billed], seller
    )
    done: dict[int, int | None] = {a.customer.id: None for a in accounts}
    done.update({a.customer.id: issued.id for a, issued in zip(billed, made, strict=True)})
    await audit.record_system(
        uow,
        "meter.close",
        [
            (f"customer:{a.customer.id}", {"month": a.month.key, "invoice": done[a.customer.id]})
            for a in accounts
        ],
    )
    return done


async def run(db: Database, seller: Seller, customers: int = CUSTOMERS, rows: int = ROWS) -> int:
    """The worker's job: close the last month (each customer's time zone) of every customer with
    metered resources, a batch of customers per transaction; returns the invoices created."""
    now = clock.now()
    created = 0
    after = 0
    while True:
        async with db.uow() as uow:
            picked = (
                await uow.session.execute(
                    select(Customer.id, Customer.timezone)
                    .where(Customer.id > after, Customer.id.in_(metered(now)))
                    .order_by(Customer.id)
                    .limit(customers)
                )
            ).all()
            if not picked:
                return created
            after = picked[-1][0]
            wanted = [(cid, Month.of(now, ZoneInfo(tz)).previous()) for cid, tz in picked]
            made = await close_claimed(uow, await claim(uow, wanted), seller, rows)
            created += sum(invoice is not None for invoice in made.values())
            await uow.commit()

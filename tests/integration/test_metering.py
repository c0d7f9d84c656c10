"""Metering on both databases with a controlled clock: the hourly recording, a leap-year month with
an upgrade and a deletion, DST months in the customer's time zone, and the month-end usage invoice
created once however often (or however concurrently) the job runs."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.demo import METERED
from services import clock, meter_runs, metering
from services.alerts import facts
from services.audit import Actor
from services.errors import InvalidState, NotFound
from services.hourly_billing import HOUR, Month, charge
from services.invoices import Seller, vat_amount
from storage.models import AuditEntry, Customer, IdempotencyKey, Invoice, MeteredProduct
from storage.uow import Database

SELLER = Seller("Hostbot Hosting B.V.", "Keizersgracht 100, Amsterdam", "NL", "NL004495445B01")
PARIS = ZoneInfo("Europe/Paris")


def local(tz: ZoneInfo, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz).astimezone(dt.UTC)  # type: ignore[misc]


async def reseller(db: Database, tz: str = "Europe/Paris", name: str = "Revendeur") -> Customer:
    """A Dutch consumer (21 % VAT, so the total differs from the sum of lines) buying by the hour."""
    async with db.uow() as uow:
        if await uow.session.scalar(select(func.count()).select_from(MeteredProduct)) == 0:
            for code, pname, kind, rates in METERED:
                uow.session.add(
                    MeteredProduct(
                        code=code, name=pname, kind=kind, currency="EUR", hourly_minor=Decimal(rates["EUR"])
                    )
                )
        customer = Customer(name=name, email=f"{name}@example.org", country="NL", currency="EUR", timezone=tz)
        uow.session.add(customer)
        await uow.commit()
        return customer


async def at(db: Database, moment: dt.datetime, action, *args):  # type: ignore[no-untyped-def]
    """Run a metering service at ``moment`` in its own committed transaction."""
    with clock.frozen(moment):
        async with db.uow() as uow:
            result = await action(uow, *args)
            await uow.commit()
            return result


async def record(db: Database, moment: dt.datetime) -> int:
    with clock.frozen(moment):
        async with db.uow() as uow:
            return await metering.snapshot(uow)


async def close(db: Database, customer: Customer, month: Month, moment: dt.datetime) -> Invoice | None:
    with clock.frozen(moment):
        async with db.uow() as uow:
            return await metering.close_month(uow, customer.id, month, SELLER)


async def invoices_of(db: Database, customer: Customer) -> list[Invoice]:
    async with db.uow() as uow:
        return list(
            (await uow.session.scalars(select(Invoice).where(Invoice.customer_id == customer.id))).all()
        )


async def test_leap_february_hour_by_hour(db: Database) -> None:
    customer = await reseller(db)
    actor = Actor(customer.id)
    feb = Month(2028, 2)
    a = await at(
        db, local(PARIS, 2028, 1, 31, 20, 0), metering.add, customer, "a.example", "hosting-s", actor
    )
    events = {
        local(PARIS, 2028, 2, 3, 10, 20): ("add", "b.example", "hosting-s"),
        local(PARIS, 2028, 2, 10, 10, 20): ("add", "trial.example", "hosting-s"),
        local(PARIS, 2028, 2, 11, 11, 30): ("remove", "trial.example", ""),
        local(PARIS, 2028, 2, 15, 14, 10): ("change", "b.example", "hosting-m"),
        local(PARIS, 2028, 2, 20, 9, 40): ("remove", "b.example", ""),
        local(PARIS, 2028, 2, 27, 12, 0): ("add", "late.example", "ssl"),
    }
    ids = {"a.example": a.id}
    hour = local(PARIS, 2028, 1, 31, 21, 0)
    end = local(PARIS, 2028, 3, 1, 0, 0)
    while hour < end:
        tick = hour + dt.timedelta(minutes=5)
        for when in sorted(e for e in events if e < tick):
            kind, name, code = events.pop(when)
            if kind == "add":
                ids[name] = (await at(db, when, metering.add, customer, name, code, actor)).id
            elif kind == "change":
                await at(db, when, metering.change_package, ids[name], code, actor)
            else:
                await at(db, when, metering.remove, ids[name], actor)
        assert await record(db, tick) >= 1
        hour += HOUR
    assert await record(db, end - dt.timedelta(minutes=30)) == 0  # the same hour again: already recorded

    after = local(PARIS, 2028, 3, 1, 0, 5)
    with clock.frozen(after):
        async with db.uow() as uow:
            assert (customer.id, feb) in await metering.due(uow)
    invoice = await close(db, customer, feb, after)
    assert invoice is not None
    got = [
        (line.description, line.amount_minor, line.period_start, line.period_end) for line in invoice.lines
    ]
    assert got == [
        ("a.example — Reseller hosting S: 696 h × €0.0041/h", charge(696, Decimal("0.41")), dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
        ("b.example — Reseller hosting S: 292 h × €0.0041/h", charge(292, Decimal("0.41")), dt.date(2028, 2, 3), dt.date(2028, 2, 15)),
        ("b.example — Reseller hosting M: 115 h × €0.0082/h", charge(115, Decimal("0.82")), dt.date(2028, 2, 15), dt.date(2028, 2, 20)),
        ("late.example — SSL certificate: 60 h × €0.0014/h", charge(60, Decimal("0.14")), dt.date(2028, 2, 27), dt.date(2028, 2, 29)),
    ]  # fmt: skip
    assert sum(line.amount_minor for line in invoice.lines) == invoice.subtotal_minor == 285 + 120 + 94 + 8
    assert invoice.vat_minor == vat_amount(invoice.subtotal_minor, Decimal(21))
    assert invoice.total_minor == invoice.subtotal_minor + invoice.vat_minor
    assert invoice.supply_date == dt.date(2028, 2, 29) and invoice.status == "unpaid"

    # The job runs again, an hour later and on another worker: nothing more.
    assert await close(db, customer, feb, after + HOUR) is None
    with clock.frozen(after + HOUR):
        async with db.uow() as uow:
            assert (customer.id, feb) not in await metering.due(uow)
    assert len(await invoices_of(db, customer)) == 1


@pytest.mark.parametrize(
    ("zone", "month", "hours"),
    [
        ("Europe/Paris", Month(2026, 3), 743),
        ("Europe/Paris", Month(2026, 10), 745),
        ("America/New_York", Month(2026, 3), 743),
        ("Asia/Jakarta", Month(2026, 3), 744),
        ("Europe/Istanbul", Month(2026, 3), 744),
    ],
)
async def test_dst_months_in_the_customers_time_zone_with_missed_hours(
    db: Database, zone: str, month: Month, hours: int
) -> None:
    """The worker was down most of the month: the resource still runs from its first recorded hour
    to the month's last hour, which depends on the customer's time zone."""
    tz = ZoneInfo(zone)
    customer = await reseller(db, zone)
    start, end = month.bounds(tz)
    await at(
        db, start - 3 * 24 * HOUR, metering.add, customer, "site.example", "hosting-s", Actor(customer.id)
    )
    assert await record(db, start - 2 * 24 * HOUR) == 1  # recorded before the month only, then ...
    assert await record(db, start + 10 * 24 * HOUR) == 1  # ... once in the middle
    invoice = await close(db, customer, month, end + HOUR)
    assert invoice is not None
    (line,) = invoice.lines
    assert f": {hours} h × " in line.description
    assert line.amount_minor == charge(hours, Decimal("0.41")) == invoice.subtotal_minor
    assert (line.period_start, line.period_end) == (month.first_day(), month.last_day())


async def test_under_48_hours_no_invoice_but_the_month_is_closed(db: Database) -> None:
    customer = await reseller(db)
    actor = Actor(customer.id)
    month = Month(2026, 6)
    start, end = month.bounds(PARIS)
    made = await at(db, start + 10 * HOUR, metering.add, customer, "try.example", "hosting-m", actor)
    for h in range(11, 11 + 47):
        await record(db, start + h * HOUR)
    await at(db, start + 57 * HOUR + dt.timedelta(minutes=30), metering.remove, made.id, actor)
    assert await record(db, start + 58 * HOUR) == 0  # deleted: no longer recorded
    assert await close(db, customer, month, end + HOUR) is None
    assert await invoices_of(db, customer) == []
    async with db.uow() as uow:
        keys = (await uow.session.scalars(select(IdempotencyKey.key))).all()
    assert keys == [f"usage-invoice:{customer.id}:2026-06"]


async def test_two_workers_closing_the_same_month_make_one_invoice(db: Database) -> None:
    customer = await reseller(db)
    month = Month(2026, 4)
    start, end = month.bounds(PARIS)
    await at(db, start - HOUR, metering.add, customer, "a.example", "support", Actor(customer.id))
    await record(db, start)

    async def worker() -> Invoice | None:
        with clock.frozen(end + HOUR):
            async with db.uow() as uow:
                return await metering.close_month(uow, customer.id, month, SELLER)

    results = await asyncio.gather(worker(), worker(), worker())
    assert sum(r is not None for r in results) == 1
    (invoice,) = await invoices_of(db, customer)
    assert invoice.subtotal_minor == charge(720, Decimal("1.35")) == 972


async def test_someone_elses_resource_answers_like_a_missing_one(db: Database) -> None:
    owner, other = await reseller(db, name="owner"), await reseller(db, name="other")
    made = await at(db, clock.now(), metering.add, owner, "mine.example", "hosting-s", Actor(owner.id))
    for action, args in ((metering.change_package, ("hosting-m",)), (metering.remove, ())):
        with pytest.raises(NotFound):
            await at(db, clock.now(), action, made.id, *args, Actor(other.id))
        with pytest.raises(NotFound):
            await at(db, clock.now(), action, 999999, *args, Actor(other.id))
    async with db.uow() as uow:
        denied = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied"))).all()
    assert [(d.customer_id, d.target) for d in denied] == [(other.id, f"meteredresource:{made.id}")] * 2
    with pytest.raises(NotFound):  # an add-on is not a hosting-account package
        await at(db, clock.now(), metering.change_package, made.id, "ssl", Actor(owner.id))
    await at(db, clock.now(), metering.remove, made.id, Actor(owner.id))
    with pytest.raises(InvalidState):  # a deleted account keeps its package
        await at(db, clock.now(), metering.change_package, made.id, "hosting-m", Actor(owner.id))


async def test_usage_ahead_of_many_customers_at_once_is_each_ones_own(db: Database) -> None:
    """The set-based estimate (the alerts scan's forecast, a batch of customers in two queries) is
    what each customer's own estimate says: customers in several time zones (around a DST change)
    with an upgrade, a deletion, hours still free or none at all, each meeting horizons inside,
    across and before the end of the month."""
    paris, york, jakarta = (
        await reseller(db, "Europe/Paris", "paris"),
        await reseller(db, "America/New_York", "york"),
        await reseller(db, "Asia/Jakarta", "jakarta"),
    )
    idle = await reseller(db, "UTC", "idle")
    s = await at(
        db, local(PARIS, 2026, 2, 25, 9, 0), metering.add, paris, "s.example", "hosting-s", Actor(paris.id)
    )
    await record(db, local(PARIS, 2026, 2, 26, 9, 5))
    await at(db, local(PARIS, 2026, 3, 2, 9, 0), metering.add, york, "y.example", "support", Actor(york.id))
    gone = await at(
        db, local(PARIS, 2026, 3, 2, 9, 30), metering.add, york, "z.example", "ssl", Actor(york.id)
    )
    await record(db, local(PARIS, 2026, 3, 2, 10, 5))
    await at(db, local(PARIS, 2026, 3, 12, 8, 0), metering.remove, gone.id, Actor(york.id))
    await at(db, local(PARIS, 2026, 3, 15, 8, 0), metering.change_package, s.id, "hosting-m", Actor(paris.id))
    await record(db, local(PARIS, 2026, 3, 15, 9, 5))
    await at(
        db,
        local(PARIS, 2026, 3, 19, 20, 0),
        metering.add,
        jakarta,
        "j.example",
        "hosting-s",
        Actor(jakarta.id),
    )
    await at(db, local(PARIS, 2026, 3, 20, 8, 0), metering.add, paris, "new.example", "ssl", Actor(paris.id))
    await record(db, local(PARIS, 2026, 3, 20, 9, 5))
    customers = [paris, york, jakarta, idle]
    now = local(PARIS, 2026, 3, 20, 10, 0)
    horizons = [now + 3 * 24 * HOUR, now + 40 * HOUR, now + 30 * 24 * HOUR, now - HOUR]
    estimated: set[int] = set()
    with clock.frozen(now):
        async with db.uow() as uow:
            for shift in range(len(customers)):  # each customer meets each horizon, all at once
                until = {c.id: horizons[(i + shift) % len(horizons)] for i, c in enumerate(customers)}
                many = await metering.usage_ahead_many(
                    uow, {c.id: (c.timezone, until[c.id]) for c in customers}
                )
                each = {c.id: await metering.usage_ahead(uow, c, until[c.id]) for c in customers}
                assert many == each, shift
                estimated |= {cid for cid, minor in many.items() if minor > 0}
                days = {c.id: facts.local_today(c) + dt.timedelta(days=shift * 5) for c in customers}
                assert await facts.usage_ahead_many(
                    uow, {c.id: (c.timezone, days[c.id]) for c in customers}
                ) == {c.id: (await facts.usage_ahead(uow, c, days[c.id])).minor for c in customers}
    assert estimated == {paris.id, york.id, jakarta.id}


lifetimes = st.lists(
    st.tuples(st.integers(-100, 720), st.integers(1, 800), st.integers(0, 800), st.sampled_from(["hosting-s", "ssl", "support"])),
    min_size=1,
    max_size=4,
)  # fmt: skip


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lifetimes)
async def test_stored_snapshots_invoice_adds_up(
    db: Database, resources: list[tuple[int, int, int, str]]
) -> None:
    """Random resources recorded every hour (straight into the table): the invoice is the sum of its
    lines, each line is hours × rate under the one rounding rule, and only 48+ hours are billed."""
    customer = await reseller(db, name=f"r{id(resources)}-{clock.now().timestamp()}")
    month = Month(2027, 2)
    start, end = month.bounds(PARIS)
    expected = 0
    async with db.uow() as uow:
        products = {p.code: p for p in await uow.session.scalars(select(MeteredProduct))}
    for first, life, upgrade_after, code in resources:
        made = await at(
            db,
            start + first * HOUR - dt.timedelta(minutes=10),
            metering.add,
            customer,
            "x",
            code,
            Actor(customer.id),
        )
        rows = []
        hour = start + first * HOUR
        deleted = hour + life * HOUR - dt.timedelta(minutes=20)
        in_month = []
        for i in range(life):
            product = products["hosting-m"] if code == "hosting-s" and i >= upgrade_after else products[code]
            rows.append(
                {
                    "resource_id": made.id,
                    "hour": hour + i * HOUR,
                    "customer_id": customer.id,
                    "product_id": product.id,
                    "hourly_minor": product.hourly_minor,
                }
            )
            if start <= hour + i * HOUR < end:
                in_month.append(product.hourly_minor)
        await at(db, deleted, metering.remove, made.id, Actor(customer.id))
        async with db.uow() as uow:
            await meter_runs.record(uow, rows)
            await uow.commit()
        if len(in_month) >= 48:
            expected += sum(charge(in_month.count(r), r) for r in set(in_month))
    invoice = await close(db, customer, month, end + HOUR)
    if expected == 0:
        assert invoice is None
    else:
        assert invoice is not None
        assert sum(line.amount_minor for line in invoice.lines) == invoice.subtotal_minor == expected
        assert invoice.total_minor == invoice.subtotal_minor + invoice.vat_minor

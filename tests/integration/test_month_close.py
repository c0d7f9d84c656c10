"""The set-based month close against the per-customer one it replaces, on both databases, on the
same generated data: resellers in five time zones (one half an hour off UTC), packages changed and
changed back, hours missed, resources deleted mid-hour or living under the free hours, history
before the month. Every batch and page size gives the same invoice lines to the minor unit, and
the roll-up the hourly recording keeps equals the one rebuilt from the snapshots."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, event, func, select, text, update

from bot.demo import METERED
from services import clock, meter_runs, metering, month_close
from services.audit import Actor
from services.hourly_billing import HOUR, Month, charge
from services.invoices import Seller
from storage.db import alembic_config
from storage.models import (
    Customer,
    IdempotencyKey,
    Invoice,
    MeteredProduct,
    MeteredResource,
    MeterRun,
    MeterSnapshot,
)
from storage.uow import Database, UnitOfWork
from tests.support.metering_reference import Row, usage_lines

SELLER = Seller("Hostbot Hosting B.V.", "Keizersgracht 100, Amsterdam", "NL", "NL004495445B01")
MONTH = Month(2026, 3)  # DST changes in Europe and America
ZONES = ("Europe/Paris", "Asia/Kolkata", "America/New_York", "Asia/Jakarta", "UTC")
AFTER = dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC)  # every zone's March has ended
FIRST = dt.datetime(2026, 2, 20, tzinfo=dt.UTC)
CODES = {"account": ["hosting-s", "hosting-m"], "addon": ["ssl"], "pack": ["support"]}


async def products(db: Database) -> dict[str, MeteredProduct]:
    async with db.uow() as uow:
        for code, name, kind, rates in METERED:
            uow.session.add(
                MeteredProduct(
                    code=code, name=name, kind=kind, currency="EUR", hourly_minor=Decimal(rates["EUR"])
                )
            )
        await uow.commit()
        return {p.code: p for p in await uow.session.scalars(select(MeteredProduct))}


async def generate(db: Database, seed: int, resellers: int = 10) -> list[int]:
    """Resellers with random resources and hours recorded straight into the table (as an import
    does); returns the resellers' ids."""
    rng = random.Random(seed)
    found = await products(db)
    ids = []
    for n in range(resellers):
        async with db.uow() as uow:
            customer = Customer(
                name=f"r{n}",
                email=f"r{n}@example.org",
                country="NL",
                currency="EUR",
                timezone=ZONES[n % 5],
                language=(None, "fr", "tr", "id")[n % 4],  # lines written in each
            )
            uow.session.add(customer)
            await uow.flush()
            rows = []
            for i in range(rng.randint(0 if n == 3 else 1, 5)):
                kind = rng.choice(list(CODES))
                born = FIRST + rng.randint(0, 800) * HOUR + dt.timedelta(minutes=rng.choice([0, 10]))
                life = rng.choice([10, 47, 48, 49, 200, 700, 2000])
                gone = born + life * HOUR - dt.timedelta(minutes=rng.choice([0, 20, 40]))
                resource = MeteredResource(
                    customer_id=customer.id,
                    kind=kind,
                    name=f"s{n}-{i}.example",
                    product_id=found[CODES[kind][0]].id,
                    created_at=born,
                    deleted_at=gone if rng.random() < 0.6 else None,
                )
                uow.session.add(resource)
                await uow.flush()
                code = CODES[kind][0]
                hour = born.replace(minute=0) + HOUR
                stop = resource.deleted_at or AFTER
                while hour < stop:
                    if rng.random() < 0.01:
                        code = rng.choice(CODES[kind])  # changed, or changed back
                    if rng.random() > 0.1:  # the recorder missed a tenth of the hours
                        product = found[code]
                        rows.append(
                            {
                                "resource_id": resource.id,
                                "hour": hour,
                                "customer_id": customer.id,
                                "product_id": product.id,
                                "hourly_minor": product.hourly_minor,
                            }
                        )
                    hour += HOUR
            await meter_runs.record(uow, rows)
            await uow.commit()
            ids.append(customer.id)
    return ids


async def reference(db: Database, ids: list[int]) -> dict[int, list[Row]]:
    async with db.uow() as uow:
        out = {}
        for cid in ids:
            customer = await uow.session.get(Customer, cid)
            assert customer is not None
            out[cid] = sorted(await usage_lines(uow, customer, MONTH))
        return out


def lines_of(invoice: Invoice | None) -> list[Row]:
    if invoice is None:
        return []
    return sorted(
        (line.description, line.amount_minor, line.period_start, line.period_end, line.ref_id)
        for line in invoice.lines
    )


async def close_in(uow: UnitOfWork, ids: list[int], rows: int) -> dict[int, list[Row]]:
    claimed = await month_close.claim(uow, [(cid, MONTH) for cid in ids])
    made = await month_close.close_claimed(uow, claimed, SELLER, rows)
    found = {i: await uow.session.get(Invoice, i) for i in made.values() if i is not None}
    return {cid: lines_of(found.get(made.get(cid) or 0)) for cid in ids}


async def test_same_lines_as_the_per_customer_close_at_every_page_size(db: Database) -> None:
    ids = await generate(db, seed=18)
    expected = await reference(db, ids)
    assert sum(len(v) for v in expected.values()) >= 10  # the data has something to bill
    assert any(not v for v in expected.values())  # ... and resellers with nothing to bill
    with clock.frozen(AFTER):
        for rows in (1, 2, 3, 5, 1000):  # a page ends inside a resource, a reseller, or never
            async with db.uow() as uow:  # not committed: each size closes the same month
                assert await close_in(uow, ids, rows) == expected, rows
        # A batch of a few customers at a time, the way the worker runs; then nothing more.
        created = await month_close.run(db, SELLER, customers=3, rows=4)
        assert created == sum(bool(v) for v in expected.values())
        assert await month_close.run(db, SELLER, customers=3, rows=4) == 0
    async with db.uow() as uow:
        invoices = (await uow.session.scalars(select(Invoice).order_by(Invoice.id))).all()
        assert {i.customer_id: lines_of(i) for i in invoices} == {c: v for c, v in expected.items() if v}
        for invoice in invoices:
            assert invoice.subtotal_minor == sum(line.amount_minor for line in invoice.lines)
        # Numbered in the order of the customers, as one customer at a time did.
        assert [i.customer_id for i in invoices] == sorted(i.customer_id for i in invoices)
        keys = set(await uow.session.scalars(select(IdempotencyKey.key)))
        assert keys >= {month_close.usage_key(c, MONTH) for c in ids}


async def test_one_customer_close_matches_too(db: Database) -> None:
    ids = await generate(db, seed=7, resellers=5)
    expected = await reference(db, ids)
    with clock.frozen(AFTER):
        for cid in ids:
            async with db.uow() as uow:
                assert lines_of(await metering.close_month(uow, cid, MONTH, SELLER)) == expected[cid]


async def runs(uow: UnitOfWork) -> list[tuple[object, ...]]:
    rows = await uow.session.execute(
        select(
            MeterRun.resource_id,
            MeterRun.since,
            MeterRun.ended,
            MeterRun.last_hour,
            MeterRun.hours,
            MeterRun.product_id,
            MeterRun.hourly_minor,
        ).order_by(MeterRun.resource_id, MeterRun.since)
    )
    return [tuple(r) for r in rows]


async def test_the_hourly_roll_up_equals_one_rebuilt_from_the_snapshots(db: Database) -> None:
    """Recorded hour by hour through package changes (and back), missed hours, a deletion, an hour
    recorded twice and one recorded late: the runs kept in step are the runs rebuilt afresh."""
    found = await products(db)
    async with db.uow() as uow:
        customer = Customer(name="r", email="r@example.org", country="NL", currency="EUR", timezone="UTC")
        uow.session.add(customer)
        await uow.commit()
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

    async def at(moment: dt.datetime, action, *args):  # type: ignore[no-untyped-def]
        with clock.frozen(moment):
            async with db.uow() as uow:
                result = await action(uow, *args)
                await uow.commit()
                return result

    a = await at(start - HOUR, metering.add, customer, "a.example", "hosting-s", Actor(customer.id))
    b = await at(start - HOUR, metering.add, customer, "b.example", "ssl", Actor(customer.id))
    plan = {5: ("change", "hosting-m"), 9: ("change", "hosting-s"), 12: ("remove", "")}
    for h in range(20):
        if h in (3, 4, 15):
            continue  # the worker was down
        if h in plan:
            kind, code = plan[h]
            if kind == "change":
                await at(start + h * HOUR, metering.change_package, a.id, code, Actor(customer.id))
            else:
                await at(start + h * HOUR, metering.remove, b.id, Actor(customer.id))
        await at(start + h * HOUR + dt.timedelta(minutes=5), metering.snapshot)
    await at(start + 7 * HOUR + dt.timedelta(minutes=50), metering.snapshot)  # the same hour again
    # An hour recorded late, in another package: it splits a run.
    async with db.uow() as uow:
        late = found["hosting-m"]
        await uow.session.execute(
            MeterSnapshot.__table__.insert(),
            [
                {
                    "resource_id": a.id,
                    "hour": start + 15 * HOUR,
                    "customer_id": customer.id,
                    "product_id": late.id,
                    "hourly_minor": late.hourly_minor,
                }
            ],
        )
        await meter_runs.extend(uow, start + 15 * HOUR)
        await uow.commit()
    async with db.uow() as uow:
        kept = await runs(uow)
        await meter_runs.rebuild(uow, [a.id, b.id])
        rebuilt = await runs(uow)
        recorded = await uow.session.scalar(select(func.count()).select_from(MeterSnapshot))
    assert kept == rebuilt
    s, m = found["hosting-s"].id, found["hosting-m"].id
    assert [(r[0], (r[1] - start) // HOUR, r[4], r[5]) for r in kept] == [
        (a.id, 0, 3, s),
        (a.id, 5, 4, m),
        (a.id, 9, 6, s),
        (a.id, 15, 1, m),
        (a.id, 16, 4, s),
        (b.id, 0, 10, found["ssl"].id),
    ]
    assert sum(r[4] for r in kept) == recorded


async def test_a_long_history_in_one_package_is_one_run(db: Database) -> None:
    """What the close reads for a resource grows with its package changes, not with its hours:
    a year recorded in one package is one run, and earlier months are not read."""
    found = await products(db)
    async with db.uow() as uow:
        customer = Customer(name="r", email="r@example.org", country="NL", currency="EUR", timezone="UTC")
        uow.session.add(customer)
        await uow.flush()
        resource = MeteredResource(
            customer_id=customer.id, kind="pack", name="old.example", product_id=found["support"].id,
            created_at=FIRST - 400 * 24 * HOUR,
        )  # fmt: skip
        uow.session.add(resource)
        await uow.flush()
        product = found["support"]
        hours = range(1, 400 * 24)
        await meter_runs.record(
            uow,
            [
                {
                    "resource_id": resource.id,
                    "hour": resource.created_at + h * HOUR,
                    "customer_id": customer.id,
                    "product_id": product.id,
                    "hourly_minor": product.hourly_minor,
                }
                for h in hours
            ],
        )
        await uow.commit()
        assert await uow.session.scalar(select(func.count()).select_from(MeterRun)) == 1
        expected = sorted(await usage_lines(uow, customer, MONTH))
    with clock.frozen(AFTER):
        async with db.uow() as uow:
            assert await close_in(uow, [customer.id], 1) == {customer.id: expected}
    assert [line[1] for line in expected] == [charge(len(MONTH.hours(dt.UTC)), Decimal("1.35"))]


@pytest.mark.parametrize("deleted_minutes", [0, 20])
async def test_a_resource_deleted_before_the_month_bills_nothing(db: Database, deleted_minutes: int) -> None:
    ids = await generate(db, seed=3, resellers=2)
    async with db.uow() as uow:
        month_start = MONTH.bounds(dt.UTC)[0]
        await uow.session.execute(
            update(MeteredResource)
            .where(MeteredResource.customer_id == ids[0])
            .values(deleted_at=month_start - dt.timedelta(minutes=deleted_minutes))
        )
        await uow.commit()
    expected = await reference(db, ids)
    with clock.frozen(AFTER):
        async with db.uow() as uow:
            assert await close_in(uow, ids, 2) == expected


async def test_the_migration_fills_the_roll_up_from_the_snapshots(db: Database) -> None:
    """Migration 0020 on a database that has snapshots already: the runs it fills are the ones
    the recording keeps."""
    await generate(db, seed=5, resellers=4)
    async with db.uow() as uow:
        kept = await runs(uow)
    assert kept

    def again(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020-1")
        command.upgrade(cfg, "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(again)
    async with db.uow() as uow:
        assert await runs(uow) == kept


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_close_reads_through_indexes(db: Database) -> None:
    """The close's reads and writes would not scan a big table (plans as on big tables: sequential
    scans priced out, so one left means no index serves the query)."""
    await generate(db, seed=7, resellers=12)
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    seen: list[tuple[str, Any]] = []

    def record(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        with clock.frozen(AFTER):
            assert await month_close.run(db, SELLER, customers=5, rows=50) > 0
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert any("FROM meter_runs" in statement for statement, _ in seen)
    small = {"metered_products", "sellers"}  # a handful of rows whatever the size
    scans = []
    async with db.engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in seen:
            plan = [row[0] for row in await conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
            scans += [
                (line.strip(), statement[:120])
                for line in plan
                if "Seq Scan on" in line and line.split("Seq Scan on ")[1].split()[0] not in small
            ]
    assert scans == []

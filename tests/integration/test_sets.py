"""``storage.sets`` on both databases: rows inserted in the order given with the columns' defaults,
conflicts skipped when asked, the caller's rows joined as a table, and one statement text for
batches of any size (what keeps the compiled cache, and the memory, flat)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import BigInteger, Date, Integer, event, select, update
from sqlalchemy.engine import Connection

from storage.models import AuditEntry, BillingNotice, Customer, Order, Plan
from storage.sets import insert_rows, rows_table
from storage.uow import Database


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_rows_are_inserted_in_the_order_given_with_the_defaults(db: Database) -> None:
    async with db.uow() as uow:
        written = await insert_rows(
            uow,
            AuditEntry,
            [{"action": "x.y", "target": f"t:{i}", "detail": {"n": i, "s": "é"}} for i in (3, 1, 2)],
            returning=[AuditEntry.target],
        )
        await uow.commit()
    assert [target for _id, target in written] == ["t:3", "t:1", "t:2"]
    assert [i for i, _t in written] == sorted(i for i, _t in written)
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
    assert [(r.target, r.detail, r.outcome, r.customer_id) for r in rows] == [
        ("t:3", {"n": 3, "s": "é"}, "ok", None),
        ("t:1", {"n": 1, "s": "é"}, "ok", None),
        ("t:2", {"n": 2, "s": "é"}, "ok", None),
    ]
    assert all(r.at.tzinfo is not None for r in rows)  # the column's Python default, in UTC


async def _customer(db: Database) -> int:
    async with db.uow() as uow:
        customer = Customer(name="A", email="a@example.com", country="NL", currency="EUR")
        uow.session.add(customer)
        await uow.commit()
        return customer.id


async def test_conflicting_rows_are_skipped_when_asked(db: Database) -> None:
    customer_id = await _customer(db)

    def notice(key: str) -> dict[str, Any]:
        return {"customer_id": customer_id, "kind": "k", "key": key, "params": {"key": key}}

    async with db.uow() as uow:
        await insert_rows(uow, BillingNotice, [notice("a")])
        added = await insert_rows(
            uow,
            BillingNotice,
            [notice("b"), notice("a"), notice("c")],
            [BillingNotice.key],
            skip_conflicts=True,
        )
        await uow.commit()
    assert [key for _id, key in added] == ["b", "c"]


async def test_a_batch_is_joined_as_a_table_with_one_statement_text(
    db: Database, statements: list[str]
) -> None:
    customer_id = await _customer(db)
    start = dt.date(2026, 11, 1)
    async with db.uow() as uow:
        plan = Plan(code="s", name="S", kind="vps", currency="EUR", monthly_minor=1, yearly_minor=1)
        uow.session.add(plan)
        await uow.flush()
        orders = [
            Order(
                customer_id=customer_id,
                plan_id=plan.id,
                billing_cycle="monthly",
                price_minor=1000,
                currency="EUR",
                period_start=start,
                period_end=start + dt.timedelta(days=30),
            )
            for _ in range(4)
        ]
        uow.session.add_all(orders)
        await uow.commit()
        ids = [o.id for o in orders]
    for batch in ([(ids[0], 7, start)], [(ids[1], 8, start), (ids[2], 9, start + dt.timedelta(days=1))]):
        async with db.uow() as uow:
            given = rows_table(uow.dialect, "v", {"id": Integer(), "mark": BigInteger(), "on": Date()}, batch)
            await uow.session.execute(
                update(Order)
                .where(Order.id == given.c.id, Order.period_start == given.c.on)
                .values(renewal_short_mark=given.c.mark)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
    async with db.uow() as uow:
        marks = (
            (await uow.session.execute(select(Order.renewal_short_mark).order_by(Order.id))).scalars().all()
        )
    assert marks == [7, 8, None, None]  # the third's start did not match
    updates = {s for s in statements if s.startswith("UPDATE orders")}
    assert len(updates) == 1

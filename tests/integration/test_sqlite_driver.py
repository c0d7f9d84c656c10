"""``storage.sqlite_driver``: each statement makes one trip to aiosqlite's thread, and SQLAlchemy
gets from it what it got from its own adapter (rows, counts, generated ids, errors, rollbacks,
streamed results)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from storage import sqlite_driver
from storage.db import make_engine, migrate
from storage.models import Customer, Plan
from storage.uow import Database


def plan_row(code: str) -> Plan:
    return Plan(code=code, name=code, kind="vps", currency="EUR", monthly_minor=100, yearly_minor=1000)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    await migrate(engine)
    database = Database(engine)
    yield database
    await database.close()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the functions run on aiosqlite's thread, in order."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


async def test_a_query_and_a_write_make_one_trip_each(db: Database, trips: list[str]) -> None:
    async with db.uow() as uow:
        await uow.core(text("SELECT 1"))  # the connection is checked out and ready
        trips.clear()
        rows = (await uow.core(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all()
        changed = await uow.core(update(Customer).where(Customer.id < 0).values(name="x"))
        assert trips == ["_execute", "_execute"]  # SQLAlchemy's own adapter: 4 and 3
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    assert changed.rowcount == 0


async def test_ending_a_unit_of_work_that_only_read_costs_no_trip(db: Database, trips: list[str]) -> None:
    async with db.uow() as uow:
        await uow.core(text("SELECT 1"))
    async with db.uow() as uow:
        trips.clear()
        await uow.core(select(Customer.id))
        await uow.commit()
    assert trips == ["_execute"]


async def test_orm_inserts_get_their_ids_and_counts_are_right(db: Database) -> None:
    async with db.uow() as uow:
        plan = plan_row("p1")
        uow.session.add(plan)
        await uow.flush()
        assert plan.id is not None
        added = await uow.core(
            insert(Customer),
            [
                {"name": f"c{n}", "email": f"c{n}@example.com", "country": "FR", "currency": "EUR"}
                for n in range(3)
            ],
        )
        assert added.rowcount == 3
        moved = await uow.core(update(Customer).values(currency="USD"))
        assert moved.rowcount == 3
        await uow.commit()
    async with db.uow() as uow:
        counted = await uow.session.scalar(select(func.count()).select_from(Customer))
    assert counted == 3


async def test_errors_are_sqlalchemys_and_a_rollback_undoes(db: Database) -> None:
    async with db.uow() as uow:
        uow.session.add(plan_row("same"))
        await uow.commit()
    async with db.uow() as uow:
        uow.session.add(plan_row("other"))
        await uow.flush()
        uow.session.add(plan_row("same"))
        with pytest.raises(IntegrityError):
            await uow.flush()
        await uow.rollback()
    async with db.uow() as uow:
        codes = (await uow.session.scalars(select(Plan.code).order_by(Plan.code))).all()
    assert codes == ["same"]


async def test_streamed_results_keep_sqlalchemys_cursor(db: Database) -> None:
    async with db.engine.connect() as conn:
        count_to_500 = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) SELECT i FROM n"
        )
        result = await conn.stream(text(count_to_500))
        seen = [row[0] async for row in result]
    assert seen == list(range(1, 501))


# -- the write gate: one writer at a time, first come first served --------------------------------


async def _write_and_hold(db: Database, name: str, held: asyncio.Event, done: list[str]) -> None:
    """Open a write transaction, hold it until ``held`` is set, then commit and note ``name``."""
    async with db.uow() as uow:
        await uow.core(update(Customer).where(Customer.id < 0).values(name=name))
        await held.wait()
        await uow.commit()
        done.append(name)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[None]:
    """One item per writer that has come to the gate (and, if it is taken, waits in its queue)."""
    came: asyncio.Queue[None] = asyncio.Queue()
    enter = sqlite_driver.WriteGate.enter

    async def counted(self: sqlite_driver.WriteGate) -> asyncio.Lock:
        came.put_nowait(None)  # the lock's queue is joined in this same step, before any wait
        return await enter(self)

    monkeypatch.setattr(sqlite_driver.WriteGate, "enter", counted)
    return came


async def test_writers_take_turns_in_the_order_they_came(db: Database, queued: asyncio.Queue[None]) -> None:
    """SQLite's busy handler lets waiting writers in as their sleeps end; the gate in their order,
    with none of them sleeping or failing, the first one holding its transaction meanwhile."""
    async with asyncio.timeout(30):  # a gate that never came would leave this waiting
        done: list[str] = []
        first = asyncio.Event()
        holder = asyncio.create_task(_write_and_hold(db, "first", first, done))
        await queued.get()  # it has the gate: it writes and holds its transaction open
        free = asyncio.Event()
        free.set()
        waiters = []
        for n in range(5):
            waiters.append(asyncio.create_task(_write_and_hold(db, f"w{n}", free, done)))
            await queued.get()  # w{n} waits at the gate before w{n+1} comes
        first.set()
        await asyncio.gather(holder, *waiters)
    assert done == ["first", "w0", "w1", "w2", "w3", "w4"]


async def test_the_gate_is_left_after_a_rollback_a_failed_write_and_a_closed_connection(
    db: Database,
) -> None:
    async with db.uow() as uow:  # rolled back: left without commit
        await uow.core(update(Customer).where(Customer.id < 0).values(name="x"))
    async with db.uow() as uow:  # a write that fails: nothing was opened for it
        with pytest.raises(Exception, match="no such table"):
            await uow.core(text("INSERT INTO no_such_table VALUES (1)"))
    async with db.engine.connect() as conn:  # the connection closed with its transaction open
        await conn.execute(update(Customer).where(Customer.id < 0).values(name="y"))
        await conn.invalidate()
    async with asyncio.timeout(5), db.uow() as uow:  # the gate is free: this write gets its turn
        await uow.core(update(Customer).where(Customer.id < 0).values(name="z"))
        await uow.commit()


async def test_a_writer_that_waits_too_long_gets_database_is_locked(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    engine.dialect.dbapi.gate.timeout = 0.2  # type: ignore[union-attr]
    await migrate(engine)
    db = Database(engine)
    try:
        async with db.uow() as holder:
            await holder.core(update(Customer).where(Customer.id < 0).values(name="x"))
            async with db.uow() as late:
                with pytest.raises(OperationalError, match="database is locked"):
                    await late.core(update(Customer).where(Customer.id < 0).values(name="y"))
    finally:
        await db.close()

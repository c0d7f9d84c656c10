"""The set-based jobs find and do exactly what the per-customer jobs did (``tests/support/
jobs_reference.py``) on the same generated data, on both databases; their main queries use indexes
on PostgreSQL; an auto-renewal the balance does not cover is not tried again until the ledger moves."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection

from bot import records_parts
from bot.config import Settings
from services import clock, invoices, ledger, paying, renewals
from services.alerts import finders, outbox
from services.errors import InsufficientBalance, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.models import Alert, BillingNotice, Customer, Domain, Invoice, LedgerEntry, Order
from storage.uow import Database, UnitOfWork
from tests.support import job_data, jobs_reference

CUSTOMERS = 400
RENEWING = 600  # with auto-renewals of orders and domains both covered and not
TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


async def _generate(db: Database, customers: int = CUSTOMERS) -> None:
    async with db.engine.begin() as conn:
        await job_data.clear(conn)
        await job_data.generate(conn, customers, TODAY, NOW)


async def _alerts(db: Database) -> set[tuple[str, int, str, str]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(select(Alert.key, Alert.customer_id, Alert.kind, Alert.params))
        return {(k, c, kind, repr(sorted(p.items()))) for k, c, kind, p in rows}


async def _as_per_customer(
    db: Database, settings: Settings, seller: Seller, batch: int
) -> set[tuple[str, int, str, str]]:
    """The alerts the per-customer scan writes; the set-based scan, from an empty outbox, must
    write the same ones and count them alike."""
    told = await jobs_reference.scan_per_customer(db, settings, seller)
    expected = await _alerts(db)
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM alerts"))
    assert await finders.scan(db, settings, seller, batch=batch) == told
    assert await _alerts(db) == expected
    return expected


async def test_the_scan_finds_what_the_per_customer_scan_found(db: Database, settings: Settings) -> None:
    seller = records_parts.seller(settings)
    await _generate(db)
    with clock.frozen(NOW):
        expected = await _as_per_customer(db, settings, seller, batch=37)
        assert await finders.scan(db, settings, seller, batch=37) == 0  # told once
    kinds = {kind for _k, _c, kind, _p in expected}
    rules = {key.split(":")[0] for key, *_ in expected}
    assert kinds == {"renewal", "autorenew", "lowbalance", "overdue", "ticket"}
    assert rules == {"renew", "short", "notice", "forecast", "threshold", "overdue", "reply"}


# Edges the generated data lacks (customer: threshold, beside the balance the generator gives):
# equal (37), one above (74), one below (111), negative and above a negative balance (-552), one
# without any ledger entry (0); and tickets with several messages.
THRESHOLDS = {1: 37, 2: 75, 3: 110, 4: -500, 5: 1}
TICKETS = {901: 1, 902: 2, 903: 3}  # ticket: customer (one with a chat: the generated ones have none)
MESSAGES = [  # ticket, author, read; ids from 901 on
    (901, "staff", False),  # ticket 901's latest unread reply, though a read one and the customer's follow
    (901, "staff", True),
    (901, "customer", False),
    (902, "staff", False),
    (902, "staff", False),  # ticket 902's latest
    (903, "customer", False),  # none from support
]


async def _edges(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM alert_settings WHERE customer_id <= 5"))
        for cid, low in THRESHOLDS.items():
            await conn.execute(
                text(
                    "INSERT INTO alert_settings (customer_id, muted, low_balance_minor) VALUES (:c, '[]', :low)"
                ),
                {"c": cid, "low": low},
            )
        for ticket, cid in TICKETS.items():
            await conn.execute(
                text(
                    "INSERT INTO tickets (id, customer_id, department, importance, subject, status, created_at,"
                    " updated_at) SELECT :id, :c, department, importance, subject, status, created_at, updated_at"
                    " FROM tickets WHERE id = 20"
                ),
                {"id": ticket, "c": cid},
            )
        for n, (ticket, author, read) in enumerate(MESSAGES, start=901):
            await conn.execute(
                text(
                    "INSERT INTO ticket_messages (id, ticket_id, author, body, is_read, created_at)"
                    " SELECT :id, :ticket, :author, 'More', :read, created_at FROM tickets WHERE id = :ticket"
                ),
                {"id": n, "ticket": ticket, "author": author, "read": read},
            )


async def test_the_scan_finds_what_the_per_customer_scan_found_at_the_edges(
    db: Database, settings: Settings
) -> None:
    """Thresholds at, above and below the balance, and tickets with several replies: the set-based
    tests in SQL (the balance below the threshold, a ticket's latest unread reply) decide as the
    reference does."""
    seller = records_parts.seller(settings)
    await _generate(db, 60)
    await _edges(db)
    with clock.frozen(NOW):
        expected = await _as_per_customer(db, settings, seller, batch=7)
    keys = {key for key, *_ in expected}
    assert {k.rsplit(":", 1)[0] for k in keys if k.startswith("threshold:")} >= {
        "threshold:2:75",
        "threshold:4:-500",
        "threshold:5:1",
    }
    assert not [k for k in keys if k.startswith(("threshold:1:", "threshold:3:"))]
    assert {k for k in keys if k.startswith(("reply:901:", "reply:902:", "reply:903:"))} == {
        "reply:901:901",
        "reply:902:905",
    }


async def _renewal_state(db: Database) -> dict[str, Any]:
    """Everything the renewal pass writes, to the minor unit."""
    async with db.uow() as uow:
        s = uow.session
        return {
            "orders": (
                await s.execute(select(Order.id, Order.period_end, Order.status).order_by(Order.id))
            ).all(),
            "domains": (await s.execute(select(Domain.id, Domain.expires_on).order_by(Domain.id))).all(),
            "invoices": (
                await s.execute(
                    select(
                        Invoice.id,
                        Invoice.customer_id,
                        Invoice.renewal_key,
                        Invoice.status,
                        Invoice.subtotal_minor,
                        Invoice.vat_minor,
                        Invoice.total_minor,
                    ).order_by(Invoice.id)
                )
            ).all(),
            "ledger": (
                await s.execute(
                    select(LedgerEntry.customer_id, func.sum(LedgerEntry.amount_minor), func.count())
                    .group_by(LedgerEntry.customer_id)
                    .order_by(LedgerEntry.customer_id)
                )
            ).all(),
            "balances": (
                await s.execute(select(Customer.id, Customer.balance_minor).order_by(Customer.id))
            ).all(),
            "notices": (
                await s.execute(select(BillingNotice.customer_id, BillingNotice.key, BillingNotice.params))
            ).all(),
        }


async def _renewed_per_order(db: Database, seller: Seller) -> tuple[renewals.RenewalRun, dict[str, Any]]:
    """What today's per-order pass does to the generated data (its run and the state it leaves),
    then the same data generated afresh for the pass under test."""
    await _generate(db, RENEWING)
    async with db.uow() as uow:
        run = await jobs_reference.run_due_per_order(uow, seller)
    state = await _renewal_state(db)
    await _generate(db, RENEWING)
    return run, state


async def test_the_renewal_pass_renews_what_the_per_order_pass_renewed(
    db: Database, settings: Settings
) -> None:
    seller = records_parts.seller(settings)
    with clock.frozen(NOW):
        expected_run, expected = await _renewed_per_order(db, seller)
        async with db.uow() as uow:
            run = await renewals.run_due(uow, seller, batch=7)
    assert run == expected_run
    assert await _renewal_state(db) == expected
    assert run.renewed and run.short and run.domains_renewed and run.domains_short


def _without_invoice_ids(state: dict[str, Any]) -> dict[str, Any]:
    """The state with invoices compared by what they are, not by the order their ids were taken in."""
    return {**state, "invoices": sorted(tuple(row[1:]) for row in state["invoices"])}


async def test_two_passes_racing_on_the_same_batches_renew_each_item_once(
    db: Database, settings: Settings
) -> None:
    seller = records_parts.seller(settings)
    with clock.frozen(NOW):
        expected_run, expected = await _renewed_per_order(db, seller)

        async def one_pass() -> renewals.RenewalRun:
            async with db.uow() as uow:
                return await renewals.run_due(uow, seller, batch=50)

        first, second = await asyncio.gather(one_pass(), one_pass())
    assert sorted(first.renewed + second.renewed) == expected_run.renewed  # each once, by one pass
    assert sorted(first.domains_renewed + second.domains_renewed) == expected_run.domains_renewed
    assert set(first.short + second.short) == set(expected_run.short)
    assert _without_invoice_ids(await _renewal_state(db)) == _without_invoice_ids(expected)


async def test_the_pass_racing_the_per_order_pass_renews_each_item_once(
    db: Database, settings: Settings
) -> None:
    """The batch pass and a payer of one item at a time (the per-order pass locks and pays as a
    renewal confirmed in chat does) take the same customer locks: each item is paid by one of them."""
    seller = records_parts.seller(settings)
    with clock.frozen(NOW):
        expected_run, expected = await _renewed_per_order(db, seller)

        async def batch_pass() -> renewals.RenewalRun:
            async with db.uow() as uow:
                return await renewals.run_due(uow, seller, batch=20)

        async def per_order() -> renewals.RenewalRun:
            async with db.uow() as uow:
                return await jobs_reference.run_due_per_order(uow, seller)

        first, second = await asyncio.gather(batch_pass(), per_order())
    assert sorted(first.renewed + second.renewed) == expected_run.renewed
    assert sorted(first.domains_renewed + second.domains_renewed) == expected_run.domains_renewed
    assert _without_invoice_ids(await _renewal_state(db)) == _without_invoice_ids(expected)


async def test_a_batch_debit_the_balance_does_not_cover_moves_no_money(db: Database) -> None:
    """The decision is taken in memory, but the database still refuses a batch's debits that would
    take a balance below zero: the batch raises and its transaction keeps nothing."""
    await _generate(db, 20)
    before = await _renewal_state(db)
    async with db.uow() as uow:
        with pytest.raises(InsufficientBalance):  # together one minor unit more than customer 2 has
            await ledger.debit_covered(uow, "charge", await _debits(uow, [(1, 1), (2, 74), (2, 1)]))
        await uow.rollback()
    assert await _renewal_state(db) == before
    async with db.uow() as uow:
        entries = await ledger.debit_covered(uow, "charge", await _debits(uow, [(1, 1), (2, 74)]))
        await uow.commit()
    after = await _renewal_state(db)
    assert len(entries) == 2
    assert after["balances"][:2] == [(1, 36), (2, 0)]  # generated with 0.37 and 0.74


async def _debits(uow: UnitOfWork, amounts: list[tuple[int, int]]) -> list[ledger.Debit]:
    """A debit of ``minor`` for each (customer id, minor)."""
    found = []
    for customer_id, minor in amounts:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        found.append(ledger.Debit(customer, Money(minor, "EUR"), f"debit {len(found)}"))
    return found


async def test_a_batch_paying_an_invoice_paid_meanwhile_pays_nothing(
    db: Database, settings: Settings
) -> None:
    """Each invoice of a batch is claimed unpaid → paid by one conditional update: one that is no
    longer unpaid makes the batch raise, so no money moves for it twice."""
    seller = records_parts.seller(settings)
    await _generate(db, 40)
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, 27)  # a balance of 9.99
        assert customer is not None
        [issued] = await invoices.create_many(
            uow, [invoices.Draft(customer, [LineSpec("x", 100)], TODAY)], seller
        )
        await uow.commit()
    bill = paying.Bill(customer, issued.id, issued.number, issued.total_minor, issued.currency)
    async with db.uow() as uow:
        await paying.from_balances(uow, [bill])
        await uow.commit()
    paid = await _renewal_state(db)
    async with db.uow() as uow:
        with pytest.raises(InvalidState):
            await paying.from_balances(uow, [bill])
        await uow.rollback()
    assert await _renewal_state(db) == paid


async def test_an_uncovered_renewal_waits_for_the_ledger_to_move(db: Database, settings: Settings) -> None:
    seller = records_parts.seller(settings)
    await _generate(db, RENEWING)
    with clock.frozen(NOW):
        async with db.uow() as uow:
            first = await renewals.run_due(uow, seller)
        async with db.uow() as uow:  # the next hourly pass: nothing moved, nothing is redone
            assert await renewals.run_due(uow, seller) == renewals.RenewalRun([], [])
        async with db.uow() as uow:  # the per-order pass would have tried every one of them again
            assert (await jobs_reference.run_due_per_order(uow, seller)).short == first.short
        order = await _order(db, first.short[0])
        async with db.uow() as uow:
            customer = await uow.session.get(Customer, order.customer_id)
            assert customer is not None
            await ledger.post(uow, customer, Money(100_000, "EUR"), "topup", "", None)
            await uow.commit()
        async with db.uow() as uow:
            again = await renewals.run_due(uow, seller)
    assert again.renewed == [order.id] and again.short == []  # only that customer's ledger moved


async def _order(db: Database, order_id: int) -> Order:
    async with db.uow() as uow:
        order = await uow.session.get(Order, order_id)
        assert order is not None
        return order


@pytest.fixture
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs meanwhile, with its parameters (of an executemany, the first
    set: each set is planned the same way; a multi-row INSERT comes with its parameters flat)."""
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if many and parameters and isinstance(parameters[0], tuple | list | dict):
            parameters = parameters[0]
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH")):
            seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)


SMALL = {"plans"}  # a handful of rows whatever the size


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_scan_and_dispatch_queries_use_indexes(
    db: Database, settings: Settings, statements: list[tuple[str, Any]]
) -> None:
    seller = records_parts.seller(settings)
    await _generate(db, 2000)
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    with clock.frozen(NOW):
        await finders.scan(db, settings, seller, batch=500)
        async with db.uow() as uow:
            claimed = await outbox.claim(uow, "w1", 20, 60)
            alert = await outbox.held(uow, claimed[0], "w1")
            assert alert is not None
            await outbox.recipients(uow, alert.customer_id)
            await outbox.delivered_to(uow, alert.id)
        async with db.uow() as uow:
            await renewals.run_due(uow, seller)
    assert len(statements) > 20
    scans = []
    async with db.engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))  # the plan as it would be on big tables
        for statement, parameters in statements:
            plan = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            lines = [row[0] for row in plan]
            scans += [
                (line.strip(), statement[:120])
                for line in lines
                if "Seq Scan on" in line and line.split("Seq Scan on ")[1].split()[0] not in SMALL
            ]
    assert scans == []

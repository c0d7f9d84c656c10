"""An unpaid order's lifecycle under a frozen clock, on SQLite and PostgreSQL: announced, suspended
through the server driver, brought back by paying, terminated; each step once however often and
however many workers run the job, each announcement once, in the customer's language."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from bot import bootstrap, demo
from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import clock, ledger, pending_actions, renewals, service_lifecycle
from services.drivers.log_mail import LogMailer
from services.money import Money
from storage.models import Alert, AuditEntry, Customer, Invoice, Order, PendingAction, Server
from storage.uow import Database
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat

# Seeded on March 10: order 1 of Atelier Lumière (server web-1, renewal invoice #3 open) is due on
# March 20; by default it is suspended on March 22 and terminated on April 3.
SEEDED = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
DUE = dt.date(2026, 3, 20)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


def days(n: int) -> dt.date:
    return DUE + dt.timedelta(days=n)


def fr(day: dt.date) -> str:
    """A date as French readers get it (Babel's own output)."""
    with use_locale("fr"):
        return formatting.date(day)


@pytest.fixture
async def seeded(db: Database, settings: Settings, mailer: LogMailer) -> Dispatcher:
    """The demo, with Alice (customer 1) linked, reading French, and a balance of zero: order 1's
    automatic renewal cannot be paid."""
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer)
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            await demo.seed(uow, dispatcher.seller)
        await Chat.linked(dispatcher, "alice", customer_id=1)
        async with db.uow() as uow:
            customer = await uow.session.get(Customer, 1)
            assert customer is not None
            customer.language = "fr"
            await ledger.post(
                uow, customer, Money(-customer.balance_minor, "EUR"), "adjustment", "test", None
            )
            await uow.commit()
    return dispatcher


async def job(dispatcher: Dispatcher) -> service_lifecycle.LifecycleRun:
    """The worker's hourly pass as far as the lifecycle goes: renewals, steps, then the actions."""
    async with dispatcher.db.uow() as uow:
        await renewals.run_due(uow, dispatcher.seller)
    run = await service_lifecycle.run(dispatcher.db, dispatcher.settings)
    await dispatcher.actions.run_due()
    return run


async def send(dispatcher: Dispatcher) -> RecordingSender:
    sender = RecordingSender()
    await AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}).run_pass()
    return sender


async def told_about_order_1(dispatcher: Dispatcher) -> list[str]:
    """What Alice is sent now about order 1 (her other orders have lives of their own)."""
    return [t for t in (await send(dispatcher)).texts("alice") if "ommande #1 (VPS M)" in t]


async def lifecycle_keys(db: Database) -> list[str]:
    async with db.uow() as uow:
        return sorted((await uow.session.scalars(select(Alert.key).where(Alert.kind == "lifecycle"))).all())


async def audited(db: Database, action: str, target: str) -> list[AuditEntry]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == target)
        )
        return list(rows.all())


async def order_and_server(db: Database) -> tuple[str, str]:
    async with db.uow() as uow:
        order = await uow.session.get(Order, 1)
        server = await uow.session.get(Server, 1)
        assert order is not None and server is not None and server.order_id == 1
        return order.status, server.power_state


async def actions(db: Database) -> list[tuple[str, str, str, int]]:
    """The actions on web-1, order 1's server."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(PendingAction.key, PendingAction.kind, PendingAction.state, PendingAction.attempts)
            .where(PendingAction.target == "server:1")
            .order_by(PendingAction.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_an_unpaid_order_is_announced_suspended_announced_and_terminated_once_each(
    seeded: Dispatcher,
) -> None:
    db = seeded.db
    told: list[str] = []
    with clock.frozen(at(DUE)):
        for _ in range(2):
            await job(seeded)
        assert [k for k in await lifecycle_keys(db) if ":1:" in k] == ["lifecycle:suspend:1:2026-03-20:2"]
        told += await told_about_order_1(seeded)
    assert f"La commande #1 (VPS M) était due le {fr(DUE)} et n’est pas payée" in told[-1]
    assert f"elle sera suspendue dans 2 jours, le {fr(days(2))}." in told[-1]
    assert "Payez-la ici" in told[-1]  # the renewal invoice's pay link

    with clock.frozen(at(days(1))):
        await job(seeded)
        assert await order_and_server(db) == ("active", "running")

    with clock.frozen(at(days(2))):
        await asyncio.gather(job(seeded), job(seeded))
        await job(seeded)
        assert await order_and_server(db) == ("suspended", "suspended")
        assert await actions(db) == [("suspend:server:1:2026-03-20", "suspend", "done", 1)]
        assert len(await audited(db, "order.suspended", "order:1")) == 1
        assert len(await audited(db, "server.suspended", "server:1")) == 1
        told += await told_about_order_1(seeded)
    assert "La commande #1 (VPS M) est suspendue" in told[-1]
    assert f"elle sera résiliée le {fr(days(14))}." in told[-1]

    for day in (7, 13):
        with clock.frozen(at(days(day))):
            for _ in range(2):
                await job(seeded)
            told += await told_about_order_1(seeded)
    assert f"sera résiliée dans 7 jours, le {fr(days(14))}" in told[-2]
    assert f"sera résiliée dans 1 jour, le {fr(days(14))}" in told[-1]

    with clock.frozen(at(days(14))):
        await asyncio.gather(job(seeded), job(seeded))
        await job(seeded)
        assert await order_and_server(db) == ("terminated", "terminated")
        told += await told_about_order_1(seeded)
    assert "La commande #1 (VPS M) a été résiliée" in told[-1]

    assert [k for k in await lifecycle_keys(db) if ":1:2026-03-20" in k] == [
        "lifecycle:suspend:1:2026-03-20:2",
        "lifecycle:suspended:1:2026-03-20",
        "lifecycle:terminate:1:2026-03-20:1",
        "lifecycle:terminate:1:2026-03-20:7",
        "lifecycle:terminated:1:2026-03-20",
    ]
    assert len(told) == 5  # each once, and nothing else about order 1 in between
    assert [k for k, *_ in await actions(db)] == ["suspend:server:1:2026-03-20", "terminate:server:1"]
    assert {state for _k, _kind, state, _n in await actions(db)} == {"done"}
    assert len(await audited(db, "server.terminated", "server:1")) == 1
    assert len(await audited(db, "order.terminated", "order:1")) == 1
    async with db.uow() as uow:
        renewal = await uow.session.get(Invoice, 3)
        assert renewal is not None and renewal.status == "cancelled"  # nothing to pay any more
    reply = await Chat(seeded, "alice").say("extend 1")
    assert "résiliée" in reply.text


async def test_paying_the_renewal_unsuspends_at_once(seeded: Dispatcher) -> None:
    """Suspended, and the worker stopped before it reached the driver: paying in the chat carries
    out both, in order, before the answer; the worker finds nothing left."""
    db, alice = seeded.db, Chat(seeded, "alice")
    with clock.frozen(at(days(2))):
        await service_lifecycle.run(db, seeded.settings)  # no actions run: the worker died here
        assert await order_and_server(db) == ("suspended", "running")
        async with db.uow() as uow:
            customer = await uow.session.get(Customer, 1)
            renewal = await uow.session.get(Invoice, 3)
            assert customer is not None and renewal is not None
            await ledger.post(uow, customer, Money(10_000, "EUR"), "adjustment", "test", None)
            await uow.commit()
        question = await alice.say(f"paybalance {renewal.number}")
        await alice.press_key(question.all_buttons()[0].key)
        assert await order_and_server(db) == ("active", "running")
        carried_out = [
            ("suspend:server:1:2026-03-20", "suspend", "done", 1),
            ("unsuspend:server:1:2026-03-20", "unsuspend", "done", 1),
        ]
        assert await actions(db) == carried_out
        assert len(await audited(db, "server.unsuspended", "server:1")) == 1
        await job(seeded)  # the worker: other accounts' actions; order 1 is paid until April 20
        assert await actions(db) == carried_out
        assert await order_and_server(db) == ("active", "running")
        assert await told_about_order_1(seeded) == []  # the suspension alert no longer applies
    with clock.frozen(at(days(14))):
        await job(seeded)
        assert await order_and_server(db) == ("active", "running")


async def test_an_action_claimed_by_a_worker_that_died_is_taken_over_after_its_lease(
    seeded: Dispatcher,
) -> None:
    db = seeded.db
    with clock.frozen(at(days(2))):
        await service_lifecycle.run(db, seeded.settings)
        async with db.uow() as uow:
            claimed = await pending_actions.claim(
                uow, "dead-worker", 10, seeded.settings.actions_lease_seconds
            )
        assert "server:1" in {c.target for c in claimed}
        assert await seeded.actions.run_due() == 0  # its lease still holds
    with clock.frozen(at(days(2)) + dt.timedelta(seconds=seeded.settings.actions_lease_seconds + 1)):
        runners = [bootstrap.action_runner(db, seeded.settings, seeded.drivers) for _ in range(2)]
        assert sum(await asyncio.gather(*(r.run_due() for r in runners))) == len(claimed)
    assert await actions(db) == [("suspend:server:1:2026-03-20", "suspend", "done", 2)]
    assert await order_and_server(db) == ("suspended", "suspended")
    assert len(await audited(db, "server.suspended", "server:1")) == 1


async def test_a_customer_without_a_linked_chat_is_moved_on_but_not_told(seeded: Dispatcher) -> None:
    """Budi (customer 2) links no chat: his order due on March 20 is suspended all the same, and
    no alert is written for him."""
    db = seeded.db
    async with db.uow() as uow:
        budi = await uow.session.scalar(
            select(Order.id).where(Order.customer_id == 2, Order.period_end == DUE)
        )
    with clock.frozen(at(days(2))):
        await service_lifecycle.run(db, seeded.settings)
    async with db.uow() as uow:
        order = await uow.session.get(Order, budi)
        assert order is not None and order.status == "suspended"
        assert (
            await uow.session.scalar(select(func.count()).select_from(Alert).where(Alert.customer_id == 2))
            == 0
        )
    assert "lifecycle:suspended:1:2026-03-20" in await lifecycle_keys(db)


@pytest.fixture
def statements(seeded: Dispatcher) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the test runs."""
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engine = seeded.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield sent
    event.remove(engine, "before_cursor_execute", count)


async def test_the_steps_cost_the_same_statements_for_one_customer_or_all(
    seeded: Dispatcher, statements: list[str]
) -> None:
    """Set-based: suspending one customer's order or every customer's takes the same statements
    (a batch is up to 200 customers), so the job's cost does not grow with the customers."""
    db = seeded.db
    async with db.uow() as uow:
        due = (await uow.session.scalars(select(Order.id).where(Order.period_end == DUE))).all()
        assert len(due) >= 4  # one per demo customer
        await uow.session.execute(update(Order).where(Order.id.in_(due[1:])).values(period_end=days(100)))
        await uow.commit()
    with clock.frozen(at(days(2))):
        statements.clear()
        one = await service_lifecycle.run(db, seeded.settings)
        for_one = len(statements)
    async with db.uow() as uow:
        await uow.session.execute(update(Order).where(Order.id.in_(due[1:])).values(period_end=days(1)))
        await uow.commit()
    with clock.frozen(at(days(3))):
        statements.clear()
        rest = await service_lifecycle.run(db, seeded.settings)
        for_all = len(statements)
    assert (one.suspended, rest.suspended) == (1, len(due) - 1)
    assert for_one == for_all
    async with db.uow() as uow:
        suspended = await uow.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "suspended")
        )
    assert suspended == len(due)


def test_the_lifecycle_is_data_in_the_settings() -> None:
    suspend, terminate = service_lifecycle.steps(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (suspend.days, suspend.notice_days, terminate.days, terminate.notice_days) == (2, (2,), 14, (7, 1))
    later = Settings(lifecycle_suspend_days=5, lifecycle_terminate_days=30, _env_file=None)  # type: ignore[call-arg]
    assert [s.days for s in service_lifecycle.steps(later)] == [5, 30]
    with pytest.raises(ValueError, match="LIFECYCLE_SUSPEND_DAYS"):
        service_lifecycle.steps(Settings(lifecycle_suspend_days=20, _env_file=None))  # type: ignore[call-arg]

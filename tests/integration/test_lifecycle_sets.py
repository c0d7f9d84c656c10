"""The lifecycle steps, set-based in batches of customers, against the same rules decided one order
at a time, on both databases and the same generated orders: statuses, server actions, cancelled
invoices and plan changes, alerts; batches that end anywhere; a second pass changes nothing."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from services import clock, service_lifecycle
from storage.models import (
    Alert,
    ChatIdentity,
    Customer,
    Invoice,
    Order,
    OrderChange,
    PendingAction,
    Plan,
    Server,
)
from storage.uow import Database
from tests.support import lifecycle_reference
from tests.support.lifecycle_reference import OrderRow

TODAY = dt.date(2026, 5, 14)


@dataclass(frozen=True)
class Rules:
    lifecycle_suspend_days: int = 2
    lifecycle_terminate_days: int = 14
    lifecycle_suspend_notice_days: list[int] = field(default_factory=lambda: [3, 1])
    lifecycle_terminate_notice_days: list[int] = field(default_factory=lambda: [7, 2])


async def generate(db: Database, seed: int) -> tuple[list[OrderRow], set[int]]:
    rng = random.Random(seed)
    rows: list[OrderRow] = []
    linked: set[int] = set()
    async with db.uow() as uow:
        plan = Plan(
            code="vps", name="VPS", kind="server", currency="EUR", monthly_minor=990, yearly_minor=9900
        )
        uow.session.add(plan)
        await uow.flush()
        for c in range(12):
            customer = Customer(name=f"c{c}", email=f"c{c}@example.org", country="NL", currency="EUR")
            uow.session.add(customer)
            await uow.flush()
            if rng.random() < 0.6:
                uow.session.add(ChatIdentity(platform="test", user_id=f"u{c}", customer_id=customer.id))
                linked.add(customer.id)
            for _ in range(rng.randint(0, 4)):
                end = TODAY - dt.timedelta(days=rng.randint(-5, 20))
                order = Order(
                    customer_id=customer.id, plan_id=plan.id, billing_cycle="monthly", price_minor=990,
                    currency="EUR", period_start=end - dt.timedelta(days=30), period_end=end,
                    status=rng.choice(["active"] * 4 + ["suspended", "terminated", "cancelled"]),
                )  # fmt: skip
                uow.session.add(order)
                await uow.flush()
                servers = []
                for s in range(rng.randint(0, 2)):
                    server = Server(
                        customer_id=customer.id, order_id=order.id, hostname=f"h{order.id}-{s}", os="debian",
                        ip="192.0.2.1", netmask="255.255.255.0", gateway="192.0.2.254", mac="02:00:00:00:00:01",
                    )  # fmt: skip
                    uow.session.add(server)
                    await uow.flush()
                    servers.append(server.id)
                unpaid = []
                if rng.random() < 0.7:
                    invoice = Invoice(
                        customer_id=customer.id, kind="invoice", series="T", seq=order.id, number=f"T-{order.id}",
                        status=rng.choice(["unpaid", "unpaid", "paid"]), currency="EUR", issue_date=end,
                        supply_date=end, due_date=end, subtotal_minor=990, vat_rate=0, vat_minor=0,
                        total_minor=990, reverse_charge=False, order_id=order.id, buyer={}, seller={},
                    )  # fmt: skip
                    uow.session.add(invoice)
                    await uow.flush()
                    if invoice.status == "unpaid":
                        unpaid.append(invoice.id)
                changes = []
                if rng.random() < 0.3:
                    change = OrderChange(
                        customer_id=customer.id, order_id=order.id, kind="plan", plan_id=plan.id,
                        effective_on=TODAY + dt.timedelta(days=3), status="scheduled",
                    )  # fmt: skip
                    uow.session.add(change)
                    await uow.flush()
                    changes.append(change.id)
                rows.append(OrderRow(order.id, customer.id, order.status, end, servers, unpaid, changes))
        await uow.commit()
    return rows, linked


@pytest.mark.parametrize("batch", [1, 3, 200])
async def test_set_based_steps_match_one_order_at_a_time(db: Database, batch: int) -> None:
    orders, linked = await generate(db, seed=18)
    rules = Rules()
    expected = lifecycle_reference.run(orders, linked, rules, TODAY)
    assert expected.actions and expected.alerts and expected.cancelled_invoices  # the data has it all
    with clock.frozen(dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC)):
        done = await service_lifecycle.run(db, rules, batch=batch)
        again = await service_lifecycle.run(db, rules, batch=batch)
    assert (again.suspended, again.terminated, again.announced) == (0, 0, 0)
    async with db.uow() as uow:
        statuses = {i: s for i, s in await uow.session.execute(select(Order.id, Order.status))}
        actions = set(await uow.session.scalars(select(PendingAction.key)))
        alerts = set(await uow.session.scalars(select(Alert.key)))
        invoices = set(await uow.session.scalars(select(Invoice.id).where(Invoice.status == "cancelled")))
        changes = set(
            await uow.session.scalars(select(OrderChange.id).where(OrderChange.status == "cancelled"))
        )
    assert statuses == expected.statuses
    assert actions == expected.actions
    assert alerts == expected.alerts
    assert (invoices, changes) == (expected.cancelled_invoices, expected.cancelled_changes)
    moved = expected.moved
    assert (done.suspended, done.terminated, done.announced) == (
        moved.get("suspended", 0),
        moved.get("terminated", 0),
        moved.get("announced", 0),
    )

"""Scheduled plan changes applied set-based, against the one-at-a-time loop they replace, on both
databases and the same generated orders: downgrades, changes of cycle, upgrades (prorated on an
invoice), changes not due yet and cancelled ones, in batches that end anywhere."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import select

from services import clock, plans
from services.invoices import Seller
from storage.models import Customer, Invoice, Order, OrderChange, Plan
from storage.uow import Database, UnitOfWork
from tests.support import plans_reference

SELLER = Seller("Hostbot Hosting B.V.", "Keizersgracht 100, Amsterdam", "NL", "NL004495445B01")
TODAY = dt.date(2026, 5, 14)
KINDS = {
    "subscription": [(0, 0), (2900, 29000), (9900, 99000)],
    "support": [(0, 0), (4900, 49000), (14900, 149000)],
}


async def generate(db: Database, seed: int, orders: int = 40) -> None:
    rng = random.Random(seed)
    async with db.uow() as uow:
        by_kind: dict[str, list[Plan]] = {}
        for kind, prices in KINDS.items():
            for rank, (monthly, yearly) in enumerate(prices, start=1):
                plan = Plan(
                    code=f"{kind}-{rank}", name=f"{kind.title()} {rank}", kind=kind, currency="EUR",
                    monthly_minor=monthly, yearly_minor=yearly, rank=rank,
                )  # fmt: skip
                uow.session.add(plan)
                by_kind.setdefault(kind, []).append(plan)
        customers = [
            Customer(
                name=f"c{i}",
                email=f"c{i}@example.org",
                country=rng.choice(["NL", "FR", "DE"]),
                currency="EUR",
            )
            for i in range(8)
        ]
        uow.session.add_all(customers)
        await uow.flush()
        for _ in range(orders):
            kind = rng.choice(list(KINDS))
            plan = rng.choice(by_kind[kind])
            cycle = rng.choice(["monthly", "yearly"])
            start = TODAY - dt.timedelta(days=rng.randint(1, 25))
            order = Order(
                customer_id=rng.choice(customers).id, plan_id=plan.id, billing_cycle=cycle,
                price_minor=plans.price(plan, cycle), currency="EUR", period_start=start,
                period_end=start + dt.timedelta(days=365 if cycle == "yearly" else 30),
            )  # fmt: skip
            uow.session.add(order)
            await uow.flush()
            if rng.random() < 0.85:
                uow.session.add(
                    OrderChange(
                        customer_id=order.customer_id,
                        order_id=order.id,
                        kind="plan",
                        plan_id=rng.choice(by_kind[kind]).id,
                        billing_cycle=rng.choice([None, "monthly", "yearly", cycle, cycle]),
                        effective_on=TODAY + dt.timedelta(days=rng.randint(-4, 2)),
                        status=rng.choice(["scheduled"] * 5 + ["cancelled"]),
                    )
                )
        await uow.commit()


async def state(uow: UnitOfWork) -> dict[str, Any]:
    orders = await uow.session.execute(
        select(Order.id, Order.plan_id, Order.billing_cycle, Order.price_minor).order_by(Order.id)
    )
    changes = await uow.session.execute(
        select(OrderChange.id, OrderChange.status, OrderChange.invoice_id).order_by(OrderChange.id)
    )
    invoices = (await uow.session.scalars(select(Invoice).order_by(Invoice.id))).all()
    numbers = {i.id: i.number for i in invoices}
    return {
        "orders": [tuple(r) for r in orders],
        "changes": [(i, s, numbers.get(inv)) for i, s, inv in changes],
        "invoices": [
            (
                i.customer_id,
                i.number,
                i.order_id,
                i.subtotal_minor,
                i.vat_minor,
                i.total_minor,
                [
                    (line.description, line.amount_minor, line.period_start, line.period_end)
                    for line in i.lines
                ],
            )
            for i in invoices
        ],
    }


@pytest.mark.parametrize("batch", [1, 4, 500])  # a batch ends anywhere, or holds them all
async def test_set_based_changes_match_one_at_a_time(db: Database, batch: int) -> None:
    await generate(db, seed=18)
    with clock.frozen(dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC)):
        async with db.uow() as uow:  # not committed: the set-based run sees the same data
            expected_count = await plans_reference.apply_due(uow, SELLER)
            expected = await state(uow)
            await uow.rollback()
        assert expected_count >= 10
        assert expected["invoices"]  # some were upgrades
        async with db.uow() as uow:
            assert await plans.apply_due(uow, SELLER, batch=batch) == expected_count
        async with db.uow() as uow:
            assert await state(uow) == expected
            assert await plans.apply_due(uow, SELLER, batch=batch) == 0  # nothing is applied twice

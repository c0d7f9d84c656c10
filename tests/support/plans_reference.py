"""Scheduled plan changes as they were applied, one change at a time: what the set-based
``services.plans.apply_due`` must reproduce (same plans, cycles, prices, invoices)."""

from __future__ import annotations

from sqlalchemy import select

from services import audit, clock, plans
from services.invoices import Seller
from storage.models import Customer, Order, OrderChange
from storage.uow import UnitOfWork


async def apply_due(uow: UnitOfWork, seller: Seller) -> int:
    """Every scheduled change whose date has come, by id, in the caller's transaction (flushed,
    not committed)."""
    today = clock.today()
    applied = 0
    last_id = 0
    while True:
        row = await uow.session.scalar(
            select(OrderChange)
            .where(
                OrderChange.status == "scheduled", OrderChange.effective_on <= today, OrderChange.id > last_id
            )
            .order_by(OrderChange.id)
            .limit(1)
        )
        if row is None:
            return applied
        last_id = row.id
        order = await uow.session.get(Order, row.order_id)
        customer = await uow.session.get(Customer, row.customer_id)
        assert order is not None and customer is not None and row.plan is not None
        cycle = row.billing_cycle or order.billing_cycle
        if plans.is_upgrade(order, row.plan, cycle):
            invoice = await plans._upgrade_now(uow, customer, order, row.plan, cycle, seller, None)
            row.invoice_id = invoice.id if invoice else None
        else:
            plans.switch(order, row.plan, cycle)
            audit.record(uow, "order.downgrade", None, f"order:{order.id}", new=row.plan.code)
        row.status = "done"
        applied += 1
        await uow.flush()

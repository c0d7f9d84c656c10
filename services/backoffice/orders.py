"""Orders (the services a customer rents): plan, billing cycle, price, period, add-ons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator
from sqlalchemy import delete, select

from services import clock, plans
from services.backoffice import catalogue
from services.backoffice.common import (
    ByCustomer,
    Code,
    Document,
    ExternalId,
    Id,
    Key,
    Minor,
    Ref,
    Written,
    assign,
    customer,
    locate,
    noted,
    owners,
    page,
    ref_of,
    stays_with,
)
from storage.models import Addon, Order, OrderAddon, Plan
from storage.uow import UnitOfWork


class OrderAddonDoc(Document):
    code: Code
    quantity: int = Field(1, ge=1, le=10_000)


class OrderDoc(Document):
    """An order of a plan in the customer's currency. Without ``price_minor`` the order costs the
    plan's price for its billing cycle."""

    external_id: ExternalId | None = None
    customer: Ref
    plan: Code
    billing_cycle: Literal["monthly", "yearly"]
    price_minor: Minor | None = None
    period_start: dt.date
    period_end: dt.date
    auto_renew: bool = False
    status: Literal["active", "suspended", "cancelled", "terminated"] = "active"
    addons: Annotated[list[OrderAddonDoc], Field(max_length=50)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _period(self) -> OrderDoc:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must come after period_start")
        if len({a.code for a in self.addons}) != len(self.addons):
            raise ValueError("an add-on is listed twice")
        return self


class OrderEntry(OrderDoc):
    id: Id | None = None


class OrderView(OrderDoc):
    id: int
    status: str  # type: ignore[assignment]  # as stored, whatever the lifecycle set
    currency: str
    price_minor: Minor
    created_at: dt.datetime


async def _addons(uow: UnitOfWork, doc: OrderDoc, currency: str) -> list[tuple[Addon, int]]:
    return [
        (await catalogue.priced(uow, Addon, "add-on", a.code, currency, f"addons.{i}.code"), a.quantity)
        for i, a in enumerate(doc.addons)
    ]


async def _set_addons(uow: UnitOfWork, order: Order, wanted: list[tuple[Addon, int]]) -> bool:
    if [(a.addon_id, a.quantity) for a in order.addons] == [(a.id, q) for a, q in wanted]:
        return False
    await uow.session.execute(delete(OrderAddon).where(OrderAddon.order_id == order.id))
    uow.session.add_all(OrderAddon(order_id=order.id, addon_id=a.id, quantity=q) for a, q in wanted)
    await uow.flush()
    await uow.session.refresh(order, ["addons"])
    return True


async def put(uow: UnitOfWork, doc: OrderDoc, key: Key, by: str) -> Written[Order]:
    row = await locate(uow, Order, "order", key, doc.external_id)
    owner = await customer(uow, doc.customer)
    plan = await catalogue.priced(uow, Plan, "plan", doc.plan, owner.currency, "plan")
    wanted = await _addons(uow, doc, owner.currency)
    values = {
        "plan_id": plan.id,
        "billing_cycle": doc.billing_cycle,
        "price_minor": doc.price_minor
        if doc.price_minor is not None
        else plans.price(plan, doc.billing_cycle),
        "currency": owner.currency,
        "period_start": doc.period_start,
        "period_end": doc.period_end,
        "auto_renew": doc.auto_renew,
        "status": doc.status,
    }
    external_id = doc.external_id or key.external_id
    if row is None:
        row = Order(customer_id=owner.id, external_id=external_id, created_at=clock.now(), **values)
        uow.session.add(row)
        await uow.flush()
        await uow.session.refresh(row, ["addons", "plan"])
        await _set_addons(uow, row, wanted)
        return noted(uow, by, "order", Written(row, "created"), owner.id)
    stays_with(row.customer_id, owner, "order")
    if external_id is not None:
        values["external_id"] = external_id
    changed = assign(row, values)
    changed = await _set_addons(uow, row, wanted) or changed
    if changed:
        await uow.flush()
        await uow.session.refresh(row, ["plan"])
    return noted(uow, by, "order", Written(row, "updated" if changed else "unchanged"), owner.id)


async def views(uow: UnitOfWork, rows: Sequence[Order]) -> list[OrderView]:
    people = await owners(uow, {r.customer_id for r in rows})
    return [
        OrderView(
            id=r.id,
            external_id=r.external_id,
            customer=ref_of(people[r.customer_id]),
            plan=r.plan.code,
            billing_cycle=r.billing_cycle,
            price_minor=r.price_minor,
            currency=r.currency,
            period_start=r.period_start,
            period_end=r.period_end,
            auto_renew=r.auto_renew,
            status=r.status,
            addons=[OrderAddonDoc(code=a.addon.code, quantity=a.quantity) for a in r.addons],
            created_at=r.created_at,
        )
        for r in rows
    ]


async def listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[OrderView], int | None]:
    select_ = select(Order)
    if query.customer is not None:
        select_ = select_.where(Order.customer_id == query.customer)
    rows, after = await page(uow, select_, Order.id, query)
    return await views(uow, rows), after

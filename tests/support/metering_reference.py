"""The month close as it was, one customer at a time, straight from the snapshots: what the
set-based close (``services.month_close``, reading the roll-up) must reproduce to the minor unit.

Kept deliberately simple and slow: a query per resource, every hour as an object.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from services.hourly_billing import Month, State, resource_lines
from services.month_close import USAGE_LINE
from services.wording import Rate, Text, names_of, write
from storage.models import Customer, MeteredProduct, MeteredResource, MeterSnapshot
from storage.uow import UnitOfWork

# (description, amount in minor units, first day, last day, resource id)
Row = tuple[str, int, dt.date, dt.date, int | None]


async def usage_lines(uow: UnitOfWork, customer: Customer, month: Month, language: str = "en") -> list[Row]:
    """The customer's usage invoice lines for the whole month, as ``close_month`` made them
    (``language``: the seller's, for a customer who chose none)."""
    tz = ZoneInfo(customer.timezone)
    start, end = month.bounds(tz)
    hours = month.hours(tz)
    resources = (
        await uow.session.scalars(
            select(MeteredResource)
            .where(
                MeteredResource.customer_id == customer.id,
                MeteredResource.created_at < end,
                or_(MeteredResource.deleted_at.is_(None), MeteredResource.deleted_at > start),
            )
            .order_by(MeteredResource.id)
        )
    ).all()
    products = {p.id: p for p in await uow.session.scalars(select(MeteredProduct))}
    out: list[Row] = []
    for resource in resources:
        before = await uow.session.scalar(
            select(MeterSnapshot.hour)
            .where(MeterSnapshot.resource_id == resource.id, MeterSnapshot.hour < start)
            .order_by(MeterSnapshot.hour.desc())
            .limit(1)
        )
        since = before if before is not None else start
        snapshots = await uow.session.execute(
            select(MeterSnapshot.hour, MeterSnapshot.product_id, MeterSnapshot.hourly_minor).where(
                MeterSnapshot.resource_id == resource.id,
                MeterSnapshot.hour >= since,
                MeterSnapshot.hour < end,
            )
        )
        states = [(hour, State(pid, rate)) for hour, pid, rate in snapshots]
        for line in resource_lines(resource.id, states, resource.deleted_at, hours, end):
            text = Text(
                USAGE_LINE,
                {
                    "resource": resource.name,
                    "package": names_of(products[line.state.product_id]),
                    "hours": len(line.hours),
                    "rate": Rate(line.state.rate, customer.currency),
                },
            )
            out.append(
                (
                    write(text, customer.language or language),
                    line.amount,
                    line.hours[0].astimezone(tz).date(),
                    line.hours[-1].astimezone(tz).date(),
                    resource.id,
                )
            )
    return out

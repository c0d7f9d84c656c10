"""The account at a glance: balance, what is unpaid, and what renews soon."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from services import clock, invoices, ledger, renewal_costs
from services.invoices import Seller
from services.money import Money
from storage.models import Customer, Domain, Invoice, Order
from storage.uow import UnitOfWork

RENEWAL_WINDOW = dt.timedelta(days=30)


@dataclass(frozen=True)
class Renewal:
    """An order period or a domain that ends within the window; ``amount`` is what renewing it
    costs (``services.renewal_costs``)."""

    what: str
    ref: str
    on: dt.date
    amount: Money
    auto_renew: bool


@dataclass(frozen=True)
class Overview:
    balance: Money
    unpaid: Sequence[Invoice]
    unpaid_count: int
    unpaid_total: Money
    renewals: list[Renewal]


async def account_overview(uow: UnitOfWork, customer: Customer, seller: Seller, shown: int = 5) -> Overview:
    balance = await ledger.balance(uow, customer)
    unpaid, count = await invoices.listing(uow, customer.id, "unpaid", 0, shown)
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(Invoice.total_minor), 0)).where(
            Invoice.customer_id == customer.id,
            Invoice.status == "unpaid",
            Invoice.kind != "quote",
            Invoice.currency == customer.currency,
        )
    )
    horizon = clock.today() + RENEWAL_WINDOW
    orders = (
        await uow.session.scalars(
            select(Order).where(
                Order.customer_id == customer.id, Order.status == "active", Order.period_end <= horizon
            )
        )
    ).all()
    domains = (
        await uow.session.scalars(
            select(Domain).where(Domain.customer_id == customer.id, Domain.expires_on <= horizon)
        )
    ).all()
    costs = await renewal_costs.costs(uow, customer, seller, orders, domains)
    renewals = [
        Renewal("order", f"#{o.id} {o.plan.name}", o.period_end, costs["order", o.id].amount, o.auto_renew)
        for o in orders
    ] + [Renewal("domain", d.name, d.expires_on, costs["domain", d.id].amount, d.auto_renew) for d in domains]
    renewals.sort(key=lambda r: r.on)
    return Overview(balance, unpaid, count, Money(int(total or 0), customer.currency), renewals)

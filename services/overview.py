"""The account at a glance: balance, what is unpaid, and what renews soon."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from services import clock, invoices, ledger, renewal_costs
from services.invoices import Seller
from services.money import Money
from storage.models import Customer, Invoice
from storage.uow import UnitOfWork

RENEWAL_WINDOW = dt.timedelta(days=30)


@dataclass(frozen=True)
class Overview:
    balance: Money
    unpaid: Sequence[invoices.Listed]
    unpaid_count: int
    unpaid_total: Money
    renewals: list[renewal_costs.Renewal]  # due within RENEWAL_WINDOW


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
    due = await renewal_costs.renewals(uow, customer, seller, until=clock.today() + RENEWAL_WINDOW)
    renewals = sorted(due, key=lambda r: (r.due, r.item != "order", r.id))  # orders first on a day
    return Overview(balance, unpaid, count, Money(int(total or 0), customer.currency), renewals)

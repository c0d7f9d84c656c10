"""The balance is the sum of immutable ledger entries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from services import audit
from services.audit import Actor
from services.errors import InsufficientBalance
from services.money import Money
from storage.models import Customer, LedgerEntry
from storage.uow import UnitOfWork


async def balance(uow: UnitOfWork, customer: Customer) -> Money:
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.customer_id == customer.id, LedgerEntry.currency == customer.currency
        )
    )
    return Money(int(total or 0), customer.currency)


async def recent(uow: UnitOfWork, customer_id: int, limit: int = 5) -> Sequence[LedgerEntry]:
    rows = await uow.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return rows.all()


async def post(
    uow: UnitOfWork,
    customer: Customer,
    amount: Money,
    kind: str,
    memo: str,
    actor: Actor | None,
    invoice_id: int | None = None,
) -> LedgerEntry:
    """Add one movement; a debit may not take the balance below the customer's overdraft limit."""
    if amount.currency != customer.currency:
        raise ValueError("ledger entries are in the customer's currency")
    if amount.minor < 0:
        current = await balance(uow, customer)
        if (current + amount).minor < -customer.overdraft_limit_minor:
            raise InsufficientBalance(balance=current, amount=Money(-amount.minor, amount.currency))
    entry = LedgerEntry(
        customer_id=customer.id,
        amount_minor=amount.minor,
        currency=amount.currency,
        kind=kind,
        memo=memo,
        invoice_id=invoice_id,
    )
    uow.session.add(entry)
    audit.record(uow, f"ledger.{kind}", actor, f"customer:{customer.id}", amount=amount.minor, memo=memo)
    return entry

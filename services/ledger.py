"""The balance is the sum of immutable ledger entries, kept beside them on the customer's row.

Every movement is decided by the database: ``post`` moves ``customers.balance_minor`` with one
conditional UPDATE that also checks the floor, so two debits arriving at the same moment can never
both pass a check that only one of them fits. ``lock`` serialises whole money operations of one
customer (paying an invoice, renewing), always taken before the invoice rows, so they never deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import BigInteger, Integer, bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from services import audit
from services.audit import Actor
from services.errors import InsufficientBalance
from services.money import Money
from storage.models import Customer, LedgerEntry
from storage.sets import insert_rows, rows_table
from storage.uow import UnitOfWork

# How low a debit may take the balance: the customer's overdraft limit; zero (the balance must
# cover the whole amount: auto-renew and renewals paid at once); or no floor, for money that came in
# and is applied to its invoice in the same transaction.
Floor = Literal["overdraft", "covered", "none"]


async def lock(uow: UnitOfWork, customer_id: int) -> None:
    """Hold the customer's row until the transaction ends. On SQLite the first write of a
    transaction takes the database's write lock, so an update that changes nothing does it."""
    if uow.dialect == "postgresql":
        await uow.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    else:
        await uow.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(balance_minor=Customer.balance_minor)
            .execution_options(synchronize_session=False)
        )


# Read on most chat updates: built once, so SQLAlchemy reuses their compiled form.
_BALANCE = select(Customer.balance_minor).where(Customer.id == bindparam("id"))
_RECENT = (
    select(
        LedgerEntry.kind,
        LedgerEntry.created_at,
        LedgerEntry.amount_minor,
        LedgerEntry.currency,
        LedgerEntry.memo,
    )
    .where(LedgerEntry.customer_id == bindparam("id"))
    .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
    .limit(bindparam("limit"))
)


async def balance(uow: UnitOfWork, customer: Customer) -> Money:
    minor = await uow.session.scalar(_BALANCE, {"id": customer.id})
    return Money(int(minor or 0), customer.currency)


def as_read(customer: Customer) -> Money:
    """The balance on the customer's row as this transaction read it, with no statement of its own:
    for showing the balance of the account a chat update was read with (``customer`` is loaded
    with the sender, moments before, and ``post`` keeps it current). A decision on money reads
    ``balance``, or moves it with ``post``."""
    return Money(customer.balance_minor, customer.currency)


@dataclass(frozen=True)
class Movement:
    """A ledger entry as a statement lists it (a row, not a mapped entry)."""

    kind: str
    created_at: dt.datetime
    amount_minor: int
    currency: str
    memo: str


async def recent(uow: UnitOfWork, customer_id: int, limit: int = 5) -> list[Movement]:
    """The last movements, newest first."""
    rows = await uow.core(_RECENT, {"id": customer_id, "limit": limit})
    return [Movement(*row) for row in rows]


async def post(
    uow: UnitOfWork,
    customer: Customer,
    amount: Money,
    kind: str,
    memo: str,
    actor: Actor | None,
    invoice_id: int | None = None,
    floor: Floor = "overdraft",
) -> LedgerEntry:
    """Add one movement and move the balance with it; a debit that would take the balance below
    ``floor`` raises ``InsufficientBalance`` having written nothing."""
    if amount.currency != customer.currency:
        raise ValueError("ledger entries are in the customer's currency")
    after = Customer.balance_minor + amount.minor
    move = update(Customer).where(Customer.id == customer.id)
    if amount.minor < 0 and floor == "overdraft":
        move = move.where(after >= -Customer.overdraft_limit_minor)
    elif amount.minor < 0 and floor == "covered":
        move = move.where(after >= 0)
    new_balance = await uow.session.scalar(
        move.values(balance_minor=after)
        .returning(Customer.balance_minor)
        .execution_options(synchronize_session=False)
    )
    if new_balance is None:
        raise InsufficientBalance(
            balance=await balance(uow, customer), amount=Money(-amount.minor, amount.currency)
        )
    set_committed_value(customer, "balance_minor", new_balance)
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


@dataclass(frozen=True)
class Debit:
    """Money leaving a customer's balance (``amount`` is positive), with its entry's memo and invoice."""

    customer: Customer
    amount: Money
    memo: str
    invoice_id: int | None = None


async def debit_covered(uow: UnitOfWork, kind: str, debits: Sequence[Debit]) -> list[int]:
    """``post`` of many debits that the balance must cover whole (``floor="covered"``), for
    customers whose rows the caller holds: what a job pays for a batch of accounts at once.

    One UPDATE moves each customer's balance by the sum of their debits, only where it stays at or
    above zero, so the database still refuses what the balance does not cover; one customer left
    out raises ``InsufficientBalance`` (the caller's transaction then rolls back, nothing is kept).
    One INSERT writes the entries, one the audit rows. Returns the entries' ids in the order given."""
    if not debits:
        return []
    if any(d.amount.currency != d.customer.currency for d in debits):
        raise ValueError("ledger entries are in the customer's currency")
    sums: dict[int, int] = {}
    for d in debits:
        sums[d.customer.id] = sums.get(d.customer.id, 0) + d.amount.minor
    await _move_all(uow, {d.customer.id: d.customer for d in debits}, sums)
    ids = await insert_rows(
        uow,
        LedgerEntry,
        [
            {
                "customer_id": d.customer.id,
                "amount_minor": -d.amount.minor,
                "currency": d.amount.currency,
                "kind": kind,
                "memo": d.memo,
                "invoice_id": d.invoice_id,
            }
            for d in debits
        ],
    )
    await audit.record_system(
        uow,
        f"ledger.{kind}",
        [(f"customer:{d.customer.id}", {"amount": -d.amount.minor, "memo": d.memo}) for d in debits],
    )
    return [int(i) for (i,) in ids]


async def _move_all(uow: UnitOfWork, customers: dict[int, Customer], sums: dict[int, int]) -> None:
    """Take ``sums`` (by customer id) off the balances in one conditional UPDATE that leaves alone
    any balance it would take below zero; raise if it left one alone. The sums are joined as a
    table (``storage.sets.rows_table``), so the statement is the same for every batch."""
    debits = rows_table(uow.dialect, "debits", {"id": Integer(), "minor": BigInteger()}, list(sums.items()))
    rows = await uow.session.execute(
        update(Customer)
        .where(Customer.id == debits.c.id, Customer.balance_minor >= debits.c.minor)
        .values(balance_minor=Customer.balance_minor - debits.c.minor)
        .returning(Customer.id, Customer.balance_minor)
        .execution_options(synchronize_session=False)
    )
    moved = {int(customer_id): int(minor) for customer_id, minor in rows}
    for customer_id, customer in customers.items():
        if customer_id not in moved:
            raise InsufficientBalance(
                balance=await balance(uow, customer), amount=Money(sums[customer_id], customer.currency)
            )
        set_committed_value(customer, "balance_minor", moved[customer_id])

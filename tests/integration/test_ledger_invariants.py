"""Hypothesis: the balance is always the sum of the ledger and never goes below the overdraft."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import demo
from services import invoices, ledger, paying
from services.errors import InsufficientBalance, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from storage.db import make_engine, migrate
from storage.models import Customer, LedgerEntry
from storage.uow import Database

SELLER = Seller("Seller", "Street 1", "NL", "NL004495445B01")
OPS = st.lists(
    st.tuples(st.sampled_from(["credit", "debit", "invoice"]), st.integers(min_value=1, max_value=50_000)),
    max_size=25,
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"

    async def build() -> None:
        db = Database(make_engine(url))
        await migrate(db.engine)
        async with db.uow() as uow:
            await demo.seed(uow, SELLER)
        await db.close()

    asyncio.run(build())
    return url


async def _scenario(url: str, overdraft: int, ops: list[tuple[str, int]]) -> None:
    db = Database(make_engine(url))
    try:
        async with db.uow() as uow:  # never committed: every example starts from the demo data
            customer = await uow.session.get(Customer, 4)
            assert customer is not None
            customer.overdraft_limit_minor = overdraft
            for op, amount in ops:
                try:
                    if op == "credit":
                        await ledger.post(uow, customer, Money(amount, "EUR"), "topup", "", None)
                    elif op == "debit":
                        await ledger.post(uow, customer, Money(-amount, "EUR"), "charge", "", None)
                    else:
                        inv = await invoices.create(uow, customer, [LineSpec("x", amount)], SELLER, None)
                        await paying.mark_paid(uow, inv, "balance", None)
                except (InsufficientBalance, InvalidState):
                    await uow.flush()
                balance = await ledger.balance(uow, customer)
                total = await uow.session.scalar(
                    select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                        LedgerEntry.customer_id == 4
                    )
                )
                assert balance.minor == total
                assert balance.minor >= -overdraft
    finally:
        await db.close()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([0, 0, 1000, 100_000]), OPS)
def test_ledger_sums_to_balance_and_respects_overdraft(
    seeded: str, overdraft: int, ops: list[tuple[str, int]]
) -> None:
    asyncio.run(_scenario(seeded, overdraft, ops))

"""The row holding an account's security settings (``AccountSecurity``): read it, or take it for a
change. Accounts that never set anything have no row; reading one gives the defaults."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import clock
from storage.models import AccountSecurity
from storage.uow import UnitOfWork


async def read(uow: UnitOfWork, customer_id: int) -> AccountSecurity | None:
    """The account's settings as committed (None: never set), read afresh."""
    return await uow.session.scalar(
        select(AccountSecurity)
        .where(AccountSecurity.customer_id == customer_id)
        .execution_options(populate_existing=True)
    )


async def for_change(uow: UnitOfWork, customer_id: int) -> AccountSecurity:
    """The account's row, added if missing, held until the transaction ends so that two changes
    at once are made one after the other (on SQLite the insert takes the database's write lock;
    on PostgreSQL the row is locked)."""
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    await uow.session.execute(
        insert(AccountSecurity)
        .values(customer_id=customer_id, allowed_networks=[], updated_at=clock.now())
        .on_conflict_do_nothing()
    )
    row = await uow.session.scalar(
        select(AccountSecurity)
        .where(AccountSecurity.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row

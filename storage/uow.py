"""Unit of work: one transaction, rolled back unless the service commits explicitly."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Executable, Result, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction, async_sessionmaker
from sqlalchemy.orm import Session

log = logging.getLogger("hostbot.db")
T = TypeVar("T")


async def again_if_dropped(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``; when it failed because the server had dropped the pooled connection (a
    restart, ``pg_terminate_backend``), run it once more. Pooled connections are not pinged before
    use, and the failure makes SQLAlchemy replace every connection of the pool, so the second
    run gets a fresh one. ``work`` must be a whole transaction (a unit of work), nothing half done."""
    try:
        return await work()
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
        log.warning("database connection lost; trying again on a fresh one")
        return await work()


class UnitOfWork:
    """``async with uow: ...; await uow.commit()`` — leaving the block without commit rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self.dialect = dialect  # the database's kind ("postgresql", "sqlite"), for what differs
        self._session: AsyncSession | None = None
        self.commits = 0  # how many commits this unit of work made (what is durable already)
        self._deferred: list[object] = []
        self._later: dict[Executable, list[dict[str, object]]] = {}

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        try:
            if self._deferred:  # the caller never committed after deferring: save them alone
                self._later = {}
                await self._session.rollback()
                await self.commit()
            # close() rolls back what was not committed and detaches the objects without
            # expiring them, so values read inside the block stay readable after it.
            await self._session.close()
        finally:
            self._session = None
            self._later = {}

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction commits (never if it rolls back)."""
        event.listen(self.session.sync_session, "after_commit", lambda _session: callback(), once=True)

    def defer(self, row: object) -> None:
        """Save ``row`` with the next commit, even one after a rollback (an audit row written in a
        transaction that is then abandoned), without a round trip of its own now; at the end of
        the block at the latest."""
        self._deferred.append(row)

    def write_later(self, statement: Executable, params: dict[str, object]) -> None:
        """Run ``statement`` (an insert or update built once) with ``params`` at the next commit,
        in one round trip with the other ``params`` of the same statement: writes that nothing
        reads before the commit, such as the keys of a reply's buttons, cost no round trip of
        their own and, on SQLite, take the write lock only for the commit. A rollback drops them."""
        self._later.setdefault(statement, []).append(params)

    async def commit(self) -> None:
        """The writes kept for it, then the commit, in one pass through SQLAlchemy's synchronous
        side (one greenlet switch instead of one per statement and one for the commit)."""
        if self._deferred:
            self.session.add_all(self._deferred)
            self._deferred = []
        later, self._later = self._later, {}
        await self.session.run_sync(_write_and_commit, later)
        self.commits += 1

    async def core(
        self, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> Result[*tuple[Any, ...]]:
        """Run a Core statement (a table's insert or update, a select of columns) on this
        transaction's connection: rows as tuples, without the ORM's execution around it; a list of
        parameter sets runs it for each (one compiled statement)."""
        connection = await self.session.connection()
        return await connection.execute(statement, params)

    async def savepoint(self) -> AsyncSessionTransaction:
        """A SAVEPOINT in this transaction: rolled back alone, or released into the transaction.

        pysqlite opens a transaction only before a write, so on SQLite a SAVEPOINT sent first would
        be the transaction itself, and releasing it would commit. A write that changes nothing
        opens the transaction first."""
        if self.dialect == "sqlite":
            await self.session.execute(text("UPDATE invoice_series SET next_seq = next_seq WHERE 1 = 0"))
        return await self.session.begin_nested()

    async def ping(self) -> None:
        """A round trip to the server: raises when the database does not answer."""
        await self.session.execute(text("SELECT 1"))

    async def rollback(self) -> None:
        """Drop what was not committed; the unit of work stays open for more."""
        self._later = {}
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


def _write_and_commit(session: Session, later: Mapping[Executable, list[dict[str, object]]]) -> None:
    """``later``'s Core statements (without the ORM's execution around them), then the commit."""
    if later:
        connection = session.connection()
        for statement, rows in later.items():
            connection.execute(statement, rows)
    session.commit()


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.engine.dialect.name)

    async def close(self) -> None:
        await self.engine.dispose()

"""Unit of work: one transaction, rolled back unless the service commits explicitly."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class UnitOfWork:
    """``async with uow: ...; await uow.commit()`` — leaving the block without commit rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.commits = 0  # how many commits this unit of work made (what is durable already)
        self._deferred: list[object] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        try:
            if self._deferred:  # the caller never committed after deferring: save them alone
                await self._session.rollback()
                await self.commit()
            # close() rolls back what was not committed and detaches the objects without
            # expiring them, so values read inside the block stay readable after it.
            await self._session.close()
        finally:
            self._session = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction commits (never if it rolls back)."""
        event.listen(self.session.sync_session, "after_commit", lambda _session: callback(), once=True)

    def defer(self, row: object) -> None:
        """Save ``row`` with the next commit, even one after a rollback (an audit row written in a
        transaction that is then abandoned), without a round trip of its own now; at the end of
        the block at the latest."""
        self._deferred.append(row)

    async def commit(self) -> None:
        if self._deferred:
            self.session.add_all(self._deferred)
            self._deferred = []
        await self.session.commit()
        self.commits += 1

    async def flush(self) -> None:
        await self.session.flush()


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def close(self) -> None:
        await self.engine.dispose()

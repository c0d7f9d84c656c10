"""aiosqlite under SQLAlchemy with one trip to the connection's thread per statement.

aiosqlite runs every call on a thread of its own and hands the result back to the event loop;
each trip costs a wake-up of that thread and a wake-up of the loop. SQLAlchemy's adapter makes four
per query (open a cursor, execute, fetch the rows, close) and three per write: 18 for one chat
update. Here a statement is executed, its rows fetched and its cursor closed in a single function
run on that thread, and the adapter keeps what SQLAlchemy reads afterwards (rows, description,
row count, last row id); a commit or rollback with no transaction open costs no trip (6 trips
per update in all). Server-side cursors (streamed results) keep SQLAlchemy's own adapter.

SQLite has one writer per database file; a writer that finds the file locked sleeps and tries
again (its busy handler: 1 ms, then longer and longer, up to 100 ms a sleep), so under many
concurrent updates a write waits in the order the sleeps happen to end, and the slowest wait a
second and more. The engine's connections therefore also take turns in the event loop
(``WriteGate``): a connection about to open a write transaction waits for the one writing to
commit or roll back, first come first served, and SQLite's own lock is then free when it writes
(other processes on the same file still meet SQLite's busy handler).

It leans on SQLAlchemy's adapter classes and on ``aiosqlite.Connection._execute`` (how aiosqlite
itself runs a call on its thread); both are pinned in the lock file, and
``tests/integration/test_sqlite_driver.py`` checks the behaviour SQLAlchemy relies on.
"""

from __future__ import annotations

import asyncio
import collections
import re
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncIODBAPIConnection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

T = TypeVar("T")
# The statements before which Python's sqlite3 opens a transaction (and SQLite takes the write lock).
_OPENS_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class WriteGate:
    """One write transaction at a time among an engine's connections, in the order they asked;
    ``timeout`` seconds at most, as SQLite's own busy timeout, then "database is locked"."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # An asyncio lock serves the event loop it was first used on: one per running loop.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def enter(self) -> asyncio.Lock:
        """Wait for the turn; the lock returned is released when the transaction ends."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:  # the loop's first writer (no lock built on every write for setdefault)
            lock = self._locks[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        return lock


@dataclass(frozen=True)
class _Done:
    """What a finished statement left: the part of a DB-API cursor SQLAlchemy reads after it."""

    description: Any = None
    rowcount: int = -1
    lastrowid: int | None = None
    arraysize: int = 1

    def close(self) -> None:
        """Nothing to close: the real cursor was closed on the thread."""


_NOTHING_YET = _Done()


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any) -> tuple[_Done, list[Any]]:
    with closing(conn.cursor()) as cursor:
        cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Done(cursor.description, cursor.rowcount, cursor.lastrowid), rows


def _executemany(conn: sqlite3.Connection, operation: str, parameters: Sequence[Any]) -> _Done:
    with closing(conn.cursor()) as cursor:
        cursor.executemany(operation, parameters)
        return _Done(cursor.description, cursor.rowcount, cursor.lastrowid)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, each statement run whole on the connection's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False  # the stand-in cursor closes synchronously (it holds nothing)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _NOTHING_YET  # type: ignore[assignment]  # no cursor opened on the thread yet
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3 connection, *args)`` run on the connection's thread, as aiosqlite runs its
        own calls, one statement at a time on this connection."""
        connection = cast(aiosqlite.Connection, self._connection)
        run = cast(Callable[..., Awaitable[T]], connection._execute)
        async with self._adapt_connection._execute_mutex:
            return await run(fn, connection._conn, *args)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        connection = cast(OneTripConnection, self._adapt_connection)
        await connection.before(operation)
        try:
            done, rows = await self._on_thread(_execute, operation, parameters)
        finally:
            connection.after()
        self._cursor = done  # type: ignore[assignment]
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        connection = cast(OneTripConnection, self._adapt_connection)
        await connection.before(operation)
        try:
            done = await self._on_thread(_executemany, operation, seq_of_parameters)
        finally:
            connection.after()
        self._cursor = done  # type: ignore[assignment]
        self._rows = collections.deque()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Also no trip for a commit or rollback outside a transaction (the session closing, the pool
    resetting a connection it takes back): SQLite says whether one is open (``in_transaction``).
    Holds the engine's ``WriteGate`` from its first write until the transaction ends."""

    __slots__ = ("_gate", "_turn")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # SQLAlchemy types it as its own class

    def __init__(self, dbapi: OneTripDBAPI, connection: AsyncIODBAPIConnection) -> None:
        super().__init__(dbapi, connection)
        self._gate = dbapi.gate
        self._turn: asyncio.Lock | None = None  # the gate, while this connection holds it

    async def before(self, operation: str) -> None:
        """Wait for the gate before a statement that opens a write transaction."""
        if self._turn is None and not self._connection.in_transaction and _OPENS_WRITE.match(operation):
            self._turn = await self._gate.enter()

    def after(self) -> None:
        """Leave the gate once no transaction is open any more: committed, rolled back, or never
        opened (the statement failed before it began one)."""
        if self._turn is not None and not self._connection.in_transaction:
            self._leave()

    def _leave(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    def commit(self) -> None:
        if self._connection.in_transaction:
            try:
                super().commit()
            finally:
                self.after()

    def rollback(self) -> None:
        if self._connection.in_transaction:
            try:
                super().rollback()
            finally:
                self.after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()  # closed with its transaction open: SQLite dropped the transaction

    def terminate(self) -> None:
        """Closed as the pool closes a connection it invalidated: the gate is left as by ``close``."""
        try:
            super().terminate()
        finally:
            self._leave()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module SQLAlchemy's aiosqlite dialect is given (``create_async_engine(module=)``):
    one per engine, with the engine's ``WriteGate``."""

    def __init__(self, timeout: float) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.gate = WriteGate(timeout)

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi(timeout: float) -> OneTripDBAPI:
    """``timeout``: how long a write waits for its turn, as SQLite's busy timeout."""
    return OneTripDBAPI(timeout)

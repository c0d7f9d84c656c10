"""aiosqlite under SQLAlchemy with one trip to the connection's thread per statement.

aiosqlite runs every call on a thread of its own and hands the result back to the event loop;
each trip costs a wake-up of that thread and a wake-up of the loop. SQLAlchemy's adapter makes four
per query (open a cursor, execute, fetch the rows, close) and three per write: 18 for one chat
update. Here a statement is executed, its rows fetched and its cursor closed in a single function
run on that thread, and the adapter keeps what SQLAlchemy reads afterwards (rows, description,
row count, last row id); a commit or rollback with no transaction open costs no trip (6 trips
per update in all). Server-side cursors (streamed results) keep SQLAlchemy's own adapter.

It leans on SQLAlchemy's adapter classes and on ``aiosqlite.Connection._execute`` (how aiosqlite
itself runs a call on its thread); both are pinned in the lock file, and
``tests/integration/test_sqlite_driver.py`` checks the behaviour SQLAlchemy relies on.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

T = TypeVar("T")


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
        done, rows = await self._on_thread(_execute, operation, parameters)
        self._cursor = done  # type: ignore[assignment]
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        done = await self._on_thread(_executemany, operation, seq_of_parameters)
        self._cursor = done  # type: ignore[assignment]
        self._rows = collections.deque()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Also no trip for a commit or rollback outside a transaction (the session closing, the pool
    resetting a connection it takes back): SQLite says whether one is open (``in_transaction``)."""

    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # SQLAlchemy types it as its own class

    def commit(self) -> None:
        if self._connection.in_transaction:
            super().commit()

    def rollback(self) -> None:
        if self._connection.in_transaction:
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module SQLAlchemy's aiosqlite dialect is given (``create_async_engine(module=)``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)

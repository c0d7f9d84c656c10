"""Engine creation and schema migration (SQLite by default, PostgreSQL via ``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> AsyncEngine:
    """An engine with SQLite tuned for a bot (WAL, busy timeout, foreign keys)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints instead of at every commit: still consistent
            # after a crash; a power cut may lose the last commits (SQLite's advice for WAL).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # No ping before each checkout: it costs a round trip per update. A connection the server
    # dropped is detected on first use and replaced (the dispatcher then retries the update).
    return create_async_engine(url)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> bool:
    """Bring the schema to head; returns True when the database was empty before."""
    async with engine.begin() as conn:
        fresh = not await conn.run_sync(lambda c: inspect(c).has_table("customers"))
        await conn.run_sync(_upgrade)
    return fresh

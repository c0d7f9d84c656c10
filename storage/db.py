"""Engine creation and schema migration (SQLite by default, PostgreSQL via ``DATABASE_URL``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^(down_)?revision(?:: [^=]+)? = (.+)$", re.MULTILINE)


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
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def heads() -> set[str]:
    """The revisions no other migration follows, read from the migration files' headers (what
    Alembic would find, without importing Alembic and every migration); empty when a header is
    not the plain kind this reading knows, so that Alembic decides."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text()):
            names = re.findall(r'"([^"]+)"', value)
            if value.strip() != "None" and not names:
                return set()
            (followed if down else revisions).update(names)
    return revisions - followed


def _at_head(conn: Connection) -> bool:
    if not inspect(conn).has_table("alembic_version"):
        return False
    current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return bool(current) and current == heads()


def _upgrade(conn: Connection) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> bool:
    """Bring the schema to head; returns True when the database was empty before."""
    async with engine.begin() as conn:
        fresh = not await conn.run_sync(lambda c: inspect(c).has_table("customers"))
        if not await conn.run_sync(_at_head):  # Alembic only when there is something to do
            await conn.run_sync(_upgrade)
    return fresh

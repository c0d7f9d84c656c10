"""Engine creation and schema migration (SQLite by default, PostgreSQL via ``DATABASE_URL``).

An empty database gets the models' schema in one go (``create_all``), stamped with the newest
migration, without importing Alembic: what a first start costs. A database with tables is
brought to the newest migration by Alembic, when it is not there already.
``tests/integration/test_migrations.py`` checks that both ways build the same schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage import sqlite_driver
from storage.models import Base
from storage.uow import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^(down_)?revision(?:: [^=]+)? = (.+)$", re.MULTILINE)


def make_engine(url: str) -> AsyncEngine:
    """An engine with SQLite tuned for a bot (WAL, busy timeout, foreign keys)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, module=sqlite_driver.dbapi(timeout=30), connect_args={"timeout": 30}
        )

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


def at_head(conn: Connection) -> bool:
    """Whether the database is stamped with the newest migration (no Alembic needed)."""
    if not inspect(conn).has_table("alembic_version"):
        return False
    current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return bool(current) and current == heads()


# Alembic's version table, as its ``stamp`` creates it (``DefaultImpl.version_table_impl``).
_VERSIONS = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def create(conn: Connection) -> bool:
    """The models' tables in an empty database, stamped with the one head migration; False (and
    nothing done) when the migrations have no single head this module can read."""
    found = heads()
    if len(found) != 1:
        return False
    (head,) = found
    Base.metadata.create_all(conn, checkfirst=False)
    _VERSIONS.create(conn, checkfirst=False)
    conn.execute(_VERSIONS.insert().values(version_num=head))
    return True


def upgrade(conn: Connection) -> None:
    """Every migration not applied yet, through Alembic."""
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _migrate(conn: Connection) -> bool:
    names = inspect(conn).get_table_names()
    if not names and create(conn):
        return True
    if not at_head(conn):  # Alembic only when there is something to do
        upgrade(conn)
    return "customers" not in names


async def migrate(engine: AsyncEngine) -> bool:
    """Bring the schema to head; returns True when the database was empty before."""
    async with engine.begin() as conn:
        return await conn.run_sync(_migrate)


async def open_database(url: str) -> Database:
    """The database at ``url``, created or migrated first: all a command that only reads and
    writes records needs (``hostbot link-code``), without the chat's parts."""
    db = Database(make_engine(url))
    await migrate(db.engine)
    return db

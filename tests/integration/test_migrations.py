"""The Alembic migrations build exactly the schema the models describe, on both databases: an
empty database gets the models' schema directly (``storage.db.create``), one with tables is
migrated, and from then on both are the same database to every later migration."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage import db as storage_db
from storage.models import Base
from tests.conftest import PG_ADMIN, _pg_url

EmptyDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EmptyDatabase]:
    """Makes empty databases of one kind (throw-away ones on PostgreSQL, dropped at the end)."""
    made: list[str] = []

    async def make() -> str:
        name = f"hostbot_schema_{uuid.uuid4().hex[:10]}"
        if request.param == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / name}.db"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        made.append(name)
        return _pg_url(name)

    yield make
    if made:
        conn = await asyncpg.connect(PG_ADMIN)
        for name in made:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def schema(conn: Connection) -> dict[str, Any]:
    """Everything the inspector sees of each table, in an order that does not depend on how it
    was built (columns by name: a migration appends the columns it adds)."""
    found = inspect(conn)
    dialect = conn.dialect
    tables: dict[str, Any] = {}
    for table in found.get_table_names():
        tables[table] = {
            "columns": {
                c["name"]: (
                    c["type"].compile(dialect=dialect),
                    c["nullable"],
                    c.get("default"),
                    c.get("autoincrement"),
                )
                for c in found.get_columns(table)
            },
            "primary key": found.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], i["column_names"], i["unique"], _options(i.get("dialect_options", {})))
                for i in found.get_indexes(table)
            ),
            "unique constraints": sorted(
                (u["name"], u["column_names"]) for u in found.get_unique_constraints(table)
            ),
            "foreign keys": sorted(
                (
                    f["name"] or "",
                    f["constrained_columns"],
                    f["referred_table"],
                    f["referred_columns"],
                    _options(f["options"]),
                )
                for f in found.get_foreign_keys(table)
            ),
            "checks": sorted((c["name"] or "", c["sqltext"]) for c in found.get_check_constraints(table)),
        }
    return tables


def _options(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Dialect options as text (a partial index's condition is a clause object)."""
    return sorted((name, str(value)) for name, value in options.items())


async def _built(url: str, build: Callable[[Connection], Any]) -> dict[str, Any]:
    engine = storage_db.make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(build)
        async with engine.connect() as conn:
            return await conn.run_sync(schema)
    finally:
        await engine.dispose()


async def test_an_empty_database_gets_the_schema_the_migrations_build(empty_database: EmptyDatabase) -> None:
    migrated = await _built(await empty_database(), storage_db.upgrade)
    created = await _built(await empty_database(), storage_db.create)
    assert created.keys() == migrated.keys()
    differences = [
        (table, aspect, created[table][aspect], seen)
        for table, aspects in migrated.items()
        for aspect, seen in aspects.items()
        if created[table][aspect] != seen
    ]
    assert differences == []  # (table, what, as created, as migrated)


async def test_an_empty_database_is_stamped_with_the_head(empty_database: EmptyDatabase) -> None:
    """The head read from the migration files' headers is Alembic's; the next start finds the
    database at head and leaves it."""
    engine = storage_db.make_engine(await empty_database())
    try:
        assert await storage_db.migrate(engine) is True
        async with engine.connect() as conn:
            stamped = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            assert await conn.run_sync(storage_db.at_head)
        assert stamped == ScriptDirectory.from_config(storage_db.alembic_config()).get_heads()
        assert await storage_db.migrate(engine) is False
    finally:
        await engine.dispose()


async def test_the_models_match_the_migrations(empty_database: EmptyDatabase) -> None:
    """Alembic's own comparison (types, nullability, server defaults) of a migrated database."""
    engine = storage_db.make_engine(await empty_database())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(storage_db.upgrade)
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_a_database_behind_is_migrated_by_alembic(empty_database: EmptyDatabase) -> None:
    """Tables there but not at head: the missing migrations run, the schema is the head's."""
    url = await empty_database()

    def to_0019(conn: Connection) -> None:
        cfg = storage_db.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0019")

    engine = storage_db.make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_0019)
        assert await storage_db.migrate(engine) is False
        async with engine.connect() as conn:
            assert await conn.run_sync(storage_db.at_head)
            behind = await conn.run_sync(schema)
    finally:
        await engine.dispose()
    assert behind == await _built(await empty_database(), storage_db.create)

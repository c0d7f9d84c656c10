"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL, and a chat driver."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from bot import bootstrap, demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.registry import Registry
from services.drivers.log_mail import LogMailer
from storage.db import make_engine, migrate, upgrade
from storage.models import Base
from storage.uow import Database
from tests.support import powerdns as pdns
from tests.support.chat import Chat

PG_ADMIN = os.environ.get("HOSTBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session, migrated once by the Alembic
    migrations themselves."""
    name = f"hostbot_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        engine = make_engine(_pg_url(name))
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
        await engine.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    yield _pg_url(name)
    asyncio.run(drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per test process by the Alembic migrations themselves,
    copied for each test (``migrate`` would give an empty file the models' schema in one go, as a
    first start does: ``tests/integration/test_migrations.py`` checks that both agree)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"

    async def create() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(create())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    engine = make_engine(database_url)
    await migrate(engine)
    database = Database(engine)
    yield database
    if engine.dialect.name == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await database.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No lookup leaves the machine: forward confirmations are "not checked" unless a test points
    # DNS_RESOLVER at its PowerDNS server. Ticket attachments go to the test's own folder.
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        attachments_dir=str(tmp_path / "attachments"),
        rate_limit="1000/minute",
        secret_key="test-secret-key",
        dns_resolver="none",
        _env_file=None,
    )


@pytest.fixture
def mailer() -> LogMailer:
    return LogMailer()


@pytest.fixture
def commands() -> Registry:
    """Every router, as the bot is built."""
    return bootstrap.all_commands()


@pytest.fixture
async def dispatcher(db: Database, settings: Settings, mailer: LogMailer, commands: Registry) -> Dispatcher:
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer, commands=commands)
    async with db.uow() as uow:
        # Without the demo's year of traffic (a fifth of a second more per test): the tests that
        # chart it add it (demo.seed_traffic).
        await demo.seed(uow, dispatcher.seller, with_traffic=False)
    return dispatcher


@pytest.fixture
async def alice(dispatcher: Dispatcher) -> Chat:
    """Owner of customer 1 (Atelier Lumière, France, EUR, business with a VAT id)."""
    return await Chat.linked(dispatcher, "alice", customer_id=1)


@pytest.fixture
async def budi(dispatcher: Dispatcher) -> Chat:
    """Owner of customer 2 (PT Maju Jaya, Indonesia, IDR)."""
    return await Chat.linked(dispatcher, "budi", customer_id=2)


@pytest.fixture(scope="session")
def powerdns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDnsServer]:
    """One real PowerDNS Authoritative server for the session (skipped where none is installed)."""
    reason = pdns.missing()
    if reason is not None:
        pytest.skip(reason)
    with pdns.running(tmp_path_factory.mktemp("powerdns")) as server:
        yield server


@pytest.fixture
def powerdns(powerdns_server: pdns.PowerDnsServer) -> Iterator[pdns.PowerDnsServer]:
    """The session's PowerDNS server, without the zones a test created once it is done."""
    yield powerdns_server
    powerdns_server.delete_zones()

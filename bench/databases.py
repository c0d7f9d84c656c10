"""A throw-away PostgreSQL database per benchmark run, so runs never meet each other's rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def throwaway(url: str | None, sqlite_dir: str) -> AsyncIterator[str]:
    """The database URL to run on: a fresh SQLite file by default; for a PostgreSQL ``url``, a new
    database on that server, dropped afterwards."""
    if url is None:
        yield f"sqlite+aiosqlite:///{sqlite_dir}/bench.db"
        return
    if not url.startswith("postgresql"):
        yield url
        return
    admin = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"hostbot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

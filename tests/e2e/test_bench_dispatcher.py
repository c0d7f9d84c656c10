"""The in-process dispatcher benchmark runs end to end with a tiny N on both databases (a smoke
test: no timing figure is asserted), and counts what it reports."""

from __future__ import annotations

import aiosqlite

from bench import dispatcher
from storage.uow import Database


async def test_the_dispatcher_benchmark_runs(database_url: str, db: Database) -> None:
    """``db``: what the run seeds is cleared from the shared PostgreSQL database afterwards."""
    execute = aiosqlite.Connection._execute
    result = await dispatcher.measure(database_url, users=2, rounds=4)
    assert result["updates"] == 12
    assert result["statements_per_update"] >= 1  # every update claims its id at least
    if database_url.startswith("sqlite"):
        assert result["thread_trips_per_update"] >= result["statements_per_update"]
    else:
        assert result["thread_trips_per_update"] is None
    assert aiosqlite.Connection._execute is execute  # the counting is undone

"""``outbox.add_many``, the scan's one insert per batch (arrays on PostgreSQL, parameter sets on
SQLite), writes what ``outbox.add`` writes one alert at a time, and skips keys that exist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from services import clock
from services.alerts import outbox
from storage.models import Alert
from storage.uow import Database
from tests.support import job_data

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
ROWS: list[tuple[str, int, str, dict[str, Any]]] = [
    ("renew:order:1:2026-12-08:7", 1, "renewal", {"item": "order", "id": 1, "due": "2026-12-08"}),
    ("reply:5:7", 2, "ticket", {"ticket": 5, "message": 7}),
    ("threshold:3:-500:9", 3, "lowbalance", {"rule": "threshold", "threshold": -500}),
    ("notice:4", 1, "autorenew", {"rule": "notice", "note": 'ünïcødé "quoted" \\ [1, {}]', "none": None}),
    ("overdue:6:1", 2, "overdue", {}),
]


async def _outbox(db: Database) -> set[tuple[Any, ...]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(
                Alert.key,
                Alert.customer_id,
                Alert.kind,
                Alert.params,
                Alert.state,
                Alert.attempts,
                Alert.not_before,
                Alert.last_error,
                Alert.created_at,
            )
        )
        return {(*row[:3], repr(sorted(row[3].items())), *row[4:]) for row in rows}


async def test_many_alerts_are_written_as_one_by_one_and_existing_keys_skipped(db: Database) -> None:
    async with db.engine.begin() as conn:
        await job_data.generate(conn, 3, NOW.date(), NOW)
    with clock.frozen(NOW):
        async with db.uow() as uow:
            for key, cid, kind, params in ROWS:
                assert await outbox.add(uow, key, cid, kind, params)
            await uow.commit()
        one_by_one = await _outbox(db)
        async with db.uow() as uow:
            await uow.session.execute(Alert.__table__.delete().where(Alert.key != ROWS[0][0]))
            await uow.commit()
        async with db.uow() as uow:
            changed = (ROWS[0][0], 2, "ticket", {"other": 1})  # the key decides: the first one stays
            assert await outbox.add_many(uow, [changed, *ROWS[1:]]) == len(ROWS) - 1
            assert await outbox.add_many(uow, ROWS) == 0
            assert await outbox.add_many(uow, []) == 0
            await uow.commit()
    assert await _outbox(db) == one_by_one

"""The Telegram webhook benchmark runs end to end with a tiny N on both databases (a smoke test:
no figure is asserted), and every row did its work: a reference row whose handler fails answers
500, which fails the run."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import func, select

from bench import telegram_webhook
from storage.models import ActionKey, ProcessedUpdate
from storage.uow import Database

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_the_telegram_webhook_benchmark_runs(database_url: str, db: Database) -> None:
    """``db``: what the run seeds is cleared from the shared PostgreSQL database afterwards."""
    args = argparse.Namespace(users=2, concurrency=2, database_url=database_url, profile=None)
    results = await telegram_webhook.measure(args, database_url)
    for target in telegram_webhook.TARGETS:  # every update of every row was answered with a 200
        assert results[target]["updates"] == 6
    async with db.uow() as uow:  # floor_kept and floor_kept_sa claimed and kept their buttons
        for floor in (telegram_webhook.KeptFloor, telegram_webhook.SQLAlchemyFloor):
            kept = select(func.count()).where(ProcessedUpdate.source == floor.SOURCE)
            assert await uow.session.scalar(kept) == 12  # the warm-up's 6 updates, then the run's
            keys = select(func.count()).where(ActionKey.kind == floor.KIND)
            assert await uow.session.scalar(keys) == 12 * floor.KEYS_PER_REPLY
    summary = telegram_webhook.summary(args, database_url, results)
    assert set(summary["ratios"]) == set(telegram_webhook.TARGETS) - {"bare"}
    assert set(summary["cpu_over_floor"]) == {"floor_kept", "floor_kept_sa", "pipeline"}

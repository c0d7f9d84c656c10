"""The Telegram webhook benchmark runs end to end with a tiny N on both databases (a smoke test:
no figure is asserted), and every row did its work: a reference row whose handler fails answers
500, which fails the run."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from sqlalchemy import func, select

from bench import telegram_webhook
from storage.models import ActionKey, ProcessedUpdate
from storage.uow import Database

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_the_telegram_webhook_benchmark_runs(database_url: str, db: Database) -> None:
    """``db``: what the run seeds is cleared from the shared PostgreSQL database afterwards."""
    args = argparse.Namespace(users=2, concurrency=2, database_url=database_url, profile=None, rounds=2)
    rounds = await telegram_webhook.measure(args, database_url)
    assert len(rounds) == 2
    for row in rounds:  # every update of every row was answered with a 200, in every round
        for target in telegram_webhook.TARGETS:
            assert row[target]["updates"] == 6
    async with db.uow() as uow:  # floor_kept and floor_kept_sa claimed and kept their buttons
        for floor in (telegram_webhook.KeptFloor, telegram_webhook.SQLAlchemyFloor):
            kept = select(func.count()).where(ProcessedUpdate.source == floor.SOURCE)
            assert await uow.session.scalar(kept) == 18  # the warm-up's 6 updates, then 6 a round
            keys = select(func.count()).where(ActionKey.kind == floor.KIND)
            assert await uow.session.scalar(keys) == 18 * floor.KEYS_PER_REPLY
        # the later round's updates were fresh to the pipeline too: 2 recorded, then 6 a round
        claimed = select(func.count()).where(ProcessedUpdate.source == "telegram")
        assert await uow.session.scalar(claimed) == 2 + 12
    summary = telegram_webhook.summary(args, database_url, rounds)
    assert set(summary["ratios"]) == set(telegram_webhook.TARGETS) - {"bare"}
    assert set(summary["cpu_over_floor"]) == {"floor_kept", "floor_kept_sa", "pipeline"}
    for target, (low, high) in summary["cpu_over_floor_range"].items():
        assert low <= summary["cpu_over_floor"][target] <= high
    assert summary["pipeline"]["updates"] == 6 and summary["rounds"] == 2


def test_a_summary_takes_medians_over_the_rounds() -> None:
    def row(bare_rate: float, floor_cpu: float, pipeline_cpu: float) -> dict[str, Any]:
        figures = {"updates": 6, "per_second": 100.0, "bot_cpu_ms_per_update": 1.0}
        rows = {t: dict(figures) for t in telegram_webhook.TARGETS}
        rows["bare"]["per_second"] = bare_rate
        rows["floor"]["bot_cpu_ms_per_update"] = floor_cpu
        rows["pipeline"]["bot_cpu_ms_per_update"] = pipeline_cpu
        return rows

    args = argparse.Namespace(concurrency=2, profile=None)
    rounds = [row(1000, 1.0, 3.0), row(500, 0.5, 2.5), row(400, 2.0, 5.0)]
    summary = telegram_webhook.summary(args, "sqlite+aiosqlite:///x", rounds)
    assert summary["floor"]["bot_cpu_ms_per_update"] == 1.0  # each figure its median
    assert summary["pipeline"]["bot_cpu_ms_per_update"] == 3.0
    assert summary["cpu_over_floor"]["pipeline"] == 3.0  # ratios 3, 5 and 2.5: taken per round
    assert summary["cpu_over_floor_range"]["pipeline"] == [2.5, 5.0]
    assert summary["ratios"]["ptb"] == 0.2  # 100 / 1000, 100 / 500, 100 / 400

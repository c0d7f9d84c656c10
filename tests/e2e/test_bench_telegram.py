"""The Telegram webhook benchmark runs end to end with a tiny N (a smoke test: no figure is asserted)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import telegram_webhook

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_the_telegram_webhook_benchmark_runs(tmp_path: Path) -> None:
    args = argparse.Namespace(
        users=2, concurrency=2, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}", profile=None
    )
    result = await telegram_webhook.main(args)
    assert set(result["ratios"]) == set(telegram_webhook.TARGETS) - {"bare"}
    for target in telegram_webhook.TARGETS:  # every update of every row was answered with a 200
        assert result[target]["updates"] == 6

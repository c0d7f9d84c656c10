"""The alerts benchmark runs end to end with a tiny N (a smoke test: no figure is asserted)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import alerts

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_the_alerts_benchmark_runs(tmp_path: Path) -> None:
    args = argparse.Namespace(
        alerts=6,
        chats=3,
        rate=1000,
        throttle=1,
        retry_after=1,  # Telegram never says 0 (python-telegram-bot takes it for a network error)
        concurrency=4,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}",
    )
    result = await alerts.main(args)
    assert result["outbox"] == {"sent": 6} and result["throttled"] == 1
    assert result["lost"] == 0 and result["duplicated"] == 0

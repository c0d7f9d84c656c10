"""The alerts benchmark runs end to end with a tiny N (a smoke test: no timing figure is asserted,
only what must hold whatever the machine: nothing lost, and the busy chat's reply before its
queued alerts)."""

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
        queued=2,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}",
    )
    result = await alerts.main(args)
    assert result["outbox"] == {"sent": 9} and result["throttled"] == 1
    assert result["lost"] == 0 and result["duplicated"] == 0
    replies = result["replies"]
    assert replies["reply_latency_idle_s"] is not None and replies["reply_latency_busy_s"] is not None
    assert replies["alerts_after_busy_reply"] == 2

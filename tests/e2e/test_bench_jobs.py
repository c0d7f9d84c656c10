"""The jobs benchmark runs end to end with a tiny N on a throw-away PostgreSQL database (a smoke
test: no timing figure is asserted, only that every job ran, found work and is reported with its
goal)."""

from __future__ import annotations

import argparse

import pytest

from bench import jobs
from tests.conftest import PG_ADMIN

pytestmark = pytest.mark.postgres


async def test_the_jobs_benchmark_runs() -> None:
    args = argparse.Namespace(
        customers=600,
        resources=20,
        hours=48,
        database_url=PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://"),
        jobs="alerts_scan,auto_renew,month_close",
        out=None,
    )
    result = await jobs.main(args)
    found = result["jobs"]
    assert set(found) == {"alerts_scan", "auto_renew", "auto_renew_again", "month_close"}
    assert found["alerts_scan"]["outcome"]["new_alerts"] > 0
    assert found["auto_renew"]["outcome"]["renewed"] + found["auto_renew"]["outcome"]["short"] > 0
    assert found["auto_renew_again"]["outcome"] == {"renewed": 0, "short": 0}  # uncovered: not redone
    assert all(f["goal_s"] is not None and f["statements"] > 0 for f in found.values())
    report = jobs.report(result)
    assert "month_close" in report and "goal ≤" in report

"""Benchmark: the worker's jobs at a provider's scale, on PostgreSQL.

    .venv/bin/python -m bench.jobs --customers 100000 [--resources 10000 --hours 720]

Creates a throw-away database on the server of ``--database-url``, generates ``--customers``
customers and their records with set-based SQL (``tests/support/job_data.py``: orders, domains,
ledger, chats, overdue invoices, support replies, alert preferences), then runs, each timed alone:

- ``alerts_scan``: ``services.alerts.finders.scan``, every finder over every customer with a chat;
- ``auto_renew``: ``services.renewals.run_due``, the hourly auto-renew pass (~0.7 % of customers due);
- ``auto_renew_again``: the next hourly pass, where the renewals the balance did not cover wait for
  the ledger to move;
- ``month_close``: when ``bench/month_close.py`` exists, its ``run(engine_url, resources, hours)``.

Printed per job: time, the CPU time of the benchmark's own process (the rest is the database, or
waiting for a core on a shared machine), statements (counted with SQLAlchemy's ``before_cursor_execute`` event), the
growth of the process's peak memory (``ru_maxrss``) during the job, the rate per customer, and the
goal beside the figure (issue 18: the scan 0.5 s at 10 k and 20 s at 1 M customers, the auto-renew
pass 10 s at 1 M; between those sizes the goal is interpolated linearly). The figures go to
``bench/results/jobs-<customers>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import json
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bench.databases import throwaway
from bot import records_parts
from bot.config import Settings
from services import clock, renewals
from services.alerts import finders
from storage.db import make_engine, migrate
from storage.uow import Database
from tests.support import job_data

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# (customers, seconds) the issue sets; linear in between and beyond. The month close counts resources.
GOALS: dict[str, list[tuple[int, float]]] = {
    "alerts_scan": [(10_000, 0.5), (1_000_000, 20.0)],
    "auto_renew": [(1_000_000, 10.0)],
    "auto_renew_again": [(1_000_000, 10.0)],
    "month_close": [(10_000, 5.0)],  # resources (10,000 × 720 hourly snapshots), not customers
}


def goal(job: str, customers: int) -> float | None:
    """The time goal at this size: the issue's figure, interpolated (or scaled) linearly."""
    points = GOALS.get(job)
    if not points:
        return None
    n, s = points[0]
    if len(points) == 1:
        return s * customers / n
    if customers <= n:
        return s
    (n0, s0), (n1, s1) = points[0], points[-1]
    return s0 + (s1 - s0) * (customers - n0) / (n1 - n0)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(db: Database, job: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """Time, statements and peak-memory growth of one job."""
    count = [0]

    def counted(*_: Any) -> None:
        count[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", counted)
    before = _maxrss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        outcome = await job()
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        event.remove(db.engine.sync_engine, "before_cursor_execute", counted)
    return {
        "time_s": round(elapsed, 3),
        "cpu_s": round(cpu, 3),
        "statements": count[0],
        "peak_mb": round(_maxrss_mb() - before, 1),
        "outcome": outcome,
    }


async def _month_close(url: str, resources: int, hours: int) -> dict[str, Any] | None:
    """The month close's own benchmark (``bench/month_close.py``), when it exists."""
    try:
        module = importlib.import_module("bench.month_close")
    except ModuleNotFoundError:
        return None
    result: dict[str, Any] = await module.run(url, resources, hours)
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    n = args.customers
    async with throwaway(args.database_url, "/tmp") as url:
        engine = make_engine(url)
        await migrate(engine)
        db = Database(engine)
        settings = Settings(database_url=url, secret_key="bench", _env_file=None)  # type: ignore[call-arg]
        seller = records_parts.seller(settings)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await job_data.generate(conn, n, clock.today(), clock.now())
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        generated = time.perf_counter() - started

        async def scan() -> dict[str, int]:
            return {"new_alerts": await finders.scan(db, settings, seller)}

        async def renew() -> dict[str, int]:
            async with db.uow() as uow:
                run = await renewals.run_due(uow, seller)
            return {
                "renewed": len(run.renewed) + len(run.domains_renewed),
                "short": len(run.short) + len(run.domains_short),
            }

        jobs: dict[str, dict[str, Any]] = {}
        chosen = set(args.jobs.split(","))
        if "alerts_scan" in chosen:
            jobs["alerts_scan"] = await measure(db, scan)
        if "auto_renew" in chosen:
            jobs["auto_renew"] = await measure(db, renew)
            jobs["auto_renew_again"] = await measure(db, renew)
        await db.close()
        closed = await _month_close(url, args.resources, args.hours) if "month_close" in chosen else None
        if closed is not None:
            jobs["month_close"] = closed
    for name, figures in jobs.items():
        size = args.resources if name == "month_close" else n
        figures.setdefault("goal_s", goal(name, size))
        figures["us_per_item"] = round(figures["time_s"] / size * 1e6, 2) if size else None
    return {
        "customers": n,
        "generated_s": round(generated, 1),
        "database": "postgresql",
        "date": dt.date.today().isoformat(),
        "jobs": jobs,
    }


def report(r: dict[str, Any]) -> str:
    lines = [f"{r['customers']:,} customers (generated in {r['generated_s']} s)"]
    for name, f in r["jobs"].items():
        target = f.get("goal_s")
        verdict = "" if target is None else (" ok" if f["time_s"] <= target else " MISSED")
        goal_text = "no goal" if target is None else f"goal ≤ {target:.2f} s{verdict}"
        lines.append(
            f"  {name:18} {f['time_s']:8.3f} s  ({goal_text})  bench CPU {f.get('cpu_s', '?')} s  "
            f"{f.get('statements', '?'):>7} statements  "
            f"peak +{f.get('peak_mb', '?')} MB  {f['us_per_item']} µs per "
            f"{'resource' if name == 'month_close' else 'customer'}  {f.get('outcome', '')}"
        )
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--resources", type=int, default=10_000, help="month close: metered resources")
    parser.add_argument("--hours", type=int, default=720, help="month close: hourly snapshots each")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="a PostgreSQL server (a database is made)"
    )
    parser.add_argument(
        "--jobs", default="alerts_scan,auto_renew,month_close", help="which jobs, comma-separated"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    r = asyncio.run(main(args))
    print(report(r))
    out = args.out or Path(__file__).parent / "results" / f"jobs-{args.customers}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2, default=str))


if __name__ == "__main__":
    cli()

"""What ``/metrics`` shows, in the Prometheus text format (prometheus-client).

One ``Metrics`` per process (``bot.bootstrap`` makes it; the dispatcher and the adapters record into
the one they are given), each with its own registry, so nothing leaks between instances (tests).
Counters and the latency histogram are recorded as things happen; the outbox and the database
pool are read when ``/metrics`` is scraped (``refresh``), so every replica shows the outbox that
all the workers share.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, exposition, generate_latest

from services import clock
from services.alerts import outbox
from services.records import Database, DatabaseError

log = logging.getLogger("hostbot.metrics")
CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST
OUTBOX_STATES = ("pending", "sending", "sent", "dead", "dropped")
# Seconds. Most answers take a few database round trips; the tail shows a locked or slow database.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "hostbot_updates",
            "Updates handled by the dispatcher, by platform and outcome "
            "(ok, refused, error, throttled, duplicate, ignored).",
            ["platform", "outcome"],
            registry=r,
        )
        self.commands = Counter(
            "hostbot_commands",
            "Commands run (typed, pressed or confirmed), by platform, command and outcome.",
            ["platform", "command", "outcome"],
            registry=r,
        )
        self.reply_seconds = Histogram(
            "hostbot_reply_seconds",
            "Time from an update reaching the dispatcher to its replies being ready, by platform.",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pacing_waits = Counter(
            "hostbot_pacing_waits",
            "Times an outbound send was held back by the pacer (per chat or overall rate), by platform.",
            ["platform"],
            registry=r,
        )
        self.pacing_wait_seconds = Counter(
            "hostbot_pacing_wait_seconds",
            "Time outbound sends spent waiting for the pacer, by platform.",
            ["platform"],
            registry=r,
        )
        self.rate_limited = Counter(
            "hostbot_rate_limited",
            "429 (rate limited) answers from a platform's API, by platform.",
            ["platform"],
            registry=r,
        )
        self.outbox = Gauge("hostbot_outbox_alerts", "Alerts in the outbox, by state.", ["state"], registry=r)
        self.dead_letters = Gauge(
            "hostbot_outbox_dead_letters",
            "Alerts that failed every attempt (hostbot alerts status lists them).",
            registry=r,
        )
        self.oldest_pending = Gauge(
            "hostbot_outbox_oldest_pending_seconds",
            "Age of the oldest alert that is due and not sent yet (0 when none is).",
            registry=r,
        )
        self.outbox_read_errors = Counter(
            "hostbot_outbox_read_errors",
            "Scrapes that could not read the outbox (the database did not answer).",
            registry=r,
        )
        self.pool = Gauge(
            "hostbot_db_pool_connections",
            "Database pool connections: size (kept open), checked_out (in use), overflow.",
            ["state"],
            registry=r,
        )

    def update(self, platform: str, outcome: str, seconds: float, command: str | None) -> None:
        """One update handled by the dispatcher."""
        self.updates.labels(platform, outcome).inc()
        self.reply_seconds.labels(platform).observe(seconds)
        if command is not None:
            self.commands.labels(platform, command, outcome).inc()

    def paced(self, platform: str, seconds: float) -> None:
        self.pacing_waits.labels(platform).inc()
        self.pacing_wait_seconds.labels(platform).inc(seconds)

    async def refresh(self, db: Database) -> None:
        """Read the pool and the outbox now (what a scrape shows). With the database down the
        scrape still succeeds: the counters matter most then (the outbox keeps its last values,
        ``hostbot_outbox_read_errors`` counts the failed reads)."""
        pool: Any = db.engine.pool
        for state, read in (("size", "size"), ("checked_out", "checkedout"), ("overflow", "overflow")):
            if hasattr(pool, read):
                self.pool.labels(state).set(getattr(pool, read)())
        now = clock.now()
        try:
            async with db.uow() as uow:
                queue = await outbox.depth(uow, now)
        except (OSError, DatabaseError) as err:
            log.warning("metrics: the outbox could not be read: %s", err)
            self.outbox_read_errors.inc()
            return
        for state in OUTBOX_STATES:
            self.outbox.labels(state).set(queue.by_state.get(state, 0))
        self.dead_letters.set(queue.by_state.get("dead", 0))
        oldest = queue.oldest_due
        self.oldest_pending.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

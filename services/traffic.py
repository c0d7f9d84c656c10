"""Traffic of the servers: bytes in and out per interval, kept coarser as it ages so that a year
of one server is about 2,300 rows.

An interval (a bucket) starts on a UTC multiple of its span, and the span follows its age:
five minutes for the last two days, an hour for the last 60 days, a day up to 400 days (a year's
chart and a month to spare); older rows are deleted. The tier boundaries fall on whole hours and
days, so no bucket straddles two tiers.

Samples (from the server driver, or from a file) are split into the buckets of their age in
proportion to the time they share with each. What is written for a bucket replaces what was stored
for it: reading the same samples again (a re-import, a recording pass that asks again from the last
bucket, which may have been partial) changes nothing. ``downsample`` merges the buckets that have
aged into the next tier for every server at once, in a few set-based statements.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Integer, and_, delete, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import clock
from services import servers as server_records
from services.errors import N_
from services.ports import ServerDriver, ServerError, ServerRef, TrafficSample
from storage.models import Server, ServerTraffic
from storage.uow import UnitOfWork

log = logging.getLogger("hostbot.traffic")
T = TypeVar("T")

FIVE_MINUTES = 300
HOUR = 3600
DAY = 86400
FINE_FOR = dt.timedelta(days=2)
HOURLY_FOR = dt.timedelta(days=60)
KEPT_FOR = dt.timedelta(days=400)
# A sample longer than a day, or of more than a petabyte, is more likely a mistake than a
# measurement (and sums of such would overflow a bigint).
LONGEST_SAMPLE = DAY
MOST_BYTES = 10**15
# How many servers the recorder asks the driver about at the same time.
ASKED_AT_ONCE = 8
# Conditions per DELETE statement (three parameters each, well under PostgreSQL's 32,767).
RANGES_PER_STATEMENT = 500


def epoch(at: dt.datetime) -> int:
    return int(at.timestamp() // 1)


def moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _floor(seconds: int, span: int) -> int:
    return seconds - seconds % span


@dataclass(frozen=True)
class Tiers:
    """Where each bucket size begins at one moment, in epoch seconds."""

    now: int
    fine_since: int  # five-minute buckets from here (a whole hour)
    hourly_since: int  # hourly buckets from here (a whole day); daily before
    kept_since: int  # nothing older is kept (a whole day)

    @classmethod
    def at(cls, now: dt.datetime) -> Tiers:
        t = epoch(now)
        return cls(
            now=t,
            fine_since=_floor(t - int(FINE_FOR.total_seconds()), HOUR),
            hourly_since=_floor(t - int(HOURLY_FOR.total_seconds()), DAY),
            kept_since=_floor(t - int(KEPT_FOR.total_seconds()), DAY),
        )

    def span(self, t: int) -> int:
        """The size of the bucket that holds the instant ``t``."""
        if t >= self.fine_since:
            return FIVE_MINUTES
        return HOUR if t >= self.hourly_since else DAY


@dataclass
class Bucket:
    """What the samples say about one bucket: ``seconds`` of it measured, and the bytes."""

    seconds: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


# (server id, start, span) -> the bucket
Buckets = dict[tuple[int, int, int], Bucket]


def problem(sample: TrafficSample, tiers: Tiers) -> str | None:
    """Why a sample cannot be stored (for the operator, in English), or None."""
    if not 1 <= sample.seconds <= LONGEST_SAMPLE:
        return f"seconds must be between 1 and {LONGEST_SAMPLE}"
    if not (0 <= sample.bytes_in <= MOST_BYTES and 0 <= sample.bytes_out <= MOST_BYTES):
        return f"bytes must be between 0 and {MOST_BYTES}"
    start = epoch(sample.at)
    if start > tiers.now:
        return "the time is in the future"
    if start + sample.seconds <= tiers.kept_since:
        return f"older than the {KEPT_FOR.days} days kept"
    return None


def fold(server_id: int, samples: Iterable[TrafficSample], tiers: Tiers, into: Buckets) -> None:
    """Add ``samples`` (checked with ``problem``) to the buckets of their age, each in proportion to
    the time it shares with a bucket; the part older than what is kept is dropped."""
    for sample in samples:
        first = epoch(sample.at)
        t = max(first, tiers.kept_since)
        end = first + sample.seconds
        while t < end:
            span = tiers.span(t)
            start = _floor(t, span)
            stop = min(end, start + span)
            bucket = into.setdefault((server_id, start, span), Bucket())
            bucket.seconds += stop - t
            bucket.bytes_in += _share(sample.bytes_in, first, sample.seconds, t, stop)
            bucket.bytes_out += _share(sample.bytes_out, first, sample.seconds, t, stop)
            t = stop


def _share(total: int, first: int, seconds: int, a: int, b: int) -> int:
    """The whole bytes of ``total`` (spread over ``seconds`` from ``first``) that fall in [a, b):
    the shares of adjacent parts add up to ``total`` exactly."""
    return total * (b - first) // seconds - total * (a - first) // seconds


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ranges(buckets: Buckets) -> list[tuple[int, int, int]]:
    """The buckets as (server id, from, to) runs of adjacent buckets: one condition per run."""
    runs: list[tuple[int, int, int]] = []
    for server_id, start, span in sorted(buckets):
        if runs and runs[-1][0] == server_id and runs[-1][2] == start:
            runs[-1] = (server_id, runs[-1][1], start + span)
        else:
            runs.append((server_id, start, start + span))
    return runs


def _insert(uow: UnitOfWork) -> Any:
    return pg_insert if uow.dialect == "postgresql" else sqlite_insert


async def save(uow: UnitOfWork, buckets: Buckets) -> int:
    """Replace what is stored for each bucket (rows of any finer span inside it too) with what
    ``buckets`` say; returns how many buckets were written. The caller commits."""
    if not buckets:
        return 0
    for runs in _chunks(_ranges(buckets), RANGES_PER_STATEMENT):
        await uow.session.execute(
            delete(ServerTraffic).where(
                or_(
                    *(
                        and_(
                            ServerTraffic.server_id == server_id,
                            ServerTraffic.start >= lo,
                            ServerTraffic.start < hi,
                        )
                        for server_id, lo, hi in runs
                    )
                )
            )
        )
    rows = [
        {
            "server_id": server_id,
            "start": start,
            "span": span,
            "seconds": b.seconds,
            "bytes_in": b.bytes_in,
            "bytes_out": b.bytes_out,
        }
        for (server_id, start, span), b in sorted(buckets.items())
    ]
    stmt = _insert(uow)(ServerTraffic.__table__)
    # A concurrent writer of the same bucket (two recorders) did the same: the last one wins.
    upsert = stmt.on_conflict_do_update(
        index_elements=["server_id", "start", "span"],
        set_={c: stmt.excluded[c] for c in ("seconds", "bytes_in", "bytes_out")},
    )
    await uow.session.execute(upsert, rows)
    return len(rows)


async def record(uow: UnitOfWork, driver: ServerDriver, now: dt.datetime | None = None) -> int:
    """Ask the driver for each server's samples since the start of its last stored bucket (that
    bucket again: it may have been partial; everything kept when there is none) and store them.
    A driver that keeps no samples (the inventory's) answers None and nothing changes; a server
    the driver fails for is logged and asked again on the next pass. Returns the buckets written."""
    tiers = Tiers.at(now or clock.now())
    latest = (
        select(func.max(ServerTraffic.start)).where(ServerTraffic.server_id == Server.id).scalar_subquery()
    )
    rows = await uow.session.execute(select(Server, latest).order_by(Server.id))
    servers = [(server_records.ref(server), last) for server, last in rows]
    await uow.rollback()  # only read so far: no transaction stays open while the driver answers
    limit = asyncio.Semaphore(ASKED_AT_ONCE)

    async def ask(server: ServerRef, last: int | None) -> list[TrafficSample] | None:
        since = moment(tiers.kept_since if last is None else max(last, tiers.kept_since))
        async with limit:
            try:
                return await driver.traffic(server, since)
            except ServerError as err:
                log.warning("traffic of server %s not read: %s", server.id, err.reason)
                return None

    answers = await asyncio.gather(*(ask(server, last) for server, last in servers))
    buckets: Buckets = {}
    for (server, _last), samples in zip(servers, answers, strict=True):
        for sample in samples or ():
            if (reason := problem(sample, tiers)) is not None:
                log.warning("traffic sample of server %s at %s refused: %s", server.id, sample.at, reason)
                continue
            fold(server.id, [sample], tiers, buckets)
    written = await save(uow, buckets)
    await uow.commit()
    return written


async def downsample(uow: UnitOfWork, now: dt.datetime | None = None) -> int:
    """Merge the five-minute buckets older than two days into hours and the hours older than
    60 days into days, for every server in one statement each, and delete what is older than
    kept. Returns how many rows went.

    A merged row that already exists is left alone (``do nothing``): ``save`` never leaves finer
    rows inside a coarser one, so it can only be a second worker's merge of the same rows."""
    tiers = Tiers.at(now or clock.now())
    insert = _insert(uow)
    t = ServerTraffic
    removed = 0
    for span, before in ((HOUR, tiers.fine_since), (DAY, tiers.hourly_since)):
        older = and_(t.span < span, t.start < before)
        # The span is written into the SQL (a constant of ours): PostgreSQL must see the same
        # expression in the select list and in GROUP BY.
        bucket = t.start - t.start % literal_column(str(span))
        sums = (
            select(
                t.server_id,
                bucket,
                literal_column(str(span), Integer),
                func.sum(t.seconds),
                func.sum(t.bytes_in),
                func.sum(t.bytes_out),
            )
            .where(older)
            .group_by(t.server_id, bucket)
        )
        columns = ["server_id", "start", "span", "seconds", "bytes_in", "bytes_out"]
        merged = await uow.session.execute(insert(t).from_select(columns, sums).on_conflict_do_nothing())
        gone = await uow.session.execute(delete(t).where(older))
        removed += _count(gone) - _count(merged)
    expired = await uow.session.execute(delete(t).where(t.start < tiers.kept_since))
    removed += _count(expired)
    await uow.commit()
    return removed


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


# -- what a chart shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A chart's time range and the interval of its points; ``label`` is for the chat."""

    name: str
    length: dt.timedelta
    step: int
    label: str


PERIODS = {
    p.name: p
    for p in (
        Period("day", dt.timedelta(days=1), FIVE_MINUTES, N_("last 24 hours")),
        Period("week", dt.timedelta(days=7), HOUR, N_("last 7 days")),
        Period("month", dt.timedelta(days=30), 6 * HOUR, N_("last 30 days")),
        Period("year", dt.timedelta(days=365), DAY, N_("last 12 months")),
    )
}


@dataclass(frozen=True)
class Point:
    """One step of a chart: bytes from ``at`` (UTC) for the period's step; None where nothing
    was recorded."""

    at: dt.datetime
    bytes_in: int | None
    bytes_out: int | None


@dataclass(frozen=True)
class History:
    """A server's traffic over a period: every step from the first to now, and the totals."""

    hostname: str
    period: Period
    points: tuple[Point, ...]
    bytes_in: int
    bytes_out: int

    @property
    def recorded(self) -> bool:
        return any(p.bytes_in is not None for p in self.points)


async def history(uow: UnitOfWork, server: Server, period: Period, now: dt.datetime | None = None) -> History:
    """The server's traffic over ``period`` up to ``now``, summed per step of the period (steps are
    UTC multiples, like the buckets, and never finer than what is stored for that age)."""
    until = epoch(now or clock.now())
    step = period.step
    since = _floor(until - int(period.length.total_seconds()), step)
    t = ServerTraffic
    bucket = t.start - t.start % literal_column(str(step))
    rows = await uow.session.execute(
        select(bucket, func.sum(t.bytes_in), func.sum(t.bytes_out))
        .where(t.server_id == server.id, t.start >= since, t.start < until)
        .group_by(bucket)
    )
    found = {int(start): (int(b_in), int(b_out)) for start, b_in, b_out in rows}
    points = tuple(
        Point(moment(start), *found.get(start, (None, None))) for start in range(since, until, step)
    )
    return History(
        server.hostname,
        period,
        points,
        sum(b_in for b_in, _ in found.values()),
        sum(b_out for _, b_out in found.values()),
    )

"""Traffic samples on both databases: storing (replacing, never adding twice), downsampling and
retention, recording from the server driver, importing a file, and what a chart is drawn from."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import cmd_traffic_import
from bot.config import Settings
from services import clock, traffic, traffic_import
from services.drivers.inventory import InventoryDriver
from services.ports import ServerError, ServerRef, TrafficSample
from services.traffic import DAY, FIVE_MINUTES, HOUR, Tiers
from storage.models import Customer, Server, ServerTraffic
from storage.uow import Database

NOW = dt.datetime(2026, 6, 15, 12, 34, 56, tzinfo=dt.UTC)


async def _servers(db: Database) -> list[int]:
    """Servers 1 and 2 of one customer (web-1, db-1), 3 of another (web-1 again)."""
    async with db.uow() as uow:
        for n, name in ((1, "Alpha"), (2, "Beta")):
            uow.session.add(Customer(id=n, name=name, email=f"{n}@x.example", country="FR", currency="EUR"))
        await uow.flush()
        for customer_id, hostname in ((1, "web-1"), (1, "db-1"), (2, "web-1")):
            uow.session.add(
                Server(
                    customer_id=customer_id,
                    hostname=hostname,
                    os="Debian 12",
                    ip="192.0.2.1",
                    netmask="255.255.255.0",
                    gateway="192.0.2.254",
                    mac="52:54:00:00:00:01",
                )
            )
        await uow.commit()
        return list((await uow.session.scalars(select(Server.id).order_by(Server.id))).all())


async def _rows(db: Database) -> list[tuple[int, int, int, int, int, int]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(
                ServerTraffic.server_id,
                ServerTraffic.start,
                ServerTraffic.span,
                ServerTraffic.seconds,
                ServerTraffic.bytes_in,
                ServerTraffic.bytes_out,
            ).order_by(ServerTraffic.server_id, ServerTraffic.start, ServerTraffic.span)
        )
        return [tuple(r) for r in rows]


def _minutes(server_id: int, since: dt.datetime, count: int, each: int = 60) -> list[TrafficSample]:
    """``count`` one-minute samples from ``since``, of ``each`` bytes in and twice that out."""
    return [TrafficSample(since + dt.timedelta(minutes=i), 60, each, 2 * each) for i in range(count)]


async def _store(db: Database, server_id: int, found: list[TrafficSample], now: dt.datetime = NOW) -> int:
    buckets: traffic.Buckets = {}
    traffic.fold(server_id, found, Tiers.at(now), buckets)
    async with db.uow() as uow:
        written = await traffic.save(uow, buckets)
        await uow.commit()
    return written


async def test_storing_the_same_samples_again_replaces_them(db: Database) -> None:
    web, _db1, _other = await _servers(db)
    hour_ago = NOW.replace(minute=0, second=0) - dt.timedelta(hours=1)
    assert await _store(db, web, _minutes(web, hour_ago, 60)) == 12
    first = await _rows(db)
    assert len(first) == 12 and {r[2] for r in first} == {FIVE_MINUTES}
    assert sum(r[4] for r in first) == 3600 and sum(r[5] for r in first) == 7200
    await _store(db, web, _minutes(web, hour_ago, 60))
    assert await _rows(db) == first
    # Five of those minutes measured again, differently: their bucket says what it says now.
    await _store(db, web, _minutes(web, hour_ago, 5, each=1000))
    again = await _rows(db)
    assert again[0][3:] == (300, 5000, 10000) and again[1:] == first[1:]


async def test_downsampling_by_age_keeps_the_sums_and_a_year_small(db: Database) -> None:
    web, db1, _other = await _servers(db)
    # A day of one-minute samples for two servers, recorded when it was recent.
    day = NOW.replace(hour=0, minute=0, second=0)
    for server_id in (web, db1):
        await _store(db, server_id, _minutes(server_id, day - dt.timedelta(days=1), 24 * 60))
    rows = await _rows(db)
    assert len(rows) == 2 * 288 and sum(r[4] for r in rows) == 2 * 24 * 3600

    async with db.uow() as uow:  # three days later: hours
        assert await traffic.downsample(uow, NOW + dt.timedelta(days=3)) == 2 * (288 - 24)
    rows = await _rows(db)
    assert len(rows) == 2 * 24 and {r[2:4] for r in rows} == {(HOUR, 3600)}
    assert {r[4:] for r in rows} == {(3600, 7200)}
    async with db.uow() as uow:  # the same pass again, by a second worker: nothing changes
        assert await traffic.downsample(uow, NOW + dt.timedelta(days=3)) == 0
    assert await _rows(db) == rows

    async with db.uow() as uow:  # 70 days later: a day each
        await traffic.downsample(uow, NOW + dt.timedelta(days=70))
    assert await _rows(db) == [
        (server_id, traffic.epoch(day) - DAY, DAY, DAY, 24 * 3600, 48 * 3600) for server_id in (web, db1)
    ]
    async with db.uow() as uow:  # 402 days later: gone
        assert await traffic.downsample(uow, NOW + dt.timedelta(days=402)) == 2
    assert await _rows(db) == []


async def test_a_year_stays_a_few_thousand_rows_a_server(db: Database) -> None:
    web, _db1, _other = await _servers(db)
    start = (NOW - dt.timedelta(days=365)).replace(minute=0, second=0)
    # Five minutes measured every quarter of an hour for a year.
    found = [TrafficSample(start + dt.timedelta(minutes=15 * i), 300, 1, 1) for i in range(365 * 96)]
    await _store(db, web, found)
    async with db.uow() as uow:
        assert await traffic.downsample(uow, NOW) == 0  # stored by age already
        count = await uow.session.scalar(select(func.count()).select_from(ServerTraffic))
        total = await uow.session.scalar(select(func.sum(ServerTraffic.bytes_in)))
    tiers = Tiers.at(NOW)
    fine = sum(1 for s in found if traffic.epoch(s.at) >= tiers.fine_since)
    hours = (tiers.fine_since - tiers.hourly_since) // HOUR
    days = (tiers.hourly_since - traffic.epoch(start)) // DAY + 1
    assert (fine, hours, days) == (192, 1404, 305)
    assert count == fine + hours + days and int(total or 0) == len(found)


class Recorded(InventoryDriver):
    """A server driver that keeps samples (as Proxmox VE's does): one a minute, three hours back."""

    def __init__(self, now: dt.datetime, fails: frozenset[int] = frozenset()) -> None:
        self.now = now
        self.fails = fails
        self.asked: dict[int, dt.datetime] = {}

    async def traffic(self, server: ServerRef, since: dt.datetime) -> list[TrafficSample] | None:
        self.asked[server.id] = since
        if server.id in self.fails:
            raise ServerError("node unreachable")
        first = max(since, self.now - dt.timedelta(hours=3))
        minutes = int((self.now - first).total_seconds() // 60)
        return [
            TrafficSample(first + dt.timedelta(minutes=i), 60, 100 * server.id, 1) for i in range(minutes)
        ]


async def test_the_worker_records_what_the_driver_keeps(db: Database) -> None:
    web, db1, other = await _servers(db)
    now = NOW.replace(second=0)
    driver = Recorded(now, fails=frozenset({other}))
    async with db.uow() as uow:
        written = await traffic.record(uow, driver, now)
    kept_since = traffic.moment(Tiers.at(now).kept_since)
    assert driver.asked == {web: kept_since, db1: kept_since, other: kept_since}
    assert written == 2 * 37  # 09:30 (from 09:34) to 12:30 (to 12:34), for two servers
    async with db.uow() as uow:
        latest = await uow.session.scalar(
            select(func.max(ServerTraffic.start)).where(ServerTraffic.server_id == web)
        )
        stored = await uow.session.scalar(
            select(func.sum(ServerTraffic.bytes_in)).where(ServerTraffic.server_id == db1)
        )
    assert latest == traffic.epoch(now.replace(minute=30))
    assert stored == 3 * 60 * 100 * db1

    # Twelve minutes on: asked again from the start of the last bucket; that bucket is whole now.
    later = now + dt.timedelta(minutes=12)
    driver = Recorded(later, fails=frozenset({other}))
    async with db.uow() as uow:
        await traffic.record(uow, driver, later)
    assert driver.asked[web] == traffic.moment(latest or 0)
    async with db.uow() as uow:
        stored = await uow.session.scalar(
            select(func.sum(ServerTraffic.bytes_in)).where(ServerTraffic.server_id == db1)
        )
        missing = await uow.session.scalar(select(func.count()).where(ServerTraffic.server_id == other))
    assert stored == (3 * 60 + 12) * 100 * db1 and missing == 0


async def test_the_inventory_driver_records_nothing(db: Database) -> None:
    await _servers(db)
    async with db.uow() as uow:
        assert await traffic.record(uow, InventoryDriver(), NOW) == 0
    assert await _rows(db) == []


async def test_a_chart_sums_each_step_and_leaves_gaps(db: Database) -> None:
    web, _db1, _other = await _servers(db)
    day = NOW.replace(hour=0, minute=0, second=0)
    await _store(db, web, _minutes(web, day - dt.timedelta(days=1), 6 * 60))  # 00:00 to 06:00 yesterday
    async with db.uow() as uow:
        server = await uow.session.get(Server, web)
        assert server is not None
        week = await traffic.history(uow, server, traffic.PERIODS["week"], NOW)
        day_view = await traffic.history(uow, server, traffic.PERIODS["day"], NOW)
    assert len(week.points) == 7 * 24 + 1 and week.points[0].at == traffic.moment(
        traffic.epoch(NOW - dt.timedelta(days=7)) // HOUR * HOUR
    )
    filled = [p for p in week.points if p.bytes_in is not None]
    assert [p.at.hour for p in filled] == list(range(6)) and {p.bytes_in for p in filled} == {3600}
    assert (week.bytes_in, week.bytes_out, week.recorded) == (6 * 3600, 12 * 3600, True)
    # The last 24 hours start at 12:30 yesterday: nothing was recorded then.
    assert not day_view.recorded and day_view.bytes_in == 0 and len(day_view.points) == 289


CSV = """server,timestamp,seconds,bytes_in,bytes_out
{web},2026-06-15T10:00:00Z,300,1000,2000
DB-1,2026-06-15T12:00:00+02:00,300,10,20
{web},{five_past_ten},300,5,5
web-1,2026-06-15T10:00:00Z,300,1,1
nosuch,2026-06-15T10:00:00Z,300,1,1
{web},2026-06-15 10:10:00,300,1,1
{web},2026-06-15T10:15:00Z,0,1,1
{web},2026-06-15T10:20:00Z,300,-4,1
{web},2026-06-15T10:25:00Z,300,1
{web},2027-01-01T00:00:00Z,300,1,1
{web},2026-06-15T10:00:00Z,300,7,7

"""
TEN = dt.datetime(2026, 6, 15, 10, tzinfo=dt.UTC)


async def test_import_stores_good_lines_and_says_why_others_were_refused(db: Database) -> None:
    web, db1, _other = await _servers(db)
    ten = traffic.epoch(TEN)
    lines = CSV.format(web=web, five_past_ten=ten + 300).splitlines()
    async with db.uow() as uow:
        report = await traffic_import.import_lines(uow, lines, NOW)
    assert (report.stored, report.buckets) == (3, 3)
    reasons = dict(report.refused)
    assert sorted(reasons) == [5, 6, 7, 8, 9, 10, 11, 12]
    assert "2 servers are named 'web-1'" in reasons[5] and "number" in reasons[5]
    assert "no server 'nosuch'" in reasons[6]
    assert "offset" in reasons[7]
    assert "seconds" in reasons[8] and "bytes_in" in reasons[9] and "5 columns" in reasons[10]
    assert "future" in reasons[11] and "line 2" in reasons[12]
    rows = await _rows(db)
    assert [(r[0], r[1], r[4]) for r in rows] == [(web, ten, 1000), (web, ten + 300, 5), (db1, ten, 10)]
    async with db.uow() as uow:
        again = await traffic_import.import_lines(uow, lines, NOW)
    assert again.refused == report.refused and await _rows(db) == rows


async def test_import_command(
    db: Database, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web, db1, _other = await _servers(db)
    good = tmp_path / "good.csv"
    good.write_text(f"\ufeff{web},2026-06-15T10:00:00Z,300,1000,2000\ndb-1,2026-06-15T10:05:00Z,300,1,2\n")
    with clock.frozen(NOW):
        assert await cmd_traffic_import(settings, argparse.Namespace(file=str(good))) == 0
        assert "samples stored: 2, intervals written: 2" in capsys.readouterr().out
        assert await cmd_traffic_import(settings, argparse.Namespace(file=str(good))) == 0
        bad = tmp_path / "bad.csv"
        bad.write_text("web-1,2026-06-15T10:00:00Z,300,1,1\n")
        assert await cmd_traffic_import(settings, argparse.Namespace(file=str(bad))) == 1
        out = capsys.readouterr()
        assert "samples stored: 0" in out.out and "lines refused: 1" in out.err
        assert "line 1: 2 servers are named 'web-1'" in out.err
        assert await cmd_traffic_import(settings, argparse.Namespace(file=str(tmp_path / "none.csv"))) == 2
    assert [(r[0], r[4], r[5]) for r in await _rows(db)] == [(web, 1000, 2000), (db1, 1, 2)]

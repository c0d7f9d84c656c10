"""Traffic samples from outside (the provider's own metering), as CSV lines:
``server,timestamp,seconds,bytes_in,bytes_out``.

``server`` is a server's number or its hostname (refused when several customers have a server of
that name); ``timestamp`` is ISO 8601 with its offset (``2026-03-07T15:05:00Z``) or Unix seconds.
A first line naming the columns is skipped. Each line is checked on its own: the good ones are
stored, the others are reported with their line number and why. Importing the same file again
changes nothing (``services.traffic`` replaces what is stored for each interval).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from services import clock, traffic
from services.ids import is_digits, parse_id
from services.ports import TrafficSample
from storage.models import Server
from storage.uow import UnitOfWork

COLUMNS = ("server", "timestamp", "seconds", "bytes_in", "bytes_out")
HEADER_NAMES = frozenset({"server", "server_id", "hostname", "host"})


@dataclass
class ImportReport:
    """``stored``: samples kept; ``refused``: (line number, reason) of the others."""

    stored: int = 0
    buckets: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Line:
    number: int
    server: str
    sample: TrafficSample


def _timestamp(text: str) -> dt.datetime:
    if is_digits(text):
        return dt.datetime.fromtimestamp(int(text), dt.UTC)
    at = dt.datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("the timestamp needs its offset (Z or +01:00) or must be Unix seconds")
    return at.astimezone(dt.UTC)


def _count(text: str, name: str) -> int:
    if not is_digits(text):
        raise ValueError(f"{name} must be a whole number of 0 or more")
    return int(text)


def _parse(number: int, cells: list[str]) -> _Line:
    if len(cells) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), found {len(cells)}")
    server, stamp, seconds, bytes_in, bytes_out = (c.strip() for c in cells)
    if not server:
        raise ValueError("no server")
    try:
        at = _timestamp(stamp)
    except (ValueError, OverflowError, OSError) as err:
        raise ValueError(f"unreadable timestamp {stamp!r}: {err}") from None
    sample = TrafficSample(
        at, _count(seconds, "seconds"), _count(bytes_in, "bytes_in"), _count(bytes_out, "bytes_out")
    )
    return _Line(number, server.lower(), sample)


async def _servers(uow: UnitOfWork, refs: set[str]) -> dict[str, list[int]]:
    """The servers each reference may name: by number, or every server with that hostname."""
    by_id: dict[int, list[str]] = {}
    for ref in refs:
        if (server_id := parse_id(ref)) is not None:
            by_id.setdefault(server_id, []).append(ref)
    names = {ref for ref in refs if not is_digits(ref)}
    rows = await uow.session.execute(
        select(Server.id, Server.hostname).where(
            or_(Server.id.in_(sorted(by_id)), Server.hostname.in_(sorted(names)))
        )
    )
    found: dict[str, list[int]] = {ref: [] for ref in refs}
    for server_id, hostname in rows:
        if hostname in names:
            found[hostname].append(server_id)
        for ref in by_id.get(server_id, ()):
            found[ref].append(server_id)
    return found


async def import_lines(uow: UnitOfWork, lines: Iterable[str], now: dt.datetime | None = None) -> ImportReport:
    """Store the samples of CSV ``lines``; commits what was good and reports the rest."""
    tiers = traffic.Tiers.at(now or clock.now())
    report = ImportReport()
    parsed: list[_Line] = []
    for number, cells in enumerate(csv.reader(lines), start=1):
        if not cells or not "".join(cells).strip():
            continue
        if number == 1 and cells[0].strip().lower() in HEADER_NAMES:
            continue
        try:
            parsed.append(_parse(number, cells))
        except ValueError as err:
            report.refused.append((number, str(err)))
    servers = await _servers(uow, {line.server for line in parsed})
    seen: dict[tuple[int, int], int] = {}
    buckets: traffic.Buckets = {}
    for line in parsed:
        matches = servers[line.server]
        reason = traffic.problem(line.sample, tiers)
        if not matches:
            reason = f"no server {line.server!r}"
        elif len(matches) > 1:
            reason = f"{len(matches)} servers are named {line.server!r}: use the server's number"
        elif (earlier := seen.get((matches[0], traffic.epoch(line.sample.at)))) is not None:
            reason = f"the same server and time as line {earlier}"
        if reason is not None:
            report.refused.append((line.number, reason))
            continue
        seen[matches[0], traffic.epoch(line.sample.at)] = line.number
        traffic.fold(matches[0], [line.sample], tiers, buckets)
        report.stored += 1
    report.buckets = await traffic.save(uow, buckets)
    await uow.commit()
    report.refused.sort()
    return report

"""The pay-as-you-use rules as pure functions over recorded hours (no database, no clock).

- An hour is named by its UTC start. It belongs to the month and the day in which it starts in the
  customer's time zone, so a month has 672 to 744 hours, one less or one more across a DST change.
- A resource is billed from its first recorded hour (the month's first hour when it was already
  recorded before the month) to the last hour of the month, or to its deletion. An hour the
  recorder missed (worker down) takes the state of the last recorded hour before it.
- Fewer than ``FREE_HOURS`` billed hours in the month: nothing is billed for that resource.
- Consecutive hours in the same package at the same hourly rate make one line; an upgrade or a
  downgrade starts another line, with its own hours and rate.
- Rounding, declared once in ``charge``: a line costs hours × hourly rate rounded half-up to the
  minor unit. An invoice's subtotal is the sum of its lines; a day's share of a line is the
  difference of two cumulative charges, so the days add up to the line exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

FREE_HOURS = 48
HOUR = dt.timedelta(hours=1)


def charge(hours: int, rate: Decimal) -> int:
    """THE rounding rule: ``hours`` at ``rate`` minor units an hour, half-up to a whole minor unit."""
    return int((rate * hours).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def hour_start(moment: dt.datetime) -> dt.datetime:
    """The UTC start of the hour in progress at ``moment``."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def local_day(hour: dt.datetime, tz: ZoneInfo) -> dt.date:
    return hour.astimezone(tz).date()


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; where it starts and ends in time depends on the customer's time zone."""

    year: int
    month: int

    @classmethod
    def of(cls, moment: dt.datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def last_day(self) -> dt.date:
        return self.next().first_day() - dt.timedelta(days=1)

    def bounds(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """UTC instants of local midnight on the first day and on the first day of the next month."""
        return _midnight(self.first_day(), tz), _midnight(self.next().first_day(), tz)

    def hours(self, tz: ZoneInfo) -> list[dt.datetime]:
        """Every UTC hour start that falls in this month, local time."""
        start, end = self.bounds(tz)
        hour = hour_start(start)
        if hour < start:
            hour += HOUR
        out = []
        while hour < end:
            out.append(hour)
            hour += HOUR
        return out


@dataclass(frozen=True)
class State:
    """What one snapshot says about a resource: its package and that package's hourly rate."""

    product_id: int
    rate: Decimal


@dataclass(frozen=True)
class Line:
    """Consecutive billed hours of one resource in one package at one rate."""

    resource_id: int
    state: State
    hours: tuple[dt.datetime, ...]

    @property
    def amount(self) -> int:
        return charge(len(self.hours), self.state.rate)


def billed_hours(
    recorded: Sequence[tuple[dt.datetime, State]],
    deleted_at: dt.datetime | None,
    month_hours: Sequence[dt.datetime],
    until: dt.datetime,
) -> list[tuple[dt.datetime, State]]:
    """The month's hours before ``until`` (and before deletion) from the first recorded one on,
    each with the state of the last recording at or before it. ``recorded`` may start before the
    month: its last state then carries over into the month's first hours."""
    records = sorted(recorded, key=lambda r: r[0])
    out: list[tuple[dt.datetime, State]] = []
    i, state = 0, None
    for hour in month_hours:
        if hour >= until or (deleted_at is not None and hour >= deleted_at):
            break
        while i < len(records) and records[i][0] <= hour:
            state = records[i][1]
            i += 1
        if state is not None:
            out.append((hour, state))
    return out


def resource_lines(
    resource_id: int,
    recorded: Sequence[tuple[dt.datetime, State]],
    deleted_at: dt.datetime | None,
    month_hours: Sequence[dt.datetime],
    until: dt.datetime,
) -> list[Line]:
    """The lines one resource adds to a month: none under the free hours, else one per package run."""
    hours = billed_hours(recorded, deleted_at, month_hours, until)
    if len(hours) < FREE_HOURS:
        return []
    lines: list[Line] = []
    run: list[dt.datetime] = []
    current = hours[0][1]
    for hour, state in hours:
        if state != current:
            lines.append(Line(resource_id, current, tuple(run)))
            run, current = [], state
        run.append(hour)
    lines.append(Line(resource_id, current, tuple(run)))
    return lines


@dataclass(frozen=True)
class Run:
    """A resource's state from the UTC hour ``since`` until the hour ``ended`` (None: still)."""

    since: dt.datetime
    ended: dt.datetime | None
    state: State


@dataclass(frozen=True)
class Span:
    """A ``Line`` told by its first hour and its number of hours: what a month close needs,
    without an object per hour."""

    resource_id: int
    state: State
    first: dt.datetime
    count: int

    @classmethod
    def of(cls, line: Line) -> Span:
        return cls(line.resource_id, line.state, line.hours[0], len(line.hours))

    @property
    def last(self) -> dt.datetime:
        return self.first + (self.count - 1) * HOUR

    @property
    def amount(self) -> int:
        return charge(self.count, self.state.rate)


def _ceil_hour(moment: dt.datetime) -> dt.datetime:
    start = hour_start(moment)
    return start if start == moment else start + HOUR


def resource_spans(
    resource_id: int,
    runs: Sequence[Run],
    deleted_at: dt.datetime | None,
    bounds: tuple[dt.datetime, dt.datetime],
    until: dt.datetime,
) -> list[Span]:
    """``resource_lines`` counted over runs instead of hours (the same lines, as spans): a run
    bills the month's hours from its start to the next run's, before ``until`` and deletion."""
    start, end = bounds
    first = _ceil_hour(start)
    stop = _ceil_hour(min(end, until) if deleted_at is None else min(end, until, deleted_at))
    spans: list[Span] = []
    for run in sorted(runs, key=lambda r: r.since):
        lo = max(run.since, first)
        hi = stop if run.ended is None else min(run.ended, stop)
        if hi <= lo:
            continue
        count = (hi - lo) // HOUR
        if spans and spans[-1].state == run.state and spans[-1].last + HOUR == lo:
            spans[-1] = Span(resource_id, run.state, spans[-1].first, spans[-1].count + count)
        else:
            spans.append(Span(resource_id, run.state, lo, count))
    return spans if sum(span.count for span in spans) >= FREE_HOURS else []


def per_day(lines: Iterable[Line], tz: ZoneInfo) -> dict[dt.date, int]:
    """Each local day's share of the lines; the shares of a line sum to its amount exactly."""
    days: dict[dt.date, int] = defaultdict(int)
    for line in lines:
        for counted, hour in enumerate(line.hours, start=1):
            share = charge(counted, line.state.rate) - charge(counted - 1, line.state.rate)
            days[local_day(hour, tz)] += share
    return dict(days)

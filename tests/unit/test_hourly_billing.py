"""The pay-as-you-use rules on their own: month hours in any time zone, the 48 free hours, one line
per package, the rounding rule, and the invariants (more hours never cost less; parts sum to the whole)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.hourly_billing import (
    FREE_HOURS,
    HOUR,
    Line,
    Month,
    State,
    billed_hours,
    charge,
    per_day,
    resource_lines,
)

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Jakarta",
    "Europe/Istanbul",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
]
PARIS = ZoneInfo("Europe/Paris")
S, M = State(1, Decimal("0.41")), State(2, Decimal("0.82"))

months = st.builds(Month, st.integers(1971, 2099), st.integers(1, 12))
zones = st.sampled_from(ZONES).map(ZoneInfo)
rates = st.decimals(min_value=0, max_value=100000, places=4, allow_nan=False, allow_infinity=False)


def alive(month: Month, tz: ZoneInfo, first: int, hours: int, state: State = S) -> list[Line]:
    """A resource recorded from the month's hour ``first`` on, deleted ``hours`` hours later."""
    all_hours = month.hours(tz)
    start = all_hours[0] + first * HOUR
    recorded = [(start, state)]
    return resource_lines(7, recorded, start + hours * HOUR, all_hours, all_hours[-1] + HOUR)


@pytest.mark.parametrize(
    ("month", "zone", "hours"),
    [
        (Month(2028, 2), "UTC", 29 * 24),  # leap year
        (Month(2027, 2), "UTC", 28 * 24),
        (Month(2100, 2), "UTC", 28 * 24),  # not a leap year (century)
        (Month(2000, 2), "UTC", 29 * 24),  # leap year (400)
        (Month(2026, 4), "Europe/Paris", 30 * 24),
        (Month(2026, 1), "Europe/Paris", 31 * 24),
        (Month(2026, 3), "Europe/Paris", 31 * 24 - 1),  # clocks go forward on 29 March
        (Month(2026, 10), "Europe/Paris", 31 * 24 + 1),  # and back on 25 October
        (Month(2026, 3), "America/New_York", 31 * 24 - 1),  # 8 March there
        (Month(2026, 11), "America/New_York", 30 * 24 + 1),
        (Month(2026, 3), "Asia/Jakarta", 31 * 24),  # no DST
        (Month(2026, 4), "Australia/Sydney", 30 * 24 + 1),  # southern hemisphere: back in April
        (Month(2026, 10), "Australia/Sydney", 31 * 24 - 1),
    ],
)
def test_hours_in_a_month(month: Month, zone: str, hours: int) -> None:
    assert len(month.hours(ZoneInfo(zone))) == hours


def test_dst_days_have_23_and_25_hours() -> None:
    for month, day, hours in [(Month(2026, 3), 29, 23), (Month(2026, 10), 25, 25), (Month(2026, 10), 24, 24)]:
        lines = alive(month, PARIS, 0, 10_000, State(1, Decimal(1)))
        assert per_day(lines, PARIS)[dt.date(month.year, month.month, day)] == hours


@given(months, zones)
def test_months_follow_each_other_without_gap_or_overlap(month: Month, tz: ZoneInfo) -> None:
    hours, following = month.hours(tz), month.next().hours(tz)
    assert following[0] - hours[-1] == HOUR
    assert all(b - a == HOUR for a, b in itertools.pairwise(hours))
    assert 28 * 24 - 1 <= len(hours) <= 31 * 24 + 1
    assert {h.astimezone(tz).month for h in hours} == {month.month}
    assert month.next().previous() == month


@given(months, zones, st.integers(0, 700), st.integers(0, 800), rates)
def test_the_48_hour_rule(month: Month, tz: ZoneInfo, first: int, hours: int, rate: Decimal) -> None:
    month_hours = len(month.hours(tz))
    first = min(first, month_hours - 1)
    lines = alive(month, tz, first, hours, State(1, rate))
    in_month = min(hours, month_hours - first)
    if in_month < FREE_HOURS:
        assert lines == []
    else:
        assert sum(len(line.hours) for line in lines) == in_month
        assert sum(line.amount for line in lines) == charge(in_month, rate)


def test_just_under_and_just_over_48_hours() -> None:
    assert alive(Month(2026, 3), PARIS, 100, 47) == []
    (line,) = alive(Month(2026, 3), PARIS, 100, 48)
    assert len(line.hours) == 48 and line.amount == charge(48, S.rate) == 20


def test_billed_to_the_last_hour_of_the_month_when_not_deleted() -> None:
    month = Month(2026, 10)
    hours = month.hours(PARIS)
    (line,) = resource_lines(1, [(hours[10], S)], None, hours, hours[-1] + HOUR)
    assert line.hours[0] == hours[10] and line.hours[-1] == hours[-1]
    assert len(line.hours) == 745 - 10


def test_created_the_month_before_starts_at_the_months_first_hour() -> None:
    month = Month(2026, 3)
    hours = month.hours(PARIS)
    before = hours[0] - 5 * HOUR
    (line,) = resource_lines(1, [(before, S)], None, hours, hours[-1] + HOUR)
    assert line.hours[0] == hours[0] == dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC)
    assert len(line.hours) == 743


def test_deleted_last_month_is_not_billed() -> None:
    hours = Month(2026, 3).hours(PARIS)
    assert resource_lines(1, [(hours[0] - 100 * HOUR, S)], hours[0] - HOUR, hours, hours[-1] + HOUR) == []


def test_upgrade_lists_the_resource_twice_with_its_hours_and_rates() -> None:
    hours = Month(2026, 3).hours(PARIS)
    recorded = [(h, S) for h in hours[:200]] + [(h, M) for h in hours[200:300]]
    small, big = resource_lines(3, recorded, hours[300], hours, hours[-1] + HOUR)
    assert (small.state, len(small.hours), small.amount) == (S, 200, 82)
    assert (big.state, len(big.hours), big.amount) == (M, 100, 82)


def test_an_hour_the_recorder_missed_takes_the_state_before_it() -> None:
    hours = Month(2026, 5).hours(PARIS)
    recorded = [(hours[0], S), (hours[100], M)]
    small, big = resource_lines(1, recorded, None, hours, hours[-1] + HOUR)
    assert len(small.hours) == 100 and len(big.hours) == len(hours) - 100


def test_rounding_is_half_up_once_per_line() -> None:
    assert charge(1, Decimal("0.5")) == 1
    assert charge(1, Decimal("0.4999")) == 0
    assert charge(3, Decimal("0.41")) == 1  # 1.23
    assert charge(744, Decimal("0.41")) == 305  # 305.04
    assert charge(2, Decimal("1.25")) == 3  # 2.5 rounds up


def _history(changes: list[tuple[int, Decimal]], hours: list[dt.datetime]) -> list[tuple[dt.datetime, State]]:
    """Recorded states: from hour ``at`` on, package ``i`` at its rate (an upgrade or downgrade each)."""
    return [(hours[at], State(i % 3, rate)) for i, (at, rate) in enumerate(sorted(changes))]


histories = st.lists(st.tuples(st.integers(0, 740), rates), min_size=1, max_size=6, unique_by=lambda c: c[0])


@given(months, zones, histories, st.integers(0, 800), st.integers(0, 800))
def test_more_hours_never_cost_less(
    month: Month, tz: ZoneInfo, changes: list[tuple[int, Decimal]], end: int, more: int
) -> None:
    hours = month.hours(tz)
    changes = [(min(at, len(hours) - 1), r) for at, r in changes]
    recorded = _history(list(dict(changes).items()), hours)
    until = hours[-1] + HOUR

    def cost(deleted: int) -> int:
        deleted_at = hours[0] + deleted * HOUR
        return sum(line.amount for line in resource_lines(1, recorded, deleted_at, hours, until))

    assert cost(end + more) >= cost(end)


@given(months, zones, histories, st.integers(0, 800))
def test_parts_sum_to_the_whole(
    month: Month, tz: ZoneInfo, changes: list[tuple[int, Decimal]], end: int
) -> None:
    hours = month.hours(tz)
    recorded = _history([(min(at, len(hours) - 1), r) for at, r in changes], hours)
    deleted_at = hours[0] + end * HOUR
    lines = resource_lines(1, recorded, deleted_at, hours, hours[-1] + HOUR)
    billed = billed_hours(recorded, deleted_at, hours, hours[-1] + HOUR)
    if lines:
        assert sum(len(line.hours) for line in lines) == len(billed)
        assert [h for line in lines for h in line.hours] == [h for h, _ in billed]
        # neighbouring lines differ: an upgrade or downgrade is what splits them
        assert all(a.state != b.state for a, b in itertools.pairwise(lines))
    assert sum(per_day(lines, tz).values()) == sum(line.amount for line in lines)
    assert all(share >= 0 for share in per_day(lines, tz).values())

"""Pure billing rules under hypothesis: proration, real month lengths, VAT dates, downgrade window."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services import mail, proration, vat
from storage.models import Order

days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))
prices = st.integers(min_value=0, max_value=10**10)
cycles = st.sampled_from(proration.CYCLES)


@given(prices, days, cycles, st.lists(st.integers(min_value=0, max_value=366), max_size=6))
def test_parts_sum_to_the_whole_within_one_minor_unit_per_split(
    price: int, start: dt.date, cycle: str, offsets: list[int]
) -> None:
    end = proration.add_cycle(start, cycle)
    length = (end - start).days
    cuts = [start + dt.timedelta(days=o % (length + 1)) for o in offsets]
    parts = proration.split(price, start, end, cuts)
    assert len(parts) == len(cuts) + 1
    assert abs(sum(parts) - price) <= len(cuts)
    assert all(p >= 0 for p in parts)


@given(prices, st.integers(min_value=1, max_value=366), st.integers(0, 366), st.integers(0, 366))
def test_more_days_never_cost_less(price: int, period: int, a: int, b: int) -> None:
    low, high = sorted((a % (period + 1), b % (period + 1)))
    assert proration.part(price, period, low) <= proration.part(price, period, high)
    assert proration.part(price, period, period) == price
    assert proration.part(price, period, 0) == 0


@given(prices, days, cycles)
def test_upgrade_difference_is_daily_rate_times_days_left(price: int, start: dt.date, cycle: str) -> None:
    end = proration.add_cycle(start, cycle)
    length = (end - start).days
    for left in (0, 1, length // 2, length):
        charged = proration.prorate(price, start, end, end - dt.timedelta(days=left), end)
        exact = Decimal(price) * left / length
        assert abs(Decimal(charged) - exact) <= Decimal("0.5")


@given(days)
def test_periods_have_real_lengths(start: dt.date) -> None:
    month = (proration.add_cycle(start, "monthly") - start).days
    year = (proration.add_cycle(start, "yearly") - start).days
    assert 28 <= month <= 31
    assert year in (365, 366)


def test_month_lengths_and_leap_years() -> None:
    assert (proration.add_cycle(dt.date(2028, 2, 1), "monthly") - dt.date(2028, 2, 1)).days == 29
    assert (proration.add_cycle(dt.date(2027, 2, 1), "monthly") - dt.date(2027, 2, 1)).days == 28
    assert proration.add_cycle(dt.date(2027, 1, 31), "monthly") == dt.date(2027, 2, 28)
    assert (proration.add_cycle(dt.date(2028, 1, 1), "yearly") - dt.date(2028, 1, 1)).days == 366
    # 10 days of a 29-day February cost more than 10 days of a 31-day March.
    feb = proration.prorate(
        2900, dt.date(2028, 2, 1), dt.date(2028, 3, 1), dt.date(2028, 2, 20), dt.date(2028, 3, 1)
    )
    mar = proration.prorate(
        2900, dt.date(2028, 3, 1), dt.date(2028, 4, 1), dt.date(2028, 3, 22), dt.date(2028, 4, 1)
    )
    assert (feb, mar) == (1000, 935)


CHANGES = {"EE": (dt.date(2025, 7, 1), 22, 24), "FI": (dt.date(2024, 9, 1), 24, Decimal("25.5"))}
CHANGES |= {"RO": (dt.date(2025, 8, 1), 19, 21), "SK": (dt.date(2025, 1, 1), 20, 23)}


# From 2024 on, when each of these countries had changed its rate only once.
since_2024 = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2035, 12, 31))


@given(st.sampled_from(sorted(CHANGES)), since_2024)
def test_vat_rate_changes_on_its_date(country: str, on: dt.date) -> None:
    since, before, after = CHANGES[country]
    assert vat.standard_rate(country, on) == (after if on >= since else before)


@given(days, days, cycles)
def test_downgrade_window_is_30_to_15_days_before_due(today: dt.date, due: dt.date, cycle: str) -> None:
    order = Order(period_end=due, billing_cycle=cycle)
    window = mail.downgrade_window(order, today)
    assert window.opens == window.due - dt.timedelta(days=30)
    assert window.closes == window.due - dt.timedelta(days=15)
    assert today <= window.closes
    assert window.is_open == (15 <= (window.due - today).days <= 30)
    if window.due == due:
        assert window.is_open == (15 <= (due - today).days <= 30)
    else:  # this period's window has closed: the next due date's window is given
        assert (due - today).days < 15

"""Proration over real calendar days: the one place that turns a period price into a part of it.

A period runs from its start (included) to its end (excluded); its length is the real number of
days between them (28–31 for a month, 365 or 366 for a year). A part costs
``price × days in the part ÷ days in the period``, rounded half-up to the minor unit, so splitting a
period into n parts costs the whole price within one minor unit per split.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from dateutil.relativedelta import relativedelta

CYCLES = ("monthly", "yearly")


def add_cycle(day: dt.date, cycle: str, count: int = 1) -> dt.date:
    """The same day one billing cycle later (31 January + 1 month = 28 or 29 February)."""
    if cycle == "monthly":
        return day + relativedelta(months=count)
    if cycle == "yearly":
        return day + relativedelta(years=count)
    raise ValueError(f"unknown billing cycle {cycle!r}")


def months_in(cycle: str) -> int:
    return 12 if cycle == "yearly" else 1


def part(price_minor: int, period_days: int, days: int) -> int:
    """``price × days ÷ period_days`` rounded half-up (negative amounts mirror positive ones)."""
    if period_days <= 0 or not 0 <= days <= period_days:
        raise ValueError("days must lie within a non-empty period")
    exact = Decimal(abs(price_minor)) * days / period_days
    rounded = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return rounded if price_minor >= 0 else -rounded


def prorate(price_minor: int, start: dt.date, end: dt.date, part_start: dt.date, part_end: dt.date) -> int:
    """What the days from ``part_start`` to ``part_end`` cost of a period ``start``–``end``."""
    if not start <= part_start <= part_end <= end:
        raise ValueError("the part must lie within the period")
    return part(price_minor, (end - start).days, (part_end - part_start).days)


def split(price_minor: int, start: dt.date, end: dt.date, cuts: list[dt.date]) -> list[int]:
    """The cost of each part when the period is cut at these dates (in order, inside the period)."""
    bounds = [start, *sorted(cuts), end]
    return [prorate(price_minor, start, end, a, b) for a, b in pairwise(bounds)]

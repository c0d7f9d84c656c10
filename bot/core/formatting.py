"""Amounts and dates only through Babel, in the current locale.

An amount is stored in ISO 4217 minor units (``services.money.exponent``) and shown with the
decimals CLDR gives the currency (Babel's ``get_currency_precision``: 0 for the rupiah since Babel
2.19). When CLDR shows fewer decimals than are stored, the shown value is rounded half up (as VAT
and fees are rounded when they are computed); the stored amount never is.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time, format_timedelta
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
)
from babel.units import format_unit

from bot.core.i18n import current, gettext
from services.errors import DomainError
from services.money import Money, Written, exponent
from services.wording import Names


def sentence(text: str) -> str:
    """A sentence that begins with a value made for the middle of one ("la commande #3 (VPS M)"
    in French) starts with a capital all the same."""
    return text[:1].upper() + text[1:]


def money(value: Money, exact: bool = False) -> str:
    """``exact`` keeps every stored decimal CLDR would round away (a preview of what was typed)."""
    return _amount(value.minor, value.currency, current(), exact)


def amount(minor: int, currency: str) -> str:
    """An amount stored as minor units, formatted like ``money``."""
    return _amount(minor, currency, current())


def date(value: dt.date) -> str:
    return _date(value, current())


# Babel re-reads the locale's patterns on every call (a tenth of a millisecond or more); a reply
# formats the same few prices and dates again and again, so the results are kept.
@functools.lru_cache(maxsize=4096)
def _amount(minor: int, currency: str, locale: str, exact: bool = False) -> str:
    stored = Money(minor, currency).to_decimal()
    shown = stored.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), rounding=ROUND_HALF_UP)
    if exact and shown != stored:
        pattern = _digits(Locale.parse(locale).currency_formats["standard"], exponent(currency))
        return format_currency(stored, currency, format=pattern, currency_digits=False, locale=locale)
    return format_currency(shown, currency, locale=locale)


def _digits(pattern: NumberPattern, digits: int) -> NumberPattern:
    """The locale's pattern showing exactly ``digits`` decimals."""
    fixed = copy.copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed


def written(number: Written) -> str:
    """A number as the reader would type it: their separators, its decimals, no currency sign."""
    pattern = _digits(Locale.parse(current()).decimal_formats[None], number.digits)
    return format_decimal(number.value, format=pattern, locale=current())


@functools.lru_cache(maxsize=4096)
def _date(value: dt.date, locale: str) -> str:
    return format_date(value, "medium", locale=locale)


def datetime(value: dt.datetime, tz: str = "UTC") -> str:
    return format_datetime(value, "medium", tzinfo=ZoneInfo(tz), locale=current())


def duration(seconds: int) -> str:
    """A span such as "2 minutes" in the current language."""
    return format_timedelta(dt.timedelta(seconds=seconds), threshold=1.5, locale=current())


def capacity(value: float, unit: str) -> str:
    """A machine's size such as "4 GB" ("4 Go" in French); ``unit``: megabyte, gigabyte or terabyte."""
    return format_unit(value, f"digital-{unit}", length="short", locale=current())


def clock_time(value: dt.datetime, tz: str = "UTC") -> str:
    """The time of day as the locale writes it short ("3:05 PM", "15:05", "15.05")."""
    return format_time(value, "short", tzinfo=ZoneInfo(tz), locale=current())


def date_fields(value: dt.datetime, skeleton: str, tz: str = "UTC") -> str:
    """The date fields a CLDR skeleton names, in the locale's order and words ("MMMd": "Mar 7",
    "7 mars"; "MMMEd": "Sat, Mar 7", "7 Mar Cmt")."""
    return format_skeleton(skeleton, value, tzinfo=ZoneInfo(tz), locale=current())


# Decimal multiples, as traffic is counted; CLDR gives each locale's symbol ("Go" in French).
_DATA_UNITS = (
    (10**12, "digital-terabyte"),
    (10**9, "digital-gigabyte"),
    (10**6, "digital-megabyte"),
    (10**3, "digital-kilobyte"),
)


def data_size(count: float, scale_of: float | None = None) -> str:
    """A number of bytes in the unit that suits ``scale_of`` (by default the count itself), with
    at most two decimals: "1.25 GB", "1,25 Go". A chart's axis passes its largest value so that
    every label has the same unit."""
    largest = abs(count if scale_of is None else scale_of)
    factor, unit = next(((f, u) for f, u in _DATA_UNITS if largest >= f), (1, "digital-byte"))
    return format_unit(count / factor, unit, length="short", format="#,##0.##", locale=current())


def percent(rate: Decimal) -> str:
    """A VAT rate such as 25.5 as the locale writes percentages ("25,5 %", "%25,5")."""
    pattern = Locale.parse(current()).percent_formats[None].pattern.replace("#,##0", "#,##0.##")
    return format_percent(rate / 100, format=pattern, locale=current())


def value(v: Any) -> str:
    """Format one placeholder value for a translated sentence."""
    if isinstance(v, Money):
        return money(v)
    if isinstance(v, Written):
        return written(v)
    if isinstance(v, dt.datetime):
        return datetime(v)
    if isinstance(v, dt.date):
        return date(v)
    if isinstance(v, Decimal):
        return percent(v)
    if isinstance(v, Names):
        return v.in_language(current())
    return str(v)


def error_text(err: DomainError) -> str:
    return gettext(err.message).format(**{k: value(v) for k, v in err.params.items()})


def rate(minor: Decimal, currency: str) -> str:
    """A price per unit that may hold fractions of a minor unit (an hourly rate), every digit kept."""
    major = minor.scaleb(-exponent(currency)).normalize()
    return format_currency(major, currency, locale=current(), decimal_quantization=False)

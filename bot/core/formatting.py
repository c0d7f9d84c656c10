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
from babel.dates import format_date, format_datetime, format_timedelta
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


def data_size(value: float, unit: str) -> str:
    """A size such as "4 GB" ("4 Go" in French); ``unit``: megabyte, gigabyte or terabyte."""
    return format_unit(value, f"digital-{unit}", length="short", locale=current())


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
    return str(v)


def error_text(err: DomainError) -> str:
    return gettext(err.message).format(**{k: value(v) for k, v in err.params.items()})


def rate(minor: Decimal, currency: str) -> str:
    """A price per unit that may hold fractions of a minor unit (an hourly rate), every digit kept."""
    major = minor.scaleb(-exponent(currency)).normalize()
    return format_currency(major, currency, locale=current(), decimal_quantization=False)

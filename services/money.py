"""Money as integer minor units plus an ISO 4217 code; Decimal only when converting.

The exponent of the minor units comes from ISO 4217 (``services.iso4217``), never from Babel:
CLDR decides how an amount is *shown* (see ``bot.core.formatting``), not what a stored integer means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from babel import Locale
from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

from services.errors import N_, DomainError
from services.iso4217 import MINOR_UNITS


class UnknownCurrency(ValueError):
    """A code with no ISO 4217 minor units: bad data or configuration, never guessed as 2 decimals."""


def exponent(currency: str) -> int:
    """How many decimal places the stored minor units of ``currency`` have (ISO 4217)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency with minor units") from None


@dataclass(frozen=True)
class Written:
    """A number to show the way the reader types it (their separators, no currency sign), with
    exactly ``digits`` decimals; ``bot.core.formatting`` renders it in the current locale."""

    value: Decimal
    digits: int


class AmountError(DomainError):
    """A typed amount that cannot be read; the message shows amounts written the reader's way:
    ``{grouped}`` with a thousands group and ``{decimal}`` with all the currency's decimals."""

    def __init__(self, currency: str, **params: Any) -> None:
        digits = exponent(currency)
        examples: dict[str, Any] = {
            "currency": currency,
            "digits": digits,
            "grouped": Written(Decimal(1500), 0),
            "decimal": Written(Decimal("49.90") if digits else Decimal(50), digits),
        }
        super().__init__(None, **(examples | params))


class NotAnAmount(AmountError):
    message = N_("Please send an amount such as {grouped} or {decimal}.")


class AmbiguousAmount(AmountError):
    message = N_("“{text}” can be read two ways. Please send {grouped} or {decimal}.")


class TooManyDecimals(AmountError):
    message = N_("Amounts in {currency} have at most {digits} decimals, such as {decimal}.")


class NoDecimals(AmountError):
    message = N_("Amounts in {currency} have no decimals. Please send a whole number such as {grouped}.")


# Spaces group digits in every locale (a space is never a decimal separator): the plain space,
# the no-break and narrow no-break spaces CLDR uses (fr: U+202F), the thin and the figure space.
_SPACES = " \u00a0\u202f\u2009\u2007"
_MINUS = ("-", "\u2212")
_NUMBER = re.compile(f"[0-9]+(?:[.,{_SPACES}][0-9]+)*")
_SEPARATOR = re.compile(f"([.,{_SPACES}])")


def _unwrap(text: str, currency: str, lang: str) -> tuple[bool, str]:
    """The sign and the bare number of ``text``, once the currency's code or sign is taken off."""
    rest = text.strip(_SPACES)
    negative = rest.startswith(_MINUS)
    if negative:
        rest = rest[1:].lstrip(_SPACES)
    signs = {currency, get_currency_symbol(currency, lang), get_currency_symbol(currency, "en")}
    for sign in sorted(signs, key=len, reverse=True):
        if rest[: len(sign)].casefold() == sign.casefold():
            rest = rest[len(sign) :]
            break
        if rest[-len(sign) :].casefold() == sign.casefold():
            rest = rest[: -len(sign)]
            break
    rest = rest.strip(_SPACES)
    if not negative and rest.startswith(_MINUS):
        negative, rest = True, rest[1:]
    return negative, rest


def _grouped(runs: list[str], lang: str) -> bool:
    """Whether digit runs split by one separator are thousands groups as the locale makes them."""
    primary, secondary = Locale.parse(lang).decimal_formats[None].grouping
    first, *middle, last = runs
    return (
        len(last) == primary
        and all(len(group) == secondary for group in middle)
        and 1 <= len(first) <= secondary
        and not first.startswith("0")
    )


def read_amount(text: str, currency: str, lang: str) -> Decimal:
    """The value of an amount typed in ``lang``'s format or the plain international one.

    Spaces group digits; with one kind of grouping mark and one decimal mark, the last one is the
    decimal mark ("1.000,50", "1,000.50", "1 000,50"); a lone "." or "," is a decimal mark
    ("49,90", "1000.50") unless it could also group thousands ("1.500"): then the locale's group
    symbol decides (Indonesian and Turkish "1.500" is 1500), as does its decimal symbol for a
    currency with three decimals (English "1.500" KWD), and otherwise it is refused as ambiguous.
    More decimals than the currency's ISO 4217 exponent are refused, never rounded.
    """
    digits = exponent(currency)
    negative, body = _unwrap(text, currency, lang)
    if not _NUMBER.fullmatch(body):
        raise NotAnAmount(currency)
    parts = _SEPARATOR.split(body)
    runs = parts[0::2]
    marks = [" " if mark in _SPACES else mark for mark in parts[1::2]]
    last = marks[-1] if marks else ""
    if len(set(marks)) == 2 and last in ".," and marks.count(last) == 1:
        decimal = True
    elif len(marks) == 1 and last in ".,":
        decimal = True
        if _grouped(runs, lang):
            if last == get_group_symbol(lang):
                decimal = False
            elif not (last == get_decimal_symbol(lang) and digits >= 3):
                _refuse_ambiguous(text, runs, digits, currency)
    elif len(set(marks)) <= 1:
        decimal = False
    else:
        raise NotAnAmount(currency)
    whole, fraction = (runs[:-1], runs[-1]) if decimal else (runs, "")
    if len(whole) > 1 and not _grouped(whole, lang):
        raise NotAnAmount(currency)
    if len(fraction) > digits:
        _refuse_decimals(currency, digits)
    value = Decimal(f"{''.join(whole)}.{fraction or 0}")
    return -value if negative else value


def _refuse_ambiguous(text: str, runs: list[str], digits: int, currency: str) -> NoReturn:
    """Offer both readings of "1.500", or say how many decimals there are when one is impossible."""
    fraction = Decimal(f"{runs[0]}.{runs[1]}")
    if fraction != fraction.quantize(Decimal(1).scaleb(-digits)):
        _refuse_decimals(currency, digits)
    raise AmbiguousAmount(
        currency,
        text=text.strip(),
        grouped=Written(Decimal(runs[0] + runs[1]), 0),
        decimal=Written(fraction, digits),
    )


def _refuse_decimals(currency: str, digits: int) -> NoReturn:
    raise (TooManyDecimals if digits else NoDecimals)(currency)


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str, lang: str) -> Money:
        """An amount typed by someone who reads ``lang``; raises an ``AmountError`` saying why not."""
        value = read_amount(text, currency, lang)
        return cls(int(value.scaleb(exponent(currency))), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError("currency mismatch")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError("currency mismatch")
        return Money(self.minor - other.minor, self.currency)

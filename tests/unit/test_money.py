"""Stored minor units follow ISO 4217 kept in the project; typed amounts follow the reader's locale."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal

import babel.numbers
import pytest
from babel import Locale
from babel.numbers import format_currency, format_decimal, get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from bot.core import formatting
from bot.core.i18n import use_locale
from services import iso4217
from services.money import (
    AmbiguousAmount,
    AmountError,
    Money,
    NoDecimals,
    NotAnAmount,
    TooManyDecimals,
    UnknownCurrency,
    exponent,
)

LOCALES = ("en", "fr", "id", "tr")
CURRENCIES = ("EUR", "USD", "IDR", "TRY", "JPY", "KWD")


@pytest.fixture(autouse=True)
def _fresh_formatting() -> Iterator[None]:
    """Formatted amounts are cached; a test that fakes Babel's digits must not see another's."""
    formatting._amount.cache_clear()
    yield
    formatting._amount.cache_clear()


def _babel_digits(monkeypatch: pytest.MonkeyPatch, digits: int) -> None:
    """Pretend the installed Babel (CLDR) shows the rupiah with ``digits`` decimals."""
    real: Callable[..., int] = get_currency_precision

    def fake(currency: str) -> int:
        return digits if currency == "IDR" else real(currency)

    monkeypatch.setattr(babel.numbers, "get_currency_precision", fake)
    monkeypatch.setattr(formatting, "get_currency_precision", fake)


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("USD", 2), ("IDR", 2), ("TRY", 2), ("JPY", 0), ("KWD", 3)],
)
def test_minor_units_are_iso_4217(currency: str, digits: int) -> None:
    assert exponent(currency) == digits
    assert Money(10**digits, currency).to_decimal() == 1


@pytest.mark.parametrize("code", ["XYZ", "eur", "", "XAU", "XXX", "HRK"])
def test_unknown_currency_is_refused(code: str) -> None:
    """Not guessed as two decimals: a code with no ISO minor unit (gold, none, withdrawn) is an error."""
    with pytest.raises(UnknownCurrency, match="ISO 4217"):
        exponent(code)
    with pytest.raises(UnknownCurrency):
        Money(100, code).to_decimal()
    with pytest.raises(UnknownCurrency):
        Money.parse("1", code, "en")


def test_table_covers_list_one() -> None:
    assert len(iso4217.MINOR_UNITS) == 165
    assert set(iso4217.MINOR_UNITS.values()) == {0, 2, 3, 4}
    assert all(len(code) == 3 and code.isupper() for code in iso4217.MINOR_UNITS)


def test_idr_stored_value_does_not_move_with_the_installed_babel() -> None:
    """3 000 000,00 rupiah is stored as 300_000_000 minor units (ISO 4217: two decimals). Babel 2.19's
    CLDR shows the rupiah without decimals, older ones with two; either way it is Rp3.000.000, and
    what is stored, typed and charged stays 300_000_000: display digits are not storage digits."""
    amount = Money(3_000_000_00, "IDR")
    with use_locale("id"):
        shown = formatting.money(amount)
    assert shown == format_currency(Decimal(3_000_000), "IDR", locale="id")
    assert shown.startswith("Rp3.000.000")
    assert Money.parse("3.000.000", "IDR", "id") == amount
    assert Money.parse(shown, "IDR", "id") == amount
    assert amount.to_decimal() == Decimal("3000000.00")


@pytest.mark.parametrize(("babel_digits", "shown"), [(0, "Rp3.000.000"), (2, "Rp3.000.000,00")])
def test_idr_display_whatever_babel_says(
    monkeypatch: pytest.MonkeyPatch, babel_digits: int, shown: str
) -> None:
    _babel_digits(monkeypatch, babel_digits)
    with use_locale("id"):
        assert formatting.money(Money(3_000_000_00, "IDR")) == shown
    assert exponent("IDR") == 2


def test_display_rounds_half_up_and_exact_keeps_every_digit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rp2,50 and Rp3,50 show as Rp3 and Rp4 (half up, as VAT is rounded; half-even would show Rp2)."""
    _babel_digits(monkeypatch, 0)
    with use_locale("id"):
        assert [formatting.money(Money(m, "IDR")) for m in (249, 250, 350, -250)] == [
            "Rp2",
            "Rp3",
            "Rp4",
            "-Rp3",
        ]
        assert formatting.money(Money(250, "IDR"), exact=True) == "Rp2,50"
        assert formatting.money(Money(300, "IDR"), exact=True) == "Rp3"
    with use_locale("en"):
        assert formatting.money(Money(1234500, "KWD"), exact=True) == "KWD1,234.500"


@pytest.mark.parametrize(
    ("text", "currency", "lang", "minor"),
    [
        ("500.000", "IDR", "id", 500_000_00),
        ("Rp500.000", "IDR", "id", 500_000_00),
        ("Rp 1.250.000,50", "IDR", "id", 1_250_000_50),
        ("1.500", "TRY", "tr", 1500_00),
        ("₺1.500,25", "TRY", "tr", 1500_25),
        ("1 000,50", "EUR", "fr", 1000_50),
        ("1\u00a0000,50", "EUR", "fr", 1000_50),
        ("1\u202f000,50", "EUR", "fr", 1000_50),
        ("1000,50", "EUR", "fr", 1000_50),
        ("1 000,50 €", "EUR", "fr", 1000_50),
        ("1000.50", "EUR", "fr", 1000_50),
        ("49,90", "EUR", "en", 49_90),
        ("49,90", "EUR", "fr", 49_90),
        ("49,90", "IDR", "id", 49_90),
        ("49,90", "TRY", "tr", 49_90),
        ("49.90", "IDR", "id", 49_90),
        ("49.90", "TRY", "tr", 49_90),
        ("1,500", "USD", "en", 1500_00),
        ("$1,500.5", "USD", "en", 1500_50),
        ("1.000.000", "EUR", "en", 1_000_000_00),
        ("1,000,000", "IDR", "id", 1_000_000_00),
        ("1.000,50", "EUR", "en", 1000_50),
        ("50", "JPY", "en", 50),
        ("1,500", "JPY", "en", 1500),
        ("1.500", "JPY", "id", 1500),
        ("1.500", "KWD", "en", 1500),
        ("1,500", "KWD", "fr", 1500),
        ("1,500", "KWD", "en", 1500_000),
        ("-12,5", "EUR", "fr", -12_50),
        ("eur 12", "EUR", "en", 12_00),
    ],
)
def test_typed_amounts(text: str, currency: str, lang: str, minor: int) -> None:
    assert Money.parse(text, currency, lang) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "lang", "error", "message"),
    [
        ("1.500", "EUR", "en", AmbiguousAmount, "“1.500” can be read two ways. Please send 1,500 or 1.50."),
        (
            "1,500",
            "EUR",
            "fr",
            AmbiguousAmount,
            "«\u00a01,500\u00a0» peut se lire de deux façons. Veuillez envoyer 1\u202f500 ou 1,50.",
        ),
        (
            "1,500",
            "IDR",
            "id",
            AmbiguousAmount,
            "“1,500” bisa dibaca dengan dua cara. Mohon kirim 1.500 atau 1,50.",
        ),
        (
            "1.500",
            "KWD",
            "fr",
            AmbiguousAmount,
            "«\u00a01.500\u00a0» peut se lire de deux façons. Veuillez envoyer 1\u202f500 ou 1,500.",
        ),
        ("10.505", "EUR", "en", TooManyDecimals, "Amounts in EUR have at most 2 decimals, such as 49.90."),
        (
            "1000,505",
            "TRY",
            "tr",
            TooManyDecimals,
            "TRY cinsinden tutarlar en fazla 2 ondalık basamak içerebilir, örneğin 49,90.",
        ),
        ("0.500", "EUR", "en", TooManyDecimals, "Amounts in EUR have at most 2 decimals, such as 49.90."),
        (
            "1,5",
            "JPY",
            "fr",
            NoDecimals,
            "Les montants en JPY n’ont pas de décimales. Veuillez envoyer un nombre entier, par exemple 1\u202f500.",
        ),
        ("abc", "EUR", "en", NotAnAmount, "Please send an amount such as 1,500 or 49.90."),
        ("1,00,000", "EUR", "en", NotAnAmount, "Please send an amount such as 1,500 or 49.90."),
        (
            "1.000 000",
            "EUR",
            "fr",
            NotAnAmount,
            "Veuillez envoyer un montant, par exemple 1\u202f500 ou 49,90.",
        ),
        ("12.50 $", "EUR", "en", NotAnAmount, "Please send an amount such as 1,500 or 49.90."),
        ("1e5", "IDR", "id", NotAnAmount, "Mohon kirim jumlah, misalnya 1.500 atau 49,90."),
        ("", "KWD", "en", NotAnAmount, "Please send an amount such as 1,500 or 49.900."),
    ],
)
def test_amounts_refused_with_an_example_in_the_readers_format(
    text: str, currency: str, lang: str, error: type[AmountError], message: str
) -> None:
    with pytest.raises(error) as caught:
        Money.parse(text, currency, lang)
    with use_locale(lang):
        assert formatting.error_text(caught.value) == message


def _iso_pattern(lang: str, kind: str, digits: int) -> babel.numbers.NumberPattern:
    """The locale's own pattern, with the currency's ISO 4217 decimals (CLDR may show fewer)."""
    locale = Locale.parse(lang)
    pattern = locale.currency_formats["standard"] if kind == "currency" else locale.decimal_formats[None]
    fixed = copy.copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("lang", LOCALES)
@given(minor=st.integers(min_value=-(10**13), max_value=10**13))
def test_formatted_amounts_read_back(lang: str, currency: str, minor: int) -> None:
    """What Babel writes in a locale (with the ISO decimals, with or without the currency sign or
    thousands groups) is what a reader of that locale types, and reads back to the same minor units."""
    digits = exponent(currency)
    value = Decimal(minor).scaleb(-digits)
    typed = [
        format_currency(
            value, currency, format=_iso_pattern(lang, "currency", digits), currency_digits=False, locale=lang
        ),
        format_decimal(value, format=_iso_pattern(lang, "decimal", digits), locale=lang),
        format_decimal(
            value, format=_iso_pattern(lang, "decimal", digits), locale=lang, group_separator=False
        ),
    ]
    for text in typed:
        assert Money.parse(text, currency, lang) == Money(minor, currency), text

"""EU VAT: standard rates by country at the supply date, and the reverse-charge rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat as eu_vat

D = Decimal
# (valid from, rate) per country, newest last. Countries outside the table pay 0 %.
RATES: dict[str, list[tuple[dt.date, Decimal]]] = {
    "AT": [(dt.date.min, D(20))],
    "BE": [(dt.date.min, D(21))],
    "BG": [(dt.date.min, D(20))],
    "HR": [(dt.date.min, D(25))],
    "CY": [(dt.date.min, D(19))],
    "CZ": [(dt.date.min, D(21))],
    "DK": [(dt.date.min, D(25))],
    "EE": [(dt.date.min, D(22)), (dt.date(2025, 7, 1), D(24))],
    "FI": [(dt.date.min, D(24)), (dt.date(2024, 9, 1), D("25.5"))],
    "FR": [(dt.date.min, D(20))],
    "DE": [(dt.date.min, D(19))],
    "GR": [(dt.date.min, D(24))],
    "HU": [(dt.date.min, D(27))],
    "IE": [(dt.date.min, D(23))],
    "IT": [(dt.date.min, D(22))],
    "LV": [(dt.date.min, D(21))],
    "LT": [(dt.date.min, D(21))],
    "LU": [(dt.date.min, D(17))],
    "MT": [(dt.date.min, D(18))],
    "NL": [(dt.date.min, D(21))],
    "PL": [(dt.date.min, D(23))],
    "PT": [(dt.date.min, D(23))],
    "RO": [(dt.date.min, D(19)), (dt.date(2025, 8, 1), D(21))],
    "SK": [(dt.date.min, D(20)), (dt.date(2025, 1, 1), D(23))],
    "SI": [(dt.date.min, D(22))],
    "ES": [(dt.date.min, D(21))],
    "SE": [(dt.date.min, D(25))],
}
# VAT ids of Greece start with EL, not GR.
VAT_PREFIX = {"GR": "EL"}


def standard_rate(country: str, on: dt.date) -> Decimal:
    rate = D(0)
    for since, value in RATES.get(country.upper(), []):
        if on >= since:
            rate = value
    return rate


def valid_vat_id(vat_id: str | None, country: str) -> bool:
    """Format and checksum valid, and issued by the customer's own country."""
    if not vat_id:
        return False
    try:
        number = eu_vat.validate(vat_id)
    except Exception:
        return False
    return bool(number[:2] == VAT_PREFIX.get(country.upper(), country.upper()))


@dataclass(frozen=True)
class VatDecision:
    rate: Decimal
    reverse_charge: bool


def decide(
    country: str, is_business: bool, vat_id: str | None, seller_country: str, on: dt.date
) -> VatDecision:
    """Reverse charge for a business in another EU state with a valid VAT id; else its country's rate."""
    country = country.upper()
    if (
        is_business
        and country in RATES
        and country != seller_country.upper()
        and valid_vat_id(vat_id, country)
    ):
        return VatDecision(D(0), True)
    return VatDecision(standard_rate(country, on), False)

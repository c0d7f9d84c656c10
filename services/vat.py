"""EU VAT: standard rates by country at the supply date, and the reverse-charge rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat

D = Decimal
START = dt.date.min
# Standard rates of the EU member states, each with the day it took effect, oldest first; a
# country's first rate is the one in force on 31 December 2009 (the table is exact from then on,
# not for earlier days). Source: European Commission, DG TAXUD, "VAT rates applied in the Member
# States of the European Union" (yearly editions, chapter "The evolution of the VAT rates") and
# its Taxes in Europe Database (TEDB), checked against each country's announcement of a change.
# Croatia joined the EU on 1 July 2013; the United Kingdom was in the EU VAT area until the end
# of 2020 (see LEFT). Countries outside the table, or outside the EU on the day, pay 0 %.
RATES: dict[str, list[tuple[dt.date, Decimal]]] = {
    "AT": [(START, D(20))],
    "BE": [(START, D(21))],
    "BG": [(START, D(20))],
    "CY": [
        (START, D(15)),
        (dt.date(2012, 3, 1), D(17)),
        (dt.date(2013, 1, 14), D(18)),
        (dt.date(2014, 1, 13), D(19)),
    ],
    "CZ": [(START, D(19)), (dt.date(2010, 1, 1), D(20)), (dt.date(2013, 1, 1), D(21))],
    "DE": [(START, D(19)), (dt.date(2020, 7, 1), D(16)), (dt.date(2021, 1, 1), D(19))],
    "DK": [(START, D(25))],
    "EE": [(START, D(20)), (dt.date(2024, 1, 1), D(22)), (dt.date(2025, 7, 1), D(24))],
    "ES": [(START, D(16)), (dt.date(2010, 7, 1), D(18)), (dt.date(2012, 9, 1), D(21))],
    "FI": [
        (START, D(22)),
        (dt.date(2010, 7, 1), D(23)),
        (dt.date(2013, 1, 1), D(24)),
        (dt.date(2024, 9, 1), D("25.5")),
    ],
    "FR": [(START, D("19.6")), (dt.date(2014, 1, 1), D(20))],
    "GB": [(START, D(15)), (dt.date(2010, 1, 1), D("17.5")), (dt.date(2011, 1, 4), D(20))],
    "GR": [
        (START, D(19)),
        (dt.date(2010, 3, 15), D(21)),
        (dt.date(2010, 7, 1), D(23)),
        (dt.date(2016, 6, 1), D(24)),
    ],
    "HR": [(dt.date(2013, 7, 1), D(25))],
    "HU": [(START, D(25)), (dt.date(2012, 1, 1), D(27))],
    "IE": [
        (START, D("21.5")),
        (dt.date(2010, 1, 1), D(21)),
        (dt.date(2012, 1, 1), D(23)),
        (dt.date(2020, 9, 1), D(21)),
        (dt.date(2021, 3, 1), D(23)),
    ],
    "IT": [(START, D(20)), (dt.date(2011, 9, 17), D(21)), (dt.date(2013, 10, 1), D(22))],
    "LT": [(START, D(21))],
    "LU": [
        (START, D(15)),
        (dt.date(2015, 1, 1), D(17)),
        (dt.date(2023, 1, 1), D(16)),
        (dt.date(2024, 1, 1), D(17)),
    ],
    "LV": [(START, D(21)), (dt.date(2011, 1, 1), D(22)), (dt.date(2012, 7, 1), D(21))],
    "MT": [(START, D(18))],
    "NL": [(START, D(19)), (dt.date(2012, 10, 1), D(21))],
    "PL": [(START, D(22)), (dt.date(2011, 1, 1), D(23))],
    "PT": [(START, D(20)), (dt.date(2010, 7, 1), D(21)), (dt.date(2011, 1, 1), D(23))],
    "RO": [
        (START, D(19)),
        (dt.date(2010, 7, 1), D(24)),
        (dt.date(2016, 1, 1), D(20)),
        (dt.date(2017, 1, 1), D(19)),
        (dt.date(2025, 8, 1), D(21)),
    ],
    "SE": [(START, D(25))],
    "SI": [(START, D(20)), (dt.date(2013, 7, 1), D(22))],
    "SK": [(START, D(19)), (dt.date(2011, 1, 1), D(20)), (dt.date(2025, 1, 1), D(23))],
}
# The day a country left the EU VAT area (the Brexit transition period ended on 31 December 2020).
LEFT = {"GB": dt.date(2021, 1, 1)}
# Rates are exact from this day on; the bot does not answer for earlier days.
KNOWN_FROM = dt.date(2010, 1, 1)
# VAT ids of Greece start with EL, not GR.
VAT_PREFIX = {"GR": "EL"}


def in_eu(country: str, on: dt.date) -> bool:
    """Whether the country was (or is) in the EU VAT area on that day."""
    country = country.upper()
    changes = RATES.get(country)
    return changes is not None and changes[0][0] <= on < LEFT.get(country, dt.date.max)


def standard_rate(country: str, on: dt.date) -> Decimal:
    """The standard rate in force on that day; 0 outside the EU VAT area."""
    if not in_eu(country, on):
        return D(0)
    return next(value for since, value in reversed(RATES[country.upper()]) if on >= since)


def valid_vat_id(vat_id: str | None, country: str) -> bool:
    """Format and checksum valid, and issued by the customer's own country."""
    if not vat_id:
        return False
    prefix = VAT_PREFIX.get(country.upper(), country.upper())
    try:
        if prefix == "GB":
            # python-stdnum's EU module dropped GB numbers after Brexit; its GB module still checks them.
            gb_vat.validate(vat_id)
            number = "".join(ch for ch in vat_id if ch.isalnum()).upper()
        else:
            number = eu_vat.validate(vat_id)
    except Exception:
        return False
    return bool(number[:2] == prefix)


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
        and in_eu(country, on)
        and country != seller_country.upper()
        and valid_vat_id(vat_id, country)
    ):
        return VatDecision(D(0), True)
    return VatDecision(standard_rate(country, on), False)

"""Dated EU VAT rates since 2010: every standard-rate change, joining and leaving the EU, and the
``vat`` chat command on a past date.

The expected rates are typed out here from the European Commission's "VAT rates applied in the
Member States of the European Union" and each country's announcements, not read from the table,
so that a typo in services/vat.py fails."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.core.dispatcher import Dispatcher
from services import topup, vat
from tests.support.chat import Chat

# (country, first day of the new rate, rate the day before, rate that day); "0" is outside the EU.
CHANGES = [
    ("CY", "2012-03-01", "15", "17"),
    ("CY", "2013-01-14", "17", "18"),
    ("CY", "2014-01-13", "18", "19"),
    ("CZ", "2010-01-01", "19", "20"),
    ("CZ", "2013-01-01", "20", "21"),
    ("DE", "2020-07-01", "19", "16"),
    ("DE", "2021-01-01", "16", "19"),
    ("EE", "2024-01-01", "20", "22"),
    ("EE", "2025-07-01", "22", "24"),
    ("ES", "2010-07-01", "16", "18"),
    ("ES", "2012-09-01", "18", "21"),
    ("FI", "2010-07-01", "22", "23"),
    ("FI", "2013-01-01", "23", "24"),
    ("FI", "2024-09-01", "24", "25.5"),
    ("FR", "2014-01-01", "19.6", "20"),
    ("GB", "2010-01-01", "15", "17.5"),
    ("GB", "2011-01-04", "17.5", "20"),
    ("GB", "2021-01-01", "20", "0"),
    ("GR", "2010-03-15", "19", "21"),
    ("GR", "2010-07-01", "21", "23"),
    ("GR", "2016-06-01", "23", "24"),
    ("HR", "2013-07-01", "0", "25"),
    ("HU", "2012-01-01", "25", "27"),
    ("IE", "2010-01-01", "21.5", "21"),
    ("IE", "2012-01-01", "21", "23"),
    ("IE", "2020-09-01", "23", "21"),
    ("IE", "2021-03-01", "21", "23"),
    ("IT", "2011-09-17", "20", "21"),
    ("IT", "2013-10-01", "21", "22"),
    ("LU", "2015-01-01", "15", "17"),
    ("LU", "2023-01-01", "17", "16"),
    ("LU", "2024-01-01", "16", "17"),
    ("LV", "2011-01-01", "21", "22"),
    ("LV", "2012-07-01", "22", "21"),
    ("NL", "2012-10-01", "19", "21"),
    ("PL", "2011-01-01", "22", "23"),
    ("PT", "2010-07-01", "20", "21"),
    ("PT", "2011-01-01", "21", "23"),
    ("RO", "2010-07-01", "19", "24"),
    ("RO", "2016-01-01", "24", "20"),
    ("RO", "2017-01-01", "20", "19"),
    ("RO", "2025-08-01", "19", "21"),
    ("SI", "2013-07-01", "20", "22"),
    ("SK", "2011-01-01", "19", "20"),
    ("SK", "2025-01-01", "20", "23"),
]
# Member states whose standard rate did not change from 2010 to today.
STABLE = {"AT": "20", "BE": "21", "BG": "20", "DK": "25", "LT": "21", "MT": "18", "SE": "25"}
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("country", "since", "before", "after"), CHANGES, ids=lambda v: str(v))
def test_rate_the_day_before_and_on_each_change(country: str, since: str, before: str, after: str) -> None:
    day = dt.date.fromisoformat(since)
    assert vat.standard_rate(country, day - DAY) == Decimal(before)
    assert vat.standard_rate(country, day) == Decimal(after)
    assert vat.in_eu(country, day) == (after != "0")


def test_the_table_has_exactly_these_changes_and_countries() -> None:
    """With the values checked above, this fixes the rate on every day since 2010."""
    table = {(c, since) for c, changes in vat.RATES.items() for since, _rate in changes[1:]}
    table |= {(c, changes[0][0]) for c, changes in vat.RATES.items() if changes[0][0] != dt.date.min}
    table |= set(vat.LEFT.items())
    assert table == {(c, dt.date.fromisoformat(since)) for c, since, _b, _a in CHANGES}
    assert set(vat.RATES) == {c for c, *_ in CHANGES} | set(STABLE)
    assert len(vat.RATES) == 28  # the 27 member states and the United Kingdom


@pytest.mark.parametrize(("country", "rate"), STABLE.items())
def test_stable_rates(country: str, rate: str) -> None:
    for day in (vat.KNOWN_FROM, dt.date(2018, 6, 15), dt.date(2026, 12, 1)):
        assert vat.standard_rate(country, day) == Decimal(rate)


def test_rates_today() -> None:
    today = dict(STABLE) | {"CY": "19", "CZ": "21", "DE": "19", "EE": "24", "ES": "21", "FI": "25.5"}
    today |= {"FR": "20", "GR": "24", "HR": "25", "HU": "27", "IE": "23", "IT": "22", "LU": "17"}
    today |= {"LV": "21", "NL": "21", "PL": "23", "PT": "23", "RO": "21", "SI": "22", "SK": "23"}
    assert len(today) == 27
    for country, rate in today.items():
        assert vat.standard_rate(country, dt.date(2026, 12, 1)) == Decimal(rate), country
    assert vat.standard_rate("GB", dt.date(2026, 12, 1)) == 0
    assert vat.standard_rate("US", dt.date(2015, 1, 1)) == 0 and not vat.in_eu("US", dt.date(2015, 1, 1))


def test_reverse_charge_follows_membership_on_the_supply_date() -> None:
    """Before joining, a Croatian business was outside the EU (no VAT, no reverse charge); a UK
    business was reverse-charged until the end of 2020 and is outside the EU since."""
    hr_id, gb_id = "HR33392005961", "GB980780684"
    assert vat.decide("HR", True, hr_id, "NL", dt.date(2013, 6, 30)) == vat.VatDecision(Decimal(0), False)
    assert vat.decide("HR", True, hr_id, "NL", dt.date(2013, 7, 1)) == vat.VatDecision(Decimal(0), True)
    assert vat.decide("HR", False, None, "NL", dt.date(2013, 7, 1)) == vat.VatDecision(Decimal(25), False)
    assert vat.decide("GB", True, gb_id, "NL", dt.date(2020, 12, 31)) == vat.VatDecision(Decimal(0), True)
    assert vat.decide("GB", False, None, "NL", dt.date(2020, 12, 31)) == vat.VatDecision(Decimal(20), False)
    assert vat.decide("GB", True, gb_id, "NL", dt.date(2021, 1, 1)) == vat.VatDecision(Decimal(0), False)
    assert vat.decide("GB", False, None, "NL", dt.date(2021, 1, 1)) == vat.VatDecision(Decimal(0), False)


def test_uk_vat_ids() -> None:
    assert vat.valid_vat_id("GB980780684", "GB")
    assert vat.valid_vat_id("gb 980 7806 84", "GB")
    assert not vat.valid_vat_id("GB980780685", "GB")  # bad checksum
    assert not vat.valid_vat_id("980780684", "GB")  # no prefix, as for EU ids
    assert not vat.valid_vat_id("GB980780684", "IE")
    # A UK customer's tax id is checked as a non-EU one today, as before GB was in the table.
    assert topup.parse_tax_id("GB980780684", "GB") == "980780684"
    assert topup.parse_tax_id("33392005961", "HR") == "HR33392005961"


async def test_vat_on_a_past_date_in_the_users_language(dispatcher: Dispatcher, alice: Chat) -> None:
    stranger = Chat(dispatcher, "stranger", language="en")
    answer = (await stranger.say("vat FR 2010-01-01")).text.splitlines()
    assert answer[:2] == [
        "Standard VAT rate in France on Jan 1, 2010: 19.6%.",
        "20% from Jan 1, 2014 (19.6% before).",
    ]
    # Alice's account is French: her country is the default; Babel writes French percentages.
    alice.language = "fr"
    answer = (await alice.say("tva 2010-01-01")).text.splitlines()
    assert answer[:2] == [
        "Taux normal de TVA (France) au 1 janv. 2010\xa0: 19,6\xa0%.",
        "20\xa0% à compter du 1 janv. 2014 (19,6\xa0% auparavant).",
    ]
    turkish = Chat(dispatcher, "ayse", language="tr")
    assert "%19,6" in (await turkish.say("kdv FR 2013-12-31")).text
    assert "%20" in (await turkish.say("kdv FR 2014-01-01")).text.splitlines()[0]


async def test_vat_shows_the_change_before_and_after_the_date(dispatcher: Dispatcher) -> None:
    chat = Chat(dispatcher, "stranger", language="en")
    lines = (await chat.say("vat DE 2020-08-01")).text.splitlines()
    assert lines[:3] == [
        "Standard VAT rate in Germany on Aug 1, 2020: 16%.",
        "16% from Jul 1, 2020 (19% before).",
        "19% from Jan 1, 2021 (16% before).",
    ]
    assert lines[3].startswith("Consumers pay")
    lines = (await chat.say("vat IE 2026-12-01")).text.splitlines()
    assert lines[:2] == [
        "Standard VAT rate in Ireland on Dec 1, 2026: 23%.",
        "23% from Mar 1, 2021 (21% before).",
    ]


async def test_vat_before_joining_after_leaving_and_before_2010(dispatcher: Dispatcher) -> None:
    chat = Chat(dispatcher, "stranger", language="en")
    said = (await chat.say("vat HR 2013-06-30")).text
    assert said == "Croatia was not in the EU on Jun 30, 2013: no EU VAT applied (0%)."
    assert "25%" in (await chat.say("vat HR 2013-07-01")).text
    lines = (await chat.say("vat GB 2015-06-01")).text.splitlines()
    assert lines[:3] == [
        "Standard VAT rate in United Kingdom on Jun 1, 2015: 20%.",
        "20% from Jan 4, 2011 (17.5% before).",
        "No EU VAT from Jan 1, 2021: United Kingdom left the EU.",
    ]
    said = (await chat.say("vat GB 2021-01-01")).text
    assert said == "United Kingdom was not in the EU on Jan 1, 2021: no EU VAT applied (0%)."
    assert "is outside the EU" in (await chat.say("vat GB")).text
    assert (await chat.say("vat FR 2009-12-31")).text == "VAT rates are known from Jan 1, 2010 on."
    assert "is outside the EU" in (await chat.say("vat US 2005-01-01")).text

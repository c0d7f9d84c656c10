"""``usage`` in chat: the month per day, so far and the estimate, agreeing with the service; in the
shell end to end, and from the ``hostbot meter`` commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from bot import bootstrap, demo
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import clock, metering
from services.drivers.log_mail import LogMailer
from services.money import Money
from storage.models import Customer
from storage.uow import Database
from tests.support.chat import Chat
from tests.support.cli import output, shell

NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def dispatcher(frozen: None, db: Database, settings: Settings, mailer: LogMailer) -> Dispatcher:
    """The demo data, seeded and talked to on 20 November 2026 at 16:30 in Paris."""
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer)
    async with db.uow() as uow:
        await demo.seed(uow, dispatcher.seller)
    return dispatcher


async def test_usage_per_day_so_far_and_estimate(dispatcher: Dispatcher, alice: Chat) -> None:
    reply = await alice.say("usage")
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        report = await metering.current_usage(uow, customer)
    today = NOW.astimezone(ZoneInfo("Europe/Paris")).date()
    text = reply.text
    assert "Pay-as-you-use from" in text
    for day in range(1, today.day + 1):
        share = report.so_far.days().get(today.replace(day=day), 0)
        assert f"{formatting.date(today.replace(day=day))}: {formatting.money(Money(share, 'EUR'))}" in text
    assert sum(report.so_far.days().values()) == report.so_far.total
    assert f"So far this month: {formatting.money(Money(report.so_far.total, 'EUR'))}" in text
    assert f"Estimate for the whole month: {formatting.money(Money(report.estimate.total, 'EUR'))}" in text
    assert report.estimate.total >= report.so_far.total
    # The demo's upgraded account shows with each package, and the 30-hour-old one is still free.
    assert "lumiere-clients.example — Reseller hosting M: 50 hours × €0.0082" in text
    assert "staging.lumiere-clients.example — Reseller hosting S: 30 hours" in text.split("Not billed yet")[1]
    assert [b.label for b in reply.all_buttons()] == ["Invoices"]


async def test_usage_in_french_formats_with_babel(alice: Chat) -> None:
    await alice.say("langue fr")
    text = (await alice.say("consommation")).text
    with use_locale("fr"):
        assert formatting.rate(Decimal("0.82"), "EUR") in text
    assert format_currency(Decimal("0.0082"), "EUR", locale="fr", decimal_quantization=False) in text


async def test_customer_without_metered_resources(budi: Chat) -> None:
    assert "no pay-as-you-use" in (await budi.say("show my usage")).text


def test_usage_in_the_shell(tmp_path: Path) -> None:
    out = shell(tmp_path, "usage\n1\n")
    first = dt.datetime.now(ZoneInfo("Europe/Paris")).date().replace(day=1)
    assert f"Pay-as-you-use from {format_date(first, 'medium', locale='en')}" in out
    assert "Estimate for the whole month: €" in out
    assert "[1] Invoices" in out and "All invoices" in out


def test_meter_commands(tmp_path: Path) -> None:
    shell(tmp_path, "")  # creates the demo database, whose current hour is already recorded
    assert "recorded 0 metered resources" in output(tmp_path, "meter", "snapshot")
    # The demo's history starts this month: last month closes without a usage invoice, once.
    assert "created 0 usage invoices" in output(tmp_path, "meter", "invoice")
    assert "created 0 usage invoices" in output(tmp_path, "meter", "invoice")

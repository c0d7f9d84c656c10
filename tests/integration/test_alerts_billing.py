"""Billing facts as alerts: auto-renewals the billing job could not pay (``BillingNotice``), and
pay-as-you-use charges in the low-balance forecast. Under a frozen clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import bootstrap, demo
from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import clock, ledger, metering, renewals
from services.alerts import finders
from services.drivers.log_mail import LogMailer
from services.money import Money
from storage.models import Alert, BillingNotice, Customer, Order
from storage.uow import Database
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat

# Seeded on March 10: order 1 (auto-renew, renewal invoice #3 for €24.85 open) ends on March 20;
# customer 1 resells hosting metered hourly since March 1.
SEEDED = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def seeded(db: Database, settings: Settings, mailer: LogMailer) -> Dispatcher:
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer)
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            await demo.seed(uow, dispatcher.seller)
        await Chat.linked(dispatcher, "alice", customer_id=1)
    return dispatcher


async def _set_balance(dispatcher: Dispatcher, minor: int) -> None:
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        now = await ledger.balance(uow, customer)
        await ledger.post(uow, customer, Money(minor - now.minor, "EUR"), "adjustment", "test", None)
        await uow.commit()


async def _keys(db: Database, prefix: str) -> dict[str, str]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(Alert.key, Alert.state))).all()
    return {k: s for k, s in rows if k.startswith(prefix)}


def _alerts(dispatcher: Dispatcher, sender: RecordingSender, settings: Settings) -> AlertSender:
    return AlertSender(dispatcher.db, settings, dispatcher.seller, {"test": sender})


async def test_an_auto_renewal_the_balance_did_not_cover_is_told_once(seeded: Dispatcher) -> None:
    dispatcher, db, settings = seeded, seeded.db, seeded.settings
    end = dt.datetime(2026, 3, 20, 10, 0, tzinfo=dt.UTC)
    with clock.frozen(end):
        await _set_balance(dispatcher, 970)
        async with db.uow() as uow:
            run = await renewals.run_due(uow, dispatcher.seller)
        assert run.short == [1]
        assert await finders.scan(db, settings, dispatcher.seller) > 0
        [key] = await _keys(db, "notice:")
        sender = RecordingSender()
        await _alerts(dispatcher, sender, settings).run_pass()
        assert await _keys(db, "notice:") == {key: "sent"}
        async with db.uow() as uow:
            notice = await uow.session.scalar(select(BillingNotice))
            assert notice is not None and notice.delivered_at == clock.now()
        [told] = [s.reply for s in sender.sent if "did not go through" in s.reply.text]
        with use_locale("en"):
            missing = formatting.money(Money(2485 - 970, "EUR"))
            due = formatting.date(dt.date(2026, 3, 20))
        assert missing in told.text and due in told.text and "/pay/" in told.text
        assert [b.label for b in told.all_buttons()] == ["Pay", "Top up"]
        assert all(b.key for b in told.all_buttons())
        assert await finders.scan(db, settings, dispatcher.seller) == 0  # told: not found again
        async with db.uow() as uow:  # the billing job runs again: still short, nothing new to tell
            await renewals.run_due(uow, dispatcher.seller)
        assert await finders.scan(db, settings, dispatcher.seller) == 0


async def test_a_notice_is_dropped_when_the_balance_covers_it_before_sending(seeded: Dispatcher) -> None:
    dispatcher, db, settings = seeded, seeded.db, seeded.settings
    with clock.frozen(dt.datetime(2026, 3, 20, 10, 0, tzinfo=dt.UTC)):
        await _set_balance(dispatcher, 970)
        async with db.uow() as uow:
            await renewals.run_due(uow, dispatcher.seller)
        await finders.scan(db, settings, dispatcher.seller)
        await _set_balance(dispatcher, 5000)  # topped up before the alert went out
        sender = RecordingSender()
        await _alerts(dispatcher, sender, settings).run_pass()
    [state] = (await _keys(db, "notice:")).values()
    assert state == "dropped" and not any("did not go through" in t for t in sender.texts())


async def test_the_forecast_counts_pay_as_you_use_until_the_end_of_the_window(seeded: Dispatcher) -> None:
    """25 days ahead reach past the end of March: the whole rest of the month's usage estimate
    counts, on top of order 1's renewal on March 20, which the balance alone would cover."""
    dispatcher, db = seeded, seeded.db
    settings = dispatcher.settings.model_copy(update={"alerts_forecast_days": 25})
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            customer = await uow.session.get(Customer, 1)
            assert customer is not None
            usage = await metering.current_usage(uow, customer)
            renewal = await uow.session.get(Order, 1)
            assert renewal is not None and renewal.auto_renew
        rest = Money(usage.estimate.total - usage.so_far.total, "EUR")
        assert rest.minor > 0
        await _set_balance(dispatcher, 2485)  # exactly the renewal
        await finders.scan(db, settings, dispatcher.seller)
        assert await _keys(db, "forecast:") == {"forecast:1:2026-03-20": "pending"}
        sender = RecordingSender()
        await _alerts(dispatcher, sender, settings).run_pass()
    [told] = [t for t in sender.texts("alice") if "expected to be charged" in t]
    with use_locale("en"):
        assert f"({formatting.money(Money(2485, 'EUR') + rest)})" in told
        assert f"{formatting.money(rest)} is missing" in told
        assert f"Pay-as-you-use charges until {formatting.date(dt.date(2026, 4, 4))} · " in told
        assert told.endswith(formatting.money(rest))


async def test_usage_alone_can_run_the_balance_short(seeded: Dispatcher) -> None:
    """No automatic renewal in the next 7 days, but a week of metered resources costs more than
    the balance: one forecast alert for the month, found once."""
    dispatcher, db, settings = seeded, seeded.db, seeded.settings
    with clock.frozen(SEEDED):
        await _set_balance(dispatcher, 100)
        await finders.scan(db, settings, dispatcher.seller)
        assert await _keys(db, "forecast:") == {"forecast:1:usage:2026-03": "pending"}
    with clock.frozen(SEEDED + dt.timedelta(days=1)):
        await finders.scan(db, settings, dispatcher.seller)
        assert list(await _keys(db, "forecast:")) == ["forecast:1:usage:2026-03"]
        sender = RecordingSender()
        await _alerts(dispatcher, sender, settings).run_pass()
    [told] = [t for t in sender.texts("alice") if "expected to be charged" in t]
    assert "Pay-as-you-use charges until" in told and "Order #" not in told

"""Billing facts as alerts: auto-renewals the billing job could not pay (``BillingNotice``), and
pay-as-you-use charges in the low-balance forecast. Under a frozen clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

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
from storage.models import Alert, BillingNotice, Customer, Domain, Invoice, LedgerEntry, Order
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


async def _auto_renew_domain(db: Database) -> Domain:
    async with db.uow() as uow:
        domain = await uow.session.scalar(
            select(Domain).where(Domain.customer_id == 1, Domain.auto_renew.is_(True))
        )
        assert domain is not None
        return domain


async def test_a_domain_set_to_renew_automatically_is_renewed_once_on_its_expiry_date(
    seeded: Dispatcher,
) -> None:
    """What the renewal alerts promise: on the expiry date the billing job pays one more year from
    the balance, once, however many workers run at that moment."""
    db, seller = seeded.db, seeded.seller
    domain = await _auto_renew_domain(db)
    expires = domain.expires_on
    await _set_balance(seeded, 10_000_000)  # covers the orders renewed on the same pass too
    with clock.frozen(dt.datetime.combine(expires - dt.timedelta(days=1), dt.time(10), dt.UTC)):
        async with db.uow() as uow:
            assert (await renewals.run_due(uow, seller)).domains_renewed == []

    async def worker() -> renewals.RenewalRun:
        async with db.uow() as uow:
            return await renewals.run_due(uow, seller)

    with clock.frozen(dt.datetime.combine(expires, dt.time(10), dt.UTC)):
        runs = await asyncio.gather(*(worker() for _ in range(3)))
        assert sum(run.domains_renewed.count(domain.id) for run in runs) == 1
        assert domain.id not in (await worker()).domains_renewed
    renewed = await _auto_renew_domain(db)
    assert renewed.expires_on == expires + relativedelta(years=1)
    async with db.uow() as uow:
        invoice = await uow.session.scalar(
            select(Invoice).where(Invoice.renewal_key == f"domain:{domain.id}:{expires.isoformat()}")
        )
        assert invoice is not None and invoice.status == "paid"
        charges = await uow.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id)
        )
        assert charges == 1


async def test_a_domain_renewal_the_balance_does_not_cover_is_told_once(seeded: Dispatcher) -> None:
    dispatcher, db, settings = seeded, seeded.db, seeded.settings
    domain = await _auto_renew_domain(db)
    with clock.frozen(dt.datetime.combine(domain.expires_on, dt.time(10), dt.UTC)):
        await _set_balance(dispatcher, 0)
        async with db.uow() as uow:
            assert domain.id in (await renewals.run_due(uow, dispatcher.seller)).domains_short
        async with db.uow() as uow:  # not tried again while the ledger has not moved
            assert (await renewals.run_due(uow, dispatcher.seller)).domains_short == []
        await finders.scan(db, settings, dispatcher.seller)
        sender = RecordingSender()
        await _alerts(dispatcher, sender, settings).run_pass()
    async with db.uow() as uow:
        notices = (await uow.session.scalars(select(BillingNotice))).all()
    assert [
        n.customer_id for n in notices if n.params["item"] == "domain" and n.params["ref_id"] == domain.id
    ] == [1]
    [told] = [
        s.reply for s in sender.sent if "did not go through" in s.reply.text and domain.name in s.reply.text
    ]
    assert "/pay/" in told.text
    assert (await _auto_renew_domain(db)).expires_on == domain.expires_on

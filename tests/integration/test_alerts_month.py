"""A month in the life of a customer, day by day under a frozen clock: what the bot says, and when."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import select

from bot import bootstrap, demo
from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import clock, invoices, ledger, paying
from services.alerts import finders
from services.audit import Actor
from services.drivers.log_mail import LogMailer
from services.invoices import LineSpec
from services.money import Money
from storage.models import Alert, Customer
from storage.uow import Database
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat

# The demo data is created on this day. Customer 1 (Atelier Lumière): order 1 (auto-renew, renewal
# invoice #3 open) ends on March 12 and the domain atelier-lumiere.example (manual renewal) expires
# on March 7; its Growth subscription (order 3) and support package (order 4), started ten days
# before, end on March 20, and its mail package (order 5) on March 22 (20 days after seeding);
# those three renew by hand, so each climbs the whole ladder from the 30-day step.
SEEDED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
# The days after SEEDED on which each alert key first appears for customer 1 ("*": any id).
EXPECTED = {
    0: {
        "renew:order:1:2026-03-12:14",
        "renew:domain:1:2026-03-07:7",
        "renew:order:3:2026-03-20:30",
        "renew:order:4:2026-03-20:30",
        "renew:order:5:2026-03-22:30",
        "reply:1:2",
    },
    2: {"renew:domain:1:2026-03-07:3"},
    3: {"renew:order:1:2026-03-12:7"},
    4: {"renew:domain:1:2026-03-07:1", "renew:order:3:2026-03-20:14", "renew:order:4:2026-03-20:14"},
    # Money spent: the 7-day step is told again as a warning, with a forecast and the threshold.
    5: {"short:order:1:2026-03-12:7", "forecast:1:2026-03-12", "threshold:1:2000:*"},
    6: {"renew:order:5:2026-03-22:14"},
    7: {"short:order:1:2026-03-12:3"},
    # Topped up on day 8 (the 3-day step is not told again); covered on the last day.
    9: {"renew:order:1:2026-03-12:1"},
    # Renewed on day 10 until April 12: the next ladder starts at 30 days.
    11: {"renew:order:1:2026-04-12:30", "renew:order:3:2026-03-20:7", "renew:order:4:2026-03-20:7"},
    13: {"renew:order:5:2026-03-22:7"},
    15: {"overdue:*:1", "renew:order:3:2026-03-20:3", "renew:order:4:2026-03-20:3"},
    17: {
        "overdue:*:3",
        "renew:order:3:2026-03-20:1",
        "renew:order:4:2026-03-20:1",
        "renew:order:5:2026-03-22:3",
    },
    19: {"renew:order:5:2026-03-22:1"},
    21: {"overdue:*:7"},
    27: {"renew:order:1:2026-04-12:14"},
}


@pytest.fixture
async def seeded(db: Database, settings: Settings, mailer: LogMailer) -> Dispatcher:
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer)
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            await demo.seed(uow, dispatcher.seller)
    return dispatcher


def _matches(pattern: str, key: str) -> bool:
    a, b = pattern.split(":"), key.split(":")
    return len(a) == len(b) and all(x in ("*", y) for x, y in zip(a, b, strict=True))


async def test_a_month_of_alerts(seeded: Dispatcher) -> None:
    dispatcher, db = seeded, seeded.db
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        customer.language = "fr"
        await uow.commit()
    await Chat.linked(dispatcher, "alice", customer_id=1)
    await Chat.linked(dispatcher, "budi", customer_id=2)
    async with db.uow() as uow:
        budi = await uow.session.get(Customer, 2)
        assert budi is not None
        budi.language = "id"
        await uow.commit()
    alice = Chat(dispatcher, "alice")
    sender = RecordingSender()
    alerts = AlertSender(db, dispatcher.settings, dispatcher.seller, {"test": sender})
    seen: dict[int, set[str]] = {}
    extra_invoice = 0
    for day in range(31):
        at = SEEDED + dt.timedelta(days=day)
        with clock.frozen(at):
            if day == 0:
                await alice.say("alerts threshold 20")
                async with db.uow() as uow:
                    c = await uow.session.get(Customer, 1)
                    assert c is not None
                    inv = await invoices.create(
                        uow, c, [LineSpec("Extra storage", 300)], dispatcher.seller, None
                    )
                    extra_invoice = inv.id
                    await uow.commit()
            if day == 5:  # the balance is spent: the auto-renewal of order 1 is no longer covered
                async with db.uow() as uow:
                    c = await uow.session.get(Customer, 1)
                    assert c is not None
                    await ledger.post(uow, c, Money(-5000, "EUR"), "adjustment", "spent", None)
                    await uow.commit()
            if day == 8:  # topped up again
                async with db.uow() as uow:
                    c = await uow.session.get(Customer, 1)
                    assert c is not None
                    await ledger.post(uow, c, Money(5000, "EUR"), "payment", "top-up", None)
                    await uow.commit()
            if day == 10:  # the auto-renewal succeeds (the billing job pays the renewal invoice)
                async with db.uow() as uow:
                    await paying.mark_paid(uow, await invoices.get(uow, 3, Actor(1)), "balance", None)
                    await uow.commit()
            before = await _keys(db)
            added = await finders.scan(db, dispatcher.settings, dispatcher.seller)
            assert (
                await finders.scan(db, dispatcher.settings, dispatcher.seller) == 0
            )  # a re-run adds nothing
            await alerts.run_pass()
            new = await _keys(db) - before
            assert added == len(new)
            mine = {k for k in new if k in await _keys(db, customer_id=1)}
            if mine:
                seen[day] = mine
    assert sorted(seen) == sorted(EXPECTED), seen
    for day, patterns in EXPECTED.items():
        for pattern in patterns:
            wanted = pattern.replace("overdue:*", f"overdue:{extra_invoice}")
            assert any(_matches(wanted, k) for k in seen[day]), (day, wanted, seen[day])
        assert len(seen[day]) == len(patterns)
    # Every alert was delivered once, in French (Babel's own formatting), with the right buttons.
    texts = sender.texts("alice")
    assert len(texts) == sum(len(p) for p in EXPECTED.values())
    fr_total = format_currency(Decimal("24.85"), "EUR", locale="fr")
    missing = format_currency(Decimal("15.15"), "EUR", locale="fr")  # 24.85 due, 9.70 left on day 7
    assert any(missing in t for t in texts)
    overdue = [s for s in sender.sent if s.user_id == "alice" and "/pay/" in s.reply.text]
    assert len(overdue) == 3 and all(s.reply.all_buttons()[0].label == "Payer" for s in overdue)
    assert all(b.key for s in sender.sent for b in s.reply.all_buttons())  # sealed: opaque keys only
    with use_locale("id"):
        idr = formatting.money(Money(18000000, "IDR"))
    assert any(idr in t for t in sender.texts("budi"))
    assert any(fr_total in t and format_date(dt.date(2026, 3, 12), "medium", locale="fr") in t for t in texts)


async def _keys(db: Database, customer_id: int | None = None) -> set[str]:
    query = select(Alert.key)
    if customer_id is not None:
        query = query.where(Alert.customer_id == customer_id)
    async with db.uow() as uow:
        return set((await uow.session.scalars(query)).all())

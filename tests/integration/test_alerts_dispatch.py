"""Dispatch rules: 429 waits, retries with backoff, dead letters, quiet hours, preferences, stale alerts."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from sqlalchemy import select

from bot.alerts.dispatch import AlertSender
from bot.cli import cmd_alerts_status
from bot.core.dispatcher import Dispatcher
from services import clock, invoices
from services.alerts import finders
from services.audit import Actor
from storage.models import Alert, AlertDelivery, ChatIdentity, Customer, TicketMessage
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat

# What the demo data tells customer 1 on any day (its dates are relative to the seeding day): the
# domain expiring in 5 days (7-day step), order 1 ending in 10 days (14-day step), the Growth
# subscription, support package and mail package ending in 18 to 21 days (30-day step), and the
# unread support reply. "*" stands for the date, which moves with the day the tests run.
DEMO_ALERTS = {
    "renew:domain:1:*:7",
    "renew:order:1:*:14",
    "renew:order:3:*:30",
    "renew:order:4:*:30",
    "renew:order:5:*:30",
    "reply:1:2",
}


def _alerts(dispatcher: Dispatcher, sender: RecordingSender, **kw: object) -> AlertSender:
    return AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}, **kw)  # type: ignore[arg-type]


async def _scan(dispatcher: Dispatcher) -> int:
    return await finders.scan(dispatcher.db, dispatcher.settings, dispatcher.seller)


def _pattern(key: str) -> str:
    """The key with its renewal date (``YYYY-MM-DD``) replaced by ``*``."""
    return ":".join("*" if len(part) == 10 and part[4] == "-" else part for part in key.split(":"))


async def _states(dispatcher: Dispatcher) -> dict[str, str]:
    async with dispatcher.db.uow() as uow:
        return dict((await uow.session.execute(select(Alert.key, Alert.state))).all())  # type: ignore[arg-type]


async def test_retry_after_is_waited_out_and_everything_arrives(dispatcher: Dispatcher, alice: Chat) -> None:
    sender = RecordingSender(retry_after=0.05, rate_limited={"alice": 3})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    found = await _scan(dispatcher)
    assert found == len(DEMO_ALERTS)
    keys = sorted(await _states(dispatcher))
    assert sorted(_pattern(k) for k in keys) == sorted(DEMO_ALERTS), keys
    assert await _alerts(dispatcher, sender, sleep=sleep).run_pass() == found
    assert len(sender.sent) == found and waits == [0.05, 0.05, 0.05]
    async with dispatcher.db.uow() as uow:
        rows = (await uow.session.scalars(select(Alert))).all()
    assert {a.state for a in rows} == {"sent"} and {a.attempts for a in rows} == {0}  # not failures


async def test_waits_are_real_before_resending(dispatcher: Dispatcher, alice: Chat) -> None:
    sender = RecordingSender(retry_after=0.2, rate_limited={"alice": 1})
    await _scan(dispatcher)
    await _alerts(dispatcher, sender).run_pass()
    (_user, text, refused_at) = sender.refused[0]
    resent = next(s for s in sender.sent if s.reply.text == text)
    assert resent.at - refused_at >= 0.2


async def test_failures_back_off_then_dead_letter(
    dispatcher: Dispatcher, alice: Chat, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = RecordingSender(failing={"alice"})
    settings = dispatcher.settings
    now = clock.now()
    with clock.frozen(now):
        await _scan(dispatcher)
        await _alerts(dispatcher, sender).run_pass()
        assert set((await _states(dispatcher)).values()) == {"pending"}
        assert await _alerts(dispatcher, sender).run_pass() == 0  # not due before the backoff
    for attempt in range(1, settings.alerts_max_attempts):
        now += dt.timedelta(seconds=settings.alerts_backoff_seconds * 2 ** (attempt - 1))
        with clock.frozen(now):
            assert await _alerts(dispatcher, sender).run_pass() == len(DEMO_ALERTS)
    assert set((await _states(dispatcher)).values()) == {"dead"}
    await cmd_alerts_status(settings, argparse.Namespace())
    out = capsys.readouterr().out
    assert f"dead: {len(DEMO_ALERTS)}" in out and "platform unreachable" in out and "reply:1:2" in out


async def test_one_chat_failing_does_not_resend_to_the_others(dispatcher: Dispatcher, alice: Chat) -> None:
    await Chat.linked(dispatcher, "alice-phone", customer_id=1)
    sender = RecordingSender(failing={"alice-phone"})
    now = clock.now()
    with clock.frozen(now):
        await _scan(dispatcher)
        await _alerts(dispatcher, sender).run_pass()
    sender.failing.clear()
    with clock.frozen(now + dt.timedelta(hours=1)):
        await _alerts(dispatcher, sender).run_pass()
    per_chat = [s.user_id for s in sender.sent]
    assert per_chat.count("alice") == len(DEMO_ALERTS) and per_chat.count("alice-phone") == len(DEMO_ALERTS)
    async with dispatcher.db.uow() as uow:
        ids = (await uow.session.scalars(select(AlertDelivery.message_id))).all()
    assert sorted(ids) == sorted(s.message_id for s in sender.sent)


async def test_quiet_hours_hold_alerts_until_they_end(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("alerts quiet 22:00 07:30")
    sender = RecordingSender()
    night = dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)  # 00:00 in Paris (customer 1)
    with clock.frozen(night):
        assert await _scan(dispatcher) > 0
        await _alerts(dispatcher, sender).run_pass()
    assert sender.sent == []
    with clock.frozen(dt.datetime(2026, 11, 24, 6, 29, tzinfo=dt.UTC)):  # 07:29 in Paris
        await _alerts(dispatcher, sender).run_pass()
    assert sender.sent == []
    with clock.frozen(dt.datetime(2026, 11, 24, 6, 30, tzinfo=dt.UTC)):
        await _alerts(dispatcher, sender).run_pass()
    assert len(sender.sent) > 0


async def test_kinds_turned_off_are_not_sent(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("alerts off support")
    assert "🔕" in alice.last.text if alice.last else False
    await alice.press("Turn off: Renewal reminders")
    found = await _scan(dispatcher)
    assert found == 0
    await alice.say("alerts on ticket")
    assert await _scan(dispatcher) == 1


async def test_what_no_longer_applies_is_dropped(dispatcher: Dispatcher, alice: Chat) -> None:
    sender = RecordingSender()
    await _scan(dispatcher)
    async with dispatcher.db.uow() as uow:
        for message in (await uow.session.scalars(select(TicketMessage))).all():
            message.is_read = True
        await uow.commit()
    await _alerts(dispatcher, sender).run_pass()
    states = await _states(dispatcher)
    assert states["reply:1:2"] == "dropped"
    assert not any("Support replied" in t for t in sender.texts())


async def test_alert_buttons_work_for_the_chat_they_were_sent_to(dispatcher: Dispatcher, alice: Chat) -> None:
    sender = RecordingSender()
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        inv = await invoices.get(uow, 3, Actor(1))
        inv.due_date = clock.today() - dt.timedelta(days=2)
        await uow.commit()
    await _scan(dispatcher)
    await _alerts(dispatcher, sender).run_pass()
    overdue = next(s.reply for s in sender.sent if "/pay/" in s.reply.text and "was due" in s.reply.text)
    reply = await alice.press_key(overdue.all_buttons()[0].key)
    assert "/pay/" in reply.text
    ticket = next(s.reply for s in sender.sent if "Support replied" in s.reply.text)
    assert "Pages take 5 seconds" in (await alice.press_key(ticket.all_buttons()[0].key)).text
    budi = await Chat.linked(dispatcher, "budi", customer_id=2)
    assert "Not found" in (await budi.press_key(overdue.all_buttons()[0].key)).text


async def test_alerts_speak_the_language_of_the_users_app_when_nobody_chose_one(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    """A chat user whose app is in French, on an account without a saved language, gets the alerts
    the bot starts in French, like the replies; the app's language is refreshed by each update."""
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        customer.language = None
        await uow.commit()
    alice.language = "fr-FR"
    assert (await alice.say("balance")).text.startswith("Votre solde")
    sender = RecordingSender()
    await _scan(dispatcher)
    await _alerts(dispatcher, sender).run_pass()
    texts = [s.reply.text for s in sender.sent]
    assert texts and not [t for t in texts if "expires" in t or "Order" in t], texts
    assert any("expire" in t for t in texts)

    alice.language = "tr"
    await alice.say("balance")
    async with dispatcher.db.uow() as uow:
        [identity] = (
            await uow.session.scalars(select(ChatIdentity).where(ChatIdentity.user_id == "alice"))
        ).all()
    assert identity.platform_language == "tr" and identity.language is None

"""Alerts where the team is, end to end: ``alerts here`` in a Telegram group (python-telegram-bot)
and in a Slack channel (slack-bolt), the alerts the outbox then posts there through the platform
senders against the fake platform APIs, and a reply in that chat going before the alerts queued
for it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY
from bot.adapters.telegram import TELEGRAM
from bot.alerts.senders import Sender
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.lifecycle import Stop
from services import chat_records, linking
from services.alerts import finders
from storage.models import Alert, AuditEntry, ChannelAlertDelivery
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.roles import DENIED
from tests.support.slack_client import SECRET, TEAM, SlackUser
from tests.support.telegram_driver import GROUP, Telegram, telegram_settings, texts

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
ALICE, CAROL = 111, 333
# What support wrote on customer 1's ticket #1 (the demo's unread reply): never in a shared chat.
REPLY_TEXT = "We moved your VPS to a less busy host"


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegramAPI]:
    api = FakeTelegramAPI()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackAPI]:
    api = await FakeSlackAPI().start()
    yield api
    await api.stop()


@contextlib.asynccontextmanager
async def _telegram(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings, **extra: object
) -> AsyncIterator[tuple[App, Telegram]]:
    app = bootstrap.assemble(
        telegram_settings(settings, fake.url, webhook=True, **extra), dispatcher.db, dispatcher
    )
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield app, Telegram(fake, web_app[TELEGRAM], client)


async def _scan(app: App) -> None:
    await finders.scan(app.db, app.settings, app.seller)


async def _choose_in_group(tg: Telegram, line: str) -> None:
    [asked] = await tg.say(ALICE, line, chat=GROUP)
    assert "Change the alerts of this channel?" in asked.params["text"]
    [done] = [c for c in await tg.press(ALICE, asked, "Change") if c.method == "editMessageText"]
    assert done.params["text"].startswith("Done.")


async def test_telegram_group_gets_the_kinds_chosen_there_without_pay_links(
    fake_tg: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    async with _telegram(fake_tg, dispatcher, settings) as (app, tg):
        await tg.link(app.db, ALICE)
        await tg.say(ALICE, "/share channel", chat=GROUP)
        [shown] = await tg.say(CAROL, "/alerts_here", chat=GROUP)  # a guest may look
        assert "🔕 Renewal reminders" in shown.params["text"]
        assert DENIED in texts(await tg.say(CAROL, "/alerts_here renewal on", chat=GROUP))
        await _choose_in_group(tg, "/alerts_here renewal ticket on")
        await _choose_in_group(tg, "/alerts_here langue fr")
        mark = len(fake_tg.calls)
        await _scan(app)
        await bootstrap.alert_sender(app, bootstrap.senders(tg.adapter)).run_pass()
        group, private = fake_tg.sent(GROUP, since=mark), fake_tg.sent(ALICE, since=mark)
        assert len(group) == 6 and len(private) == 6  # five renewals and the support reply
        for call in group:
            text = call.params["text"]
            assert "reply_markup" not in call.params and "http" not in text and REPLY_TEXT not in text
        assert "expire dans" in texts(group) and "Le support a répondu au ticket n° 1" in texts(group)
        assert REPLY_TEXT in texts(private) and any(c.buttons for c in private)
        async with app.db.uow() as uow:
            posted = (await uow.session.scalars(select(ChannelAlertDelivery.message_id))).all()
            audited = (
                await uow.session.scalars(
                    select(AuditEntry.detail).where(AuditEntry.action == "channel.alerts")
                )
            ).all()
        assert sorted(posted) == sorted(str(c.result["message_id"]) for c in group)
        assert [d["kinds"] for d in audited] == [["renewal", "ticket"], ["renewal", "ticket"]]
        assert [d["language"] for d in audited] == [None, "fr"]
        await _scan(app)
        await bootstrap.alert_sender(app, bootstrap.senders(tg.adapter)).run_pass()
        assert len(fake_tg.sent(GROUP, since=mark)) == 6  # once per alert per chat


async def test_a_reply_in_the_group_goes_before_the_alerts_queued_there(
    fake_tg: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    """Ordering, not timing: six alerts wait for the group (20 messages a minute, one every three
    seconds); a command typed there once the first alert arrived is answered next, before the five
    others, which are still waiting when the worker stops."""
    async with _telegram(
        fake_tg, dispatcher, settings, telegram_group_rate="20/minute", stop_grace_seconds=0
    ) as (app, tg):
        await tg.link(app.db, ALICE)
        await tg.say(ALICE, "/share channel", chat=GROUP)
        await _choose_in_group(tg, "/alerts_here renewal ticket on")
        await _scan(app)
        mark = len(fake_tg.calls)
        stop = Stop()
        senders: dict[str, Sender] = bootstrap.senders(tg.adapter)
        sending = asyncio.create_task(bootstrap.alert_sender(app, senders).run_pass(stop))
        await fake_tg.wait_for(lambda: len(fake_tg.sent(GROUP, since=mark)) == 1)
        await tg.say(ALICE, "/balance", chat=GROUP)
        group = [c.params["text"] for c in fake_tg.sent(GROUP, since=mark)]
        stop.set()
        await sending
        assert len(group) == 2 and "Your balance" in group[1], group
        async with app.db.uow() as uow:
            waiting = (await uow.session.scalars(select(Alert).where(Alert.state == "pending"))).all()
        assert len(waiting) == 5  # handed back, for the next round


async def test_slack_channel_gets_the_kinds_chosen_there_without_buttons(
    fake_slack: FakeSlackAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    slack_settings = settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SECRET,
            "slack_api_url": fake_slack.api_url,
            "slack_pace_per_channel": "1000/second",
        }
    )
    dispatcher.settings = slack_settings
    app = bootstrap.assemble(slack_settings, dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app)) as client:
        adapter = web_app[SLACK_KEY]
        async with app.db.uow() as uow:
            ident = await chat_records.identity(uow, "slack", TEAM, "UANA")
            await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", "admin"))
        ana, bob = (
            SlackUser(client, adapter, fake_slack, "UANA"),
            SlackUser(client, adapter, fake_slack, "UBOB"),
        )
        async with app.db.uow() as uow:  # an owner shared the channel earlier
            owner = await chat_records.identity(uow, "slack", TEAM, "UOWNER")
            await linking.redeem(uow, owner, await linking.issue_code(uow, 1, "slack", "owner"))
        await SlackUser(client, adapter, fake_slack, "UOWNER").mention("share channel", "CTEAM")
        await bob.mention("alerts here overdue on", "CTEAM")
        assert DENIED in fake_slack.of("chat.postMessage")[-1].text
        await ana.mention("peringatan grup perpanjangan aktif", "CTEAM")
        asked = fake_slack.of("chat.postMessage")[-1]
        assert asked.args["channel"] == "CTEAM" and "Change the alerts of this channel?" in asked.text
        await ana.press(asked.buttons()["Change"], channel="CTEAM")
        assert fake_slack.of("chat.update")[-1].text.startswith("Done.")
        mark = len(fake_slack.calls)
        await _scan(app)
        await bootstrap.alert_sender(app, bootstrap.senders(slack=adapter)).run_pass()
        posted = [c for c in fake_slack.calls[mark:] if c.method == "chat.postMessage"]
        channel = [c for c in posted if c.args["channel"] == "CTEAM"]
        direct = [c for c in posted if c.args["channel"] != "CTEAM"]
        assert len(channel) == 5 and all("expires" in c.text for c in channel)  # the renewals only
        for call in channel:
            assert not call.buttons() and "http" not in call.text and "/pay/" not in call.text
        assert any(c.buttons() for c in direct) and REPLY_TEXT in "\n".join(c.text for c in direct)
        assert {c.args["channel"] for c in direct} == {"UANA", "UOWNER"}

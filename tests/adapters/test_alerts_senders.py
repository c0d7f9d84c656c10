"""Alerts through the real platform senders: python-telegram-bot against the fake Bot API and
slack-sdk against the fake Slack Web API, both on 127.0.0.1, with 429s injected by the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.telegram import TELEGRAM
from bot.alerts.dispatch import AlertSender
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import chat_records, linking
from services.alerts import finders
from storage.models import Alert, AlertDelivery
from storage.uow import Database
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.telegram_driver import Telegram, telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
USER = 501
SLACK_USER = "U0ALICE"


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


async def _link(db: Database, platform: str, workspace: str, user: str, customer_id: int = 1) -> None:
    async with db.uow() as uow:
        identity = await chat_records.identity(uow, platform, workspace, user)
        code = await linking.issue_code(uow, customer_id, platform, "owner")
        await linking.redeem(uow, identity, code)


async def _alerts(app: App, senders: dict[str, object], **kw: object) -> tuple[int, int]:
    found = await finders.scan(app.db, app.settings, app.seller)
    handled = await AlertSender(
        app.db,
        app.settings,
        app.seller,
        senders,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    ).run_pass()
    return found, handled


async def _settled(db: Database) -> tuple[set[str], set[int], list[str]]:
    """Alert states, attempts, and the message ids recorded for each delivery."""
    async with db.uow() as uow:
        alerts = (await uow.session.scalars(select(Alert))).all()
        ids = (await uow.session.scalars(select(AlertDelivery.message_id))).all()
    return {a.state for a in alerts}, {a.attempts for a in alerts}, list(ids)


async def test_worker_sends_through_telegram_and_waits_out_a_429(
    fake_tg: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    app = bootstrap.assemble(
        telegram_settings(settings, fake_tg.url, webhook=False), dispatcher.db, dispatcher
    )
    await _link(app.db, "telegram", "", str(USER))
    fake_tg.fail_next("sendMessage", retry_after=0.5)
    async with bootstrap.connected_senders(app) as senders:
        assert set(senders) == {"shell", "telegram"}
        found, handled = await _alerts(app, senders)
    assert fake_tg.of("getUpdates") == []  # the worker never polls: updates belong to hostbot run
    refused = [c for c in fake_tg.calls if c.status == 429]
    delivered = fake_tg.sent(chat=USER)
    assert found == handled == len(delivered) > 0 and len(refused) == 1
    # The refused message went out once, after the full retry_after, and nothing twice.
    again = [c for c in delivered if c.params["text"] == refused[0].params["text"]]
    assert len(again) == 1 and again[0].at - refused[0].at >= 0.5
    assert len({c.params["text"] for c in delivered}) == len(delivered)
    states, attempts, ids = await _settled(app.db)
    assert states == {"sent"} and attempts == {0}  # the adapter waited: not a failure
    assert sorted(ids) == sorted(str(c.result["message_id"]) for c in delivered)
    assert all(len(b["callback_data"]) == 16 for c in delivered for b in c.buttons if "callback_data" in b)


async def test_run_sends_through_its_adapter_and_the_buttons_work(
    fake_tg: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    """As ``hostbot run`` does it: the web app's adapter sends the alerts, a press comes back in."""
    app = bootstrap.assemble(
        telegram_settings(settings, fake_tg.url, webhook=True), dispatcher.db, dispatcher
    )
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        tg = Telegram(fake_tg, web_app[TELEGRAM], client)
        await tg.link(app.db, USER)
        mark = len(fake_tg.calls)
        await _alerts(app, bootstrap.senders(web_app[TELEGRAM]))
        reply = next(c for c in fake_tg.sent(USER, since=mark) if "Support replied" in c.params["text"])
        calls = await tg.press(USER, reply, "Open ticket")
    answer = next(c for c in calls if c.method == "sendMessage")
    assert "Pages take 5 seconds" in answer.params["text"]


async def test_worker_sends_through_slack_after_the_client_waited_a_429(
    fake_slack: FakeSlackAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    slack = settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_api_url": fake_slack.api_url,
            "slack_pace_per_channel": "100/second",
        }
    )
    app = bootstrap.assemble(slack, dispatcher.db, dispatcher)
    await _link(app.db, "slack", fake_slack.team, SLACK_USER)
    fake_slack.throttle("chat.postMessage", retry_after=1)
    async with bootstrap.connected_senders(app) as senders:
        found, handled = await _alerts(app, senders)
    [refused] = [c for c in fake_slack.calls if c.status == 429]
    delivered = fake_slack.of("chat.postMessage")
    assert found == handled == len(delivered) > 0
    assert all(c.args["channel"] == SLACK_USER for c in delivered)  # the user's DM with the app
    again = [c for c in delivered if c.text == refused.text]
    assert len(again) == 1 and again[0].at - refused.at >= 1
    states, attempts, ids = await _settled(app.db)
    assert states == {"sent"} and attempts == {0} and len(set(ids)) == len(delivered)


async def test_slack_rate_limit_beyond_the_client_retries_is_handed_to_the_dispatcher(
    fake_slack: FakeSlackAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    slack = settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_api_url": fake_slack.api_url,
            "slack_pace_per_channel": "100/second",
            "alerts_concurrency": 1,  # so that the four 429s fall on one message
        }
    )
    app = bootstrap.assemble(slack, dispatcher.db, dispatcher)
    await _link(app.db, "slack", fake_slack.team, SLACK_USER)
    fake_slack.throttle("chat.postMessage", retry_after=0, times=4)  # the client retries 3 times
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with bootstrap.connected_senders(app) as senders:
        found, handled = await _alerts(app, senders, sleep=sleep)
    delivered = fake_slack.of("chat.postMessage")
    assert waits == [0] and found == handled == len(delivered)
    assert len({c.text for c in delivered}) == len(delivered)
    states, attempts, _ids = await _settled(app.db)
    assert states == {"sent"} and attempts == {0}

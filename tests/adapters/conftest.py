"""What the adapter tests share: the fake Bot API and the Telegram bot as ``hostbot run`` serves it
(by polling and by webhook); the fake Slack Web API and the Slack app served with one workspace's
token. Modules that need another fake or another bot define their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.slack_client import SECRET
from tests.support.telegram_driver import Telegram, telegram_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    api = FakeTelegramAPI()
    await api.start()
    yield api
    await api.close()


@pytest.fixture(params=["polling", "webhook"])
async def tg(
    request: pytest.FixtureRequest, fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> AsyncIterator[Telegram]:
    """The bot as ``hostbot run`` serves it: the web app starts and stops the adapter."""
    webhook = request.param == "webhook"
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook), dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield Telegram(fake, web_app[TELEGRAM], client if webhook else None)


@pytest.fixture
async def api() -> AsyncIterator[FakeSlackAPI]:
    fake = await FakeSlackAPI().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def web(
    settings: Settings, dispatcher: Dispatcher, api: FakeSlackAPI
) -> AsyncIterator[tuple[TestClient, SlackAdapter]]:
    """The Slack app as ``hostbot run`` serves it for the provider's own workspace (one token)."""
    slack_settings = settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SECRET,
            "slack_api_url": api.api_url,
            "slack_pace_per_channel": "1000/second",
        }
    )
    dispatcher.settings = slack_settings
    web_app = bootstrap.web_app(bootstrap.assemble(slack_settings, dispatcher.db, dispatcher))
    async with TestClient(TestServer(web_app)) as client:
        yield client, web_app[SLACK_KEY]

"""The Telegram side of the adapter tests: the fake Bot API, and the bot as ``hostbot run`` serves it
(by polling and by webhook). Modules that need another fake or another bot define their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import bootstrap
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from tests.fakes.telegram_api import FakeTelegramAPI
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

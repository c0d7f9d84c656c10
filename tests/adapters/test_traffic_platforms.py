"""The traffic chart on the platforms: a photo on Telegram (fake Bot API), a file in the direct
messages on Slack (fake Web API, files.getUploadURLExternal / completeUploadExternal)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot import bootstrap, demo
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import chat_records, linking
from storage.uow import Database
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.slack_client import SECRET, TEAM, SlackUser
from tests.support.telegram_driver import GROUP, Telegram, telegram_settings, texts

ALICE = 111
# python-telegram-bot warns about its own RetryAfter constructor (int vs timedelta); not ours.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def _chart(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (1200, 600)
    return image


@pytest.fixture
async def with_traffic(dispatcher: Dispatcher) -> Dispatcher:
    async with dispatcher.db.uow() as uow:
        await demo.seed_traffic(uow)
        await uow.commit()
    return dispatcher


@pytest.fixture
async def tg(with_traffic: Dispatcher, settings: Settings) -> AsyncIterator[Telegram]:
    fake = FakeTelegramAPI()
    await fake.start()
    app = bootstrap.assemble(
        telegram_settings(settings, fake.url, webhook=True), with_traffic.db, with_traffic
    )
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield Telegram(fake, web_app[TELEGRAM], client)
    await fake.close()


async def test_telegram_sends_the_chart_as_a_photo(tg: Telegram, with_traffic: Dispatcher) -> None:
    await tg.link(with_traffic.db, ALICE)
    calls = await tg.say(ALICE, "/traffic web-1 day")
    [text, photo] = calls
    assert text.method == "sendMessage" and text.params["text"].startswith("web-1, last 24 hours: ")
    assert photo.method == "sendPhoto" and photo.chat_id == ALICE
    assert photo.params["caption"] == "Traffic of web-1, last 24 hours"
    assert _chart(photo.files["photo"]).info["Title"] == "Traffic of web-1, last 24 hours"
    # Asked in a group: the chart goes to the private chat, the group is told where.
    await tg.say(ALICE, "/share channel", chat=GROUP)
    calls = await tg.say(ALICE, "/traffic db-1 year", chat=GROUP)
    assert [(c.method, c.chat_id) for c in calls] == [
        ("sendMessage", ALICE),
        ("sendPhoto", ALICE),
        ("sendMessage", GROUP),
    ]
    assert "private message" in texts(calls[2:])
    _chart(calls[1].files["photo"])


@pytest.fixture
async def slack(
    db: Database, settings: Settings, with_traffic: Dispatcher
) -> AsyncIterator[tuple[TestClient, SlackAdapter, FakeSlackAPI]]:
    api = await FakeSlackAPI().start()
    slack_settings = settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SECRET,
            "slack_api_url": api.api_url,
            "slack_pace_per_channel": "1000/second",
        }
    )
    with_traffic.settings = slack_settings
    web_app = bootstrap.web_app(bootstrap.assemble(slack_settings, db, with_traffic))
    async with TestClient(TestServer(web_app)) as client:
        yield client, web_app[SLACK_KEY], api
    await api.stop()


async def test_slack_uploads_the_chart_to_the_direct_messages(
    slack: tuple[TestClient, SlackAdapter, FakeSlackAPI], with_traffic: Dispatcher
) -> None:
    client, adapter, api = slack
    async with with_traffic.db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, "UANA")
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", "owner"))
    ana = SlackUser(client, adapter, api, "UANA")
    await ana.dm("traffic web-1 week")
    [(channel, png)] = api.uploads()
    assert channel == "D_DM"
    assert _chart(png).info["Title"] == "Traffic of web-1, last 7 days"
    [asked] = api.of("files.getUploadURLExternal")
    assert asked.args["filename"] == "traffic-web-1-week.png"
    assert asked.args["alt_txt"] == "Traffic of web-1, last 7 days"
    [done] = api.of("files.completeUploadExternal")
    files = done.args["files"]
    assert [f["title"] for f in (json.loads(files) if isinstance(files, str) else files)] == [
        "Traffic of web-1, last 7 days"
    ]
    said = [c for c in api.of("chat.postMessage") if c.args.get("channel") == "D_DM"]
    assert said and said[-1].text.startswith("web-1, last 7 days: ")
    # Asked in a shared channel: the file goes to the asker's direct messages only.
    await ana.mention("share channel", "CTEAM")
    await ana.mention("traffic db-1 month", "CTEAM")
    assert [c for c, _ in api.uploads()] == ["D_DM", "DUANA"]

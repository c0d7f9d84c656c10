"""Drives the Telegram adapter the way Telegram does, in polling or webhook mode, through
python-telegram-bot and the fake Bot API; what the bot sent is read back from the fake."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.adapters.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter
from bot.config import Settings
from services import linking
from storage.uow import Database
from tests.fakes.telegram_api import TOKEN, Call, FakeTelegramAPI

SECRET = "s3cret-Token_for-tests"
GROUP = -1001


def telegram_settings(base: Settings, api_url: str, webhook: bool, **extra: Any) -> Settings:
    """Test settings: the fake API, and pacing loose enough to keep the suite fast."""
    return base.model_copy(
        update={
            "telegram_bot_token": TOKEN,
            "telegram_api_url": api_url,
            "telegram_webhook_url": "https://bot.example/telegram/webhook" if webhook else "",
            "telegram_webhook_secret": SECRET if webhook else "",
            "telegram_chat_rate": "100/second",
            "telegram_group_rate": "100/second",
            "telegram_rate": "1000/second",
            **extra,
        }
    )


class Telegram:
    def __init__(self, fake: FakeTelegramAPI, adapter: TelegramAdapter, client: TestClient | None) -> None:
        self.fake = fake
        self.adapter = adapter
        self.client = client  # set in webhook mode: updates are POSTed to the web app

    @property
    def mode(self) -> str:
        return "webhook" if self.client else "polling"

    async def deliver(self, update: dict[str, Any]) -> list[Call]:
        """Hand one update to the bot and return every API call it made while handling it."""
        mark = len(self.fake.calls)
        if self.client is not None:
            response = await self.client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
            assert response.status == 200
        else:
            self.fake.push(update)
            await self.fake.wait_for(lambda: self.fake.acknowledged(update["update_id"]))
            await self.adapter.application.update_queue.join()
        return [c for c in self.fake.calls[mark:] if c.method != "getUpdates"]

    async def say(
        self, user: int, text: str, chat: int | None = None, language: str | None = "en"
    ) -> list[Call]:
        """The messages and edits the bot sent in answer to ``text``."""
        calls = await self.deliver(self.fake.message_update(user, text, chat, language))
        return [c for c in calls if c in self.fake.sent()]

    async def press(self, user: int, on: Call, label: str, language: str | None = "en") -> list[Call]:
        """Press the button labelled ``label`` on the message ``on``; every call, answers included."""
        data = on.button(label)["callback_data"]
        return await self.deliver(self.fake.callback_update(user, data, on.result, language))

    async def link(self, db: Database, user: int, customer_id: int = 1, role: str = "owner") -> None:
        async with db.uow() as uow:
            code = await linking.issue_code(uow, customer_id, "telegram", role)
        [answer] = await self.say(user, f"/start {code}")
        assert "now linked" in answer.params["text"]


def texts(calls: list[Call]) -> str:
    return "\n".join(str(c.params.get("text", "")) for c in calls)

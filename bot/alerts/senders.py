"""The port through which alerts leave: one ``Sender`` per platform.

A sender delivers one ``Reply`` (text and buttons whose ``key`` is already filled in) to one chat
identity and returns the platform's message id::

    class Sender(Protocol):
        async def send(self, identity: ChatIdentity, reply: Reply) -> str: ...

On a rate-limit answer (Telegram 429 ``retry_after``, Slack ``Retry-After``) that the platform's
adapter has not already waited out it raises ``RetryAfter(seconds)``: the dispatcher waits that
long and sends again, without counting a failure. Any other exception is a failed attempt
(retried with backoff, dead after N attempts). Pacing (one message per second per chat, an overall
rate) belongs to the adapter, with ``bot.core.pacing.Pacer``: a platform sender is a few lines over
its adapter's "send one Reply to a chat" function, so alerts and answers share one set of windows.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.adapters.slack import SlackAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.app import App
from bot.core.types import Reply
from bot.lifecycle import Health, supervised
from services.records import ChatIdentity

log = logging.getLogger("hostbot.alerts.send")


class RetryAfter(Exception):
    """The platform asked us to wait ``seconds`` before sending again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Sender(Protocol):
    async def send(self, identity: ChatIdentity, reply: Reply) -> str: ...


class LogSender:
    """The shell's sender: the terminal has no one listening between sessions, so alerts go to the log."""

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        buttons = "  ".join(f"[{b.label}]" for b in reply.all_buttons())
        log.info("alert to %s:%s\n%s\n%s", identity.platform, identity.user_id, reply.text, buttons)
        return f"log-{secrets.token_hex(6)}"


class TelegramSender:
    """To the user's private chat (its id is the Telegram user id). The adapter paces every call and
    waits out a 429 itself (its rate limiter never drops a message), so nothing is raised for it."""

    def __init__(self, adapter: TelegramAdapter) -> None:
        self.adapter = adapter

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        return str(await self.adapter.send(int(identity.user_id), reply))


class SlackSender:
    """To the user's direct messages with the app. The Web API client retries a 429 a few times
    after its ``Retry-After``; when it gives up, the wait is handed to the dispatcher."""

    def __init__(self, adapter: SlackAdapter) -> None:
        self.adapter = adapter

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        try:
            ts = await self.adapter.send(reply, "", user=identity.user_id)
        except SlackApiError as err:
            if err.response.status_code == 429:
                raise RetryAfter(_retry_after(err.response.headers)) from err
            raise
        if not ts:
            raise RuntimeError("Slack accepted the message without a ts")
        return ts


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return float(value[0] if isinstance(value, list) else value)
    return 1.0


def default_senders(
    telegram: TelegramAdapter | None = None, slack: SlackAdapter | None = None
) -> dict[str, Sender]:
    """Senders by platform name: the shell's log, and each platform whose adapter is running.
    Identities on a platform without a sender fail (and end as dead letters)."""
    senders: dict[str, Sender] = {"shell": LogSender()}
    if telegram is not None:
        senders["telegram"] = TelegramSender(telegram)
    if slack is not None:
        senders["slack"] = SlackSender(slack)
    return senders


@asynccontextmanager
async def connected(app: App) -> AsyncIterator[dict[str, Sender]]:
    """The senders of every configured platform (``TELEGRAM_BOT_TOKEN``, ``SLACK_BOT_TOKEN``) for a
    process that does not serve the platforms (``hostbot worker``): Telegram's bot is connected
    (getMe) but does not poll, so it never takes updates from ``hostbot run``. While the Bot API
    cannot be reached the worker runs anyway: Telegram alerts fail and are retried with backoff
    while the bot keeps trying to connect."""
    settings = app.settings
    telegram = TelegramAdapter(app.dispatcher, settings) if settings.telegram_bot_token else None
    slack = SlackAdapter(app) if settings.slack_bot_token else None
    async with contextlib.AsyncExitStack() as stack:
        if telegram is not None:
            await stack.enter_async_context(
                supervised("telegram", telegram.application.initialize, telegram.stop, Health())
            )
        yield default_senders(telegram, slack)

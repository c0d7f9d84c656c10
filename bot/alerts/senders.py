"""The port through which alerts leave: one ``Sender`` per platform.

A sender delivers one ``Reply`` (text and buttons whose ``key`` is already filled in) to one chat
identity, or one shared chat's plain-text ``Reply`` to the group chat an account is shared with,
and returns the platform's message id::

    class Sender(Protocol):
        async def send(self, identity: ChatIdentity, reply: Reply) -> str: ...
        async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str: ...

On a rate-limit answer (Telegram 429 ``retry_after``, Slack ``Retry-After``) that the platform's
adapter has not already waited out it raises ``RetryAfter(seconds)``: the ``AlertSender`` waits that
long and sends again, without counting a failure. Any other exception is a failed attempt
(retried with backoff, dead after N attempts). Pacing (one message per second per chat, an overall
rate) belongs to the adapter, with ``bot.core.pacing.Pacer``: a platform sender is a few lines over
its adapter's "send one Reply to a chat" function, so alerts and answers share one set of windows,
and alerts go with the ``ALERT`` priority: a reply to the same chat never waits behind them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.pacing import ALERT
from bot.core.types import Reply
from services.desk import DeskMessage, DeskTicket
from services.records import ChannelBinding, ChatIdentity

if TYPE_CHECKING:  # a process without Slack or Telegram never imports their libraries
    from bot.adapters.slack import SlackAdapter
    from bot.adapters.telegram import TelegramAdapter

log = logging.getLogger("hostbot.alerts.send")


class RetryAfter(Exception):
    """The platform asked us to wait ``seconds`` before sending again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Sender(Protocol):
    async def send(self, identity: ChatIdentity, reply: Reply) -> str: ...

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str: ...


class Desk(Protocol):
    """Where the customer's ticket events go on the provider's side (the support channel in Slack:
    ``bot.adapters.slack_desk``). ``post_ticket`` posts a new ticket and returns where its
    conversation continues (the thread); ``post_event`` adds a message, a closing or a reopening
    to that thread. Errors are failed attempts, as for a ``Sender``."""

    async def post_ticket(self, ticket: DeskTicket) -> str: ...

    async def post_event(self, ticket: DeskTicket, event: str, message: DeskMessage | None) -> None: ...


class LogSender:
    """The shell's sender: the terminal has no one listening between sessions, so alerts go to the log."""

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        buttons = "  ".join(f"[{b.label}]" for b in reply.all_buttons())
        log.info("alert to %s:%s\n%s\n%s", identity.platform, identity.user_id, reply.text, buttons)
        return f"log-{secrets.token_hex(6)}"

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        log.info("alert to the shared chat %s:%s\n%s", chat.platform, chat.chat_id, reply.text)
        return f"log-{secrets.token_hex(6)}"


class TelegramSender:
    """To the user's private chat (its id is the Telegram user id), or to the group an account is
    shared with. The adapter paces every call (a group at its own limit) and waits out a 429 itself
    (its rate limiter never drops a message), so nothing is raised for it."""

    def __init__(self, adapter: TelegramAdapter) -> None:
        self.adapter = adapter

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        return str(await self.adapter.send(int(identity.user_id), reply, ALERT))

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        return str(await self.adapter.send(int(chat.chat_id), reply, ALERT))


class SlackSender:
    """To the user's direct messages with the app, or to the channel an account is shared with,
    with the bot token of that workspace (the identity's or the binding's ``workspace``). The Web
    API client retries a 429 a few times after its ``Retry-After``; when it gives up, the wait is
    handed to the ``AlertSender``."""

    def __init__(self, adapter: SlackAdapter) -> None:
        self.adapter = adapter

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        return await self._post(reply, "", identity.user_id, identity.workspace)

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        return await self._post(reply, chat.chat_id, None, chat.workspace)

    async def _post(self, reply: Reply, channel: str, user: str | None, team: str) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            ts = await self.adapter.send(reply, channel, user=user, team=team)
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

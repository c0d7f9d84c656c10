"""What a handler, a form step or a confirmation may ask for by name besides the values: the
update, the sender's identity, account and role, and the unit of work. Its own module so that
forms and handlers need not import the dispatcher that builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from limits import parse

from bot.config import Settings
from bot.core import chat_state
from bot.core.limiting import Limiter
from bot.core.permissions import allows
from bot.core.types import Incoming
from services import chat_records
from services.audit import Actor
from services.records import ChatIdentity, Conversation, Customer, UnitOfWork


@dataclass
class Context:
    """What a handler may ask for by name, besides the values themselves."""

    settings: Settings
    uow: UnitOfWork
    incoming: Incoming
    identity: ChatIdentity
    customer: Customer | None
    role: str = "guest"  # see bot.core.permissions
    form: Conversation | None = None  # the open form as read with the identity
    pressed: chat_records.Key | None = None  # the pressed button's key as read with the identity
    args: list[str] = field(default_factory=list)
    line: str = ""  # the command line as typed, for a handler that takes free text after its arguments
    command: str | None = None  # the command run, for the metrics
    limiter: Limiter | None = None  # the process's rate limits (bot.core.limiting)

    @property
    def actor(self) -> Actor:
        assert self.customer is not None
        return Actor(self.customer.id, self.identity.id)

    def may(self, capability: str) -> bool:
        """Whether the sender's role here has ``capability`` (for what a handler does besides its
        own capability, such as the account's language)."""
        return self.customer is not None and allows(self.role, capability)

    async def within(self, limit: str, *keys: str) -> bool:
        """Count one more try under ``limit`` (``limits`` notation, "5/15 minutes") for each key
        (a chat, an address); False when any of them is over it. Without a limiter, always True."""
        if self.limiter is None:
            return True
        item = parse(limit)
        allowed = [await self.limiter.hit(item, "tries", key) for key in keys]
        return all(allowed)

    async def open_form(self, name: str, step: str, data: dict[str, Any]) -> None:
        await chat_state.save_conversation(
            self.uow, self.identity.id, name, step, data, self.settings.conversation_ttl_seconds
        )

    async def close_form(self) -> None:
        await chat_state.end_conversation(self.uow, self.identity.id)

    def start_command(self) -> str:
        """``start`` as the sender's platform writes it (Slack's slash command, Telegram's /start)."""
        platform = self.incoming.platform
        if platform == "slack":
            return f"{self.settings.slack_command} start"
        return "/start" if platform == "telegram" else "start"

"""A fake alert ``Sender`` (beside the port it fakes, for every test that needs one)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.alerts.senders import RetryAfter
from bot.core.types import Reply
from storage.models import ChannelBinding, ChatIdentity


@dataclass
class Sent:
    """``user_id``: the person's id, or the chat's for a ``shared`` chat."""

    platform: str
    user_id: str
    reply: Reply
    message_id: str
    at: float
    shared: bool = False


@dataclass
class RecordingSender:
    """Records every accepted message; ``rate_limited[user]`` 429s to answer first, ``failing`` users
    (and shared chats) fail."""

    retry_after: float = 0.05
    rate_limited: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    refused: list[tuple[str, str, float]] = field(default_factory=list)

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        if identity.user_id in self.failing:
            raise ConnectionError("platform unreachable")
        if self.rate_limited.get(identity.user_id, 0) > 0:
            self.rate_limited[identity.user_id] -= 1
            self.refused.append((identity.user_id, reply.text, time.monotonic()))
            raise RetryAfter(self.retry_after)
        message_id = f"m{len(self.sent) + 1}"
        self.sent.append(Sent(identity.platform, identity.user_id, reply, message_id, time.monotonic()))
        return message_id

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        if chat.chat_id in self.failing:
            raise ConnectionError("platform unreachable")
        message_id = f"m{len(self.sent) + 1}"
        self.sent.append(Sent(chat.platform, chat.chat_id, reply, message_id, time.monotonic(), shared=True))
        return message_id

    def texts(self, user_id: str | None = None) -> list[str]:
        return [s.reply.text for s in self.sent if user_id is None or s.user_id == user_id]

"""The port through which alerts leave: one ``Sender`` per platform.

A sender delivers one ``Reply`` (text and buttons whose ``key`` is already filled in) to one chat
identity and returns the platform's message id::

    class Sender(Protocol):
        async def send(self, identity: ChatIdentity, reply: Reply) -> str: ...

On a rate-limit answer (Telegram 429 ``retry_after``, Slack ``Retry-After``) it raises
``RetryAfter(seconds)``: the dispatcher waits that long and sends again, without counting a
failure. Any other exception is a failed attempt (retried with backoff, dead after N attempts).
Pacing (one message per second per chat, an overall rate) belongs to the platform's sender, with
``bot.core.pacing.Pacer``. A platform sender is a few lines over its adapter's "send one Reply to
a chat" function; ``default_senders`` maps platform names to them.
"""

from __future__ import annotations

import logging
import secrets
from typing import Protocol

from bot.core.types import Reply
from storage.models import ChatIdentity

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


def default_senders() -> dict[str, Sender]:
    """Senders by platform name; identities on a platform without one fail (and end as dead letters)."""
    return {"shell": LogSender()}

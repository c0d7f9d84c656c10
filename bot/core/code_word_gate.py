"""The account's code word, asked for before a sensitive command goes ahead.

A command declares ``sensitive=True`` (``bot.core.router``); the dispatcher asks here before it
carries out one of that command's confirmations, or runs a command that offers none. When the
account has a code word, what was about to happen is kept with the chat's open form (a form of its
own, ``NAME``, expiring like a confirmation) and the next message is taken as the code word: right,
the dispatcher goes ahead; wrong, it is counted (``services.codeword``) and may be tried again
until the account locks; a cancel word or a command drops it. Never in a group chat, where everyone
would read the word.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.core import chat_state, formatting
from bot.core.context import Context
from bot.core.i18n import gettext as _
from bot.core.router import Command
from bot.core.types import Button, Reply
from services import codeword
from services.records import Conversation

NAME = "gate:codeword"  # the open "form" that waits for the word; no command has a colon in its name


@dataclass(frozen=True)
class Pending:
    """What goes ahead once the word is right: a stored confirmation (``bot.core.router.dump``) of
    ``command``, or the command line itself."""

    command: str
    confirm: dict[str, Any] | None = None
    line: str | None = None


class Gate:
    def __init__(self, settings: Settings) -> None:
        self.ttl = settings.confirm_ttl_seconds
        self.lockout = codeword.Lockout(
            settings.code_word_attempts, dt.timedelta(minutes=settings.code_word_lock_minutes)
        )

    async def ask(self, ctx: Context, command: Command, pending: Pending) -> Reply | None:
        """None: go ahead (not sensitive, or the account has no code word). Else the question, or
        why not now (locked, or asked in a group)."""
        if not command.sensitive or ctx.customer is None:
            return None
        guard = await codeword.guard(ctx.uow, ctx.customer.id)
        if not guard.is_set:
            return None
        if guard.locked_until is not None:
            return self._locked(ctx, guard.locked_until)
        if ctx.incoming.is_group:
            return Reply(
                _(
                    "This is protected by your account's code word. Ask me again in a direct chat with "
                    "me, so that you do not type the word here."
                )
            )
        data = {"command": pending.command, "confirm": pending.confirm, "line": pending.line}
        await chat_state.save_conversation(ctx.uow, ctx.identity.id, NAME, "word", data, self.ttl)
        return Reply(
            _("This is protected by your account's code word. Send it now to go ahead, or cancel."),
            buttons=[[Button(_("Cancel"), answer="cancel")]],
        )

    async def answer(self, ctx: Context, row: Conversation, word: str) -> Reply | Pending:
        """The word sent for the waiting action: ``Pending`` when it is right (the wait is over),
        else what to say. A wrong word keeps the wait open, until the account locks."""
        assert ctx.customer is not None
        pending = Pending(row.data["command"], row.data.get("confirm"), row.data.get("line"))
        result = await codeword.check(
            ctx.uow, ctx.customer.id, word, ctx.actor, pending.command, self.lockout
        )
        if result.ok:
            await ctx.close_form()
            return pending
        if result.locked_until is not None:
            await ctx.close_form()
            return self._locked(ctx, result.locked_until)
        return Reply(
            _("That is not the code word. Nothing was done. Try again, or cancel."),
            buttons=[[Button(_("Cancel"), answer="cancel")]],
        )

    @staticmethod
    def _locked(ctx: Context, until: dt.datetime) -> Reply:
        assert ctx.customer is not None
        return Reply(
            _(
                "Too many wrong code words: what your code word protects is locked until {time}. "
                "Nothing was done."
            ).format(time=formatting.datetime(until, ctx.customer.timezone))
        )

"""Filling a step-by-step chat form in one go (a platform's dialog collects every field first).

The business rules stay in the form: the answers are fed to it one by one through the dispatcher,
exactly as typed answers would be. A step that is asked again did not accept its answer; the first
line of that reply (the form's own reason) becomes the error shown on that field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming, Reply
from services import chat_state


@dataclass(frozen=True)
class Outcome:
    """``field``/``error``: the step that refused its answer and why; else the form's last ``reply``
    (or the refusal to open it: not linked, not allowed)."""

    reply: Reply | None = None
    field: str | None = None
    error: str | None = None


async def _say(dispatcher: Dispatcher, base: Incoming, text: str) -> Reply | None:
    replies = await dispatcher.handle(replace(base, text=text, action_key=None, update_id=None, view=False))
    return replies[0] if replies else None


async def open_step(dispatcher: Dispatcher, base: Incoming, form: str) -> str | None:
    """The step the user's open form ``form`` waits for, or None."""
    async with dispatcher.db.uow() as uow:
        ident = await chat_state.identity(uow, base.platform, base.workspace, base.user_id)
        row = await chat_state.conversation(uow, ident.id)
        return row.step if row is not None and row.name == form else None


async def may_open(dispatcher: Dispatcher, base: Incoming, command: str) -> Reply | None:
    """None when this user may start the form; else the dispatcher's answer (link first, role...)."""
    reply = await _say(dispatcher, base, f"/{command}")
    if await open_step(dispatcher, base, command) is None:
        return reply
    await _say(dispatcher, base, "cancel")
    return None


async def fill(
    dispatcher: Dispatcher, base: Incoming, command: str, answers: list[tuple[str, str]]
) -> Outcome:
    """Start the form with ``/command`` and answer its steps in order: ``(step, answer)`` pairs."""
    reply = await _say(dispatcher, base, f"/{command}")
    for step, answer in answers:
        if await open_step(dispatcher, base, command) != step:
            return Outcome(reply)
        reply = await _say(dispatcher, base, answer)
        if await open_step(dispatcher, base, command) == step:
            await _say(dispatcher, base, "cancel")
            reason = reply.text.split("\n", 1)[0] if reply is not None else ""
            return Outcome(field=step, error=reason)
    return Outcome(reply)

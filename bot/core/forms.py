"""A multi-step form declared once: its steps, how each answer is read, and what finishing does.

The chat asks the steps one by one (the open step and the answers so far live in the
conversation row); a platform's dialog (Slack's modal) draws every step as a field from the same
declaration and the dispatcher reads the submission in one pass (``Form.read``), each refusal
becoming that field's error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.context import Context
from bot.core.formatting import error_text
from bot.core.i18n import gettext as _
from bot.core.types import Button, Reply
from services.errors import DomainError

Data = Mapping[str, Any]
Parse = Callable[[str, Context, Data], Awaitable[Any]]
Suggest = Callable[[Context], Awaitable[list[tuple[str, str]]]]
Finish = Callable[..., Awaitable[Reply]]


class Invalid(Exception):
    """An answer a step does not take; ``reason`` (translated) is said above the question again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Step:
    """One question. ``prompt``: what the chat asks (``N_``, formatted with the form's ``fills``);
    ``label``: the field's name in a dialog (``N_``); ``parse``: the answer as stored, or raises
    ``Invalid`` / a ``DomainError`` saying what is wrong; ``choices``: (answer, ``N_`` label), the
    only answers: buttons in the chat, a select in a dialog; ``shortcuts``: one-press answers
    beside typing (chat only); ``suggest``: one-press answers from the account (its orders, what
    is on file); ``optional``: a dialog may leave it empty (read as "none"); ``when``: asked only
    if it holds for the answers so far; ``echo``: said above the next question once accepted;
    ``files``: files may come with the answer (their caption is the answer; the form's finish
    reads them from ``Incoming.files``)."""

    name: str
    prompt: str
    label: str
    parse: Parse
    choices: tuple[tuple[str, str], ...] = ()
    shortcuts: tuple[tuple[str, str], ...] = ()
    suggest: Suggest | None = None
    optional: bool = False
    multiline: bool = False
    hint: str | None = None
    when: Callable[[Data], bool] | None = None
    echo: Callable[[Any, Context], str] | None = None
    files: bool = False


@dataclass(frozen=True)
class Form:
    """``name``: the command that starts it; ``title``: a dialog's title (``N_``); ``finish``: called
    (dependencies injected by name, the answers as ``data``) once every step is answered;
    ``fills``: the values the prompts are formatted with (the account's currency); ``dialog``:
    whether a platform may ask it as one dialog (Slack's modal). Not when a step depends on
    something the previous answer set off outside the chat (a code mailed to the address typed);
    ``guard``: a reply instead of the first question when the form cannot start for this sender."""

    name: str
    title: str
    steps: tuple[Step, ...]
    finish: Finish
    fills: Callable[[Context], Mapping[str, str]] | None = None
    dialog: bool = True
    guard: Callable[[Context], Awaitable[Reply | None]] | None = None

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"form {self.name}: its steps need distinct names")

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def next_step(self, after: str | None, data: Data) -> Step | None:
        """The first step after ``after`` (None: from the start) that applies to ``data``."""
        names = [s.name for s in self.steps]
        start = 0 if after is None else names.index(after) + 1
        return next((s for s in self.steps[start:] if s.when is None or s.when(data)), None)

    async def ask(self, ctx: Context, step: Step) -> Reply:
        """The question with its one-press answers and a Cancel button."""
        fills = self.fills(ctx) if self.fills is not None else {}
        buttons: list[list[Button]] = []
        if step.suggest is not None:
            buttons += [[Button(label, answer=value)] for value, label in await step.suggest(ctx)]
        if step.choices:
            buttons.append([Button(_(label), answer=value) for value, label in step.choices])
        buttons += [[Button(_(label), answer=value)] for value, label in step.shortcuts]
        buttons.append([Button(_("Cancel"), answer="cancel")])
        return Reply(_(step.prompt).format(**fills), buttons=buttons)

    async def take(self, ctx: Context, step: Step, answer: str, data: Data) -> Any:
        """The stored value of one answer; raises ``Invalid`` with the reason (a domain error's
        localised text included)."""
        try:
            return await step.parse(answer, ctx, data)
        except DomainError as err:
            raise Invalid(error_text(err)) from None

    async def read(self, ctx: Context, answers: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """A whole submission in one pass: the answers as stored and the reason per refused field.
        A step that does not apply to the answers so far is skipped; a missing answer is "none"."""
        data: dict[str, Any] = {}
        errors: dict[str, str] = {}
        step = self.next_step(None, data)
        while step is not None:
            try:
                data[step.name] = await self.take(ctx, step, answers.get(step.name) or "none", data)
            except Invalid as err:
                errors[step.name] = err.reason
            step = self.next_step(step.name, data)
        return data, errors

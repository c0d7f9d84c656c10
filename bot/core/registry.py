"""The assembled registry: the routers a bot is built from; matching turns a line into (command, args).

Every alias works in every language; ``help`` shows each command under the current language's
first alias. Plain sentences ("what is my balance?", "bakiyem ne kadar?", "open a ticket") are
understood through ``bot.core.phrases``: the aliases and the vocabulary's phrases, with each
language's endings allowed for.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.forms import Form
from bot.core.phrases import Phrase, PhraseBook, fold
from bot.core.router import Command, Confirmation, Handler, InvalidAction, Router, field_types, load
from bot.core.types import Reply

__all__ = ["Command", "Confirmation", "Handler", "InvalidAction", "Registry", "Router", "fold", "inject"]


@dataclass
class Registry:
    """The commands, confirmations and forms of the routers a bot is built from (``from_routers``)."""

    commands: dict[str, Command] = field(default_factory=dict)
    confirmations: dict[str, Confirmation] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    follow_ups: dict[str, Form] = field(default_factory=dict)
    _index: dict[tuple[str, ...], Command] = field(default_factory=dict)
    book: PhraseBook = field(default_factory=lambda: PhraseBook(()))

    @classmethod
    def from_routers(
        cls,
        *routers: Router,
        phrases: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
        objects: Iterable[str] = (),
    ) -> Registry:
        """Assemble the routers, refusing at start-up what would fail later: a command or form
        declared twice, an alias naming two commands, a confirmation that is not a frozen dataclass of JSON-able fields, one not
        offered by exactly one command, one without a confirmer or with two, two confirmations of
        the same name, a phrase for a command that does not exist.

        ``phrases``: per command and language, more ways of asking for it than its aliases
        (``"owe => unpaid"``); ``objects``: the nouns that only name what a command acts on."""
        registry = cls()
        offered: dict[type[Any], str] = {}
        for router in routers:
            for command in router.commands:
                registry._add(command)
                for action in command.confirms:
                    if action in offered:
                        raise ValueError(
                            f"confirmation {action.__qualname__} is offered by both "
                            f"{offered[action]!r} and {command.name!r}"
                        )
                    offered[action] = command.name
        for router in routers:
            for action, func in router.confirmers:
                if action not in offered:
                    raise ValueError(
                        f"confirmer {func.__qualname__} carries out {action.__qualname__}, "
                        "which no command offers (confirms=...)"
                    )
                field_types(action)
                name = action.__name__
                if name in registry.confirmations:
                    raise ValueError(f"confirmation {name!r} has two confirmers or two classes")
                registry.confirmations[name] = Confirmation(name, action, offered[action], func)
        missing = [a.__qualname__ for a in offered if a.__name__ not in registry.confirmations]
        if missing:
            raise ValueError(f"confirmations without a confirmer: {', '.join(sorted(missing))}")
        registry.book = PhraseBook(registry._phrases(phrases or {}), objects)
        for pair in registry.book.pairs():
            registry._index.setdefault(pair.words, registry.commands[pair.command])
        return registry

    def _phrases(self, extra: Mapping[str, Mapping[str, Iterable[str]]]) -> list[Phrase]:
        unknown = sorted(set(extra) - set(self.commands))
        if unknown:
            raise ValueError(f"phrases for unknown commands: {', '.join(unknown)}")
        said = [(c.name, a) for c in self.commands.values() for names in c.aliases.values() for a in names]
        said += [
            (name, text)
            for name, by_language in extra.items()
            for texts in by_language.values()
            for text in texts
        ]
        return [Phrase.parse(name, text) for name, text in said]

    def _add(self, command: Command) -> None:
        if command.name in self.commands:
            raise ValueError(f"command {command.name!r} is declared twice")
        self.commands[command.name] = command
        if command.form is not None:
            self.forms[command.name] = command.form
        if command.follow_up is not None:
            self.follow_ups[command.name] = command.follow_up
        keys = {tuple(fold(alias).split()) for names in command.aliases.values() for alias in names}
        for key in keys | {(fold(command.name),)}:
            taken = self._index.get(key)
            if taken is not None:
                raise ValueError(f"{' '.join(key)!r} names both {taken.name!r} and {command.name!r}")
            self._index[key] = command

    def action(self, stored: Any) -> tuple[Confirmation, Any]:
        """The confirmation a button stored (``router.dump``) and its rebuilt dataclass;
        ``InvalidAction`` when the name is unknown or the fields do not fit."""
        if not isinstance(stored, dict) or not isinstance(stored.get("name"), str):
            raise InvalidAction("not a stored confirmation")
        found = self.confirmations.get(stored["name"])
        if found is None:
            raise InvalidAction(f"unknown confirmation {stored['name']!r}")
        return found, load(found.cls, stored.get("params"))

    def match(self, text: str) -> tuple[Command, list[str]] | None:
        """Exact syntax first (``/invoice 12``, ``facture 12``; arguments that only name the object,
        as in "reboot my server", are no arguments), then plain words."""
        raw = text.strip().split()
        if not raw:
            return None
        if raw[0].startswith("/") and "_" in raw[0]:  # a menu command: "/destek_paketi"
            raw = [*raw[0].split("@")[0].split("_"), *raw[1:]]
        head = fold(raw[0]).lstrip("/").split("@")[0]
        for size in (2, 1):
            if size == 2 and len(raw) < 2:
                continue
            key = (head, *[fold(w) for w in raw[1:size]])
            if key in self._index:
                return self._index[key], self.book.trim(raw[size:])
        understood = self.book.understand(text)
        if understood is None:
            return None
        return self.commands[understood.command], understood.args

    def open_form(self, name: str) -> Form | None:
        """The form an open conversation named: one started by its command, or a command's follow-up."""
        return self.forms.get(name) or self.follow_ups.get(name)

    def visible(self) -> list[Command]:
        """In declaration order: the routers' order, then each router's."""
        return list(self.commands.values())


@functools.cache
def _wanted(func: Handler) -> tuple[str, ...]:
    """The parameter names of a handler (read once: they do not change)."""
    return tuple(inspect.signature(func).parameters)


def inject(func: Handler, available: dict[str, Any]) -> Awaitable[Reply]:
    """Call ``func`` with the dependencies it names among ``available`` (by parameter name)."""
    wanted = _wanted(func)
    missing = [name for name in wanted if name not in available]
    if missing:
        raise TypeError(f"{func.__qualname__} asks for unknown dependencies {missing}")
    return func(**{name: available[name] for name in wanted})

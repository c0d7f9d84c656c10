"""Command registry: decorators record metadata only; matching turns a line into (command, args).

Every alias works in every language; ``help`` shows each command under the current language's
first alias. Plain sentences ("what is my balance?", "open a ticket") are matched by dropping
filler words and looking for an alias anywhere in what is left.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core.permissions import CAPABILITIES
from bot.core.types import Reply

Handler = Callable[..., Awaitable[Reply]]


@dataclass
class Command:
    name: str
    func: Handler
    aliases: dict[str, tuple[str, ...]]
    summary: str
    usage: str = ""
    capability: str = "read"
    needs_account: bool = True
    order: int = 0
    bare: str | None = None

    def alias_for(self, lang: str) -> str:
        return (self.aliases.get(lang) or self.aliases["en"])[0]

    def needs(self, bare: bool) -> str:
        """The capability a use needs: ``bare`` (when given) for the command alone, as a look."""
        return self.bare if self.bare is not None and bare else self.capability


# Words that carry no meaning for matching (English, French, Indonesian, Turkish; accents folded).
_FILLER_WORDS = (
    "a an the my me please pls show see list what whats is are i want to can you get check view of for "
    "mon ma mes le la les un une voir afficher montre montrez moi svp stp quel quelle est de du des je veux "
    "saya lihat tampilkan tolong cek mohon berapa ingin mau dong "
    "benim goster lutfen bir ne kadar nedir bana"
)
FILLERS = frozenset(_FILLER_WORDS.split())

_PUNCT = re.compile(r"[^\w.@:/-]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for matching ("Ödeme" -> "odeme", "İ" -> "i")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Turkish dotless ı has no decomposition: fold it by hand so "yardım" finds "yardim".
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ı", "i")


def words(text: str) -> list[str]:
    return [w.strip(".:-/") or w for w in _PUNCT.sub(" ", text).split()]


@dataclass
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)
    confirmers: dict[str, Handler] = field(default_factory=dict)
    forms: dict[str, Handler] = field(default_factory=dict)
    _index: dict[tuple[str, ...], Command] = field(default_factory=dict)

    def command(
        self,
        name: str,
        *,
        aliases: dict[str, tuple[str, ...]],
        summary: str,
        usage: str = "",
        capability: str = "read",
        needs_account: bool = True,
        bare: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """``capability``: what using the command needs (``bot.core.permissions``); ``bare``: what it
        needs without arguments, when that only shows something."""
        if capability not in CAPABILITIES or (bare is not None and bare not in CAPABILITIES):
            raise ValueError(f"unknown capability for {name}: {capability!r} / {bare!r}")

        def record(func: Handler) -> Handler:
            cmd = Command(
                name, func, aliases, summary, usage, capability, needs_account, len(self.commands), bare
            )
            self.commands[name] = cmd
            for names in aliases.values():
                for alias in names:
                    self._index[tuple(fold(alias).split())] = cmd
            self._index[(fold(name),)] = cmd
            return func

        return record

    def confirmer(self, name: str) -> Callable[[Handler], Handler]:
        """The function that carries out a confirmed action of that name (the command's own name:
        it needs that command's capability)."""

        def record(func: Handler) -> Handler:
            self.confirmers[name] = func
            return func

        return record

    def form(self, name: str) -> Callable[[Handler], Handler]:
        """The function that takes each answer of a multi-step form of that name (the name of the
        command that opens it: each answer needs that command's capability)."""

        def record(func: Handler) -> Handler:
            self.forms[name] = func
            return func

        return record

    def match(self, text: str) -> tuple[Command, list[str]] | None:
        """Exact syntax first (``/invoice 12``, ``facture 12``), then plain words."""
        raw = text.strip().split()
        if not raw:
            return None
        head = fold(raw[0]).lstrip("/").split("@")[0]
        for size in (2, 1):
            if size == 2 and len(raw) < 2:
                continue
            key = (head, *[fold(w) for w in raw[1:size]])
            if key in self._index:
                return self._index[key], raw[size:]
        tokens = [w for w in words(fold(text)) if w not in FILLERS]
        for i in range(len(tokens)):
            for size in (2, 1):
                key = tuple(tokens[i : i + size])
                if len(key) == size and key in self._index:
                    return self._index[key], tokens[:i] + tokens[i + size :]
        return None

    def visible(self) -> list[Command]:
        return sorted(self.commands.values(), key=lambda c: c.order)


def inject(func: Handler, available: dict[str, Any]) -> Awaitable[Reply]:
    """Call ``func`` with the dependencies it names among ``available`` (by parameter name)."""
    wanted = inspect.signature(func).parameters
    missing = [name for name in wanted if name not in available]
    if missing:
        raise TypeError(f"{func.__qualname__} asks for unknown dependencies {missing}")
    return func(**{name: available[name] for name in wanted})


registry = Registry()

"""Per-request locale (a ContextVar) over the gettext catalogs (compiled by ``services.wording``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from services.errors import N_
from services.wording import translations

LANGUAGES: tuple[str, ...] = ("en", "fr", "id", "tr")
DEFAULT = "en"

_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT)

__all__ = ["LANGUAGES", "N_", "accepted", "current", "gettext", "ngettext", "normalize", "use_locale"]


def normalize(code: str | None) -> str | None:
    """Map a platform language tag (``fr-CA``, ``tr_TR``, ``in``) to a supported language."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    base = {"in": "id"}.get(base, base)
    return base if base in LANGUAGES else None


def accepted(header: str) -> str | None:
    """The first supported language of an Accept-Language header, by its q-values."""
    ranked = []
    for i, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for _q, _i, tag in sorted(ranked):
        lang = normalize(tag)
        if lang:
            return lang
    return None


def choose(chosen: str | None, account: str | None, platform: str | None, default: str) -> str:
    """The one rule for the language of a message, a reply or one the bot starts: what the chat
    user chose, else the account's saved choice, else their platform's language, else the default."""
    return chosen or account or platform or default


def current() -> str:
    return _locale.get()


@contextmanager
def use_locale(lang: str) -> Iterator[None]:
    token = _locale.set(lang)
    try:
        yield
    finally:
        _locale.reset(token)


def gettext(message: str) -> str:
    return translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, n)

"""Words the services write for a reader in a given language: invoice lines and catalogue names.

An issued invoice is a legal document, so its line texts are written once, in the customer's
language, when it is issued (``services.invoices.create`` renders each ``Text``), and stay so. The
catalogue's names and descriptions are the provider's data per language (``names``/``descriptions``
of plans, add-ons and metered packages); where a language has none, ``name`` (and the English
description) is shown. The gettext catalogs are compiled here, below the chat, so that the chat's
locale context (``bot.core.i18n``) and the services read the same ones.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from services.money import exponent

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
SOURCE = "en"


@cache
def translations(lang: str) -> NullTranslations:
    """Compile the .po file once per process; English is the source language."""
    path = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == SOURCE or not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


class Localized(Protocol):
    """A value that reads differently in each language."""

    def in_language(self, lang: str) -> str: ...


@dataclass(frozen=True)
class Names:
    """One text per language, and the one shown where a language has none."""

    fallback: str
    by_language: Mapping[str, str] = field(default_factory=dict)

    def in_language(self, lang: str) -> str:
        return self.by_language.get(lang) or self.fallback

    def __str__(self) -> str:
        return self.fallback


class Catalogued(Protocol):
    """What the provider sells: a plan, an add-on or a metered package."""

    name: str
    names: dict[str, str]
    descriptions: dict[str, str]


def names_of(item: Catalogued) -> Names:
    return Names(item.name, dict(item.names or {}))


def descriptions_of(item: Catalogued) -> Names:
    texts = dict(item.descriptions or {})
    return Names(texts.get(SOURCE, ""), texts)


@dataclass(frozen=True)
class Rate:
    """A price per hour that may hold fractions of a minor unit, every digit kept."""

    minor: Decimal
    currency: str

    def in_language(self, lang: str) -> str:
        major = self.minor.scaleb(-exponent(self.currency)).normalize()
        return format_currency(major, self.currency, locale=lang, decimal_quantization=False)


Param = str | int | Localized


@dataclass(frozen=True)
class Text:
    """A sentence of the catalogs (``msgid``, marked with ``N_``; or a pattern with no words, such
    as ``"{plan} #{id}"``) to be written in a reader's language, with its placeholders (catalogue
    names are ``Names``, and a placeholder may be another ``Text``)."""

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def in_language(self, lang: str) -> str:
        values = {k: v if isinstance(v, str | int) else v.in_language(lang) for k, v in self.params.items()}
        return translations(lang).gettext(self.msgid).format(**values)

    def __str__(self) -> str:
        return self.in_language(SOURCE)


def write(text: str | Localized, lang: str) -> str:
    """``text`` in ``lang``; a plain string (typed by staff, copied from a quote) stays as it is."""
    return text if isinstance(text, str) else text.in_language(lang)

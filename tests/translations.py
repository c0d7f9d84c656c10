"""This branch's new messages, translated in ``locales/payments.translations.json`` until the
integrator merges them into the ``.po`` catalogs: tests that read localised output layer them over
the catalogs, so they check the real translations either way."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import NullTranslations, Translations

from bot.core import i18n

PENDING = Path(__file__).resolve().parents[1] / "locales" / "payments.translations.json"


def layer_pending_translations(monkeypatch: pytest.MonkeyPatch) -> None:
    pending: dict[str, dict[str, str]] = (
        json.loads(PENDING.read_text(encoding="utf-8")) if PENDING.exists() else {}
    )
    catalogs = i18n.translations

    @cache
    def layered(lang: str) -> NullTranslations:
        base = catalogs(lang)
        if lang == i18n.DEFAULT or not pending:
            return base
        catalog = Catalog(locale=lang)
        for msgid, by_lang in pending.items():
            if isinstance(by_lang.get(lang), str):
                catalog.add(msgid, by_lang[lang])
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        found = Translations(buf)
        found.add_fallback(base)
        return found

    monkeypatch.setattr(i18n, "translations", layered)

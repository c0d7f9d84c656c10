"""Every message the user can see is in the catalogs and translated in fr, id and tr."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "id": "nplurals=1; plural=0;",
    "tr": "nplurals=2; plural=(n != 1);",
}
PLACEHOLDER = re.compile(r"\{\w*\}")
# Words spelled the same in English and the target language: identical on purpose, not forgotten.
COGNATES = {"fr": {"Importance"}, "id": set(), "tr": set()}


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The message ids in the source code today (not the committed template, which may be stale)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "pyproject.toml",
            "-o",
            str(pot),
            "bot",
            "handlers",
            "services",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


@pytest.mark.parametrize("lang", sorted(PLURAL_FORMS))
def test_headers(lang: str) -> None:
    raw = (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert f'"Language: {lang}\\n"' in raw
    assert f'"Plural-Forms: {PLURAL_FORMS[lang]}\\n"' in raw


@pytest.mark.parametrize("lang", ["fr", "id", "tr"])
def test_every_message_is_translated(lang: str, extracted: set[str]) -> None:
    catalog = _catalog(lang)
    missing = []
    for msgid in sorted(extracted):
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == catalog.num_plurals or not message.pluralizable, msgid
        if message.fuzzy or not all(s.strip() for s in strings):
            missing.append(msgid)
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - {"{n}"}
        for s in strings:
            assert wanted <= set(PLACEHOLDER.findall(s)), (lang, msgid, s)
            assert set(PLACEHOLDER.findall(s)) <= set(PLACEHOLDER.findall(" ".join(ids))), (lang, msgid, s)
    assert not missing, f"{lang}: untranslated: {missing}"


@pytest.mark.parametrize("lang", ["fr", "id", "tr"])
def test_translations_are_not_english_copies(lang: str) -> None:
    catalog = _catalog(lang)
    copied = [
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and m.string == m.id
        and m.id not in COGNATES[lang]
        and len(re.sub(r"[^\w]", "", PLACEHOLDER.sub("", m.id))) > 8  # words, not just placeholders
    ]
    assert not copied, copied

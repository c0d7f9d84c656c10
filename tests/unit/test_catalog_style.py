"""Catalog style: the glossary's word for each product term, and French typography."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LANGUAGES = ("fr", "id", "tr")


def glossary() -> dict[str, dict[str, list[str]]]:
    """English term -> language -> accepted forms, read from the table of locales/GLOSSARY.md."""
    rows = [
        line
        for line in (LOCALES / "GLOSSARY.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| ")
    ]
    header, *body = rows
    languages = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert languages == ["French", "Indonesian", "Turkish"]
    terms: dict[str, dict[str, list[str]]] = {}
    for row in body:
        english, *cells = [cell.strip() for cell in row.strip("|").split("|")]
        terms[english] = {
            lang: [f.strip() for f in cell.split(" / ")] for lang, cell in zip(LANGUAGES, cells, strict=True)
        }
    return terms


def _texts(value: str | tuple[str, ...]) -> str:
    return " ".join(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_follows_the_glossary(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    terms = glossary()
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        english = re.sub(r"\{[^}]*\}", "", _texts(message.id)).casefold()
        translated = _texts(message.string)
        for term, forms in terms.items():
            if re.search(rf"\b{re.escape(term)}s?\b", english) and not any(
                form.casefold() in translated.casefold() or form in translated for form in forms[lang]
            ):
                wrong.append(f"{term!r} in {_texts(message.id)[:60]!r}: {translated[:80]!r}")
    assert not wrong, "\n".join(wrong)


def test_the_glossary_covers_the_terms_the_issue_names() -> None:
    assert {"invoice", "balance", "order", "plan", "ticket", "top-up", "renewal", "reverse charge"} <= set(
        glossary()
    )


def test_french_typography() -> None:
    """A no-break space before : ; ? ! and inside « », and one apostrophe (’) throughout."""
    with (LOCALES / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    wrong = []
    for message in catalog:
        text = _texts(message.string)
        if not message.id:
            continue
        if re.search(r"(?<![\u00a0\u202f])[;:?!](?=\s|$)", text):
            wrong.append(text[:80])
        if "'" in text or "« " in text or " »" in text:
            wrong.append(text[:80])
    assert not wrong, "\n".join(wrong)

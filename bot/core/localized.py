"""The provider's catalogue and the services' texts in the current language (``services.wording``)."""

from __future__ import annotations

from bot.core.i18n import current
from services.wording import Catalogued, Localized, descriptions_of, names_of, write


def name(item: Catalogued) -> str:
    """A plan's, add-on's or package's name in the current language, else its default name."""
    return names_of(item).in_language(current())


def description(item: Catalogued) -> str:
    return descriptions_of(item).in_language(current())


def text(value: str | Localized) -> str:
    """A line of an invoice still to be issued (a preview) as the current reader reads it."""
    return write(value, current())

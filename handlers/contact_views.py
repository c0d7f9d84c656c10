"""How contact data read in the chat, and the confirmation that asks for their change by ticket
(offered by ``changecontact``, and by the top-up when its billing address differs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.i18n import gettext as _
from handlers.common import country_name
from services import contact_changes
from services.errors import N_
from services.records import Customer

LABELS = {
    "email": N_("Main e-mail"),
    "phone": N_("Phone"),
    "name": N_("Name"),
    "address": N_("Street and number"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "country": N_("Country"),
    "profile": N_("Profile type"),
    "tax_id": N_("VAT id"),
}
PROFILE_NAMES = {"business": N_("business"), "individual": N_("individual")}


@dataclass(frozen=True)
class ContactChange:
    """A Financial ticket asking for these contact data (by ``contact_changes`` field)."""

    changes: dict[str, Any]


def shown(name: str, value: str) -> str:
    """A contact value as the customer reads it."""
    if name == "country":
        return country_name(value)
    if name == "profile":
        return _(PROFILE_NAMES[value])
    return value or _("none")


def changes_text(customer: Customer, changes: Mapping[str, str]) -> list[str]:
    """One line per field: what the account has → what is asked for."""
    before = contact_changes.on_file(customer)
    return [
        _("{field}: {before} → {after}").format(
            field=_(LABELS[name]),
            before=shown(name, before[name]) if name in before else _("not on file"),
            after=shown(name, value),
        )
        for name, value in changes.items()
    ]

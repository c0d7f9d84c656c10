"""Changes of an account's contact data (main e-mail, phone, name, address, country, profile type,
VAT id) are asked for, never made, from the chat: each request becomes a Financial ticket that the
provider's staff check and carry out, as in the web panel (seed 001).

The values are checked here as they will be recorded; the ticket's words are the chat's (in the
customer's language), the fields and values are audited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from services import audit, tickets
from services.audit import Actor
from services.errors import N_, DomainError
from services.ports import TicketEvents
from services.topup import parse_country, parse_field, parse_tax_id
from storage.models import Customer, Ticket
from storage.uow import UnitOfWork

# What can be asked for, in the order a request lists it. "address" comes with postal code and city.
FIELDS = ("email", "phone", "name", "address", "postal_code", "city", "country", "profile", "tax_id")
PROFILES = ("business", "individual")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,24}$")


class InvalidEmail(DomainError):
    message = N_("Please send an e-mail address such as name@example.com.")


class InvalidPhone(DomainError):
    message = N_("Please send a phone number with its country code, such as +33 1 23 45 67 89.")


class NothingToChange(DomainError):
    message = N_("That is already what your account has: there is nothing to ask for.")


def parse_email(text: str) -> str:
    value = text.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidEmail()
    return value


def parse_phone(text: str) -> str:
    value = " ".join(text.split())
    if not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 6:
        raise InvalidPhone()
    return value


def on_file(customer: Customer) -> dict[str, str]:
    """The contact data the account has (the phone is kept in the provider's own records)."""
    return {
        "email": customer.email,
        "name": customer.name,
        "address": customer.address_line,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.country,
        "profile": "business" if customer.is_business else "individual",
        "tax_id": customer.vat_id or "",
    }


def validate(customer: Customer, changes: Mapping[str, str]) -> dict[str, str]:
    """The requested values checked again (they come back from a stored confirmation), in
    ``FIELDS`` order, without those the account has already; ``NothingToChange`` when none is left."""
    country = changes.get("country") or customer.country
    checked: dict[str, str] = {}
    for name in FIELDS:
        if name not in changes:
            continue
        raw = str(changes[name])
        if name == "email":
            checked[name] = parse_email(raw)
        elif name == "phone":
            checked[name] = parse_phone(raw)
        elif name == "country":
            checked[name] = parse_country(raw)
        elif name == "profile":
            if raw not in PROFILES:
                raise ValueError(f"unknown profile {raw!r}")
            checked[name] = raw
        elif name == "tax_id":
            checked[name] = parse_tax_id(raw or None, country) or ""
        else:
            checked[name] = parse_field(name, raw)
    current = on_file(customer)
    wanted = {name: value for name, value in checked.items() if current.get(name) != value}
    if not wanted:
        raise NothingToChange()
    if wanted.keys() & {"address", "postal_code", "city"}:  # an address is changed whole
        wanted.update({k: checked[k] for k in ("address", "postal_code", "city") if k in checked})
    return {name: wanted[name] for name in FIELDS if name in wanted}


async def request(
    uow: UnitOfWork,
    customer: Customer,
    changes: Mapping[str, str],
    subject: str,
    body: str,
    actor: Actor,
    events: TicketEvents | None = None,
) -> tuple[Ticket, str]:
    """Open the Financial ticket asking for ``changes`` (``validate``d); the ticket and the address
    its copy went to. Nothing on the account changes."""
    audit.record(uow, "contact.request", actor, f"customer:{customer.id}", fields=list(changes))
    return await tickets.create(uow, customer, "financial", "regular", None, subject, body, actor, events)

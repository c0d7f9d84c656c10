"""Contact data: ``contact`` shows what the account has; ``changecontact`` asks for a change, which
opens a Financial ticket (nothing in the chat overwrites them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.context import Context
from bot.core.forms import Data, Form, Invalid, Parse, Step
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import confirmation, keyword
from handlers.contact_views import LABELS, ContactChange, changes_text, shown
from services import contact_changes, topup
from services.audit import Actor
from services.errors import N_
from services.ports import TicketEvents
from services.records import Customer, UnitOfWork

router = Router()

# What the form asks to change (the address brings its postal code and city along).
WHAT = (
    ("email", N_("Main e-mail")),
    ("phone", N_("Phone")),
    ("name", N_("Name")),
    ("address", N_("Address")),
    ("country", N_("Country")),
    ("profile", N_("Profile type")),
    ("tax_id", N_("VAT id")),
)
WHAT_WORDS = {
    "email": frozenset({"email", "e-mail", "mail", "courriel", "eposta", "e-posta", "surel", "1"}),
    "phone": frozenset({"phone", "telephone", "tel", "telepon", "telefon", "2"}),
    "name": frozenset({"name", "nom", "nama", "ad", "isim", "3"}),
    "address": frozenset({"address", "adresse", "alamat", "adres", "4"}),
    "country": frozenset({"country", "pays", "negara", "ulke", "5"}),
    "profile": frozenset({"profile", "type", "profil", "tipe", "tur", "6"}),
    "tax_id": frozenset({"tax_id", "vat", "tva", "tax", "npwp", "pajak", "vergi", "kdv", "7"}),
}
PROFILE_WORDS = {
    "business": frozenset(
        {"business", "company", "entreprise", "societe", "bisnis", "perusahaan", "sirket", "kurumsal"}
    ),
    "individual": frozenset(
        {"individual", "private", "person", "particulier", "perorangan", "pribadi", "bireysel"}
    ),
}
NO_TAX_ID = frozenset({"none", "no", "aucun", "non", "tidak", "tidak ada", "yok", "-"})


@router.command(
    "contact",
    aliases={
        "en": ("contact", "contact data"),
        "fr": ("coordonnees",),
        "id": ("kontak", "data kontak"),
        "tr": ("iletişim", "iletişim bilgileri"),
    },
    summary=N_("the contact data of your account; changes are asked for by ticket"),
)
async def contact(customer: Customer) -> Reply:
    data = contact_changes.on_file(customer)
    lines = [_("Contact data of your account:")]
    lines += [f"{_(LABELS[name])}: {shown(name, value)}" for name, value in data.items()]
    lines.append(_("To change them, ask us: a Financial ticket is opened and our staff make the change."))
    return Reply("\n".join(lines), buttons=[[Button(_("Ask for a change"), command="changecontact")]])


async def _what(answer: str, ctx: Context, data: Data) -> str:
    choice = keyword([answer], WHAT_WORDS, "")
    if not choice:
        raise Invalid(_("Please choose what to change with one of the buttons."))
    return choice


def _checked(parse: Any) -> Parse:
    async def step(answer: str, ctx: Context, data: Data) -> Any:
        return parse(answer)

    return step


async def _country(answer: str, ctx: Context, data: Data) -> str:
    return topup.parse_country(answer, current())


async def _profile(answer: str, ctx: Context, data: Data) -> str:
    choice = keyword([answer], PROFILE_WORDS, "")
    if not choice:
        raise Invalid(_("Please choose business or individual."))
    return choice


async def _tax_id(answer: str, ctx: Context, data: Data) -> str:
    assert ctx.customer is not None
    value = None if fold(answer) in NO_TAX_ID else answer
    return topup.parse_tax_id(value, ctx.customer.country) or ""


def _asked(field: str) -> Any:
    return lambda data: data.get("what") == field


def _field(name: str) -> Parse:
    async def parse(answer: str, ctx: Context, data: Data) -> str:
        return topup.parse_field(name, answer)

    return parse


async def _preview(customer: Customer, data: dict[str, Any]) -> Reply:
    changes = contact_changes.validate(customer, {k: v for k, v in data.items() if k != "what"})
    return offer(customer, changes)


def offer(customer: Customer, changes: Mapping[str, str]) -> Reply:
    """The question that opens the ticket asking for ``changes`` (``validate``d)."""
    text = "\n".join(
        [
            _("Ask us to change the contact data of your account?"),
            *changes_text(customer, changes),
            _("This opens a Financial ticket; our staff make the change and answer you there."),
        ]
    )
    reply = confirmation(text, _("Open ticket"), ContactChange(dict(changes)))
    reply.private = True
    return reply


CHANGE_CONTACT = Form(
    "changecontact",
    title=N_("Change contact data"),
    steps=(
        Step("what", prompt=N_("What should change?"), label=N_("What to change"), parse=_what, choices=WHAT),
        Step(
            "email",
            prompt=N_("The new main e-mail address?"),
            label=N_("Main e-mail"),
            parse=_checked(contact_changes.parse_email),
            when=_asked("email"),
        ),
        Step(
            "phone",
            prompt=N_("The new phone number, with its country code?"),
            label=N_("Phone"),
            parse=_checked(contact_changes.parse_phone),
            when=_asked("phone"),
            hint="+33 1 23 45 67 89",
        ),
        Step("name", prompt=N_("The new name?"), label=N_("Name"), parse=_field("name"), when=_asked("name")),
        Step(
            "address",
            prompt=N_("Street and number?"),
            label=N_("Street and number"),
            parse=_field("address"),
            when=_asked("address"),
        ),
        Step(
            "postal_code",
            prompt=N_("Postal code?"),
            label=N_("Postal code"),
            parse=_field("postal_code"),
            when=_asked("address"),
        ),
        Step("city", prompt=N_("City?"), label=N_("City"), parse=_field("city"), when=_asked("address")),
        Step(
            "country",
            prompt=N_("Country? A two-letter code such as FR, or its name."),
            label=N_("Country (two-letter code or name)"),
            parse=_country,
            when=_asked("country"),
            hint="FR",
        ),
        Step(
            "profile",
            prompt=N_("Is the account a business or an individual?"),
            label=N_("Profile type"),
            parse=_profile,
            choices=(("business", N_("Business")), ("individual", N_("Individual"))),
            when=_asked("profile"),
        ),
        Step(
            "tax_id",
            prompt=N_("Tax id (VAT number)? Send none if you have none."),
            label=N_("Tax id (optional)"),
            parse=_tax_id,
            shortcuts=(("none", N_("No tax id")),),
            when=_asked("tax_id"),
        ),
    ),
    finish=_preview,
)
router.form(
    CHANGE_CONTACT,
    aliases={
        "en": ("changecontact", "change contact"),
        "fr": ("changercoordonnees", "changer coordonnees"),
        "id": ("ubahkontak", "ubah kontak"),
        "tr": ("iletişimdeğiştir", "iletişim değiştir"),
    },
    summary=N_(
        "ask for a change of e-mail, phone, name, address, country, profile type or VAT id (by ticket)"
    ),
    capability="settings",
    confirms=ContactChange,
)


@router.confirmer(ContactChange)
async def confirm_contact_change(
    ctx: Context,
    uow: UnitOfWork,
    customer: Customer,
    actor: Actor,
    ticket_events: TicketEvents,
    action: ContactChange,
) -> Reply:
    changes = contact_changes.validate(customer, {k: str(v) for k, v in action.changes.items()})
    subject = _("Change of contact data")
    body = "\n".join(
        [
            _("Please change the contact data of the account {name}:").format(name=customer.name),
            *changes_text(customer, changes),
        ]
    )
    ticket, copied_to = await contact_changes.request(
        uow, customer, changes, subject, body, actor, ticket_events
    )
    return Reply(
        _(
            "Ticket #{id} is open: our staff will make the change and answer you there. A copy was sent to {email}."
        ).format(id=ticket.id, email=copied_to),
        buttons=[[Button(_("Show ticket"), command=f"ticket {ticket.id}")]],
    )

"""Alternative mailboxes: ``mailboxes`` shows where each kind of e-mail goes; ``mailboxes add
PURPOSE ADDRESS`` mails a code to the address, which becomes the mailbox once the code is sent back
(``mailboxes CODE``); ``mailboxes remove PURPOSE`` sends that mail to the main address again."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import formatting
from bot.core.context import Context
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import Registry
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import confirmation, keyword
from services import mail_codes, mailboxes
from services.audit import Actor
from services.errors import N_
from services.records import ChatIdentity, Customer, UnitOfWork

router = Router()

PURPOSE_WORDS = {
    "billing": frozenset(
        {"billing", "invoices", "orders", "facturation", "factures", "commandes", "tagihan", "faktur"}
        | {"pesanan", "fatura", "faturalar", "siparisler"}
    ),
    "technical": frozenset({"technical", "tech", "technique", "teknis", "teknik"}),
    "general": frozenset({"general", "mailings", "generale", "generales", "envois", "umum", "genel"}),
}
PURPOSE_NAMES = {
    "billing": N_("Invoices and orders"),
    "technical": N_("Technical tickets"),
    "general": N_("General mailings"),
}
ACTION_WORDS = {
    "add": frozenset({"add", "ajouter", "tambah", "tambahkan", "ekle"}),
    "confirm": frozenset({"confirm", "confirmer", "konfirmasi", "onayla", "dogrula"}),
    "remove": frozenset({"remove", "delete", "supprimer", "retirer", "hapus", "kaldir", "sil"}),
}
# The keywords each language's help shows (each one is among the words above).
SHOWN = {
    "en": {
        "add": "add",
        "remove": "remove",
        "billing": "billing",
        "technical": "technical",
        "general": "general",
    },
    "fr": {
        "add": "ajouter",
        "remove": "retirer",
        "billing": "facturation",
        "technical": "technique",
        "general": "générale",
    },
    "id": {
        "add": "tambah",
        "remove": "hapus",
        "billing": "tagihan",
        "technical": "teknis",
        "general": "umum",
    },
    "tr": {"add": "ekle", "remove": "kaldır", "billing": "fatura", "technical": "teknik", "general": "genel"},
}
TOO_MANY = N_("Too many codes asked for or tried. Please wait a few minutes, then try again.")


@dataclass(frozen=True)
class AddMailbox:
    """A code mailed to ``email``, which becomes the mailbox for ``purpose`` once it comes back."""

    purpose: str
    email: str


@dataclass(frozen=True)
class RemoveMailbox:
    """The mailbox for ``purpose`` removed: its mail goes to the main address again."""

    purpose: str


def _purpose(args: list[str]) -> str:
    found = keyword(args[:1], PURPOSE_WORDS, "")
    if not found:
        raise UsageError()
    return found


def _typed_again(registry: Registry) -> str:
    """How to send the code back, with the command as the sender's language names it."""
    alias = registry.commands["mailboxes"].alias_for(current())
    return _("Send it here: /{command} CODE (it works for 15 minutes).").format(command=alias)


@router.command(
    "mailboxes",
    aliases={
        "en": ("mailboxes",),
        "fr": ("boitesmail", "adressesmail"),
        "id": ("alamatemail", "kotaksurat"),
        "tr": ("postakutuları",),
    },
    summary=N_("where each kind of e-mail goes: add, confirm or remove a mailbox"),
    # TRANSLATORS: "add" and "remove" are keywords: write the ones handlers/mailboxes.py SHOWN gives.
    usage=N_("[add PURPOSE ADDRESS | CODE | remove PURPOSE]"),
    capability="settings",
    bare="read",
    confirms=(AddMailbox, RemoveMailbox),
    sensitive=True,
)
async def mailboxes_command(
    ctx: Context,
    uow: UnitOfWork,
    customer: Customer,
    identity: ChatIdentity,
    actor: Actor,
    args: list[str],
    registry: Registry,
) -> Reply:
    if not args:
        return await _overview(uow, customer, registry)
    action = keyword(args[:1], ACTION_WORDS, "")
    rest = args[1:] if action else args
    if action in ("", "confirm") and len(rest) == 1 and mail_codes.well_formed(rest[0]):
        return await _confirm(ctx, uow, customer, identity, actor, rest[0])
    if action == "add" and len(rest) == 2:
        purpose = _purpose(rest)
        email = mailboxes.address(rest[1])
        text = _(
            "Send a code to {email} to make it the mailbox for: {purpose}? "
            "It is used once you send the code back here."
        ).format(email=email, purpose=_(PURPOSE_NAMES[purpose]))
        return confirmation(text, _("Send code"), AddMailbox(purpose, email))
    if action == "remove" and len(rest) == 1:
        purpose = _purpose(rest)
        current_box = (await mailboxes.listing(uow, customer.id)).get(purpose)
        if current_box is None:
            return Reply(_("There is no mailbox for that; its mail goes to the main address."))
        text = _("Remove {email} as the mailbox for: {purpose}? That mail then goes to {main}.").format(
            email=current_box, purpose=_(PURPOSE_NAMES[purpose]), main=customer.email
        )
        return confirmation(text, _("Remove"), RemoveMailbox(purpose))
    raise UsageError()


async def _overview(uow: UnitOfWork, customer: Customer, registry: Registry) -> Reply:
    boxes = await mailboxes.listing(uow, customer.id)
    lines = [_("Where your e-mails go:")]
    buttons: list[list[Button]] = []
    for purpose in mailboxes.PURPOSES:
        name = _(PURPOSE_NAMES[purpose])
        if purpose in boxes:
            lines.append(f"{name}: {boxes[purpose]}")
            buttons.append(
                [Button(_("Remove: {purpose}").format(purpose=name), command=f"mailboxes remove {purpose}")]
            )
        else:
            lines.append(_("{purpose}: the main address {email}").format(purpose=name, email=customer.email))
    for row in await mailboxes.waiting(uow, customer.id):
        lines.append(
            _("Waiting for its code: {email} ({purpose}), until {time}.").format(
                email=row.email,
                purpose=_(PURPOSE_NAMES[row.purpose]),
                time=formatting.datetime(row.expires_at, customer.timezone),
            )
        )
    lines.append(
        _(
            "To add one: /{command} {add} PURPOSE ADDRESS, where PURPOSE is {billing}, {technical} or {general}."
        ).format(command=registry.commands["mailboxes"].alias_for(current()), **SHOWN[current()])
    )
    return Reply("\n".join(lines), buttons=buttons, private=True)


async def _confirm(
    ctx: Context, uow: UnitOfWork, customer: Customer, identity: ChatIdentity, actor: Actor, code: str
) -> Reply:
    if not await ctx.within(ctx.settings.mail_code_attempts, f"mailbox-try:{identity.id}"):
        return Reply(_(TOO_MANY))
    row = await mailboxes.confirm(uow, customer, identity, code, actor)
    return Reply(
        _("{email} is now the mailbox for: {purpose}.").format(
            email=row.email, purpose=_(PURPOSE_NAMES[row.purpose])
        )
    )


@router.confirmer(AddMailbox)
async def confirm_add(
    ctx: Context,
    uow: UnitOfWork,
    customer: Customer,
    identity: ChatIdentity,
    actor: Actor,
    action: AddMailbox,
    registry: Registry,
) -> Reply:
    if action.purpose not in mailboxes.PURPOSES:
        raise UsageError()
    email = mailboxes.address(action.email)
    if not await ctx.within(
        ctx.settings.mail_code_requests, f"mailbox-ask:{identity.id}", f"mailbox-ask:{email.lower()}"
    ):
        return Reply(_(TOO_MANY))
    await mailboxes.request(uow, customer, identity, action.purpose, email, current(), actor)
    return Reply(_("A 6-digit code was sent to {email}.").format(email=email) + "\n" + _typed_again(registry))


@router.confirmer(RemoveMailbox)
async def confirm_remove(uow: UnitOfWork, customer: Customer, actor: Actor, action: RemoveMailbox) -> Reply:
    if action.purpose not in mailboxes.PURPOSES:
        raise UsageError()
    removed = await mailboxes.remove(uow, customer, action.purpose, actor)
    return Reply(
        _("{email} no longer receives: {purpose}. That mail goes to {main}.").format(
            email=removed, purpose=_(PURPOSE_NAMES[action.purpose]), main=customer.email
        )
    )

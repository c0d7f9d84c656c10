"""Getting started, help, language, balance, linking (with a code from the provider, or one
mailed to the account's address: ``link``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import formatting
from bot.core.context import Context
from bot.core.dispatcher import link_instructions
from bot.core.forms import Data, Form, Invalid, Step
from bot.core.i18n import LANGUAGES, current, normalize, use_locale
from bot.core.i18n import gettext as _
from bot.core.registry import Registry
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import confirmation
from services import ledger, linking, mail_codes, mailboxes
from services.errors import N_
from services.records import Customer, UnitOfWork

router = Router()

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "id": "Bahasa Indonesia", "tr": "Türkçe"}
MOVEMENTS = {
    "payment": N_("Payment received"),
    "charge": N_("Invoice paid"),
    "topup": N_("Top-up"),
    "refund": N_("Refund"),
    "adjustment": N_("Adjustment"),
    "credit_note": N_("Credit note"),
}


def help_text(commands: Registry) -> str:
    lang = current()
    lines = [_("Here is what I can do:")]
    for cmd in commands.visible():
        usage = f" {_(cmd.usage)}" if cmd.usage else ""
        lines.append(f"/{cmd.alias_for(lang)}{usage} — {_(cmd.summary)}")
    lines.append(_("You can also write in plain words, for example: show my unpaid invoices."))
    return "\n".join(lines)


@dataclass(frozen=True)
class Relink:
    """Linking this chat to another account with a link code (kept server-side as ``key``)."""

    key: str


@router.command(
    "start",
    aliases={"en": ("start",), "fr": ("demarrer",), "id": ("mulai",), "tr": ("başla",)},
    summary=N_("welcome, or link this chat with a code"),
    usage=N_("[CODE]"),
    needs_account=False,
    confirms=Relink,
)
async def start(ctx: Context, uow: UnitOfWork, args: list[str], registry: Registry) -> Reply:
    if args:
        switch = await linking.replaces(uow, ctx.identity, args[0])
        if switch is not None:
            current, other = switch
            text = _(
                "This chat is linked to the account of {current}. Link it to the account of {other} instead?"
            ).format(current=current.name, other=other.name)
            return confirmation(text, _("Switch account"), Relink(linking.code_key(args[0])))
        return _linked(ctx, await linking.redeem(uow, ctx.identity, args[0]))
    hello = _("Hello! I am your hosting assistant.")
    if ctx.customer is None:
        return Reply(f"{hello}\n{link_instructions(ctx.start_command())}")
    return Reply(f"{hello}\n\n{help_text(registry)}")


@router.confirmer(Relink)
async def confirm_relink(ctx: Context, uow: UnitOfWork, action: Relink) -> Reply:
    return _linked(ctx, await linking.redeem_key(uow, ctx.identity, action.key))


def _linked(ctx: Context, customer: Customer) -> Reply:
    ctx.customer = customer
    return Reply(
        _("This chat is now linked to the account of {name}. Type help to begin.").format(name=customer.name)
    )


@router.command(
    "help",
    aliases={"en": ("help", "commands"), "fr": ("aide",), "id": ("bantuan",), "tr": ("yardım",)},
    summary=N_("list what I can do"),
    needs_account=False,
)
async def help_(registry: Registry) -> Reply:
    return Reply(help_text(registry))


@router.command(
    "language",
    aliases={"en": ("language", "lang"), "fr": ("langue",), "id": ("bahasa",), "tr": ("dil",)},
    summary=N_("choose the language I answer in"),
    usage=N_("[en|fr|id|tr]"),
    needs_account=False,
    capability="language",
)
async def language(ctx: Context, uow: UnitOfWork, args: list[str]) -> Reply:
    if not args:
        buttons = [[Button(LANGUAGE_NAMES[code], command=f"language {code}") for code in LANGUAGES]]
        return Reply(_("Choose your language:"), buttons=buttons)
    lang = normalize(args[0])
    if lang is None:
        raise UsageError()
    await linking.set_language(uow, ctx.identity, lang, ctx.customer if ctx.may("settings") else None)
    with use_locale(lang):
        return Reply(_("From now on I will answer in English."))


@router.command(
    "balance",
    aliases={"en": ("balance",), "fr": ("solde",), "id": ("saldo",), "tr": ("bakiye",)},
    summary=N_("your balance and last movements"),
)
async def balance(uow: UnitOfWork, customer: Customer) -> Reply:
    amount = ledger.as_read(customer)  # read with the sender in this update: one statement less
    lines = [_("Your balance: {amount}").format(amount=formatting.money(amount))]
    entries = await ledger.recent(uow, customer.id)
    if entries:
        lines.append(_("Last movements:"))
        for entry in entries:
            what = _(MOVEMENTS.get(entry.kind, MOVEMENTS["adjustment"]))
            lines.append(
                f"{formatting.local_date(entry.created_at, customer.timezone)}  "
                f"{formatting.amount(entry.amount_minor, entry.currency)}  {what} {entry.memo}".rstrip()
            )
    return Reply("\n".join(lines), buttons=[[Button(_("Unpaid invoices"), command="invoices unpaid")]])


@router.command(
    "unlink",
    aliases={"en": ("unlink",), "fr": ("delier",), "id": ("putuskan",), "tr": ("bağlantıyıkes",)},
    summary=N_("unlink this chat from the account"),
    capability="language",
)
async def unlink(ctx: Context, uow: UnitOfWork) -> Reply:
    await linking.unlink(uow, ctx.identity)
    return Reply(_("This chat is no longer linked to the account."))


TOO_MANY = N_("Too many link attempts. Please wait a few minutes, then try again.")


async def _may_link(ctx: Context) -> Reply | None:
    """Only a chat not linked yet, and in private: the address and the code are typed there."""
    if ctx.identity.customer_id is not None:
        return Reply(
            _("This chat is already linked to an account. To link it to another one, send unlink first.")
        )
    if ctx.incoming.is_group:
        return Reply(_("For your privacy, link your account in a private chat with me."))
    return None


async def _link_address(answer: str, ctx: Context, data: Data) -> str:
    email = mailboxes.address(answer)
    chat = f"link-ask:{ctx.identity.id}"
    if not await ctx.within(ctx.settings.mail_code_requests, chat, f"link-ask:{email.lower()}"):
        raise Invalid(_(TOO_MANY))
    await linking.request_by_mail(ctx.uow, ctx.identity, email, current())
    return email


def _code_sent(email: str, ctx: Context) -> str:
    return _("If {email} is the address of a hosting account, a 6-digit code is on its way to it.").format(
        email=email
    )


async def _link_code(answer: str, ctx: Context, data: Data) -> int:
    code = "".join(answer.split())
    if not mail_codes.well_formed(code):
        raise Invalid(_("The code has 6 digits: type it as it is in the e-mail."))
    chat = f"link-try:{ctx.identity.id}"
    if not await ctx.within(ctx.settings.mail_code_attempts, chat, f"link-try:{data['email'].lower()}"):
        raise Invalid(_(TOO_MANY))
    ctx.customer = await linking.redeem_by_mail(ctx.uow, ctx.identity, code)
    return ctx.customer.id


async def _linked_by_mail(ctx: Context) -> Reply:
    assert ctx.customer is not None  # the code step linked it
    return _linked(ctx, ctx.customer)


LINK = Form(
    "link",
    title=N_("Link this chat"),
    steps=(
        Step(
            "email",
            prompt=N_("What is the e-mail address of your hosting account? I will send a code to it."),
            label=N_("E-mail address"),
            parse=_link_address,
            echo=_code_sent,
        ),
        Step(
            "code",
            prompt=N_("Send the 6-digit code from the e-mail here (it works for 15 minutes)."),
            label=N_("Code"),
            parse=_link_code,
        ),
    ),
    finish=_linked_by_mail,
    dialog=False,
    guard=_may_link,
)
router.form(
    LINK,
    aliases={"en": ("link",), "fr": ("lier",), "id": ("tautkan",), "tr": ("bağla",)},
    summary=N_("link this chat to your account with a code sent to its e-mail address"),
    needs_account=False,
)

"""A mail of the outbox as its reader gets it: subject, text and the same as HTML, in the language
written on the row (the account's, else the chat's, else ``DEFAULT_LANGUAGE``).

Composed when it is sent, from what the row names: an invoice deleted since is not mailed, a paid
one says so and has no pay link. ``compose`` returns None when there is nothing left to say.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from bot.config import Settings
from bot.core import formatting
from bot.core.documents import DocumentRenderer
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from services import invoices
from services.alerts import facts
from services.errors import N_
from services.mail_outbox import addressee
from services.money import Money
from services.ports import MailAttachment, MailMessage
from services.records import Customer, Mail, UnitOfWork

PURPOSES = {
    "billing": N_("invoices and orders"),
    "technical": N_("technical tickets"),
    "general": N_("general mailings"),
}
ROLES = {"owner": N_("owner"), "admin": N_("admin"), "member": N_("member")}
# The same words as the chat's labels (handlers.common), so they read the same in both.
TICKET_LABELS = {
    "technical": N_("Technical"),
    "financial": N_("Financial"),
    "regular": N_("Regular"),
    "high": N_("High"),
}
PLATFORMS = {"telegram": "Telegram", "slack": "Slack", "shell": "hostbot shell"}
_URL = re.compile(r"https?://\S+")
_templates = Environment(
    loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


@dataclass
class Letter:
    """What one kind of mail says: ``paragraphs`` of plain text (a URL in one becomes a link in
    the HTML form)."""

    subject: str
    paragraphs: list[str]
    reply_to: str = ""
    attachments: list[MailAttachment] = field(default_factory=list)


def message_id(mail: Mail, settings: Settings) -> str:
    """``<token@domain of MAIL_FROM>``: the token is fixed on the row, so every attempt repeats it."""
    domain = email.utils.parseaddr(settings.mail_from)[1].rpartition("@")[2] or "hostbot.invalid"
    return f"<{mail.message_id}@{domain}>"


def _html(letter: Letter, lang: str) -> str:
    def paragraph(text: str) -> Markup:
        parts: list[str] = []
        last = 0
        for found in _URL.finditer(text):
            parts.append(str(escape(text[last : found.start()])))
            url = escape(found.group())
            parts.append(f'<a href="{url}">{url}</a>')
            last = found.end()
        parts.append(str(escape(text[last:])))
        return Markup("".join(parts).replace("\n", "<br>\n"))

    return _templates.get_template("mail.html").render(
        lang=lang, subject=letter.subject, paragraphs=[paragraph(p) for p in letter.paragraphs]
    )


async def compose(
    uow: UnitOfWork, mail: Mail, settings: Settings, documents: DocumentRenderer
) -> MailMessage | None:
    """The message for this row as things stand now, or None when it no longer applies."""
    lang = mail.language or settings.default_language
    customer = await addressee(uow, mail)
    with use_locale(lang):
        letter = await _letter(uow, mail, customer, settings, documents)
        if letter is None:
            return None
        letter.paragraphs.append(_sign_off(letter, settings))
        return MailMessage(
            to=mail.to_addr,
            subject=letter.subject,
            text="\n\n".join(letter.paragraphs) + "\n",
            html=_html(letter, lang),
            language=lang,
            message_id=message_id(mail, settings),
            date=mail.created_at,
            reply_to=letter.reply_to,
            automatic=True,
            attachments=tuple(letter.attachments),
        )


def _sign_off(letter: Letter, settings: Settings) -> str:
    if letter.reply_to:
        note = _("Replies to this e-mail reach our support team.")
    else:
        note = _("This e-mail was sent automatically; replies to it are not read. Write to us in the chat.")
    return f"— {settings.seller_name}\n{note}"


async def _letter(
    uow: UnitOfWork, mail: Mail, customer: Customer | None, settings: Settings, documents: DocumentRenderer
) -> Letter | None:
    if customer is None or (mail.secret and not mail.params):
        return None  # the account is gone, or the code was already settled
    p = mail.params
    if mail.kind == "ticket":
        return _ticket(p, settings)
    if mail.kind == "ticket_reply":
        return _ticket_reply(p, settings)
    if mail.kind == "link_code":
        return _link_code(p, customer)
    if mail.kind == "mailbox_code":
        return _mailbox_code(p, customer)
    if mail.kind == "mailbox_changed":
        return _mailbox_changed(p, customer)
    if mail.kind == "chat_linked":
        return _chat_linked(p, customer, mail, settings)
    if mail.kind == "invoice":
        return await _invoice(uow, p, customer, settings, documents)
    if mail.kind == "receipt":
        return await _receipt(uow, p, customer)
    raise ValueError(f"unknown mail kind {mail.kind!r}")


def _ticket(p: dict[str, Any], settings: Settings) -> Letter:
    head = _("We received your ticket #{id} ({department}, importance: {importance}).").format(
        id=p["ticket"],
        department=_(TICKET_LABELS[p["department"]]),
        importance=_(TICKET_LABELS[p["importance"]]),
    )
    lines = [_("We will answer in the chat and by e-mail.")]
    if p.get("order"):
        lines.append(_("Order: #{id}").format(id=p["order"]))
    lines.append(_("Subject: {subject}").format(subject=p["subject"]))
    return Letter(
        f"[#{p['ticket']}] {p['subject']}",
        [f"{head}\n" + "\n".join(lines), p["body"]],
        reply_to=settings.mail_support_address,
    )


def _ticket_reply(p: dict[str, Any], settings: Settings) -> Letter:
    head = _("Support replied to ticket #{id} ({subject}):").format(id=p["ticket"], subject=p["subject"])
    return Letter(
        f"Re: [#{p['ticket']}] {p['subject']}",
        [head, p["body"], _("To answer: reply {id} followed by your text.").format(id=p["ticket"])],
        reply_to=settings.mail_support_address,
    )


def _link_code(p: dict[str, Any], customer: Customer) -> Letter:
    return Letter(
        _("Your code to link a chat to your hosting account"),
        [
            _(
                "Someone asked to link a {platform} chat to the hosting account of {name} "
                "with this e-mail address. The code is:"
            ).format(platform=PLATFORMS.get(p["platform"], p["platform"]), name=customer.name),
            p["code"],
            _("Send it in that chat within 15 minutes; it works once."),
            _("If it was not you, ignore this e-mail: without the code, nothing is linked."),
        ],
    )


def _mailbox_code(p: dict[str, Any], customer: Customer) -> Letter:
    return Letter(
        _("Confirm your new mailbox"),
        [
            _(
                "This address was chosen to receive the {purpose} of the hosting account of {name}. "
                "To confirm it, send this code in the chat where it was chosen, within 15 minutes:"
            ).format(purpose=_(PURPOSES[p["purpose"]]), name=customer.name),
            p["code"],
            _("If you did not ask for this, ignore this e-mail: nothing changes without the code."),
        ],
    )


def _mailbox_changed(p: dict[str, Any], customer: Customer) -> Letter:
    purpose = _(PURPOSES[p["purpose"]])
    if p["email"]:
        what = _("From now on, the {purpose} of the hosting account of {name} go to {email}.").format(
            purpose=purpose, name=customer.name, email=p["email"]
        )
    else:
        what = _(
            "The mailbox for the {purpose} of the hosting account of {name} was removed: "
            "they come to this address again."
        ).format(purpose=purpose, name=customer.name)
    return Letter(
        _("A mailbox of your hosting account was changed"),
        [what, _("If you did not expect this change, tell us in the chat or open a ticket.")],
    )


def _chat_linked(p: dict[str, Any], customer: Customer, mail: Mail, settings: Settings) -> Letter:
    return Letter(
        _("A chat was linked to your hosting account"),
        [
            _(
                "On {date}, a {platform} chat was linked to the hosting account of {name} as {role}, "
                "with a code sent to {email}."
            ).format(
                date=formatting.datetime(mail.created_at, customer.timezone),
                platform=PLATFORMS.get(p["platform"], p["platform"]),
                name=customer.name,
                role=_(ROLES.get(p["role"], p["role"])),
                email=p["email"],
            ),
            _("If it was not you, reply to this e-mail at once."),
        ],
        reply_to=settings.mail_support_address,
    )


async def _invoice(
    uow: UnitOfWork, p: dict[str, Any], customer: Customer, settings: Settings, documents: DocumentRenderer
) -> Letter | None:
    inv = await facts.invoice(uow, customer, p["invoice"])
    if inv is None or inv.status == "cancelled":
        return None
    lines = [
        _("Invoice {number} of {total}, issued on {issued}, is due on {due}.").format(
            number=inv.number,
            total=formatting.amount(inv.total_minor, inv.currency),
            issued=formatting.date(inv.issue_date),
            due=formatting.date(inv.due_date),
        ),
        # What it is for, as written on the invoice when it was issued.
        "\n".join(
            f"• {line.description}: {formatting.amount(line.amount_minor, inv.currency)}"
            for line in inv.lines
        ),
    ]
    if inv.status == "unpaid":
        link = await invoices.create_pay_link(uow, inv, settings.public_base_url, settings.pay_link_ttl_days)
        lines.append(_("Pay it here, no login needed:\n{link}").format(link=link))
    else:
        lines.append(_("It is paid. Thank you!"))
    lines.append(_("The invoice is attached as a PDF."))
    pdf = MailAttachment(f"{inv.number}.pdf", "application/pdf", documents.invoice_pdf(inv))
    return Letter(_("Invoice {number}").format(number=inv.number), lines, attachments=[pdf])


async def _receipt(uow: UnitOfWork, p: dict[str, Any], customer: Customer) -> Letter | None:
    inv = await facts.invoice(uow, customer, p["invoice"])
    if inv is None:
        return None
    amount = formatting.money(Money(p["amount"], p["currency"]))
    if p["paid"]:
        text = _("We received your payment of {amount} for invoice {number}. Thank you!")
    else:
        text = _(
            "We received {amount} for invoice {number}, which could not take it; "
            "it was added to your balance."
        )
    return Letter(
        _("Payment received: {amount}").format(amount=amount),
        [text.format(amount=amount, number=inv.number)],
    )

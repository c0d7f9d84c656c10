"""Whole conversations in French, Indonesian and Turkish reach the customer with no English in
them: every command of the registry (so a new one is covered without touching this file), the
buttons it offers and what pressing them answers, the Telegram command menus, every kind of alert
and mail, the pay page and the invoice PDF.

English is looked for two ways: the catalog's own English (a msgid whose translation differs from
it, found verbatim in what the customer reads) and English words written in code (a word list).
What the customer typed (ticket texts) and proper names are not English to find; the product
data (plan, add-on and package names, invoice line texts) is looked for in a part of its own
below, kept off until those texts are stored per language.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from pypdf import PdfReader
from sqlalchemy import or_, select

from bot import bootstrap, demo
from bot.adapters.telegram import bot_commands
from bot.alerts import messages as alert_messages
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from bot.core.registry import Registry
from bot.core.types import Reply
from bot.documents.invoice_pdf import invoice_pdf
from bot.mail import compose as mail_compose
from handlers import mailboxes
from handlers.common import keyword
from services import clock, service_lifecycle
from services.alerts import finders
from services.drivers.log_mail import LogMailer
from services.records import UnitOfWork
from storage.models import (
    Addon,
    Alert,
    Customer,
    Invoice,
    InvoiceLine,
    Mail,
    MeteredProduct,
    Order,
    Plan,
    Ticket,
    TicketMessage,
)
from storage.uow import Database
from tests.support.chat import Chat
from tests.support.paysite import pay_site

LANGUAGES = ("fr", "id", "tr")
LOCALES = Path(__file__).resolve().parents[2] / "locales"

# ---------------------------------------------------------------------------------------------
# The catalog's English. A msgid is split at its placeholders; each piece with enough letters is
# looked for as whole words, case kept. Pieces too short to mean anything on their own are
# skipped (MIN_LETTERS); the pieces below are left out on purpose, each for the reason given.
MIN_LETTERS = 4
CATALOG_ALLOWED = {
    "Total",  # "Total" is French, Indonesian and Turkish as well (alone, or "Total TTC")
    "Stripe",  # the card processor's name
    "IBAN",  # the bank account number's international name
    "Telegram",  # platform names
    "Slack",
}
# Words of the language that are spelled like an English msgid (the glossary's "server" and
# "domain" in Indonesian; loanwords every Indonesian hosting panel uses).
CATALOG_ALLOWED_IN = {
    "fr": {"CODE", "Options", "page", "Configuration", "Ticket", "importance"},
    "id": {"Server", "Subtotal", "disk", "gateway", "Reverse DNS", "Domain", "Email", "Status"},
    "tr": set(),
}

# English written in code or left in a translation: whole words, any case. The words were chosen
# from the leaks seen (commands' keywords, list titles, units); none is a word of the languages
# tested, and the exceptions per language are the glossary's own choices.
ENGLISH_WORDS = (
    "invoice",
    "invoices",
    "balance",
    "day",
    "days",
    "hour",
    "hours",
    "order",
    "orders",
    "unpaid",
    "overdue",
    "renewal",
    "payment",
    "please",
    "your",
    "the",
    "and",
    "for",
    "from",
    "this",
    "that",
    "which",
    "will",
    "here",
    "send",
    "when",
    "number",
    "add",
    "remove",
    "billing",
    "technical",
    "general",
    "with",
    "until",
    "expires",
    "settings",
    "quiet",
    "threshold",
    "amount",
    "cancel",
    "confirm",
    "previous",
    "next",
    "not found",
    "ticket",
    "tickets",
    "mailbox",
    "server",
    "servers",
    "domain",
    "domains",
)
# Words the glossary gives a language (locales/GLOSSARY.md): French "ticket", Indonesian "server"
# and "domain". ("plan" is left out of the list: it is French for a layout and Turkish for a plan.)
ENGLISH_ALLOWED = {
    "fr": {"ticket", "tickets"},
    "id": {"server", "domain"},
    "tr": set(),
}
# The terms the glossary keeps in English (in brackets after a plain explanation).
KEPT_TERMS = ("reverse charge",)
EMAIL = re.compile(r"[\w.+-]+@[\w.-]+")

# ---------------------------------------------------------------------------------------------
# Product DATA in English: plan, add-on and package names as stored for the default language and
# the line texts of invoices issued in English. Products carry a name per language and invoices
# are written in the customer's language when issued, so each of these strings found verbatim in
# a French, Indonesian or Turkish conversation is a leak too, except the names below that read the
# same in every language.
DATA_NEUTRAL: set[str] = set()  # e.g. "VPS M": a product name that is not translated


@dataclass
class Surface:
    """What the customer read somewhere: where, and the text."""

    where: str
    text: str


@dataclass
class Findings:
    lang: str
    data: set[str] = field(default_factory=set)
    typed: set[str] = field(default_factory=set)
    seen: list[Surface] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.seen.append(Surface(where, text))

    def reply(self, where: str, reply: Reply) -> None:
        self.add(where, reply.text)
        for button in reply.all_buttons():
            self.add(f"{where} [button]", button.label)

    def leaks(self) -> list[str]:
        needles = catalog_english(self.lang)
        words = re.compile(
            r"(?<![\w/])("
            + "|".join(re.escape(w) for w in ENGLISH_WORDS if w not in ENGLISH_ALLOWED[self.lang])
            + r")(?!\w)",
            re.IGNORECASE,
        )
        found = []
        for surface in self.seen:
            text = mask(surface.text, self.typed)
            for needle, pattern in needles:
                if pattern.search(text):
                    found.append(f"{surface.where}: catalog English {needle!r} in {snippet(text, needle)!r}")
            for hit in words.finditer(text):
                found.append(f"{surface.where}: English {hit.group()!r} in {snippet(text, hit.group())!r}")
            for stored in self.data - DATA_NEUTRAL:
                if re.search(r"(?<!\w)" + re.escape(stored) + r"(?!\w)", text):
                    found.append(f"{surface.where}: English data {stored!r} in {snippet(text, stored)!r}")
        return sorted(set(found))


def snippet(text: str, needle: str) -> str:
    at = text.lower().find(needle.lower())
    return text[max(0, at - 40) : at + len(needle) + 40]


def mask(text: str, data: Iterable[str]) -> str:
    """The text without the glossary's kept terms and what people typed."""
    for term in (*KEPT_TERMS, *sorted(data, key=len, reverse=True)):
        text = re.sub(re.escape(term), " ", text, flags=re.IGNORECASE)
    return EMAIL.sub(" ", text)  # addresses are names (admin@..., billing@...)


@cache
def catalog_english(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    """The pieces of each msgid whose translation says something else, as whole-word patterns."""
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    pieces: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            if text in strings:
                continue  # the same in both languages on purpose (test_catalogs' cognates)
            for piece in re.split(r"\{\w*\}", str(text)):
                piece = piece.strip(" \n:;,.·—–-()#•?!/")
                if len(re.findall(r"[A-Za-z]", piece)) < MIN_LETTERS:
                    continue
                if piece not in CATALOG_ALLOWED and piece not in CATALOG_ALLOWED_IN[lang]:
                    pieces.add(piece)
    return [(p, re.compile(r"(?<!\w)" + re.escape(p) + r"(?!\w)")) for p in sorted(pieces)]


async def typed(dispatcher: Dispatcher) -> set[str]:
    """What customers and staff wrote: ticket subjects and messages."""
    async with dispatcher.db.uow() as uow:
        texts = set(await uow.session.scalars(select(Ticket.subject)))
        texts |= set(await uow.session.scalars(select(TicketMessage.body)))
    return {t for t in texts if t}


async def product_data(dispatcher: Dispatcher, lang: str) -> tuple[set[str], set[str]]:
    """The demo's product names as stored for the default language where ``lang`` has a name of its
    own, with the line texts of invoices issued in English (or before lines were written in the
    customer's language); and, to be read as data, the names and descriptions in ``lang``."""
    english: set[str] = set()
    own: set[str] = set()
    async with dispatcher.db.uow() as uow:
        for model in (Plan, Addon, MeteredProduct):
            for name, names, descriptions in await uow.session.execute(
                select(model.name, model.names, model.descriptions)
            ):
                if names.get(lang, name) != name:
                    english.add(name)
                own |= {names.get(lang, ""), descriptions.get(lang, "")}
        english |= set(
            await uow.session.scalars(
                select(InvoiceLine.description)
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .where(or_(Invoice.language == "en", Invoice.language.is_(None)))
            )
        )
    return {n for n in english if n}, {n for n in own if n}


# ---------------------------------------------------------------------------------------------
# The surfaces.

# Commands that end the conversation as it is driven here: run last.
LAST = ("unlink",)


async def converse(dispatcher: Dispatcher, chat: Chat, lang: str, found: Findings) -> None:
    """Every command under its name in ``lang``, then each button of its answer pressed once, and
    each button of that answer (two levels: lists, then one item, then its actions)."""
    await chat.say(f"/{dispatcher.registry.commands['language'].alias_for(lang)} {lang}")
    commands = sorted(dispatcher.registry.commands.values(), key=lambda c: (c.name in LAST, c.name))
    pressed: set[str] = set()
    for command in commands:
        # Alone, then (when it takes arguments) with the demo's first number: an order, invoice,
        # ticket or server of the demo, or another customer's, which must look missing.
        lines = [f"/{command.alias_for(lang)}"] + ([f"/{command.alias_for(lang)} 1"] if command.usage else [])
        for line in lines:
            reply = await chat.say(line)
            found.reply(line, reply)
            await press_all(chat, line, reply, found, pressed, depth=2)
            if reply.opens_form:
                await chat.say("/cancel")


async def press_all(
    chat: Chat, where: str, reply: Reply, found: Findings, pressed: set[str], depth: int
) -> None:
    for button in reply.all_buttons():
        if button.key is None or button.url or depth == 0:
            continue
        if (button.command or "").split(" ")[0] == "language":
            continue  # another language is not the one under test
        what = button.command or button.answer or button.label
        if what in pressed:
            continue
        pressed.add(what)
        answer = await chat.press_key(button.key)
        found.reply(f"{where} → {button.label}", answer)
        await press_all(chat, f"{where} → {button.label}", answer, found, pressed, depth - 1)
        if answer.opens_form:
            await chat.say("/cancel")


async def alerts(dispatcher: Dispatcher, found: Findings) -> None:
    """Every alert the demo calls for over the next weeks, and the kinds the bot sends when
    something happens (a payment, a closed ticket, an unpaid order's suspension and termination)."""
    settings, seller = dispatcher.settings, dispatcher.seller
    async with dispatcher.db.uow() as uow:
        customers = list(await uow.session.scalars(select(Customer).order_by(Customer.id)))
        now = clock.now()
        for days in (0, 3, 10, 20, 35, 50):
            with clock.frozen(now + dt.timedelta(days=days)):
                ids = [c.id for c in customers]
                for finding in await finders.find(uow, ids, settings, seller):
                    customer = next(c for c in customers if c.id == finding.customer_id)
                    alert = Alert(kind=finding.kind, params=finding.params, customer_id=customer.id)
                    await compose_alert(uow, alert, customer, dispatcher, found, f"+{days}d")
        customer = customers[0]
        invoice = await uow.session.scalar(select(Invoice).where(Invoice.customer_id == customer.id))
        ticket = await uow.session.scalar(select(Ticket).where(Ticket.customer_id == customer.id))
        order = await uow.session.scalar(
            select(Order).where(Order.customer_id == customer.id, Order.status == "active")
        )
        assert invoice is not None and ticket is not None and order is not None
        made = [
            Alert(kind=kind, params={"invoice": invoice.id, "amount": 1234, "currency": customer.currency})
            for kind in ("invoice_paid", "payment_credited")
        ]
        ticket.status = "closed"
        made.append(Alert(kind="ticket", params={"ticket": ticket.id, "closed": True}))
        due = order.period_end.isoformat()
        made += [
            Alert(kind=service_lifecycle.KIND, params={"step": step, "order": order.id, "due": due})
            for step in ("suspend", "terminate")
        ]
        for alert in made:
            await compose_alert(uow, alert, customer, dispatcher, found, "event")
        for status in ("suspended", "terminated"):
            order.status = status
            alert = Alert(kind=service_lifecycle.KIND, params={"step": status, "order": order.id, "due": due})
            await compose_alert(uow, alert, customer, dispatcher, found, "event")
        await uow.session.rollback()


async def compose_alert(
    uow: UnitOfWork, alert: Alert, customer: Customer, dispatcher: Dispatcher, found: Findings, when: str
) -> None:
    with use_locale(found.lang):
        for personal in (True, False):
            draft = await alert_messages.compose(
                uow, alert, customer, dispatcher.settings, dispatcher.seller, personal
            )
            if draft is None:
                continue
            found.reply(f"alert {alert.kind} {alert.params} {when}", draft.personal())
            found.add(f"alert {alert.kind} (shared) {when}", draft.shared())


async def mails(dispatcher: Dispatcher, found: Findings) -> None:
    """A mail of every kind the outbox sends."""
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        invoice = await uow.session.scalar(
            select(Invoice).where(Invoice.customer_id == 1, Invoice.status == "unpaid")
        )
        assert customer is not None and invoice is not None
        kinds = {
            "ticket": {
                "ticket": 1,
                "department": "technical",
                "importance": "regular",
                "subject": "web-1",
                "body": "…",
                "order": 1,
            },
            "ticket_reply": {"ticket": 1, "subject": "web-1", "body": "…"},
            "link_code": {"platform": "telegram", "code": "123456"},
            "invoice": {"invoice": invoice.id},
        }
        made = list(kinds.items())
        for purpose in mail_compose.PURPOSES:
            made.append(("mailbox_code", {"purpose": purpose, "code": "123456"}))
            for email in ("compta@example.com", ""):
                made.append(("mailbox_changed", {"purpose": purpose, "email": email}))
        for role in mail_compose.ROLES:
            made.append(("chat_linked", {"platform": "telegram", "role": role, "email": customer.email}))
        for paid in (True, False):
            made.append(
                (
                    "receipt",
                    {"invoice": invoice.id, "amount": 1234, "currency": customer.currency, "paid": paid},
                )
            )
        for i, (kind, params) in enumerate(made):
            mail = Mail(
                key=f"lang-{i}",
                message_id=f"lang-{i}",
                customer_id=customer.id,
                kind=kind,
                to_addr=customer.email,
                language=found.lang,
                params=params,
                created_at=clock.now(),
            )
            sent = await mail_compose.compose(uow, mail, dispatcher.settings, dispatcher.documents)
            assert sent is not None, kind
            found.add(f"mail {kind} subject", sent.subject)
            found.add(f"mail {kind}", sent.text)
            found.add(f"mail {kind} html", page_text(sent.html))
        await uow.session.rollback()


def page_text(markup: str) -> str:
    return html.unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", markup, flags=re.S))
    )


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def pay_page_and_pdf(dispatcher: Dispatcher, found: Findings) -> None:
    async with dispatcher.db.uow() as uow:
        for customer in await uow.session.scalars(select(Customer)):
            customer.language = found.lang
        await uow.commit()
        unpaid = list(await uow.session.scalars(select(Invoice.id).where(Invoice.status == "unpaid")))
        paid = await uow.session.scalar(select(Invoice).where(Invoice.status == "paid"))
        assert paid is not None
        with use_locale(found.lang):
            found.add("invoice PDF", pdf_text(invoice_pdf(paid)))
    async with pay_site(dispatcher) as site:
        for invoice_id in unpaid[:3]:
            page = await site.client.get(site.path(await site.link(invoice_id)))
            assert page.status == 200
            found.add(f"pay page {invoice_id}", page_text(await page.text()))


@pytest.fixture
async def dispatcher(
    db: Database, settings: Settings, mailer: LogMailer, commands: Registry, request: pytest.FixtureRequest
) -> Dispatcher:
    """The demo with its customers writing in the language under test from the start, so that their
    invoices were issued in it (an issued invoice keeps the language it was written in)."""
    callspec = getattr(request.node, "callspec", None)
    language = callspec.params.get("lang") if callspec else None
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer, commands=commands)
    async with db.uow() as uow:
        await demo.seed(uow, dispatcher.seller, with_traffic=False, language=language)
    return dispatcher


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_english_reaches_the_customer(
    dispatcher: Dispatcher, alice: Chat, budi: Chat, lang: str
) -> None:
    english, own = await product_data(dispatcher, lang)
    found = Findings(lang, data=english, typed=await typed(dispatcher) | own)
    for menu in bot_commands(dispatcher.registry, lang):
        found.add(f"menu /{menu.command}", menu.description)
    await converse(dispatcher, budi, lang, found)
    await alerts(dispatcher, found)
    await mails(dispatcher, found)
    await pay_page_and_pdf(dispatcher, found)
    await converse(dispatcher, alice, lang, found)
    assert len(found.seen) > 200  # the drive really went through the bot
    leaks = found.leaks()
    assert not leaks, f"{len(leaks)} English texts in {lang}:\n" + "\n".join(leaks)


def test_the_mailbox_keywords_shown_are_understood() -> None:
    """The keywords each language's help shows for ``mailboxes`` are among those it accepts."""
    for lang, shown in mailboxes.SHOWN.items():
        assert keyword([shown["add"]], mailboxes.ACTION_WORDS, "") == "add", lang
        assert keyword([shown["remove"]], mailboxes.ACTION_WORDS, "") == "remove", lang
        for purpose in mailboxes.PURPOSE_WORDS:
            assert keyword([shown[purpose]], mailboxes.PURPOSE_WORDS, "") == purpose, lang


async def test_ticket_times_are_in_the_customers_zone(dispatcher: Dispatcher, budi: Chat) -> None:
    """Budi's account is in Jakarta: the ticket's messages show Jakarta time, in Indonesian."""
    await budi.say("/bahasa id")
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket).where(Ticket.customer_id == 2).order_by(Ticket.id))
        assert ticket is not None
        first = (
            await uow.session.scalars(
                select(TicketMessage.created_at)
                .where(TicketMessage.ticket_id == ticket.id)
                .order_by(TicketMessage.id)
            )
        ).first()
    assert first is not None
    shown = await budi.say(f"/lihattiket {ticket.id}")
    with use_locale("id"):
        assert formatting.datetime(first, "Asia/Jakarta") in shown.text
        assert formatting.datetime(first, "UTC") not in shown.text  # seven hours apart


@pytest.mark.parametrize(
    ("lang", "line", "times"),
    [
        ("fr", "/alertes silence 22:00 07:00", "22:00–07:00"),
        ("id", "/peringatan tenang 22.00 07.00", "22.00–07.00"),
        ("tr", "/uyarılar sessiz 22:00 07:00", "22:00–07:00"),
    ],
)
async def test_quiet_hours_in_the_locales_time_and_zone_names(
    budi: Chat, lang: str, line: str, times: str
) -> None:
    """Times as the language writes them (Indonesian 22.00, also understood when typed) and the time
    zone by its name in that language ("Waktu Indonesia (Jakarta)"), never its IANA id."""
    await budi.say(f"/language {lang}")
    said = (await budi.say(line)).text
    with use_locale(lang):
        zone = formatting.zone("Asia/Jakarta")
    assert f"{times} ({zone})" in said, said
    assert "akarta" in zone and "Asia/Jakarta" not in said  # Cakarta in Turkish

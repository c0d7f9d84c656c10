"""Product names and invoice lines in the customer's language, on SQLite and PostgreSQL: a French,
Indonesian or Turkish customer reads them so in a chat reply, on the pay page, in the PDF, in an
alert and in a mail; an issued invoice keeps the language it was written in; a missing name falls
back to the default one."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.alerts import messages
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from bot.mail.compose import compose
from services import mail_outbox
from services.backoffice import catalogue
from storage.models import Alert, Customer, Invoice, Order, Plan
from tests.support.chat import Chat
from tests.support.paysite import pay_site

# The demo's names for the Growth subscription and its extra storage, and the English ones.
GROWTH = {"fr": "Croissance", "id": "Berkembang", "tr": "Büyüme"}
STORAGE = {
    "fr": "Stockage supplémentaire 100 Go",
    "id": "Penyimpanan tambahan 100 GB",
    "tr": "Ek depolama 100 GB",
}
ENGLISH = ("Growth", "Extra storage", "Platform charge", "Payment processing fee", "Premium")
ENTERPRISE = {"fr": "Entreprise", "id": "Perusahaan", "tr": "Kurumsal"}


async def _growth(dispatcher: Dispatcher, customer_id: int) -> Order:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(
            select(Order).join(Plan).where(Order.customer_id == customer_id, Plan.code == "growth")
        )
        assert found is not None
        return found


async def _issue(chat: Chat, order_id: int, lang: str) -> Invoice:
    """The next period of the order, invoiced through the chat."""
    shown = await chat.say(f"extend {order_id}")
    with use_locale(lang):
        await chat.press(_("Create invoice"), shown)
    async with chat.dispatcher.db.uow() as uow:
        inv = await uow.session.scalar(select(Invoice).order_by(Invoice.id.desc()).limit(1))
        assert inv is not None and inv.order_id == order_id
        return inv


def _lines(lang: str, order_id: int) -> list[str]:
    """The growth renewal's line texts as the catalogs and the demo's names write them in ``lang``."""
    with use_locale(lang):
        return [
            _("Platform charge: {name}").format(name=f"{GROWTH[lang]} #{order_id}"),
            STORAGE[lang],
            _("Payment processing fee"),
        ]


def _spaced(text: str) -> str:
    """No-break spaces as plain ones: the PDF's text comes back without them."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return _spaced(" ".join(page.extract_text() for page in reader.pages).replace("\n", " "))


@pytest.mark.parametrize("lang", ["fr", "id", "tr"])
async def test_names_and_lines_in_the_customers_language_everywhere(
    dispatcher: Dispatcher, lang: str
) -> None:
    jan = await Chat.linked(dispatcher, "jan", customer_id=4)
    await jan.say(f"language {lang}")  # the owner's choice becomes the account's
    order = await _growth(dispatcher, 4)

    listed = (await jan.say("orders")).text
    assert GROWTH[lang] in listed and "Growth" not in listed
    # A plan is found by the name the customer reads (the change is only shown, not confirmed).
    change = (await jan.say(f"plan {ENTERPRISE[lang].lower()}")).text
    assert ENTERPRISE[lang] in change and GROWTH[lang] in change and "Enterprise" not in change, change

    inv = await _issue(jan, order.id, lang)
    wanted = _lines(lang, order.id)
    assert inv.language == lang
    assert [line.description for line in inv.lines] == wanted
    for english in ENGLISH:
        assert all(english not in line.description for line in inv.lines), english

    # A chat reply.
    shown = (await jan.say(f"invoice {inv.id}")).text
    assert all(text in shown for text in wanted), shown

    # The PDF.
    with use_locale(lang):
        pdf = _pdf_text(dispatcher.documents.invoice_pdf(inv))
    assert all(_spaced(text) in pdf for text in wanted), pdf

    # The pay page, in the account's language.
    async with pay_site(dispatcher, with_stripe=False) as site:
        page = await site.client.get(site.path(await site.link(inv.id)))
        html = await page.text()
    assert page.status == 200 and f'lang="{lang}"' in html
    assert all(text in html for text in wanted)

    # The invoice's mail.
    async with dispatcher.db.uow() as uow:
        row = await mail_outbox.by_key(uow, f"invoice:{inv.id}")
        assert row is not None and row.language == lang
        mail = await compose(uow, row, dispatcher.settings, dispatcher.documents)
    assert mail is not None
    assert all(text in mail.text for text in wanted), mail.text

    # An alert: the renewal reminder names the subscription.
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 4)
        assert customer is not None
        alert = Alert(
            kind="renewal", params={"item": "order", "id": order.id, "due": order.period_end.isoformat()}
        )
        draft = await messages.compose(uow, alert, customer, dispatcher.settings, dispatcher.seller)
    assert draft is not None
    with use_locale(lang):
        said = draft.personal().text
    assert GROWTH[lang] in said and "Growth" not in said


async def test_an_issued_invoice_keeps_its_language(dispatcher: Dispatcher) -> None:
    jan = await Chat.linked(dispatcher, "jan", customer_id=4)
    await jan.say("langue fr")
    order = await _growth(dispatcher, 4)
    inv = await _issue(jan, order.id, "fr")
    french = _lines("fr", order.id)

    await jan.say("dil tr")
    shown = (await jan.say(f"fatura {inv.id}")).text
    assert all(text in shown for text in french), shown
    assert GROWTH["tr"] not in shown
    with use_locale("tr"):
        assert _("Subtotal: {amount}").split(":")[0] in shown  # the chat itself speaks Turkish
        pdf = _pdf_text(dispatcher.documents.invoice_pdf(inv))
    assert all(_spaced(text) in pdf for text in french)
    async with dispatcher.db.uow() as uow:
        again = await uow.session.get(Invoice, inv.id)
        assert again is not None and again.language == "fr"
        assert [line.description for line in again.lines] == french
    # Lines issued now are Turkish.
    mail_order = await _mail_order(dispatcher, 4)
    later = await _issue(jan, mail_order, "tr")
    assert later.language == "tr" and "Messagerie" not in later.lines[0].description


async def _mail_order(dispatcher: Dispatcher, customer_id: int) -> int:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(
            select(Order.id).join(Plan).where(Order.customer_id == customer_id, Plan.code == "mail-business")
        )
        assert found is not None
        return found


async def test_a_missing_name_falls_back_to_the_default_one(dispatcher: Dispatcher) -> None:
    """The provider names Growth in French only: an Indonesian customer reads its default name, and
    the English description where there is no Indonesian one."""
    async with dispatcher.db.uow() as uow:
        doc = await catalogue.plan(uow, "growth")
        await catalogue.put_plan(
            uow,
            doc.model_copy(
                update={"names": {"fr": "Croissance"}, "descriptions": {"en": "For a growing team"}}
            ),
            "test",
        )
        await uow.commit()
    budi = await Chat.linked(dispatcher, "budi", customer_id=2)
    await budi.say("bahasa id")
    listed = (await budi.say("orders")).text
    assert "Growth" in listed and "Berkembang" not in listed
    options = (await budi.say("plan")).text
    assert "For a growing team" in options, options
    order = await _growth(dispatcher, 2)
    inv = await _issue(budi, order.id, "id")
    with use_locale("id"):
        assert inv.lines[0].description == _("Platform charge: {name}").format(name=f"Growth #{order.id}")

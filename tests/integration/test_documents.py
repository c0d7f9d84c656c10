"""Invoice PDFs read back as text in every language, and the pay link's QR code, through the chat."""

from __future__ import annotations

import io
import struct

import pytest
from pypdf import PdfReader

from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import invoices
from services.invoices import LineSpec
from services.money import Money
from storage.models import Customer, Invoice
from tests.support.chat import Chat

# Labels as each language prints them (the catalogs' translations).
LABELS = {
    "en": ("Invoice", "Issue date", "Date of supply", "Unit price excl. VAT", "Seller", "Total"),
    "fr": (
        "Facture",
        "Date d’émission",
        "Date de la prestation",
        "Prix unitaire HT",
        "Fournisseur",
        "Total TTC",
    ),
    "id": (
        "Faktur",
        "Tanggal terbit",
        "Tanggal penyerahan jasa",
        "Harga satuan tanpa PPN",
        "Penjual",
        "Total",
    ),
    "tr": ("Fatura", "Düzenleme tarihi", "Hizmet tarihi", "KDV hariç birim fiyat", "Satıcı", "Toplam"),
}
VAT_LINE = {"en": "VAT at {rate}", "fr": "TVA à {rate}", "id": "PPN {rate}", "tr": "KDV {rate}"}
NETHERLANDS = {"en": "Netherlands", "fr": "Pays-Bas", "id": "Belanda", "tr": "Hollanda"}


@pytest.fixture
async def jan(dispatcher: Dispatcher) -> Chat:
    """Owner of customer 4 (Jan de Vries, Dutch consumer, EUR, 21 % VAT)."""
    return await Chat.linked(dispatcher, "jan", customer_id=4)


async def _invoice(dispatcher: Dispatcher, invoice_id: int) -> Invoice:
    async with dispatcher.db.uow() as uow:
        inv = await uow.session.get(Invoice, invoice_id)
        assert inv is not None
        return inv


def _text(data: bytes) -> str:
    """The text of every page; lines joined with spaces, as table cells wrap long labels."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages).replace("\n", " ")


async def _pdf(chat: Chat, line: str) -> tuple[str, str]:
    reply = await chat.say(line)
    assert len(reply.attachments) == 1, reply.text
    doc = reply.attachments[0]
    assert doc.content_type == "application/pdf" and doc.data.startswith(b"%PDF-")
    return doc.filename, _text(doc.data)


@pytest.mark.parametrize("lang", ["en", "fr", "id", "tr"])
async def test_paid_invoice_pdf_in_each_language(dispatcher: Dispatcher, jan: Chat, lang: str) -> None:
    await jan.say(f"language {lang}")
    inv = await _invoice(dispatcher, 11)  # the last period, paid
    assert inv.status == "paid" and inv.vat_minor > 0
    filename, text = await _pdf(jan, "invoice 11 pdf")
    assert filename == f"{inv.number}.pdf"
    with use_locale(lang):
        expected = [
            inv.number,
            formatting.money(Money(inv.subtotal_minor, "EUR")),
            formatting.money(Money(inv.vat_minor, "EUR")),
            formatting.money(Money(inv.total_minor, "EUR")),
            formatting.date(inv.issue_date),
            VAT_LINE[lang].format(rate=formatting.percent(inv.vat_rate)),
        ]
    for wanted in (*expected, *LABELS[lang], NETHERLANDS[lang], "Jan de Vries", "NL004495445B01"):
        assert wanted in text, (lang, wanted)
    assert inv.lines[0].description in text


async def test_reverse_charge_pdf_names_both_vat_ids(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("langue fr")
    inv = await _invoice(dispatcher, 2)
    _name, text = await _pdf(alice, "facture 2 pdf")
    assert "Autoliquidation" in text and "article 196" in text
    assert "FR40303265045" in text and "NL004495445B01" in text
    assert "Atelier Lumière SARL" in text and "12 rue des Lilas" in text
    with use_locale("fr"):
        assert f"TVA à {formatting.percent(inv.vat_rate)}" in text


async def test_turkish_characters_survive(dispatcher: Dispatcher) -> None:
    chat = await Chat.linked(dispatcher, "ayse", customer_id=3)
    await chat.say("dil tr")
    _name, text = await _pdf(chat, "fatura 8 pdf")
    for wanted in ("Yıldız Yazılım A.Ş.", "Büyükdere Cad. No: 120", "İstanbul", "Düzenleme tarihi", "Satıcı"):
        assert wanted in text


async def test_quote_pdf(dispatcher: Dispatcher, jan: Chat) -> None:
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 4)
        assert customer is not None
        quote = await invoices.create(
            uow, customer, [LineSpec("Dedicated E3", 8900, quantity=2)], dispatcher.seller, None, "quote"
        )
        await uow.commit()
    await jan.say("language fr")
    name, text = await _pdf(jan, f"invoice {quote.id} pdf")
    assert name == f"{quote.number}.pdf" and quote.number.startswith("Q")
    assert "Devis" in text and "Numéro de devis" in text and "Valable jusqu’au" in text
    with use_locale("fr"):
        assert formatting.money(Money(17800, "EUR")) in text  # 2 × 89,00 € before VAT


async def test_no_pdf_before_payment_and_none_of_others(jan: Chat) -> None:
    unpaid = await jan.say("invoice 12 pdf")
    assert unpaid.attachments == [] and "once it is paid" in unpaid.text
    other = await jan.say("invoice 2 pdf")  # Atelier Lumière's
    assert other.attachments == [] and "Not found" in other.text


async def test_paid_invoice_offers_the_pdf_button(jan: Chat) -> None:
    shown = await jan.say("invoice 11")
    reply = await jan.press("PDF", shown)
    assert reply.attachments[0].filename.endswith(".pdf")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_pay_link_as_qr_code(jan: Chat) -> None:
    plain = await jan.say("pay 12")
    assert plain.attachments == []
    reply = await jan.press("QR code", plain)
    url = jan.button("Open payment page", reply).url
    assert url is not None and url in reply.text
    assert len(reply.attachments) == 1
    qr = reply.attachments[0]
    assert qr.content_type == "image/png" and qr.filename.endswith(".png")
    width, height = _png_size(qr.data)
    # Version 4+ symbol (33+ modules) plus the 4-module quiet zone, 8 px a module.
    assert width == height and width % 8 == 0 and width // 8 >= 33 + 8
    typed = await jan.say("pay 12 qr")
    assert typed.attachments and typed.attachments[0].content_type == "image/png"

"""The invoice PDF keeps every text inside its column: nine-digit rupiah amounts and long
Indonesian labels and addresses neither overlap their neighbours nor run off the page."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from bot.core import formatting
from bot.core.i18n import use_locale
from bot.documents.invoice_pdf import FONTS, invoice_pdf
from storage.models import Invoice, InvoiceLine

MARGIN_PT = 18 * 72 / 25.4  # the PDF's page margin, in points
SLACK_PT = 0.5  # rounding of positions written to the PDF


def _invoice() -> Invoice:
    """An IDR invoice of 123,456,789 Rp (plus VAT) for a long-named Jakarta business."""
    day = dt.date(2026, 11, 1)
    return Invoice(
        kind="invoice",
        number="HB2026-00042",
        status="unpaid",
        currency="IDR",
        issue_date=day,
        supply_date=day,
        due_date=dt.date(2026, 11, 15),
        subtotal_minor=12_345_678_900,
        vat_rate=Decimal("11"),
        vat_minor=1_358_024_679,
        total_minor=13_703_703_579,
        reverse_charge=False,
        buyer={
            "name": "PT Maju Jaya Sejahtera Abadi Nusantara Teknologi Informasi",
            "address": "Jalan Jenderal Sudirman Kavling 52-53, Gedung Sentral Senayan III Lantai 17",
            "postal_code": "12190",
            "city": "Jakarta Selatan",
            "country": "ID",
            "vat_id": "01.234.567.8-901.000",
        },
        seller={
            "name": "Hostbot SAS",
            "address": "1 rue de la Paix",
            "postal_code": "75002",
            "city": "Paris",
            "country": "FR",
            "vat_id": "FR12345678901",
        },
        lines=[
            InvoiceLine(
                description="Perpanjangan langganan server virtual pribadi dengan dukungan prioritas 24 jam",
                quantity=1,
                unit_minor=12_345_678_900,
                amount_minor=12_345_678_900,
                period_start=day,
                period_end=dt.date(2027, 10, 31),
            ),
            InvoiceLine(
                description="Biaya pemrosesan pembayaran",
                quantity=12,
                unit_minor=1_000_000,
                amount_minor=12_000_000,
            ),
        ],
    )


def _runs(data: bytes) -> tuple[float, list[tuple[float, float, float, str]]]:
    """The page width and each text run as (x, y, width, text), widths measured with the embedded
    font at the run's size (points)."""
    meter = FPDF(unit="pt")
    meter.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    meter.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    page = PdfReader(io.BytesIO(data)).pages[0]
    runs: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: dict[str, str] | None, size: float) -> None:
        if not text.strip():
            return
        meter.set_font("DejaVu", "B" if font and "Bold" in font.get("/BaseFont", "") else "", size)
        # pypdf puts a space before a run that starts apart from the previous one: not drawn.
        text = text.strip()
        runs.append((tm[4] + cm[4], tm[5] + cm[5], meter.get_string_width(text), text))

    page.extract_text(visitor_text=visit)
    return float(page.mediabox.width), runs


@pytest.mark.parametrize("lang", ["en", "fr", "id", "tr"])
def test_nine_digit_rupiah_and_long_labels_fit(lang: str) -> None:
    with use_locale(lang):
        data = invoice_pdf(_invoice())
        amounts = [formatting.amount(m, "IDR") for m in (12_345_678_900, 1_358_024_679, 13_703_703_579)]
    width, runs = _runs(data)
    texts = [text for _x, _y, _w, text in runs]
    for shown in amounts:  # each amount whole on one line, never broken inside
        assert shown in texts, (shown, texts)
    lines: dict[float, list[tuple[float, float, str]]] = defaultdict(list)
    for x, y, w, text in runs:
        assert x >= MARGIN_PT - SLACK_PT and x + w <= width - MARGIN_PT + SLACK_PT, f"clipped: {text!r}"
        lines[round(y)].append((x, w, text))
    for row in lines.values():
        row.sort()
        for (x, w, text), (next_x, _w, next_text) in itertools.pairwise(row):
            assert x + w <= next_x + SLACK_PT, f"{text!r} runs into {next_text!r}"

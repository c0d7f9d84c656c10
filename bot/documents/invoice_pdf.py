"""The invoice (or quote) as a PDF in the current language, with every field an EU invoice needs.

Council Directive 2006/112/EC, Article 226: issue date, sequential number, both parties' names,
addresses and VAT ids, nature and quantity of the services and their period, date of supply,
unit price and taxable amount per rate, the rate, the VAT amount, the total, and the reverse-charge
mention. DejaVu Sans is embedded (and subset), so ç, ğ, İ, ş and the narrow no-break spaces of
French amounts print and can be copied back out.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from babel import Locale
from fpdf import FPDF, FontFace
from fpdf.enums import Align, XPos, YPos

from bot.core import formatting
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from services.records import Invoice, InvoiceLine

# fpdf's font subsetting logs a dozen INFO lines per PDF (tables pruned, dropped): not ours to tell.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
GREY = (90, 90, 90)
PADDING = 1.5  # mm inside each table cell, on either side
GAP = 4  # mm between a label and its value, and between the two parties


def invoice_pdf(inv: Invoice) -> bytes:
    quote = inv.kind == "quote"
    title = _("Quote") if quote else _("Credit note") if inv.kind == "credit" else _("Invoice")
    pdf = FPDF(format="A4")
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_lang(current())
    pdf.set_title(f"{title} {inv.number}")
    pdf.set_author(str(inv.seller.get("name", "")))
    pdf.set_creator("hostbot")
    pdf.set_margins(18, 18, 18)
    pdf.add_page()

    pdf.set_font(FAMILY, "B", 20)
    pdf.cell(0, 10, f"{title} {inv.number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _parties(pdf, inv)
    pdf.ln(6)
    _facts(pdf, inv, quote)
    pdf.ln(6)
    _lines(pdf, inv)
    pdf.ln(4)
    _totals(pdf, inv)
    pdf.ln(6)
    pdf.set_font(FAMILY, "", 9)
    if inv.reverse_charge:
        pdf.multi_cell(
            0,
            5,
            _(
                "Reverse charge: VAT to be accounted for by the customer "
                "(Article 196, Council Directive 2006/112/EC)."
            ),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    if inv.status == "paid" and inv.paid_at is not None:
        pdf.multi_cell(
            0,
            5,
            _("Paid on {date}. Thank you!").format(date=formatting.date(inv.paid_at.date())),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    return bytes(pdf.output())


def _country(code: str) -> str:
    return str(Locale.parse(current()).territories.get(code.upper(), code))


def _party(heading: str, party: dict[str, Any]) -> list[str]:
    place = " ".join(p for p in (party.get("postal_code", ""), party.get("city", "")) if p)
    lines = [heading, str(party.get("name", "")), str(party.get("address", "")), place]
    lines.append(_country(str(party.get("country", ""))))
    if party.get("vat_id"):
        lines.append(_("VAT ID: {vat_id}").format(vat_id=party["vat_id"]))
    return [line for line in lines if line]


def _parties(pdf: FPDF, inv: Invoice) -> None:
    seller = _party(_("Seller"), inv.seller)
    buyer = _party(_("Customer"), inv.buyer)
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = bottom = pdf.get_y()
    for column, lines in enumerate((seller, buyer)):
        pdf.set_xy(pdf.l_margin + column * half, top)
        for i, line in enumerate(lines):
            pdf.set_font(FAMILY, "B" if i < 2 else "", 10)
            pdf.set_text_color(*(GREY if i == 0 else (0, 0, 0)))
            # A long name or address wraps inside its half rather than running into the other.
            pdf.multi_cell(half - GAP, 5, line, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = max(bottom, pdf.get_y())
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, bottom)


def _facts(pdf: FPDF, inv: Invoice, quote: bool) -> None:
    facts = [
        (_("Quote number") if quote else _("Invoice number"), inv.number),
        (_("Issue date"), formatting.date(inv.issue_date)),
        (_("Date of supply"), formatting.date(inv.supply_date)),
        (_("Valid until") if quote else _("Due date"), formatting.date(inv.due_date)),
    ]
    pdf.set_font(FAMILY, "", 10)
    label_width = max(pdf.get_string_width(name) for name, _value in facts) + GAP
    for name, value in facts:
        pdf.set_font(FAMILY, "", 10)
        pdf.set_text_color(*GREY)
        pdf.cell(label_width, 6, name)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FAMILY, "B", 10)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _period(line: InvoiceLine) -> str:
    if line.period_start and line.period_end:
        return f"{formatting.date(line.period_start)} – {formatting.date(line.period_end)}"
    return ""


def _lines(pdf: FPDF, inv: Invoice) -> None:
    def money(minor: int) -> str:
        return formatting.amount(minor, inv.currency)

    headings = [_("Description"), _("Period"), _("Qty"), _("Unit price excl. VAT"), _("Amount excl. VAT")]
    rows = [
        [
            line.description,
            _period(line),
            str(line.quantity),
            money(line.unit_minor),
            money(line.amount_minor),
        ]
        for line in inv.lines
    ]
    pdf.set_font(FAMILY, "", 9)
    heading = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=_column_widths(pdf, headings, rows),
        text_align=(Align.L, Align.L, Align.R, Align.R, Align.R),
        headings_style=heading,
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=PADDING,
    ) as table:
        table.row(headings)
        for row in rows:
            table.row(row)


def _column_widths(pdf: FPDF, headings: list[str], rows: list[list[str]]) -> tuple[float, ...]:
    """Widths in mm that fit what the columns hold: quantities and amounts on one line (a
    nine-digit rupiah amount included), headings wrapped between words but never inside one, the
    period on one line when the page allows, and the rest for the description."""

    def widest(texts: list[str], bold: bool = False) -> float:
        pdf.set_font(FAMILY, "B" if bold else "", 9)
        found = max((pdf.get_string_width(t) for t in texts), default=0.0)
        pdf.set_font(FAMILY, "", 9)
        return found + 2 * PADDING + 0.5

    def column(i: int) -> list[str]:
        return [row[i] for row in rows]

    def heading_words(i: int) -> list[str]:
        return headings[i].split()

    fixed = [
        max(widest(column(i)), widest(heading_words(i), bold=True)) for i in (2, 3, 4)
    ]  # quantity, unit price, amount: never wrapped
    room = pdf.w - pdf.l_margin - pdf.r_margin - sum(fixed)
    period = max(widest(column(1)), widest(heading_words(1), bold=True))
    words = max(widest(heading_words(0), bold=True), widest([w for t in column(0) for w in t.split()]))
    period = min(period, max(room - max(words, room / 2), widest(heading_words(1), bold=True)))
    return (room - period, period, *fixed)


def _totals(pdf: FPDF, inv: Invoice) -> None:
    def money(minor: int) -> str:
        return formatting.amount(minor, inv.currency)

    rate = formatting.percent(inv.vat_rate)
    rows = [
        (_("Taxable amount at {rate}").format(rate=rate), money(inv.subtotal_minor), ""),
        (_("VAT at {rate}").format(rate=rate), money(inv.vat_minor), ""),
        (_("Total"), money(inv.total_minor), "B"),
    ]
    pdf.set_font(FAMILY, "B", 11)
    label_width = max(pdf.get_string_width(name) for name, _value, _style in rows) + GAP
    value_width = max(pdf.get_string_width(value) for _name, value, _style in rows) + GAP
    for name, value, style in rows:
        pdf.set_font(FAMILY, style, 11 if style else 10)
        pdf.set_x(pdf.w - pdf.r_margin - label_width - value_width)
        pdf.cell(label_width, 6, name, align=Align.R)
        pdf.cell(value_width, 6, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

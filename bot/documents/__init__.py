"""Documents a handler can attach to a reply: invoice PDFs, QR codes and traffic charts."""

from __future__ import annotations

from bot.documents.invoice_pdf import invoice_pdf
from bot.documents.qr import qr_png
from bot.documents.traffic_chart import traffic_png
from services.records import Invoice
from services.traffic import History


class Renderer:
    """The renderer the composition root injects (bot.core.documents.DocumentRenderer)."""

    def invoice_pdf(self, inv: Invoice) -> bytes:
        return invoice_pdf(inv)

    def qr_png(self, url: str) -> bytes:
        return qr_png(url)

    def traffic_png(self, history: History, title: str, tz: str) -> bytes:
        return traffic_png(history, title, tz)

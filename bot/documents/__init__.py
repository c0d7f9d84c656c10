"""Documents a handler can attach to a reply: invoice PDFs, QR codes and traffic charts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.records import Invoice
    from services.traffic import History


class Renderer:
    """The renderer the composition root injects (bot.core.documents.DocumentRenderer). The PDF,
    QR and chart libraries are imported at the first document, not at start-up."""

    def invoice_pdf(self, inv: Invoice) -> bytes:
        from bot.documents.invoice_pdf import invoice_pdf

        return invoice_pdf(inv)

    def qr_png(self, url: str) -> bytes:
        from bot.documents.qr import qr_png

        return qr_png(url)

    def traffic_png(self, history: History, title: str, tz: str) -> bytes:
        from bot.documents.traffic_chart import traffic_png

        return traffic_png(history, title, tz)

"""What a handler needs to attach a document to its reply, as an interface: the PDF and QR renderers
(bot.documents) sit beside the handlers, not under them, so the composition root hands one in."""

from __future__ import annotations

from typing import Protocol

from services.records import Invoice
from services.traffic import History


class DocumentRenderer(Protocol):
    def invoice_pdf(self, inv: Invoice) -> bytes:
        """The invoice (or quote) as a PDF in the current language."""
        ...

    def qr_png(self, url: str) -> bytes:
        """A QR code of ``url`` as a PNG."""
        ...

    def traffic_png(self, history: History, title: str, tz: str) -> bytes:
        """A chart of a server's traffic as a PNG in the current language, dates in the time zone
        ``tz``. Slow (a tenth of a second or more) and thread-safe: call it off the event loop."""
        ...

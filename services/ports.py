"""Interfaces to outside systems, each with a default driver that needs no configuration."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from storage.models import Invoice, Server

log = logging.getLogger("hostbot.mail")
notices = logging.getLogger("hostbot.notices")


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class LogMailer:
    """Default mail driver: writes the message to the log instead of an SMTP server."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))
        log.info("mail to %s: %s", to, subject)


class ServerDriver(Protocol):
    async def power_cycle(self, server: Server) -> None: ...


class InventoryDriver:
    """Default server driver: the provider's own inventory in the database is the machine."""

    async def power_cycle(self, server: Server) -> None:
        server.power_state = "running"


class Notifier(Protocol):
    """Tells a customer something in chat, on every chat linked to the account.

    The text is already in the customer's language; the chat adapters deliver it.
    """

    async def notify(self, customer_id: int, text: str) -> None: ...


class LogNotifier:
    """Default notifier until an adapter is wired in: keeps and logs what it would have said."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def notify(self, customer_id: int, text: str) -> None:
        self.sent.append((customer_id, text))
        notices.info("notice to customer %s: %s", customer_id, text)


@dataclass(frozen=True)
class PaymentEvent:
    """What a payment provider reported, in its neutral form.

    ``kind``: ``succeeded`` (money is in), ``pending`` (completed but not yet settled), ``failed``,
    ``expired`` or ``other``. ``attempt`` is the provider's id for one checkout: one payment each.
    """

    id: str
    kind: str
    attempt: str
    invoice_id: int | None
    amount_minor: int
    currency: str


class InvalidEvent(Exception):
    """A webhook whose signature, timestamp or body does not check out."""


class CardCheckout(Protocol):
    """A hosted card payment page (Stripe Checkout) and the signed events it sends back."""

    async def start(self, invoice: Invoice, title: str, success_url: str, cancel_url: str, lang: str) -> str:
        """Open a checkout for the invoice's total; returns the URL to send the payer to."""
        ...

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """The event if its signature is valid and fresh, else ``InvalidEvent``."""
        ...

    async def close(self) -> None: ...

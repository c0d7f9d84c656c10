"""Interfaces to outside systems, each with a default driver that needs no configuration."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from services.money import Money
from storage.models import Invoice, Server
from storage.uow import UnitOfWork

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


@dataclass(frozen=True)
class PaymentNotice:
    """A payment landed: ``paid`` says it paid the invoice; otherwise the invoice could not take it
    (already paid, cancelled, another amount) and ``amount`` went to the balance. ``event_id`` is the
    provider's event, which tells two such credits for one invoice apart."""

    customer_id: int
    invoice_id: int
    paid: bool
    amount: Money
    event_id: str


class Notifier(Protocol):
    """Tells the customer in chat, on every chat linked to the account and in its language, that a
    payment landed (the alerts outbox does it in production: ``bot.alerts.notifier``).

    Called inside the transaction that records the payment, so that the notice and the payment are
    committed together or not at all."""

    async def notify(self, uow: UnitOfWork, notice: PaymentNotice) -> None: ...


class LogNotifier:
    """A notifier for a process without chats: keeps and logs what it was told."""

    def __init__(self) -> None:
        self.sent: list[PaymentNotice] = []

    async def notify(self, uow: UnitOfWork, notice: PaymentNotice) -> None:
        def keep() -> None:
            self.sent.append(notice)
            notices.info("payment notice for customer %s: %s", notice.customer_id, notice)

        uow.after_commit(keep)


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

"""Interfaces to outside systems. What crosses a port is a plain frozen dataclass, never an ORM
row: a driver cannot reach into the database, and the service converts at its boundary.

The drivers live in ``services.drivers``; ``bot.bootstrap`` picks one per port from the settings
(the default of each needs no configuration) and is the only place that constructs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.money import Money
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class MailMessage:
    """One plain-text e-mail."""

    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None: ...


@dataclass(frozen=True)
class ServerRef:
    """The machine a server driver acts on, as the inventory knows it."""

    id: int
    hostname: str
    ip: str
    mac: str


class ServerDriver(Protocol):
    async def power_cycle(self, server: ServerRef) -> str:
        """Cycle the machine's power; returns its power state afterwards (``running``)."""
        ...


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


@dataclass(frozen=True)
class Charge:
    """What a card checkout asks the payer for: one invoice's total."""

    invoice_id: int
    invoice_number: str
    amount: Money
    title: str


class CardCheckout(Protocol):
    """A hosted card payment page (Stripe Checkout) and the signed events it sends back."""

    async def start(self, charge: Charge, success_url: str, cancel_url: str, lang: str) -> str:
        """Open a checkout for the charge; returns the URL to send the payer to."""
        ...

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """The event if its signature is valid and fresh, else ``InvalidEvent``."""
        ...

    async def close(self) -> None: ...

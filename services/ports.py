"""Interfaces to outside systems. What crosses a port is a plain frozen dataclass, never an ORM
row: a driver cannot reach into the database, and the service converts at its boundary.

The drivers live in ``services.drivers``; ``bot.bootstrap`` picks one per port from the settings
(the default of each needs no configuration) and is the only place that constructs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from services.money import Money
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class MailAttachment:
    """A file sent with a mail (an invoice's PDF)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MailMessage:
    """One e-mail: ``text``, and the same as HTML when ``html`` is given, in ``language``.

    ``message_id`` (the whole ``<...@...>``) and ``date`` are fixed when the mail is written, so
    that every attempt sends the same message and a receiver can tell a repeat. ``automatic``: no
    person wrote it (``Auto-Submitted: auto-generated``); ``reply_to``: where answers should go."""

    to: str
    subject: str
    text: str
    html: str = ""
    language: str = ""
    message_id: str = ""
    date: dt.datetime | None = None
    reply_to: str = ""
    automatic: bool = True
    attachments: tuple[MailAttachment, ...] = ()


class MailError(Exception):
    """The mail server did not take the message. ``permanent``: it refused it for good (a 5xx
    answer: no such mailbox, message rejected), so trying again cannot help; otherwise (a 4xx
    answer, no connection, a timeout) a later attempt may succeed. ``reason`` is for the log and
    the outbox's dead letters, never for a customer."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Hand the message to the mail system; ``MailError`` when it was not taken."""
        ...


@dataclass(frozen=True)
class ServerRef:
    """The machine a server driver acts on, as the inventory knows it. ``node`` and ``vm_id`` are
    the driver's own reference (a Proxmox VE node and VM id); the inventory driver needs neither."""

    id: int
    hostname: str
    ip: str
    mac: str
    node: str = ""
    vm_id: int | None = None


@dataclass(frozen=True)
class ServerStatus:
    """What the machine reports now. ``power_state``: ``running``, ``stopped`` or ``suspended``
    (blocked by the provider); sizes are what the machine has, not what the plan says."""

    power_state: str
    cpus: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    uptime_seconds: int | None = None


@dataclass(frozen=True)
class ServerNetwork:
    """The addresses of a machine as its configuration (and guest agent, where there is one) say."""

    ipv4: str
    netmask: str
    gateway: str
    mac: str
    ipv6: tuple[str, ...] = ()


@dataclass(frozen=True)
class OsTemplate:
    """An operating system a server can be reinstalled with; ``id`` is the driver's name for it."""

    id: str
    name: str


@dataclass(frozen=True)
class LoginDetails:
    """How to log in to a freshly installed machine: shown once, in a private chat only."""

    username: str
    password: str


@dataclass(frozen=True)
class ConsoleLink:
    """A one-time console (noVNC / IP-KVM) address, valid until ``expires_at`` (UTC)."""

    url: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class TrafficSample:
    """Bytes in and out of a machine during ``seconds`` starting at ``at`` (UTC)."""

    at: dt.datetime
    seconds: int
    bytes_in: int
    bytes_out: int


class ServerError(Exception):
    """The machine or its manager refused or failed (locked, timed out, unreachable); ``reason``
    is a short English text for the log and the audit, never shown as is to a customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerDriver(Protocol):
    """The machines behind the customers' servers. Every change waits until the machine has done
    it (or raises ``ServerError``); the service records the outcome in the inventory."""

    async def status(self, server: ServerRef) -> ServerStatus | None:
        """What the machine reports, or None where the inventory is the machine."""
        ...

    async def network(self, server: ServerRef) -> ServerNetwork | None:
        """The machine's addresses, or None where only the inventory knows them."""
        ...

    async def start(self, server: ServerRef) -> str: ...

    async def stop(self, server: ServerRef) -> str:
        """A clean shutdown (ACPI), forced off after the driver's timeout."""
        ...

    async def reboot(self, server: ServerRef) -> str:
        """Cycle the machine's power; returns its power state afterwards (``running``)."""
        ...

    async def templates(self, server: ServerRef) -> list[OsTemplate]: ...

    async def reinstall(self, server: ServerRef, template: OsTemplate) -> LoginDetails:
        """Wipe the disk and install ``template``; returns the new login."""
        ...

    async def console(self, server: ServerRef) -> ConsoleLink: ...

    async def suspend(self, server: ServerRef) -> None:
        """Block the machine for non-payment (stopped and not startable by the customer)."""
        ...

    async def unsuspend(self, server: ServerRef) -> None: ...

    async def terminate(self, server: ServerRef) -> None:
        """Destroy the machine for good."""
        ...

    async def traffic(self, server: ServerRef, since: dt.datetime) -> list[TrafficSample] | None:
        """Samples since ``since``, or None where the driver keeps none (the inventory's stored
        samples are used then)."""
        ...


class DnsError(Exception):
    """The DNS server refused or failed; ``reason`` is for the log, not for the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoReverseZone(DnsError):
    """None of the DNS server's zones holds the address: its reverse DNS is kept elsewhere."""


class DnsDriver(Protocol):
    """The provider's authoritative DNS, for the reverse (PTR) records of its addresses, and a
    resolver for the forward confirmation (the PTR's hostname resolves back to the address)."""

    async def ptr(self, ip: str) -> str | None:
        """The PTR hostname of ``ip`` (without the final dot), "" when there is none, or None where
        the inventory is the zone (the server's record holds the PTR); ``NoReverseZone`` when no
        zone holds the address."""
        ...

    async def set_ptr(self, ip: str, hostname: str) -> None:
        """Replace the PTR of ``ip`` with ``hostname`` (an ASCII name without the final dot);
        ``NoReverseZone`` when no zone holds it."""
        ...

    async def resolves_to(self, hostname: str, ip: str) -> bool | None:
        """Forward confirmation: whether ``hostname`` has an A/AAAA record equal to ``ip``, or None
        when no resolver answered (it could not be checked)."""
        ...


@dataclass(frozen=True)
class DomainRef:
    """A domain as the registrar knows it."""

    name: str
    expires_on: dt.date


class RegistrarError(Exception):
    """The registrar refused or failed; ``reason`` is for the log, not for the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Registrar(Protocol):
    """The registry's side of a domain: a renewal paid here is carried out there."""

    async def renew(self, domain: DomainRef, years: int) -> dt.date:
        """Extend the registration; returns the new expiry date the registry reports."""
        ...

    async def expiry(self, domain: DomainRef) -> dt.date:
        """The expiry date the registry holds now."""
        ...


class FileStore(Protocol):
    """Where the files attached to tickets are kept: bytes under a key the store makes up (random,
    never a name a user chose), read back by that key only."""

    async def put(self, data: bytes) -> str:
        """Keep ``data``; returns its new key."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes kept under ``key``; ``KeyError`` when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it is not kept)."""
        ...

    def kept_before(self, moment: dt.datetime) -> AsyncIterator[list[str]]:
        """The keys of the files written before ``moment``, a bounded group at a time (for the sweep
        of files whose ticket never committed)."""
        ...


@dataclass(frozen=True)
class Drivers:
    """One driver per outside system, built once by ``bot.bootstrap`` from the settings."""

    mail: Mailer
    servers: ServerDriver
    dns: DnsDriver
    registrar: Registrar
    files: FileStore


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


@dataclass(frozen=True)
class TicketEvent:
    """Something happened on a ticket that the other side must hear about.

    By the customer (``by="customer"``): ``opened``, ``message``, ``closed``, ``reopened`` (the
    support desk hears of them). By the staff (``by="staff"``): ``replied`` and ``closed`` (the
    customer hears of them). ``message_id`` is the message the event carries, if any; ``at`` tells
    two events of the same kind on one ticket apart (closed, reopened, closed again)."""

    ticket_id: int
    customer_id: int
    kind: str
    by: str
    at: dt.datetime
    message_id: int | None = None


class TicketEvents(Protocol):
    """Passes ticket events on: to the provider's support desk and to the customer's chats (the
    alerts outbox does it in production: ``bot.alerts.notifier``).

    Called inside the transaction that changes the ticket, so that the event and the change are
    committed together or not at all."""

    async def publish(self, uow: UnitOfWork, event: TicketEvent) -> None: ...

"""Database tables. Money is always an integer of minor units next to an ISO 4217 code.

Every table a chat can reach through an id carries ``customer_id`` so that queries can be
scoped to the caller's account.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which keeps no offset) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
        dict[str, Any]: JSON(),
    }


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("uq_customers_external_id", "external_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    country: Mapped[str] = mapped_column(String(2))
    is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    vat_id: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    address_line: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    overdraft_limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # The sum of the ledger entries in ``currency``, kept by ``services.ledger.post`` in the same
    # statement that checks the overdraft limit: the database decides every debit, atomically.
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The provider's own key for the record (its billing system's id), unique per table; the admin
    # API and ``hostbot import`` find the record again by it, so a sync can run repeatedly.
    external_id: Mapped[str | None] = mapped_column(String(100))

    # Read only for ticket copies; every update reads its customer, so loading these eagerly would
    # cost every update a query.
    emails: Mapped[list[CustomerEmail]] = relationship(back_populates="customer", lazy="raise")


class CustomerEmail(Base):
    """Alternative mailboxes per purpose (billing, technical, general)."""

    __tablename__ = "customer_emails"
    __table_args__ = (UniqueConstraint("customer_id", "purpose", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))

    customer: Mapped[Customer] = relationship(back_populates="emails")


class ChatIdentity(Base):
    """One user on one platform (and workspace), optionally linked to a billing account."""

    __tablename__ = "chat_identities"
    # Alerts go to every chat of a customer: looked up by customer, and the scan pages by it.
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "user_id"),
        Index("ix_chat_identities_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(10), default="owner")
    # ``language``: what this user chose in chat; ``platform_language``: what their app is set to
    # (Telegram's language_code, Slack's locale), refreshed by every update they send.
    language: Mapped[str | None] = mapped_column(String(8))
    platform_language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When it was linked to its account (``services.linking``), and when it last wrote (moved by the
    # dispatcher at most once a minute, so that a chatty user costs no write per message).
    linked_at: Mapped[dt.datetime | None] = mapped_column()
    last_seen_at: Mapped[dt.datetime | None] = mapped_column()


class LedgerEntry(Base):
    """Immutable movement on a customer's balance; corrections are new entries."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(20))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Plan(Base):
    """A sellable plan in one currency; names and prices are data."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("code", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    monthly_minor: Mapped[int] = mapped_column(BigInteger)
    yearly_minor: Mapped[int] = mapped_column(BigInteger)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    # The name and description per language (``{"fr": "..."}``), entered by the provider;
    # ``name`` is the one shown where a language has none (``services.wording``).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class Addon(Base):
    __tablename__ = "addons"
    __table_args__ = (UniqueConstraint("code", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    monthly_minor: Mapped[int] = mapped_column(BigInteger)
    # The name and description per language (``{"fr": "..."}``), entered by the provider;
    # ``name`` is the one shown where a language has none (``services.wording``).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class Order(Base):
    """A service the customer rents. ``status``: ``active``; ``suspended`` and then ``terminated``
    when its renewal stays unpaid after ``period_end`` (``services.service_lifecycle``); ``cancelled``."""

    __tablename__ = "orders"
    # The lifecycle steps look orders up by status and the end of their paid period; the auto-renew
    # pass reads the due auto-renew orders by that end too, from the index alone on PostgreSQL.
    __table_args__ = (
        Index("ix_orders_status_period_end", "status", "period_end"),
        Index("uq_orders_external_id", "external_id", unique=True),
        Index(
            "ix_orders_auto_renew_due",
            "period_end",
            "id",
            sqlite_where=text("auto_renew IS 1"),
            postgresql_where=text("auto_renew IS true"),
            postgresql_include=["status", "customer_id", "renewal_short_mark"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    billing_cycle: Mapped[str] = mapped_column(String(10))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[dt.date] = mapped_column()
    period_end: Mapped[dt.date] = mapped_column()
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(100))
    # The customer's last ledger entry id when the balance last failed to cover the auto-renewal
    # (None: no such attempt): the renewal pass comes back only after the ledger moved.
    renewal_short_mark: Mapped[int | None] = mapped_column(BigInteger)

    plan: Mapped[Plan] = relationship(lazy="joined")
    addons: Mapped[list[OrderAddon]] = relationship(lazy="selectin")


class OrderAddon(Base):
    __tablename__ = "order_addons"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Read with every order (``Order.addons``): by order id.
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    addon_id: Mapped[int] = mapped_column(ForeignKey("addons.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    addon: Mapped[Addon] = relationship(lazy="joined")


class InvoiceSeries(Base):
    """Next number per series; incremented under a row lock so numbering stays gap-free."""

    __tablename__ = "invoice_series"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_seq: Mapped[int] = mapped_column(Integer, default=1)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("series", "seq"),
        # One live renewal invoice per item and period: concurrent renewals find the same one.
        Index(
            "uq_invoices_renewal_key",
            "renewal_key",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("uq_invoices_external_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="invoice")
    series: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="unpaid", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date] = mapped_column()
    supply_date: Mapped[dt.date] = mapped_column()
    due_date: Mapped[dt.date] = mapped_column()
    subtotal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    vat_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    reverse_charge: Mapped[bool] = mapped_column(Boolean, default=False)
    buyer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seller: Mapped[dict[str, Any]] = mapped_column(default=dict)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # ``order:ID:START`` or ``domain:ID:START`` for the invoice that renews that item for the period
    # starting on START; NULL for every other invoice.
    renewal_key: Mapped[str | None] = mapped_column(String(60))
    paid_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(100))
    # A credit note's invoice: the one it credits (``kind`` ``credit``); NULL for every other invoice.
    # Named as migration 0011 names it (its downgrade drops it by that name).
    credits_invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id", name="fk_invoices_credits_invoice_id")
    )
    # The language its line texts were written in when it was issued (they stay so: it is a legal
    # document); NULL for invoices issued before lines were written in the customer's language.
    language: Mapped[str | None] = mapped_column(String(8))

    lines: Mapped[list[InvoiceLine]] = relationship(
        lazy="selectin", order_by="InvoiceLine.id", cascade="all, delete-orphan"
    )


class InvoiceLine(Base):
    """One charge. ``effect``/``ref_id`` say what paying it does (extend an order or a domain, credit)."""

    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="service")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[dt.date | None] = mapped_column()
    period_end: Mapped[dt.date | None] = mapped_column()
    effect: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[int | None] = mapped_column(Integer)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    method: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PayToken(Base):
    """A pay link: only the SHA-256 of the token is kept, bound to one invoice."""

    __tablename__ = "pay_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    department: Mapped[str] = mapped_column(String(12))
    importance: Mapped[str] = mapped_column(String(10))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The staff member who took it (``slack:U123``, or a name given through the admin API).
    assignee: Mapped[str | None] = mapped_column(String(100))
    # The ticket's message in the provider's support channel (its Slack ts), whose thread holds the
    # conversation; None until the desk has posted it.
    desk_thread: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[dt.datetime | None] = mapped_column()

    messages: Mapped[list[TicketMessage]] = relationship(lazy="selectin", order_by="TicketMessage.id")


class TicketMessage(Base):
    """One message of a ticket. ``author`` is ``customer`` or ``staff``; ``is_read``: the other side
    has read it (the customer a staff reply, the staff a customer's message). ``staff`` names the
    staff member who wrote it; ``external_id`` the platform message it came from (``slack:C1:ts``),
    so that a redelivered event adds nothing."""

    __tablename__ = "ticket_messages"
    __table_args__ = (UniqueConstraint("external_id", name="uq_ticket_messages_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    staff: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(120))


class TicketAttachment(Base):
    """A file attached to one message of a ticket. The bytes are in the file store under
    ``storage_key`` (random); ``original_name`` is only shown, never used as a path; ``media_type``
    is what the content was found to be. ``uploaded_by``: ``customer`` or ``staff``, and the chat
    identity that sent it when a customer did."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(10))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("chat_identities.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Domain(Base):
    __tablename__ = "domains"
    # As ``ix_orders_auto_renew_due``: the auto-renew pass reads the due domains by their expiry.
    __table_args__ = (
        Index("uq_domains_external_id", "external_id", unique=True),
        Index("ix_domains_expires_on", "expires_on"),
        Index(
            "ix_domains_auto_renew_due",
            "expires_on",
            "id",
            sqlite_where=text("auto_renew IS 1"),
            postgresql_where=text("auto_renew IS true"),
            postgresql_include=["customer_id", "renewal_short_mark"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    expires_on: Mapped[dt.date] = mapped_column()
    renewal_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    # The expiry the registrar reported after the last renewal carried out there (None: none yet).
    registry_expires_on: Mapped[dt.date | None] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(100))
    # As ``Order.renewal_short_mark``.
    renewal_short_mark: Mapped[int | None] = mapped_column(BigInteger)


class Server(Base):
    __tablename__ = "servers"
    __table_args__ = (
        UniqueConstraint("customer_id", "hostname"),
        Index("uq_servers_external_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    hostname: Mapped[str] = mapped_column(String(63))
    power_state: Mapped[str] = mapped_column(String(12), default="running")
    os: Mapped[str] = mapped_column(String(60))
    ip: Mapped[str] = mapped_column(String(45))
    netmask: Mapped[str] = mapped_column(String(45))
    gateway: Mapped[str] = mapped_column(String(45))
    mac: Mapped[str] = mapped_column(String(17))
    reverse_dns: Mapped[str] = mapped_column(String(253), default="")
    last_boot_at: Mapped[dt.datetime | None] = mapped_column()
    # The server driver's reference to the machine (a Proxmox VE node and VM id; none in the inventory).
    node: Mapped[str] = mapped_column(String(63), default="", server_default="")
    vm_id: Mapped[int | None] = mapped_column()
    # What the machine has (the plan's configuration), as the inventory records it.
    cpus: Mapped[int | None] = mapped_column()
    memory_mb: Mapped[int | None] = mapped_column()
    disk_gb: Mapped[int | None] = mapped_column()
    ipv6: Mapped[str] = mapped_column(String(64), default="", server_default="")  # "2001:db8::10/64"
    # The login of the last install; the password sealed with SECRET_KEY (services.sealing).
    login_user: Mapped[str] = mapped_column(String(32), default="", server_default="")
    login_secret: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(100))


class ServerTraffic(Base):
    """Bytes into and out of one server during ``span`` seconds from ``start``, of which ``seconds``
    had samples. ``start`` is UTC seconds since the epoch, a multiple of ``span``: grouping rows
    into coarser intervals is then the same integer arithmetic on SQLite and PostgreSQL
    (``start - start % 3600``). ``span`` grows with the row's age (``services.traffic``); it is part
    of the key so that downsampling can write an hour's row beside the five-minute rows it sums
    before deleting them."""

    __tablename__ = "server_traffic"
    __table_args__ = (Index("ix_server_traffic_span_start", "span", "start"),)

    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    span: Mapped[int] = mapped_column(Integer, primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer)
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    identity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(10), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProcessedUpdate(Base):
    """An inbound platform update already handled (Telegram update_id, Slack event id)."""

    __tablename__ = "processed_updates"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """A side effect already applied (a webhook event, a renewal run)."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActionKey(Base):
    """Server-side meaning of a button: the chat only ever sees the opaque ``key``.

    ``kind`` is ``command`` (run a command line again), ``confirm`` (run a prepared action once)
    or ``cancel`` (void a pending confirmation). Confirm keys are single-use via ``used_at``.
    """

    __tablename__ = "action_keys"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("chat_identities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class Conversation(Base):
    """A multi-step dialogue in progress (e.g. the new-ticket form), one per identity."""

    __tablename__ = "conversations"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(30))
    step: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime] = mapped_column()


class LinkCode(Base):
    """One-time code that links a chat identity to a customer; only its hash is kept."""

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(10), default="owner")
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class OrderChange(Base):
    """A change to an order not applied yet: a scheduled or end-of-period plan change, or an upgrade
    (new package, more mailboxes) that waits for its invoice to be paid.

    ``kind`` is ``plan`` (switch to ``plan_id`` / ``billing_cycle``) or ``mailboxes`` (add
    ``quantity``). ``status``: ``scheduled`` (applied on ``effective_on``), ``awaiting_payment``
    (applied when ``invoice_id`` is paid), ``quoted`` (offered in a quote), ``done``, ``cancelled``.
    """

    __tablename__ = "order_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    billing_cycle: Mapped[str | None] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    effective_on: Mapped[dt.date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    plan: Mapped[Plan | None] = relationship(lazy="joined")


class BillingNotice(Base):
    """Something the customer must be told about their billing (e.g. the balance does not cover an
    auto-renewal: ``params`` says what is missing). The alerts sender picks up undelivered rows;
    ``key`` makes recording the same notice twice harmless."""

    __tablename__ = "billing_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(150), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column()


class MeteredProduct(Base):
    """A package a reseller can give an account, add-on or service pack, priced per hour; data, not code.

    ``hourly_minor`` is a rate, not an amount: minor units per hour with up to four decimals, so
    cheap packages can be priced exactly (0.4100 euro cent an hour). Amounts are whole minor units,
    rounded once per invoice line (``services.metering.charge``).
    """

    __tablename__ = "metered_products"
    __table_args__ = (UniqueConstraint("code", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    hourly_minor: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    # The name and description per language (``{"fr": "..."}``), entered by the provider;
    # ``name`` is the one shown where a language has none (``services.wording``).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class MeteredResource(Base):
    """A reseller's hosting account, add-on or service pack, billed for the hours it exists."""

    __tablename__ = "metered_resources"
    __table_args__ = (Index("uq_metered_resources_external_id", "external_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[int] = mapped_column(ForeignKey("metered_products.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(100))

    product: Mapped[MeteredProduct] = relationship(lazy="joined")


class MeterSnapshot(Base):
    """The recorded state of one resource for one hour (``hour`` is the UTC start of that hour).

    The primary key makes a second recording of the same hour (the job run twice, or by two
    workers) a no-op. Product and rate are copied so later price changes never rewrite history.
    """

    __tablename__ = "meter_snapshots"
    __table_args__ = (Index("ix_meter_snapshots_customer_hour", "customer_id", "hour"),)

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("metered_resources.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("metered_products.id"))
    hourly_minor: Mapped[Decimal] = mapped_column(Numeric(16, 4))


class MeterRun(Base):
    """The recorded hours of one resource, rolled up: a run of consecutive snapshots in the same
    package at the same rate (``services.meter_runs`` keeps it in step with ``meter_snapshots``).

    The state of any hour is the state of the run it falls in (``since`` ≤ hour < ``ended``), as
    it is of the last snapshot at or before it; so a month close reads a few runs per resource
    instead of every hour. ``ended`` is the next run's ``since`` (None: the latest run);
    ``last_hour`` and ``hours`` say what was recorded in the run.
    """

    __tablename__ = "meter_runs"
    __table_args__ = (Index("ix_meter_runs_customer_resource", "customer_id", "resource_id", "since"),)

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("metered_resources.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[dt.datetime] = mapped_column(primary_key=True)
    ended: Mapped[dt.datetime | None] = mapped_column()
    last_hour: Mapped[dt.datetime] = mapped_column()
    hours: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("metered_products.id"))
    hourly_minor: Mapped[Decimal] = mapped_column(Numeric(16, 4))


class ChannelBinding(Base):
    """A group chat (Slack channel, Telegram group) that a team shares for one customer account."""

    __tablename__ = "channel_bindings"
    __table_args__ = (UniqueConstraint("platform", "workspace", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    bound_by: Mapped[int | None] = mapped_column(ForeignKey("chat_identities.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # What an owner or admin chose for this chat (``alerts here``): the alert kinds posted here
    # (``services.channel_alerts.KINDS``; none until chosen) and their language (None: the account's).
    alert_kinds: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    language: Mapped[str | None] = mapped_column(String(8))


class Alert(Base):
    """One proactive message in the outbox. ``key`` names the finding (``renew:order:7:2026-12-01:14``)
    so that writing it again is a no-op; ``state`` is pending, sending, sent, dead or dropped.

    A ``sending`` row belongs to ``claimed_by`` until ``claimed_until``; after that any worker may
    take it again (the first one crashed)."""

    __tablename__ = "alerts"
    # Dispatch finds what is due without reading the alerts already settled.
    __table_args__ = (
        Index(
            "ix_alerts_pending_due",
            "not_before",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_alerts_sending_lease",
            "claimed_until",
            sqlite_where=text("state = 'sending'"),
            postgresql_where=text("state = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(150), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()


class AlertDelivery(Base):
    """One alert delivered to one chat identity, with the platform's message id; never sent there twice."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "identity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("chat_identities.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChannelAlertDelivery(Base):
    """One alert posted to one shared chat (``ChannelBinding``); never posted there twice."""

    __tablename__ = "channel_alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "binding_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("channel_bindings.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertSettings(Base):
    """A customer's alert preferences: kinds turned off, quiet hours (``HH:MM`` in the customer's
    time zone) and the balance below which to be warned."""

    __tablename__ = "alert_settings"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    muted: Mapped[list[str]] = mapped_column(JSON, default=list)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    low_balance_minor: Mapped[int | None] = mapped_column(BigInteger)


class PendingAction(Base):
    """A call to an outside system that a committed transaction decided: suspend, unsuspend or
    terminate a server, renew a domain at the registrar (``kind``). It is carried out after the
    commit, right away by the process that committed it and else by the worker, so a crash in
    between loses nothing; ``key`` makes deciding it twice harmless.

    ``state``: ``pending`` (due from ``not_before``), ``running`` (claimed by ``claimed_by`` until
    ``claimed_until``; after that any worker may take it again), ``done`` (``result`` says what the
    outside system answered) or ``failed`` (given up after the last attempt, ``last_error`` says
    why; an operator puts it back with ``hostbot actions retry``). Actions on one ``target``
    (``server:5``, ``domain:3``) are carried out in the order they were decided."""

    __tablename__ = "pending_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(150), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(40), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(300), default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column()


class ApiToken(Base):
    """A bearer token of the admin API (``hostbot admin token create``): only its SHA-256 is kept.
    ``scopes`` is a list of ``read``, ``write``, ``money``; a revoked token stays listed."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class AccountSecurity(Base):
    """An account's security settings: the code word asked before sensitive actions (only its scrypt
    hash, with the count of wrong answers and the lock they lead to) and the networks its pay pages
    may be opened from (CIDR strings; empty: anywhere)."""

    __tablename__ = "account_security"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    code_word_hash: Mapped[str | None] = mapped_column(String(200))
    code_word_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_word_locked_until: Mapped[dt.datetime | None] = mapped_column()
    allowed_networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DomainPrice(Base):
    """The provider's yearly renewal price of a domain ending (``example``, ``co.uk``) in one
    currency: what a domain renews at once its account changes currency."""

    __tablename__ = "domain_prices"
    __table_args__ = (UniqueConstraint("tld", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tld: Mapped[str] = mapped_column(String(63))
    currency: Mapped[str] = mapped_column(String(3))
    renewal_minor: Mapped[int] = mapped_column(BigInteger)


class Mail(Base):
    """One e-mail in the outbox, written in the transaction that has something to tell and sent
    by a worker afterwards (``services.mail_outbox``). ``kind`` and ``params`` say what to write
    (composed in ``language`` when sent); ``to_addr`` is the mailbox chosen when it was written.

    ``key`` names the reason (``ticket:12``) so that writing it twice is a no-op; ``message_id`` is
    the left part of the ``Message-ID`` header, the same at every attempt. ``state``: pending,
    sending (``claimed_by`` until ``claimed_until``), sent, dead or expired (``not_after`` passed
    before it could be sent: a code nobody can use any more). A ``secret`` mail (a code) has its
    ``params`` emptied once it is settled."""

    __tablename__ = "mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(150), unique=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    to_addr: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    not_after: Mapped[dt.datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()


class MailCode(Base):
    """A 6-digit code mailed to ``email`` to prove that whoever writes in the chat ``identity_id``
    reads that mailbox; only that chat may use it, once, before ``expires_at``, with at most a few
    wrong tries (``attempts``). Only a hash of the code is kept.

    ``kind`` ``link``: links the chat to ``customer_id`` as ``role`` (no customer: the address is
    nobody's, and every code is wrong; the chat is answered the same either way). ``kind``
    ``mailbox``: makes ``email`` the account's mailbox for ``purpose``."""

    __tablename__ = "mail_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    identity_id: Mapped[int] = mapped_column(ForeignKey("chat_identities.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(20), default="")
    role: Mapped[str] = mapped_column(String(10), default="member")
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlackInstallation(Base):
    """A Slack workspace (``team_id``, the ``workspace`` of its chat identities) that installed the
    app through OAuth v2. ``bot_token`` is sealed (``services.sealing``, its own key from
    ``SECRET_KEY``); a reinstall replaces the row, an uninstall deletes it."""

    __tablename__ = "slack_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64), unique=True)
    team_name: Mapped[str] = mapped_column(String(200), default="")
    app_id: Mapped[str] = mapped_column(String(32), default="")
    bot_id: Mapped[str] = mapped_column(String(32))
    bot_user_id: Mapped[str] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    bot_token: Mapped[str] = mapped_column(Text)
    installer: Mapped[str] = mapped_column(String(64), default="")
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlackOAuthState(Base):
    """An install started at ``/slack/install`` and not finished yet: the OAuth ``state`` Slack
    hands back to the redirect, good once before ``expires_at``. Only its hash is kept."""

    __tablename__ = "slack_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

"""Invoices: numbering, VAT, renewal keys, lookups, deleting and pay links (paying: ``services.paying``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, joinedload

from services import audit, clock, ledger, mail_outbox, mailboxes, vat
from services.access import by_id, find, owned
from services.audit import Actor
from services.errors import N_, InvalidState
from services.wording import Localized, write
from storage.models import (
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceSeries,
    OrderChange,
    Payment,
    PayToken,
)
from storage.sets import insert_rows
from storage.uow import UnitOfWork

STATUSES = ("unpaid", "paid", "all")


@dataclass(frozen=True)
class Seller:
    name: str
    address: str
    country: str
    vat_id: str
    series: str = "HB"
    due_days: int = 14
    # The provider's default language: an invoice's lines are written in it for an account that
    # chose none.
    language: str = "en"


@dataclass(frozen=True)
class LineSpec:
    """``description``: a ``wording.Text`` written in the customer's language when the invoice is
    issued, or a text to print as it is (typed by staff, copied from a quote)."""

    description: str | Localized
    unit_minor: int
    quantity: int = 1
    kind: str = "service"
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    effect: str | None = None
    ref_id: int | None = None


def vat_amount(subtotal_minor: int, rate: Decimal) -> int:
    """VAT on the taxable amount, rounded half-up to the minor unit (the one rounding rule)."""
    return int((Decimal(subtotal_minor) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def _next_seq(uow: UnitOfWork, series: str, count: int = 1) -> int:
    """Take the next ``count`` numbers of a series (the first is returned); the row stays locked
    until commit, so no gaps or twins."""
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    await uow.session.execute(
        insert(InvoiceSeries).values(series=series, next_seq=1).on_conflict_do_nothing()
    )
    seq = await uow.session.scalar(
        update(InvoiceSeries)
        .where(InvoiceSeries.series == series)
        .values(next_seq=InvoiceSeries.next_seq + count)
        .returning(InvoiceSeries.next_seq - count)
    )
    assert seq is not None
    return int(seq)


async def create(
    uow: UnitOfWork,
    customer: Customer,
    lines: Sequence[LineSpec],
    seller: Seller,
    actor: Actor | None,
    kind: str = "invoice",
    order_id: int | None = None,
    supply_date: dt.date | None = None,
    buyer: Mapping[str, str] | None = None,
) -> Invoice:
    """``buyer``: the billing address printed on this invoice instead of the account's (a top-up's,
    given for that invoice only: ``services.topup``); VAT is still decided on the account's data."""
    today = clock.today()
    prefix = {"quote": "Q"}.get(kind, "")
    series = f"{prefix}{seller.series}{today.year}"
    seq = await _next_seq(uow, series)
    columns = _columns(customer, lines, seller, kind, order_id, supply_date or today, buyer, series, seq)
    invoice = Invoice(
        **columns,
        lines=[InvoiceLine(**_line(spec, columns["language"])) for spec in lines],
    )
    uow.session.add(invoice)
    await uow.flush()
    audit.record(uow, f"{kind}.create", actor, f"invoice:{invoice.id}", total=invoice.total_minor)
    if kind == "invoice":
        await mail_outbox.add(
            uow,
            f"invoice:{invoice.id}",
            "invoice",
            await mailboxes.mailbox(uow, customer, "billing"),
            {"invoice": invoice.id},
            customer_id=customer.id,
            language=customer.language or "",
        )
    return invoice


def _columns(
    customer: Customer,
    lines: Sequence[LineSpec],
    seller: Seller,
    kind: str,
    order_id: int | None,
    supply: dt.date,
    buyer: Mapping[str, str] | None,
    series: str,
    seq: int,
) -> dict[str, Any]:
    """The invoice ``create`` writes, numbered ``seq`` in ``series``, as column values."""
    today = clock.today()
    decision = vat.decide(customer.country, customer.is_business, customer.vat_id, seller.country, supply)
    subtotal = sum(spec.unit_minor * spec.quantity for spec in lines)
    vat_minor = vat_amount(subtotal, decision.rate)
    renews = [renewal_key(s.effect, s.ref_id, s.period_start) for s in lines if s.effect in RENEWAL_ITEMS]
    return {
        "customer_id": customer.id,
        "kind": kind,
        "series": series,
        "seq": seq,
        "number": f"{series}-{seq:05d}",
        "status": "draft" if kind == "quote" else "unpaid",
        "currency": customer.currency,
        "issue_date": today,
        "supply_date": supply,
        "due_date": today + dt.timedelta(days=seller.due_days),
        "subtotal_minor": subtotal,
        "vat_rate": decision.rate,
        "vat_minor": vat_minor,
        "total_minor": subtotal + vat_minor,
        "reverse_charge": decision.reverse_charge,
        "language": customer.language or seller.language,
        "order_id": order_id,
        "renewal_key": renews[0] if renews and kind == "invoice" else None,
        "buyer": dict(buyer) if buyer is not None else account_buyer(customer),
        "seller": {
            "name": seller.name,
            "address": seller.address,
            "country": seller.country,
            "vat_id": seller.vat_id,
        },
    }


def _line(spec: LineSpec, language: str) -> dict[str, Any]:
    """A line's column values, its description written in the invoice's language."""
    return {
        "description": write(spec.description, language),
        "kind": spec.kind,
        "quantity": spec.quantity,
        "unit_minor": spec.unit_minor,
        "amount_minor": spec.unit_minor * spec.quantity,
        "period_start": spec.period_start,
        "period_end": spec.period_end,
        "effect": spec.effect,
        "ref_id": spec.ref_id,
    }


@dataclass(frozen=True)
class Draft:
    """An invoice ``create_many`` is to write: the customer's lines supplied on ``supply``, for an
    order (``order_id``) or none."""

    customer: Customer
    lines: Sequence[LineSpec]
    supply: dt.date
    order_id: int | None = None


@dataclass(frozen=True)
class Issued:
    """An invoice ``create_many`` wrote, as its callers need it (no ORM object)."""

    id: int
    number: str
    total_minor: int
    currency: str


async def create_many(uow: UnitOfWork, drafts: Sequence[Draft], seller: Seller) -> list[Issued]:
    """Invoices of many customers at once, by the system (the month close, the auto-renew pass):
    numbered in the order given from one range of the series; the same invoices, audit entries and
    mails as ``create`` one at a time, in a few statements for the whole batch and no ORM objects.
    Returns what was issued, in the order given."""
    if not drafts:
        return []
    today = clock.today()
    series = f"{seller.series}{today.year}"
    first = await _next_seq(uow, series, len(drafts))
    rows = [
        _columns(d.customer, d.lines, seller, "invoice", d.order_id, d.supply, None, series, first + i)
        for i, d in enumerate(drafts)
    ]
    ids = [int(i) for (i,) in await insert_rows(uow, Invoice, rows)]
    await insert_rows(
        uow,
        InvoiceLine,
        [
            {"invoice_id": invoice_id, **_line(spec, row["language"])}
            for invoice_id, row, d in zip(ids, rows, drafts, strict=True)
            for spec in d.lines
        ],
    )
    made = [
        Issued(invoice_id, row["number"], int(row["total_minor"]), row["currency"])
        for invoice_id, row in zip(ids, rows, strict=True)
    ]
    await audit.record_system(
        uow, "invoice.create", [(f"invoice:{i.id}", {"total": i.total_minor}) for i in made]
    )
    to = await mailboxes.mailboxes(uow, [d.customer for d in drafts], "billing")
    await mail_outbox.add_all(
        uow,
        [
            mail_outbox.Draft(
                f"invoice:{i.id}",
                "invoice",
                to[d.customer.id],
                {"invoice": i.id},
                d.customer.id,
                d.customer.language or "",
            )
            for i, d in zip(made, drafts, strict=True)
        ],
    )
    return made


def account_buyer(customer: Customer) -> dict[str, str]:
    """The account's billing address as an invoice prints it."""
    return {
        "name": customer.name,
        "address": customer.address_line,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.country,
        "vat_id": customer.vat_id or "",
    }


RENEWAL_ITEMS = {"order_renewal": "order", "domain_renewal": "domain"}


def renewal_key(effect: str | None, ref_id: int | None, start: dt.date | None) -> str:
    """The key of the one live invoice that renews an item for the period starting on ``start``."""
    return f"{RENEWAL_ITEMS[effect or '']}:{ref_id}:{start.isoformat() if start else ''}"


async def renewal(uow: UnitOfWork, effect: str, ref_id: int, start: dt.date) -> Invoice | None:
    """The live (unpaid or paid) invoice renewing this item for the period starting on ``start``."""
    return await uow.session.scalar(
        select(Invoice).where(
            Invoice.renewal_key == renewal_key(effect, ref_id, start), Invoice.status != "cancelled"
        )
    )


@dataclass(frozen=True)
class Listed:
    """An invoice as a list shows it: a row of its page, not a mapped invoice."""

    id: int
    number: str
    status: str
    due_date: dt.date
    total_minor: int
    currency: str


async def listing(
    uow: UnitOfWork, customer_id: int, status: str = "unpaid", offset: int = 0, limit: int = 5
) -> tuple[list[Listed], int]:
    """One page of the customer's invoices (quotes excluded) and how many there are in all, in
    one query (the count rides on each row; counted apart only for a page past the end)."""
    params: dict[str, object] = {"customer_id": customer_id, "offset": offset, "limit": limit}
    if status != "all":
        params["status"] = status
    rows = (await uow.core(_PAGES[status != "all"], params)).all()
    if rows:
        return [Listed(*row[:-1]) for row in rows], int(rows[0][-1])
    if offset == 0:
        return [], 0
    total = (await uow.core(_COUNTS[status != "all"], params)).scalar()
    return [], int(total or 0)


def _listed(by_status: bool, *columns: ColumnElement[Any] | InstrumentedAttribute[Any]) -> Select[Any]:
    query = select(*columns).where(Invoice.customer_id == bindparam("customer_id"), Invoice.kind != "quote")
    return query.where(Invoice.status == bindparam("status")) if by_status else query


_LISTED = (
    Invoice.id,
    Invoice.number,
    Invoice.status,
    Invoice.due_date,
    Invoice.total_minor,
    Invoice.currency,
)
# Built once (every status but "all" filters by it), so their compiled form is reused.
_PAGES = {
    by_status: _listed(by_status, *_LISTED, func.count().over())
    .order_by(Invoice.id.desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
    for by_status in (False, True)
}
_COUNTS = {by_status: _listed(by_status, func.count()) for by_status in (False, True)}


# An invoice with its lines in one statement (their ``selectin`` loading would cost a second).
_WITH_LINES = by_id(Invoice).options(joinedload(Invoice.lines))


async def get(uow: UnitOfWork, invoice_id: int, actor: Actor) -> Invoice:
    return await owned(uow, Invoice, invoice_id, actor, _WITH_LINES)


async def by_number(uow: UnitOfWork, number: str, actor: Actor) -> Invoice:
    """The actor's invoice or quote with that number, as typed in any case ("hb2026-00014").

    Numbers are made from the configured series (upper case by convention); the spellings tried
    are exact forms, so the unique index answers. Someone else's number is answered like a missing
    one and audited as a denial, as ``get`` does for ids."""
    spellings = {number, number.upper(), number.lower()}
    return await find(uow, Invoice, actor, number, Invoice.number.in_(spellings))


async def check_deletable(uow: UnitOfWork, invoice: Invoice) -> None:
    """Only an unpaid invoice that has received no payment may be deleted."""
    payments = await uow.session.scalar(select(func.count()).where(Payment.invoice_id == invoice.id))
    if invoice.kind == "quote" or invoice.status != "unpaid" or payments:
        raise InvalidState(
            N_("Invoice {number} cannot be deleted: only an unpaid invoice with no payment can."),
            number=invoice.number,
        )


async def delete(uow: UnitOfWork, invoice_id: int, actor: Actor) -> Invoice:
    """Void an unpaid invoice. Its number stays in the register as cancelled, so numbering stays
    gap-free; an upgrade that waited for it is dropped; pay links to it stop working. Under the
    customer's lock, as payments are: an invoice is either paid or cancelled, never both."""
    invoice = await get(uow, invoice_id, actor)
    await ledger.lock(uow, invoice.customer_id)  # a payment of it either finished or waits
    await uow.session.refresh(invoice, ["status"])
    await check_deletable(uow, invoice)
    invoice.status = "cancelled"
    await drop_waiting_changes(uow, invoice)
    audit.record(
        uow,
        "invoice.delete",
        actor,
        f"invoice:{invoice.id}",
        number=invoice.number,
        total=invoice.total_minor,
    )
    await uow.commit()
    return invoice


async def drop_waiting_changes(uow: UnitOfWork, invoice: Invoice) -> None:
    """A cancelled invoice's upgrade (which waited for it to be paid) is cancelled with it."""
    await uow.session.execute(
        update(OrderChange)
        .where(OrderChange.invoice_id == invoice.id, OrderChange.status == "awaiting_payment")
        .values(status="cancelled")
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_pay_link(uow: UnitOfWork, invoice: Invoice, base_url: str, ttl_days: int) -> str:
    """A link that pays this one invoice without logging in: 192 random bits, only the hash kept."""
    if invoice.status != "unpaid":
        raise InvalidState(N_("Invoice {number} is not open for payment."), number=invoice.number)
    token = secrets.token_urlsafe(24)
    uow.session.add(
        PayToken(
            invoice_id=invoice.id,
            token_hash=_hash(token),
            expires_at=clock.now() + dt.timedelta(days=ttl_days),
        )
    )
    return f"{base_url.rstrip('/')}/pay/{token}"


async def resolve_pay_token(uow: UnitOfWork, token: str) -> Invoice | None:
    """The unpaid invoice a live token opens, or None (unknown, expired, paid or cancelled)."""
    row = await uow.session.scalar(select(PayToken).where(PayToken.token_hash == _hash(token)))
    if row is None or row.expires_at <= clock.now():
        return None
    invoice = await uow.session.get(Invoice, row.invoice_id)
    if invoice is None or invoice.status != "unpaid":
        return None
    return invoice


async def open_by_token(uow: UnitOfWork, token: str) -> tuple[Invoice, Customer] | None:
    """What a pay page shows: the unpaid invoice a live token opens and its customer, or None."""
    invoice = await resolve_pay_token(uow, token)
    if invoice is None:
        return None
    customer = await uow.session.get(Customer, invoice.customer_id)
    assert customer is not None
    return invoice, customer

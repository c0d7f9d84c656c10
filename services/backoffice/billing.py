"""Money the provider's staff move: a manual invoice, cancelling an unpaid one, a credit note for a
paid one (credited to the balance), and balance adjustments with their reason.

Issued invoices are never edited: the same document put again changes nothing, a different one is
a conflict (cancel it, or credit it, and issue another). Every amount is in the customer's currency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator
from sqlalchemy import func, select

from services import invoices, ledger
from services.backoffice.common import (
    ByCustomer,
    Conflict,
    Currency,
    Document,
    ExternalId,
    Id,
    Invalid,
    Key,
    Ref,
    SignedMinor,
    Written,
    customer,
    locate,
    note,
    owners,
    page,
    ref_of,
    staff_actor,
)
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from services.money import Money
from services.wording import Text
from storage.models import Customer, Invoice, LedgerEntry
from storage.uow import UnitOfWork

Reason = Annotated[
    str, Field(min_length=1, max_length=200, description="why, kept in the ledger and the audit")
]

# TRANSLATORS: the line of a credit note; {reason} is what the staff typed.
CREDIT = N_("Credit for {number}: {reason}")

# -- invoices ------------------------------------------------------------------------------------


class InvoiceLineDoc(Document):
    description: Annotated[str, Field(min_length=1, max_length=300)]
    unit_minor: SignedMinor
    quantity: int = Field(1, ge=1, le=10_000)


class InvoiceDoc(Document):
    """A manual invoice: its lines before VAT (a discount is a negative line); VAT follows the
    customer's country and VAT id as for every invoice. ``currency`` must be the customer's."""

    external_id: ExternalId | None = None
    customer: Ref
    currency: Currency
    lines: Annotated[list[InvoiceLineDoc], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _positive(self) -> InvoiceDoc:
        if sum(line.unit_minor * line.quantity for line in self.lines) <= 0:
            raise ValueError("an invoice totals more than zero (a credit is a credit note)")
        return self


class InvoiceLineView(InvoiceLineDoc):
    kind: str
    amount_minor: SignedMinor
    period_start: dt.date | None
    period_end: dt.date | None


class InvoiceView(Document):
    id: int
    external_id: str | None
    number: str
    kind: str = Field(description="invoice, topup, usage, quote or credit (a credit note)")
    status: str = Field(description="unpaid, paid, cancelled, draft (a quote) or credited (a credit note)")
    customer: Ref
    currency: str
    issue_date: dt.date
    supply_date: dt.date
    due_date: dt.date
    subtotal_minor: int
    vat_rate: Decimal
    vat_minor: int
    total_minor: int
    reverse_charge: bool
    lines: list[InvoiceLineView]
    paid_at: dt.datetime | None
    credits_invoice: int | None = Field(description="a credit note's invoice")


class InvoiceQuery(ByCustomer):
    status: Literal["unpaid", "paid", "cancelled", "draft", "credited"] | None = None


class CancelDoc(Document):
    reason: Reason


class CreditNoteDoc(Document):
    """Credit a paid invoice: ``subtotal_minor`` before VAT (default: all that is not credited yet),
    with the invoice's own VAT rate; the total goes to the customer's balance."""

    external_id: ExternalId | None = None
    reason: Reason
    subtotal_minor: Annotated[int, Field(ge=1, le=10**15)] | None = None


def _same_lines(row: Invoice, doc: InvoiceDoc) -> bool:
    have = [(line.description, line.unit_minor, line.quantity) for line in row.lines]
    return have == [(line.description, line.unit_minor, line.quantity) for line in doc.lines]


async def issue(uow: UnitOfWork, doc: InvoiceDoc, key: Key, seller: Seller, by: str) -> Written[Invoice]:
    """Issue a manual invoice; put again with the same external id, it is found, not issued twice."""
    row = await locate(uow, Invoice, "invoice", key, doc.external_id)
    owner = await customer(uow, doc.customer)
    if doc.currency != owner.currency:
        raise Invalid("currency", f"customer {owner.id} is billed in {owner.currency}")
    if row is not None:
        if row.customer_id != owner.id or row.currency != doc.currency or not _same_lines(row, doc):
            raise Conflict(
                f"Invoice {row.number} was issued with other lines; an issued invoice does not change "
                "(cancel it or credit it, and issue another)."
            )
        return Written(row, "unchanged")
    lines = [LineSpec(line.description, line.unit_minor, line.quantity) for line in doc.lines]
    row = await invoices.create(uow, owner, lines, seller, staff_actor(owner.id, by))
    row.external_id = doc.external_id or key.external_id
    await uow.flush()
    return Written(row, "created")


async def cancel(uow: UnitOfWork, invoice: Invoice, reason: str, by: str) -> Invoice:
    """Void an unpaid invoice that has received nothing (its number stays, as cancelled)."""
    await ledger.lock(uow, invoice.customer_id)
    await uow.session.refresh(invoice, ["status"])
    try:
        await invoices.check_deletable(uow, invoice)
    except InvalidState as err:
        raise Conflict(
            f"Invoice {invoice.number} is {invoice.status}: only an unpaid invoice with no payment can be "
            "cancelled (a paid one is credited)."
        ) from err
    invoice.status = "cancelled"
    await invoices.drop_waiting_changes(uow, invoice)
    note(
        uow,
        by,
        "invoice.cancel",
        f"invoice:{invoice.id}",
        invoice.customer_id,
        number=invoice.number,
        reason=reason,
    )
    await uow.flush()
    return invoice


async def credited_subtotal(uow: UnitOfWork, invoice: Invoice) -> int:
    """How much of the invoice's subtotal its credit notes have credited already."""
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(Invoice.subtotal_minor), 0)).where(
            Invoice.credits_invoice_id == invoice.id
        )
    )
    return -int(total or 0)


async def credit(
    uow: UnitOfWork, invoice: Invoice, doc: CreditNoteDoc, seller: Seller, by: str
) -> Written[Invoice]:
    """Issue a credit note for a paid invoice and credit its total (VAT included) to the balance."""
    await locate(uow, Invoice, "invoice", Key(), doc.external_id)  # a taken external id is a conflict
    if invoice.kind in ("quote", "credit") or invoice.status != "paid":
        raise Conflict(
            f"Invoice {invoice.number} is {invoice.status}: only a paid invoice is credited (an unpaid one is cancelled)."
        )
    await ledger.lock(uow, invoice.customer_id)
    left = invoice.subtotal_minor - await credited_subtotal(uow, invoice)
    subtotal = doc.subtotal_minor if doc.subtotal_minor is not None else left
    if subtotal <= 0 or subtotal > left:
        raise Invalid("subtotal_minor", f"at most {left} is left to credit on invoice {invoice.number}")
    owner = await uow.session.get(Customer, invoice.customer_id)
    assert owner is not None
    actor = staff_actor(owner.id, by)
    line = LineSpec(Text(CREDIT, {"number": invoice.number, "reason": doc.reason}), -subtotal, kind="credit")
    note_row = await invoices.create(
        uow, owner, [line], seller, actor, kind="credit", supply_date=invoice.supply_date
    )
    vat = invoices.vat_amount(subtotal, invoice.vat_rate)
    note_row.vat_rate = invoice.vat_rate
    note_row.reverse_charge = invoice.reverse_charge
    note_row.vat_minor = -vat
    note_row.total_minor = -(subtotal + vat)
    note_row.due_date = note_row.issue_date
    note_row.status = "credited"
    note_row.credits_invoice_id = invoice.id
    note_row.external_id = doc.external_id
    amount = Money(subtotal + vat, invoice.currency)
    await ledger.post(
        uow, owner, amount, "credit_note", f"{note_row.number} ({invoice.number})", actor, note_row.id
    )
    note(
        uow,
        by,
        "invoice.credit",
        f"invoice:{invoice.id}",
        owner.id,
        credit_note=note_row.id,
        reason=doc.reason,
    )
    await uow.flush()
    return Written(note_row, "created")


def invoice_view(row: Invoice, owner_ref: Ref) -> InvoiceView:
    return InvoiceView(
        id=row.id,
        external_id=row.external_id,
        number=row.number,
        kind=row.kind,
        status=row.status,
        customer=owner_ref,
        currency=row.currency,
        issue_date=row.issue_date,
        supply_date=row.supply_date,
        due_date=row.due_date,
        subtotal_minor=row.subtotal_minor,
        vat_rate=row.vat_rate.quantize(Decimal("0.01")),  # as stored (NUMERIC(5, 2)), before a reload too
        vat_minor=row.vat_minor,
        total_minor=row.total_minor,
        reverse_charge=row.reverse_charge,
        lines=[
            InvoiceLineView(
                description=line.description,
                unit_minor=line.unit_minor,
                quantity=line.quantity,
                kind=line.kind,
                amount_minor=line.amount_minor,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in row.lines
        ],
        paid_at=row.paid_at,
        credits_invoice=row.credits_invoice_id,
    )


async def invoice_views(uow: UnitOfWork, rows: Sequence[Invoice]) -> list[InvoiceView]:
    people = await owners(uow, {r.customer_id for r in rows})
    return [invoice_view(r, ref_of(people[r.customer_id])) for r in rows]


async def invoice_listing(uow: UnitOfWork, query: InvoiceQuery) -> tuple[list[InvoiceView], int | None]:
    select_ = select(Invoice)
    if query.customer is not None:
        select_ = select_.where(Invoice.customer_id == query.customer)
    if query.status is not None:
        select_ = select_.where(Invoice.status == query.status)
    rows, after = await page(uow, select_, Invoice.id, query)
    return await invoice_views(uow, rows), after


# -- balance adjustments -------------------------------------------------------------------------

ADJUSTMENT = "adjustment"


class AdjustmentDoc(Document):
    """Money added to (positive) or taken from (negative) a balance by the provider, with its
    reason; it may take the balance below zero. ``currency`` must be the customer's."""

    external_id: ExternalId | None = None
    customer: Ref
    amount_minor: SignedMinor
    currency: Currency
    reason: Reason

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentDoc:
        if self.amount_minor == 0:
            raise ValueError("an adjustment moves money: amount_minor is not 0")
        return self


class AdjustmentEntry(AdjustmentDoc):
    id: Id | None = None


class AdjustmentView(AdjustmentDoc):
    id: int
    created_at: dt.datetime
    balance_minor: int = Field(description="the customer's balance now")


def _key(external_id: str) -> str:
    return f"{ADJUSTMENT}:{external_id}"


async def _existing(uow: UnitOfWork, key: Key) -> LedgerEntry | None:
    row = None
    if key.external_id is not None:
        row = await uow.session.scalar(
            select(LedgerEntry).where(LedgerEntry.idempotency_key == _key(key.external_id))
        )
    if row is None and key.id is not None:
        row = await uow.session.get(LedgerEntry, key.id)
        if row is None or row.kind != ADJUSTMENT:
            raise Invalid("id", f"there is no balance adjustment {key.id}")
    return row


async def adjust(uow: UnitOfWork, doc: AdjustmentDoc, key: Key, by: str) -> Written[LedgerEntry]:
    """Post the adjustment to the ledger once: the same document again changes nothing; a different
    one under the same external id is a conflict (an adjustment is corrected by another one)."""
    if key.external_id is not None and doc.external_id not in (None, key.external_id):
        raise Invalid("external_id", f"must be {key.external_id!r}, the external id the record is put at")
    external_id = doc.external_id or key.external_id
    owner = await customer(uow, doc.customer)
    if doc.currency != owner.currency:
        raise Invalid("currency", f"customer {owner.id} has a balance in {owner.currency}")
    row = await _existing(uow, Key(key.id, external_id))
    if row is not None:
        if (row.customer_id, row.amount_minor, row.currency, row.memo) != (
            owner.id,
            doc.amount_minor,
            doc.currency,
            doc.reason,
        ):
            raise Conflict(
                f"Balance adjustment {row.id} was posted otherwise; post another one to correct it."
            )
        return Written(row, "unchanged")
    if key.id is not None:
        raise Invalid("id", f"there is no balance adjustment {key.id}")
    money = Money(doc.amount_minor, doc.currency)
    row = await ledger.post(
        uow, owner, money, ADJUSTMENT, doc.reason, staff_actor(owner.id, by), floor="none"
    )
    row.idempotency_key = _key(external_id) if external_id is not None else None
    await uow.flush()
    return Written(row, "created")


async def adjustment_views(uow: UnitOfWork, rows: Sequence[LedgerEntry]) -> list[AdjustmentView]:
    people = await owners(uow, {r.customer_id for r in rows})
    return [
        AdjustmentView(
            id=r.id,
            external_id=r.idempotency_key.removeprefix(f"{ADJUSTMENT}:") if r.idempotency_key else None,
            customer=ref_of(people[r.customer_id]),
            amount_minor=r.amount_minor,
            currency=r.currency,
            reason=r.memo,
            created_at=r.created_at,
            balance_minor=people[r.customer_id].balance_minor,
        )
        for r in rows
    ]


async def adjustment_listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[AdjustmentView], int | None]:
    select_ = select(LedgerEntry).where(LedgerEntry.kind == ADJUSTMENT)
    if query.customer is not None:
        select_ = select_.where(LedgerEntry.customer_id == query.customer)
    rows, after = await page(uow, select_, LedgerEntry.id, query)
    return await adjustment_views(uow, rows), after

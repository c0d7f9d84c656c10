"""Bank transfers the staff record by hand (or a provider's system posts): the same path as a
statement import (``services.bank_transfers``), so the invoice is paid or the money goes to the
balance, with its ledger entries and the customer's notice, exactly once per bank transaction id.

``bank_transfers.record`` commits the payment with its notice; nothing is written for a transfer
that names no invoice it can pay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import func, select

from services import bank_transfers
from services.backoffice.common import (
    ByCustomer,
    Change,
    Conflict,
    Currency,
    Document,
    Invalid,
    Key,
    Ref,
    fetch,
    owners,
    page,
    ref_of,
    resolve,
    staff_actor,
)
from services.bank_statements import Transfer
from services.money import Money
from services.ports import Notifier
from storage.models import Invoice, Payment
from storage.uow import UnitOfWork

BankId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=95),
    Field(
        description=(
            "The bank's id of the transaction, unique: recorded again, it changes nothing. A statement "
            "import names a transaction ACCOUNT/AcctSvcrRef (IBAN/ref); give it so, and importing the "
            "statement later does not apply it a second time."
        )
    ),
]


class TransferDoc(Document):
    """A bank transfer received. Without ``invoice`` it is matched as a statement's credits are: by
    the invoice number in ``reference``, else by amount and the ``payer``'s name when one unpaid
    invoice fits."""

    bank_transaction_id: BankId
    amount_minor: Annotated[int, Field(ge=1, le=10**15, description="minor units (cents)")]
    currency: Currency
    booked_on: dt.date = Field(description="the day the bank booked it")
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        description="what the payer wrote (the pay page asks for the invoice number)"
    )
    payer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    invoice: Ref | None = Field(None, description="the invoice it pays, when the staff know it")


class PaymentView(Document):
    id: int
    bank_transaction_id: str | None
    method: str = Field(description="bank, card or balance")
    status: Literal["paid", "credited"] = Field(
        description="paid: it paid the invoice; credited: the invoice could not take it (already paid, "
        "cancelled, another amount) and the money went to the balance"
    )
    invoice: Ref
    invoice_number: str
    customer: Ref
    amount_minor: int
    currency: str
    created_at: dt.datetime


async def _by_key(uow: UnitOfWork, key: str) -> Payment | None:
    found: Payment | None = await uow.session.scalar(select(Payment).where(Payment.external_id == key))
    return found


async def _payers(uow: UnitOfWork, invoice_ids: set[int]) -> set[int]:
    """The payments that paid these invoices: on a paid invoice, the first of its total (any later
    payment, of any amount, went to the balance)."""
    rows = await uow.session.scalars(
        select(func.min(Payment.id))
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Payment.invoice_id.in_(invoice_ids),
            Invoice.status == "paid",
            Payment.amount_minor == Invoice.total_minor,
        )
        .group_by(Payment.invoice_id)
    )
    return set(rows)


async def views(uow: UnitOfWork, rows: Sequence[Payment]) -> list[PaymentView]:
    people = await owners(uow, {r.customer_id for r in rows})
    invoice_ids = {r.invoice_id for r in rows}
    bills = {i.id: i for i in await uow.session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids)))}
    paid = await _payers(uow, invoice_ids)
    return [
        PaymentView(
            id=r.id,
            bank_transaction_id=r.external_id.removeprefix("bank:")
            if r.method == "bank" and r.external_id
            else None,
            method=r.method,
            status="paid" if r.id in paid else "credited",
            invoice=ref_of(bills[r.invoice_id]),
            invoice_number=bills[r.invoice_id].number,
            customer=ref_of(people[r.customer_id]),
            amount_minor=r.amount_minor,
            currency=r.currency,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def payment(uow: UnitOfWork, payment_id: int) -> Payment:
    return await fetch(uow, Payment, "payment", Key(id=payment_id))


async def listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[PaymentView], int | None]:
    select_ = select(Payment)
    if query.customer is not None:
        select_ = select_.where(Payment.customer_id == query.customer)
    rows, after = await page(uow, select_, Payment.id, query)
    return await views(uow, rows), after


async def record(
    uow: UnitOfWork, doc: TransferDoc, by: str, notifier: Notifier, template: str
) -> tuple[Payment, Change]:
    """Apply the transfer once: the same bank transaction id again changes nothing (with another
    amount, it is a conflict). ``template``: how the pay page writes the reference (``BANK_REFERENCE``)."""
    transfer = Transfer(
        doc.bank_transaction_id,
        Money(doc.amount_minor, doc.currency),
        doc.booked_on,
        doc.payer,
        doc.reference,
    )
    key = bank_transfers.payment_key(transfer)
    earlier = await _by_key(uow, key)
    if earlier is None:
        if doc.invoice is not None:
            invoice = await resolve(uow, Invoice, "invoice", doc.invoice, "invoice")
        else:
            matched, why = await bank_transfers.match(uow, transfer, template)
            if matched is None:
                raise Invalid("reference", f"{why}: name the invoice in the invoice field")
            invoice = matched
        if invoice.kind not in bank_transfers.PAYABLE:
            raise Invalid("invoice", f"{invoice.number} is a {invoice.kind}, which is not paid")
        actor = staff_actor(invoice.customer_id, by)
        outcome = await bank_transfers.record(uow, transfer, notifier, template, invoice.id, actor)
        if outcome.status == "unmatched":
            raise Invalid("currency", f"{invoice.number}: {outcome.reason}")
        earlier = await _by_key(uow, key)
        assert earlier is not None
        if outcome.status != "duplicate":  # else another call recorded it at the same moment
            return earlier, "created"
    if (earlier.amount_minor, earlier.currency) != (doc.amount_minor, doc.currency):
        raise Conflict(
            f"Bank transaction {doc.bank_transaction_id!r} was recorded with another amount "
            f"({earlier.amount_minor} {earlier.currency})."
        )
    return earlier, "unchanged"

"""Bank transfers received: matched to the invoice they pay and applied exactly once.

A transfer names its invoice by the reference the pay page shows (``BANK_REFERENCE``, the invoice
number by default), found anywhere in what the payer wrote. Without one, it pays the one unpaid
invoice of exactly that amount whose customer's name is the payer's, when there is exactly one.
Otherwise it is not matched: nothing changes, and the operator's report lists it.

Applying follows the card payments' path (``services.payments``): the invoice is paid when it is
unpaid and the amount is its total; money it cannot take (already paid, cancelled, another amount)
goes to the customer's balance. The transfer's bank id is the payment's ``external_id``
(``bank:...``, unique in the database), checked under the customer's row lock: the same transfer
imported again, or by two imports at the same moment, is applied once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services import audit, ledger, paying
from services.audit import Actor
from services.bank_statements import Transfer
from services.money import Money
from services.ports import Notifier, PaymentNotice
from storage.models import Customer, Invoice, Payment
from storage.uow import UnitOfWork

# An invoice number as printed: the series (letters, year, maybe a separator), a hyphen, the sequence.
NUMBER = re.compile(r"[A-Za-z][A-Za-z0-9_/]*-[0-9]+")
PAYABLE = ("invoice", "topup")


@dataclass(frozen=True)
class Outcome:
    """``paid``: the transfer paid ``invoice``. ``credited``: it went to the balance of the invoice's
    customer (``reason`` says why the invoice could not take it). ``duplicate``: applied before.
    ``unmatched``: nothing changed (``reason`` says why)."""

    status: str
    transfer: Transfer
    invoice: str | None = None
    invoice_id: int | None = None
    customer_id: int | None = None
    reason: str = ""


def payment_key(transfer: Transfer) -> str:
    return f"bank:{transfer.bank_ref}"[:100]


def numbers_in(text: str, template: str = "{number}") -> list[str]:
    """The invoice numbers ``text`` may hold, for a reference made by ``template`` (the words around
    ``{number}`` may be glued to it, as banks sometimes do)."""
    prefix, _sep, suffix = (part.strip().upper() for part in template.partition("{number}"))
    found: list[str] = []
    for token in NUMBER.findall(text):
        upper = token.upper()
        candidates = [upper]
        if prefix and upper.startswith(prefix):
            candidates.append(upper[len(prefix) :])
        if suffix and upper.endswith(suffix):
            candidates.append(upper[: -len(suffix)])
        found += [c for c in candidates if c and c not in found]
    return found


def _words(name: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return set(re.findall(r"\w+", plain))


def same_payer(payer: str, customer_name: str) -> bool:
    """Whether the payer's name is the customer's: every word of the shorter one in the other, in
    any case and with or without accents ("ATELIER LUMIERE SARL" is "Atelier Lumière")."""
    a, b = _words(payer), _words(customer_name)
    return bool(a and b) and (a <= b or b <= a)


async def _by_reference(uow: UnitOfWork, transfer: Transfer, template: str) -> list[Invoice]:
    numbers = numbers_in(transfer.reference, template)
    if not numbers:
        return []
    rows = await uow.session.scalars(
        select(Invoice).where(func.upper(Invoice.number).in_(numbers), Invoice.kind.in_(PAYABLE))
    )
    return list(rows.all())


async def _by_amount_and_name(uow: UnitOfWork, transfer: Transfer) -> list[Invoice]:
    rows = await uow.session.execute(
        select(Invoice, Customer.name)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(
            Invoice.status == "unpaid",
            Invoice.kind.in_(PAYABLE),
            Invoice.total_minor == transfer.amount.minor,
            Invoice.currency == transfer.amount.currency,
        )
    )
    return [inv for inv, name in rows.all() if same_payer(transfer.payer, name)]


async def match(
    uow: UnitOfWork, transfer: Transfer, template: str = "{number}"
) -> tuple[Invoice | None, str]:
    """The invoice the transfer pays, or None and why not."""
    named = await _by_reference(uow, transfer, template)
    if len(named) == 1:
        return named[0], ""
    if len(named) > 1:
        return None, "the reference names several invoices"
    candidates = await _by_amount_and_name(uow, transfer)
    if len(candidates) == 1:
        return candidates[0], ""
    if candidates:
        return None, "no invoice number in the reference; several unpaid invoices of that amount and name"
    return None, "no invoice number in the reference; no unpaid invoice of that amount and name"


async def record(
    uow: UnitOfWork,
    transfer: Transfer,
    notifier: Notifier,
    template: str = "{number}",
    invoice_id: int | None = None,
    actor: Actor | None = None,
) -> Outcome:
    """Apply one received transfer exactly once and commit, with the customer's notice (in chat,
    through ``notifier``) in the same commit. ``invoice_id``: the staff say which invoice it pays
    (no matching); otherwise it is matched by reference, then by amount and name.

    Nothing is written for a transfer that is not matched, or is in a currency other than its
    customer's: the report lists it, and it can be recorded again later with ``invoice_id``."""
    key = payment_key(transfer)
    try:
        outcome = await _apply(uow, transfer, key, template, invoice_id, actor)
        if outcome.status in ("paid", "credited"):
            assert outcome.customer_id is not None and outcome.invoice_id is not None
            paid = outcome.status == "paid"
            notice = PaymentNotice(outcome.customer_id, outcome.invoice_id, paid, transfer.amount, key)
            await notifier.notify(uow, notice)
            await uow.commit()
        else:
            await uow.rollback()
    except IntegrityError:
        # Another import applied the same transfer at the same moment.
        await uow.rollback()
        return Outcome("duplicate", transfer)
    return outcome


async def _applied(uow: UnitOfWork, key: str) -> bool:
    return await uow.session.scalar(select(Payment.id).where(Payment.external_id == key)) is not None


async def _apply(
    uow: UnitOfWork,
    transfer: Transfer,
    key: str,
    template: str,
    invoice_id: int | None,
    actor: Actor | None,
) -> Outcome:
    if await _applied(uow, key):
        return Outcome("duplicate", transfer)
    if invoice_id is not None:
        found, reason = await uow.session.get(Invoice, invoice_id), "no such invoice"
    else:
        found, reason = await match(uow, transfer, template)
    if found is None:
        return Outcome("unmatched", transfer, reason=reason)
    # The customer's row first, as every payment does; then the invoice and the key as they are now.
    await ledger.lock(uow, found.customer_id)
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert invoice is not None
    if await _applied(uow, key):
        return Outcome("duplicate", transfer)
    customer = await uow.session.get(Customer, invoice.customer_id)
    assert customer is not None
    amount = transfer.amount
    target = f"invoice:{invoice.id}"
    detail: dict[str, Any] = {
        "bank_ref": transfer.bank_ref,
        "amount": amount.minor,
        "currency": amount.currency,
    }
    if invoice.status == "unpaid" and amount == Money(invoice.total_minor, invoice.currency):
        await paying.mark_paid(uow, invoice, "bank", actor, external_id=key)
        audit.record(uow, "payment.bank", actor, target, **detail)
        return Outcome("paid", transfer, invoice.number, invoice.id, customer.id)
    if amount.currency != customer.currency:
        return Outcome(
            "unmatched", transfer, invoice.number, invoice.id, customer.id, "not in the customer's currency"
        )
    await ledger.post(uow, customer, amount, "payment", f"{invoice.number} (bank)", actor, invoice.id)
    uow.session.add(
        Payment(
            invoice_id=invoice.id,
            customer_id=customer.id,
            method="bank",
            amount_minor=amount.minor,
            currency=amount.currency,
            external_id=key,
        )
    )
    await uow.flush()
    why = {"paid": "invoice already paid", "unpaid": "not the invoice's total"}.get(
        invoice.status, f"invoice {invoice.status}"
    )
    audit.record(uow, "payment.credited", actor, target, reason=why, **detail)
    return Outcome("credited", transfer, invoice.number, invoice.id, customer.id, why)

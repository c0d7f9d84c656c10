"""Payments reported by a provider's webhook: each event applied once, in whatever order they come."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import audit, ledger, paying
from services.money import Money
from services.ports import Charge, Notifier, PaymentEvent, PaymentNotice
from storage.models import Customer, IdempotencyKey, Invoice, Payment
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Outcome:
    """``paid``: the invoice is now paid. ``credited``: money came in for an invoice that could not
    take it (already paid, cancelled, other amount), so it went to the balance. ``ignored``: nothing
    to do. ``duplicate``: this event, or another one for the same checkout, was applied before."""

    status: str
    customer: Customer | None = None
    invoice: Invoice | None = None
    amount: Money | None = None


def charge(invoice: Invoice, title: str) -> Charge:
    """What a card checkout asks for to pay ``invoice`` (its total, under ``title``)."""
    return Charge(invoice.id, invoice.number, Money(invoice.total_minor, invoice.currency), title)


async def _claim(uow: UnitOfWork, key: str) -> bool:
    """Take the event's key in this transaction; False when it was taken before."""
    if await uow.session.get(IdempotencyKey, key) is not None:
        return False
    uow.session.add(IdempotencyKey(key=key))
    await uow.flush()
    return True


async def apply_event(uow: UnitOfWork, event: PaymentEvent, method: str, notifier: Notifier) -> Outcome:
    """Apply one provider event exactly once and commit, with the customer's notice in the same commit.

    Keys: the event id (a redelivered event changes nothing) and the checkout attempt, stored as the
    payment's ``external_id`` (``completed`` and ``async_payment_succeeded`` of one checkout pay once,
    whichever comes first). Money that arrives for an invoice that can no longer take it is not lost:
    it is credited to the balance.
    """
    try:
        outcome = await _apply(uow, event, method)
        if outcome.customer is not None and outcome.invoice is not None and outcome.amount is not None:
            notice = PaymentNotice(
                outcome.customer.id, outcome.invoice.id, outcome.status == "paid", outcome.amount, event.id
            )
            await notifier.notify(uow, notice)
        await uow.commit()
    except IntegrityError:
        # Another replica applied the same event or checkout at the same moment.
        await uow.session.rollback()
        return Outcome("duplicate")
    return outcome


async def _apply(uow: UnitOfWork, event: PaymentEvent, method: str) -> Outcome:
    if not await _claim(uow, f"{method}:{event.id}"):
        return Outcome("duplicate")
    target = f"invoice:{event.invoice_id}"
    if event.kind != "succeeded" or event.invoice_id is None:
        audit.record(uow, f"payment.{event.kind}", None, target, provider=method, event=event.id)
        return Outcome("ignored")
    owner = await uow.session.scalar(select(Invoice.customer_id).where(Invoice.id == event.invoice_id))
    if owner is None:
        audit.record(uow, "payment.unknown", None, target, outcome="error", event=event.id)
        return Outcome("ignored")
    # The customer's row first, as every payment does; then the invoice as it is now. A balance
    # payment of the same invoice waits or has finished: the status read here decides.
    await ledger.lock(uow, owner)
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == event.invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert invoice is not None
    if await uow.session.scalar(select(Payment.id).where(Payment.external_id == event.attempt)):
        return Outcome("duplicate")
    customer = await uow.session.get(Customer, invoice.customer_id)
    assert customer is not None
    amount = Money(event.amount_minor, event.currency.upper())
    if invoice.status == "unpaid" and amount == Money(invoice.total_minor, invoice.currency):
        await paying.mark_paid(uow, invoice, method, None, external_id=event.attempt)
        return Outcome("paid", customer, invoice, amount)
    if amount.currency != customer.currency:
        audit.record(uow, "payment.currency", None, target, outcome="error", event=event.id)
        return Outcome("ignored")
    await ledger.post(uow, customer, amount, "payment", f"{invoice.number} ({method})", None, invoice.id)
    uow.session.add(
        Payment(
            invoice_id=invoice.id,
            customer_id=customer.id,
            method=method,
            amount_minor=amount.minor,
            currency=amount.currency,
            external_id=event.attempt,
        )
    )
    audit.record(uow, "payment.credited", None, target, event=event.id, amount=amount.minor)
    return Outcome("credited", customer, invoice, amount)

"""Paying an invoice: exactly once, with its ledger entries, then what each paid line buys.

Kept apart from ``services.invoices`` because what a line buys belongs to other services (an
upgrade is carried out by ``services.plans``, which itself creates invoices): this module sits
above both, so the imports run one way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from services import audit, clock, invoices, ledger, pending_actions, plans, service_lifecycle
from services.audit import Actor
from services.errors import N_, InvalidState
from services.invoices import RENEWAL_ITEMS
from services.money import Money
from storage.models import Customer, Domain, Invoice, Order, Payment
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class PayLinks:
    """Where pay links point (the public base URL) and how many days one stays valid."""

    base_url: str
    ttl_days: int


async def open_pay_link(uow: UnitOfWork, invoice: Invoice, links: PayLinks) -> str:
    """A pay link for an unpaid invoice, saved at once: the customer may open it before anything else
    this update does is committed."""
    link = await invoices.create_pay_link(uow, invoice, links.base_url, links.ttl_days)
    await uow.commit()
    return link


async def pay_from_balance(uow: UnitOfWork, invoice: Invoice, actor: Actor) -> Payment:
    """The customer pays an invoice from their balance (refused below zero), committed."""
    payment = await mark_paid(uow, invoice, "balance", actor)
    await uow.commit()
    return payment


async def _apply_effects(uow: UnitOfWork, invoice: Invoice, actor: Actor | None) -> None:
    """What paying each line buys: another billing period, another year of a domain, an upgrade."""
    for line in invoice.lines:
        if line.ref_id is None:
            continue
        if line.effect == "order_change":
            await plans.apply_paid(uow, line.ref_id)
        elif (
            line.effect in RENEWAL_ITEMS
            and line.period_start
            and line.period_end
            and not await _renew(uow, line.effect, line.ref_id, line.period_start, line.period_end)
        ):
            # Paid for a period the item no longer starts (an older duplicate): kept in the audit.
            audit.record(
                uow, "invoice.effect_skipped", actor, f"invoice:{invoice.id}", line=line.id, outcome="error"
            )


async def _renew(uow: UnitOfWork, effect: str, ref_id: int, start: dt.date, end: dt.date) -> bool:
    """Move the order's period or the domain's expiry from ``start`` to ``end``, in one conditional
    UPDATE that matches only while the item still ends on ``start``: a period is bought once.

    What that sets off outside is decided here and carried out after the commit: a suspended
    order's servers are unsuspended, a domain's year is renewed at the registrar. A terminated
    order is over: its invoices were cancelled, and nothing brings it back."""
    if effect == "order_renewal":
        was = await uow.session.scalar(select(Order.status).where(Order.id == ref_id))
        moved = (
            await uow.session.execute(
                update(Order)
                .where(Order.id == ref_id, Order.period_end == start, Order.status != "terminated")
                .values(period_start=start, period_end=end, status="active")
                .returning(Order.customer_id)
            )
        ).first()
        if moved is not None and was == "suspended":
            await service_lifecycle.resume(uow, ref_id, moved.customer_id, start)
        return moved is not None
    renewed = (
        await uow.session.execute(
            update(Domain)
            .where(Domain.id == ref_id, Domain.expires_on == start)
            .values(expires_on=end)
            .returning(Domain.customer_id)
        )
    ).first()
    if renewed is not None:
        await pending_actions.enqueue(
            uow,
            f"renew:domain:{ref_id}:{start.isoformat()}",
            renewed.customer_id,
            "renew_domain",
            f"domain:{ref_id}",
            {"start": start.isoformat(), "end": end.isoformat()},
        )
    return renewed is not None


async def _claim(uow: UnitOfWork, invoice: Invoice) -> None:
    """``unpaid`` → ``paid`` in one conditional UPDATE: of everything that pays one invoice at the same
    moment, exactly one gets past here; the others raise and their transaction rolls back."""
    paid_at = clock.now()
    claimed = await uow.session.scalar(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status == "unpaid")
        .values(status="paid", paid_at=paid_at)
        .returning(Invoice.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        raise InvalidState(N_("Invoice {number} is not open for payment."), number=invoice.number)
    set_committed_value(invoice, "status", "paid")
    set_committed_value(invoice, "paid_at", paid_at)


async def mark_paid(
    uow: UnitOfWork,
    invoice: Invoice,
    method: str,
    actor: Actor | None,
    external_id: str | None = None,
    floor: ledger.Floor = "overdraft",
) -> Payment:
    """Record a full payment and its ledger entries, then apply what the invoice buys.

    Paid from the balance: one debit, refused below ``floor``. Paid from outside: the money comes in
    (credit) and, unless the invoice is a top-up, is applied to the invoice (debit), so the ledger
    shows both. The customer's row is locked first, then the invoice is claimed, so whatever
    arrives at the same moment pays it once and no two payments deadlock.
    """
    await ledger.lock(uow, invoice.customer_id)
    await _claim(uow, invoice)
    customer = await uow.session.get(Customer, invoice.customer_id)
    assert customer is not None
    total = Money(invoice.total_minor, invoice.currency)
    memo = f"{invoice.number}"
    if method != "balance":
        await ledger.post(uow, customer, total, "payment", memo, actor, invoice.id)
    if invoice.kind != "topup":
        await ledger.post(
            uow,
            customer,
            Money(-total.minor, total.currency),
            "charge",
            memo,
            actor,
            invoice.id,
            floor=floor if method == "balance" else "none",
        )
    payment = Payment(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        method=method,
        amount_minor=invoice.total_minor,
        currency=invoice.currency,
        external_id=external_id,
    )
    uow.session.add(payment)
    await _apply_effects(uow, invoice, actor)
    audit.record(
        uow, "invoice.paid", actor, f"invoice:{invoice.id}", method=method, total=invoice.total_minor
    )
    return payment


async def from_balance_if_covered(
    uow: UnitOfWork, customer: Customer, invoice: Invoice, actor: Actor | None
) -> bool:
    """Pay ``invoice`` from the balance when the balance covers all of it (never a part): what
    auto-renew and a renewal confirmed in chat do. Callers hold the customer's row (``ledger.lock``)
    since before they read the item, so the balance read here is the one the debit sees; the
    debit itself still refuses to go below zero."""
    if invoice.status != "unpaid" or (await ledger.balance(uow, customer)).minor < invoice.total_minor:
        return False
    await mark_paid(uow, invoice, "balance", actor, floor="covered")
    return True

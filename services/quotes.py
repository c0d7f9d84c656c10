"""Quotes: what extending an order or upgrading its plan would cost, turned into an invoice on request.

A quote is an ``Invoice`` of kind ``quote`` numbered in its own series (``Q`` + series + year). It
carries the same lines the invoice will have; turning it into an invoice keeps the quoted prices
and re-checks that nothing else already covers the same thing. A quoted upgrade is carried out when
the invoice is paid.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from services import audit, clock, invoices, plans, renewal_costs, renewals
from services.access import owned
from services.audit import Actor
from services.errors import N_, InvalidState
from services.invoices import LineSpec, Seller
from storage.models import Customer, Invoice, Order, OrderChange
from storage.uow import UnitOfWork


async def for_extension(
    uow: UnitOfWork, customer: Customer, order_id: int, seller: Seller, actor: Actor
) -> Invoice:
    order = await owned(uow, Order, order_id, actor)
    start, _end = renewal_costs.order_period(order)
    quote = await invoices.create(
        uow, customer, renewal_costs.order_lines(order), seller, actor, "quote", order.id, supply_date=start
    )
    await uow.commit()
    return quote


async def for_upgrade(
    uow: UnitOfWork, customer: Customer, order_id: int, plan_id: int, cycle: str, seller: Seller, actor: Actor
) -> Invoice:
    """A quote for upgrading now; a downgrade costs nothing now, so it has no quote."""
    order = await owned(uow, Order, order_id, actor)
    plan = await plans.load_plan(uow, plan_id)
    change = plans.preview(customer, order, plan, cycle, None, seller)
    if not change.upgrade or not change.lines:
        raise InvalidState(
            N_("Nothing to pay now for that change: it takes effect on {date}."), date=change.effective_on
        )
    row = OrderChange(
        customer_id=customer.id,
        order_id=order.id,
        kind="plan",
        plan_id=plan.id,
        billing_cycle=cycle,
        status="quoted",
    )
    uow.session.add(row)
    await uow.flush()
    first = change.lines[0]
    lines = [
        replace(first, effect="order_change", ref_id=row.id),
        *change.lines[1:],
    ]
    quote = await invoices.create(uow, customer, lines, seller, actor, "quote", order.id)
    row.invoice_id = quote.id
    await uow.commit()
    return quote


async def get(uow: UnitOfWork, quote_id: int, actor: Actor) -> Invoice:
    quote = await owned(uow, Invoice, quote_id, actor)
    if quote.kind != "quote" or quote.status != "draft":
        raise InvalidState(N_("{number} is not an open quote."), number=quote.number)
    return quote


async def convert(
    uow: UnitOfWork, customer: Customer, quote_id: int, seller: Seller, actor: Actor
) -> Invoice:
    """Turn an open quote into an invoice with the same lines and prices (in the quote's currency,
    so not once the account's currency has changed)."""
    quote = await get(uow, quote_id, actor)
    if quote.currency != customer.currency:
        raise InvalidState(
            N_(
                "Quote {number} is in {currency}, and your account is now billed in {account}: ask for a new one."
            ),
            number=quote.number,
            currency=quote.currency,
            account=customer.currency,
        )
    changes: list[OrderChange] = []
    for line in quote.lines:
        if line.effect == "order_renewal" and line.ref_id is not None:
            order = await uow.session.get(Order, line.ref_id)
            assert order is not None
            if line.period_start != order.period_end:
                raise InvalidState(
                    N_("Quote {number} is out of date: ask for a new one."), number=quote.number
                )
            existing = await renewals.pending_invoice(uow, order)
            if existing is not None:
                raise InvalidState(N_("Invoice {number} already covers this period."), number=existing.number)
        elif line.effect == "order_change" and line.ref_id is not None:
            row = await uow.session.scalar(select(OrderChange).where(OrderChange.id == line.ref_id))
            assert row is not None
            order = await uow.session.get(Order, row.order_id)
            assert order is not None
            waiting = await plans.awaiting_payment(uow, order)
            if waiting is not None:
                raise InvalidState(
                    N_("An upgrade of order #{id} is already waiting for payment."), id=order.id
                )
            changes.append(row)
    specs = [
        LineSpec(
            line.description,
            line.unit_minor,
            line.quantity,
            line.kind,
            line.period_start,
            line.period_end,
            line.effect,
            line.ref_id,
        )
        for line in quote.lines
    ]
    invoice = await invoices.create(
        uow,
        customer,
        specs,
        seller,
        actor,
        order_id=quote.order_id,
        supply_date=max(quote.supply_date, clock.today()),
    )
    for row in changes:
        row.status = "awaiting_payment"
        row.invoice_id = invoice.id
    quote.status = "accepted"
    audit.record(uow, "quote.accept", actor, f"invoice:{quote.id}", invoice=invoice.id)
    await uow.commit()
    return invoice

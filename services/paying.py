"""Paying an invoice: exactly once, with its ledger entries, then what each paid line buys.

Kept apart from ``services.invoices`` because what a line buys belongs to other services (an
upgrade is carried out by ``services.plans``, which itself creates invoices): this module sits
above both, so the imports run one way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, FromClause, Integer, select, update
from sqlalchemy.orm.attributes import set_committed_value

from services import audit, clock, invoices, ledger, pending_actions, plans, service_lifecycle
from services.audit import Actor
from services.errors import N_, InvalidState
from services.invoices import RENEWAL_ITEMS
from services.money import Money
from storage.models import Customer, Domain, Invoice, InvoiceLine, Order, Payment
from storage.sets import among, insert_rows, rows_table
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
    effects = [
        _Effect(invoice.id, line.id, line.effect, line.ref_id, line.period_start, line.period_end)
        for line in invoice.lines
        if line.ref_id is not None
    ]
    await _apply_all(uow, effects, actor)


@dataclass(frozen=True)
class _Effect:
    """What one paid line buys (``effect`` on the order or domain ``ref_id``, for a period)."""

    invoice_id: int
    line_id: int
    effect: str | None
    ref_id: int
    start: dt.date | None
    end: dt.date | None


async def _apply_all(uow: UnitOfWork, effects: Sequence[_Effect], actor: Actor | None) -> None:
    """Carry out what the paid lines buy: an upgrade each; the periods of all orders, then the
    years of all domains, each in one statement."""
    moves: dict[str, dict[int, tuple[dt.date, dt.date]]] = {effect: {} for effect in RENEWAL_ITEMS}
    for e in effects:
        if e.effect == "order_change":
            await plans.apply_paid(uow, e.ref_id)
        elif e.effect in RENEWAL_ITEMS and e.start and e.end:
            moves[e.effect][e.ref_id] = (e.start, e.end)
    moved = await _renew_orders(uow, moves["order_renewal"]) | await _renew_domains(
        uow, moves["domain_renewal"]
    )
    for e in effects:
        if e.effect in RENEWAL_ITEMS and e.start and e.end and (e.effect, e.ref_id) not in moved:
            # Paid for a period the item no longer starts (an older duplicate): kept in the audit.
            audit.record(
                uow,
                "invoice.effect_skipped",
                actor,
                f"invoice:{e.invoice_id}",
                line=e.line_id,
                outcome="error",
            )


async def _renew_orders(uow: UnitOfWork, moves: dict[int, tuple[dt.date, dt.date]]) -> set[tuple[str, int]]:
    """Move each order's period from its start to its end (by order id), in one conditional UPDATE
    that matches an order only while it still ends on that start: a period is bought once. Returns
    ("order_renewal", id) of the orders moved.

    A suspended order's servers are unsuspended after the commit (decided here). A terminated order
    is over: its invoices were cancelled, and nothing brings it back."""
    if not moves:
        return set()
    suspended = set(
        await uow.session.scalars(
            select(Order.id).where(among(uow.dialect, Order.id, moves), Order.status == "suspended")
        )
    )
    periods = _periods(uow, moves)
    moved = (
        await uow.session.execute(
            update(Order)
            .where(
                Order.id == periods.c.id, Order.period_end == periods.c.start, Order.status != "terminated"
            )
            .values(period_start=periods.c.start, period_end=periods.c.end, status="active")
            .returning(Order.id, Order.customer_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for order_id, _customer in moved:
        start_on, end_on = moves[order_id]
        _show(uow, Order, order_id, period_start=start_on, period_end=end_on, status="active")
    for order_id, customer_id in moved:
        if order_id in suspended:
            await service_lifecycle.resume(uow, order_id, customer_id, moves[order_id][0])
    return {("order_renewal", order_id) for order_id, _c in moved}


def _periods(uow: UnitOfWork, moves: dict[int, tuple[dt.date, dt.date]]) -> FromClause:
    """The moves (item id: period start and end) as a table to join an UPDATE with: one statement,
    compiled once, for every batch (``storage.sets.rows_table``)."""
    return rows_table(
        uow.dialect,
        "periods",
        {"id": Integer(), "start": Date(), "end": Date()},
        [(i, start, end) for i, (start, end) in moves.items()],
    )


def _show(uow: UnitOfWork, model: type[Order] | type[Domain], item_id: int, **values: Any) -> None:
    """The item as the session holds it (if it does) takes the values an UPDATE just wrote, so the
    caller that paid shows the new period without reading it again."""
    held = uow.session.identity_map.get(uow.session.identity_key(model, item_id))
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)


async def _renew_domains(uow: UnitOfWork, moves: dict[int, tuple[dt.date, dt.date]]) -> set[tuple[str, int]]:
    """Move each domain's expiry from the start to the end of its year (by domain id), in one
    conditional UPDATE that matches a domain only while it still expires on that start; the year is
    renewed at the registrar after the commit (decided here). Returns ("domain_renewal", id) of the
    domains moved."""
    if not moves:
        return set()
    periods = _periods(uow, moves)
    renewed = (
        await uow.session.execute(
            update(Domain)
            .where(Domain.id == periods.c.id, Domain.expires_on == periods.c.start)
            .values(expires_on=periods.c.end)
            .returning(Domain.id, Domain.customer_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for domain_id, _customer in renewed:
        _show(uow, Domain, domain_id, expires_on=moves[domain_id][1])
    await pending_actions.enqueue_many(
        uow,
        [
            pending_actions.Decided(
                f"renew:domain:{domain_id}:{moves[domain_id][0].isoformat()}",
                customer_id,
                "renew_domain",
                f"domain:{domain_id}",
                {"start": moves[domain_id][0].isoformat(), "end": moves[domain_id][1].isoformat()},
            )
            for domain_id, customer_id in renewed
        ],
    )
    return {("domain_renewal", domain_id) for domain_id, _c in renewed}


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


@dataclass(frozen=True)
class Bill:
    """An unpaid invoice of ``customer`` that the balance covers, as a job read it (no ORM object)."""

    customer: Customer
    invoice_id: int
    number: str
    total_minor: int
    currency: str


async def from_balances(uow: UnitOfWork, bills: Sequence[Bill]) -> list[int]:
    """``from_balance_if_covered`` for many invoices at once, by the system (the auto-renew pass),
    once the caller, holding the rows of all their customers, has decided that the balances cover
    them whole. A statement or two for all: every invoice is claimed ``unpaid`` → ``paid`` and every
    balance debited by conditional UPDATEs (one that does not match raises, so the caller's
    transaction rolls back and no money moves twice), then the payments, what the lines buy and
    the audit rows. Returns the ids of the debits' ledger entries, in the order given."""
    if not bills:
        return []
    await _claim_all(uow, bills)
    entries = await ledger.debit_covered(
        uow,
        "charge",
        [ledger.Debit(b.customer, Money(b.total_minor, b.currency), b.number, b.invoice_id) for b in bills],
    )
    await insert_rows(
        uow,
        Payment,
        [
            {
                "invoice_id": b.invoice_id,
                "customer_id": b.customer.id,
                "method": "balance",
                "amount_minor": b.total_minor,
                "currency": b.currency,
            }
            for b in bills
        ],
    )
    await _apply_all(uow, await _effects_of(uow, [b.invoice_id for b in bills]), None)
    await audit.record_system(
        uow,
        "invoice.paid",
        [(f"invoice:{b.invoice_id}", {"method": "balance", "total": b.total_minor}) for b in bills],
    )
    return entries


async def _claim_all(uow: UnitOfWork, bills: Sequence[Bill]) -> None:
    """``_claim`` for many invoices in one conditional UPDATE: raises unless it claimed every one."""
    claimed = set(
        await uow.session.scalars(
            update(Invoice)
            .where(among(uow.dialect, Invoice.id, [b.invoice_id for b in bills]), Invoice.status == "unpaid")
            .values(status="paid", paid_at=clock.now())
            .returning(Invoice.id)
            .execution_options(synchronize_session=False)
        )
    )
    for b in bills:
        if b.invoice_id not in claimed:
            raise InvalidState(N_("Invoice {number} is not open for payment."), number=b.number)


async def _effects_of(uow: UnitOfWork, invoice_ids: Sequence[int]) -> list[_Effect]:
    """What the lines of these invoices buy, in line order, read in one statement."""
    rows = await uow.session.execute(
        select(
            InvoiceLine.invoice_id,
            InvoiceLine.id,
            InvoiceLine.effect,
            InvoiceLine.ref_id,
            InvoiceLine.period_start,
            InvoiceLine.period_end,
        )
        .where(among(uow.dialect, InvoiceLine.invoice_id, invoice_ids), InvoiceLine.ref_id.is_not(None))
        .order_by(InvoiceLine.id)
    )
    return [
        _Effect(i, line, effect, ref, start, end)
        for i, line, effect, ref, start, end in rows
        if ref is not None
    ]

"""Plan and package changes (subscription plans, support packages, mail packages).

An upgrade (a higher rank, same billing cycle) takes effect at once and is invoiced for the days
left in the period: ``(new price - old price) × days left ÷ days in the period``. A downgrade or a
change of billing cycle takes effect at the end of the period. Any change can instead be scheduled
for a future date and cancelled until then; the worker applies it on that date.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, select, update
from sqlalchemy.orm import aliased

from services import audit, breakdown, clock, invoices, proration
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState, NotFound
from services.invoices import LineSpec, Seller
from services.money import Money
from services.wording import Param, Text, names_of
from storage.models import Addon, Customer, Invoice, Order, OrderAddon, OrderChange, Plan
from storage.uow import UnitOfWork

MAILBOX = "mailbox"
BATCH = 500  # scheduled changes per transaction
PRORATED = N_("Plan change, prorated: {name}")


def price(plan: Plan, cycle: str) -> int:
    return plan.yearly_minor if cycle == "yearly" else plan.monthly_minor


async def order_of_kind(uow: UnitOfWork, customer_id: int, kind: str) -> Order | None:
    """The customer's (first) live order of a plan kind: ``subscription``, ``support`` or ``mail``."""
    return await uow.session.scalar(
        select(Order)
        .join(Plan, Plan.id == Order.plan_id)
        .where(Order.customer_id == customer_id, Plan.kind == kind, Order.status != "cancelled")
        .order_by(Order.id)
        .limit(1)
    )


async def options(uow: UnitOfWork, order: Order) -> Sequence[Plan]:
    rows = await uow.session.scalars(
        select(Plan)
        .where(Plan.kind == order.plan.kind, Plan.currency == order.currency)
        .order_by(Plan.rank, Plan.id)
    )
    return rows.all()


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def find(plans: Sequence[Plan], ref: str) -> Plan | None:
    """A plan by code or name (in any language), in any case, with or without spaces ("Mail Pro", "mailpro", "mail-pro"),
    or by one word of its name when only one plan has it ("pro", "premium")."""
    wanted = _key(ref)
    for plan in plans:
        if wanted in {_key(plan.code), *map(_key, _names(plan))}:
            return plan
    by_word = [p for p in plans if wanted in {_key(w) for n in _names(p) for w in n.split()} | _words(p.code)]
    return by_word[0] if len(by_word) == 1 else None


def _words(code: str) -> set[str]:
    return {_key(w) for w in code.split("-")}


def _names(plan: Plan) -> list[str]:
    """Its name in every language: a customer may type the one they see."""
    return [plan.name, *(plan.names or {}).values()]


def is_upgrade(order: Order, plan: Plan, cycle: str) -> bool:
    return cycle == order.billing_cycle and plan.rank > order.plan.rank


def period_end_on_or_after(order: Order, day: dt.date) -> dt.date:
    end = order.period_end
    while end < day:
        end = proration.add_cycle(end, order.billing_cycle)
    return end


def proration_lines(order: Order, plan: Plan, cycle: str, start: dt.date) -> list[LineSpec]:
    """The price difference for the days from ``start`` to the end of the period, with fees."""
    start = min(max(start, order.period_start), order.period_end)
    difference = price(plan, cycle) - order.price_minor
    amount = proration.prorate(difference, order.period_start, order.period_end, start, order.period_end)
    if amount <= 0:
        return []
    change: dict[str, Param] = {"old": names_of(order.plan), "new": names_of(plan), "id": order.id}
    line = LineSpec(
        Text(PRORATED, {"name": Text("{old} → {new} #{id}", change)}),
        amount,
        kind="proration",
        period_start=start,
        period_end=order.period_end,
    )
    return breakdown.with_fees([line])


@dataclass(frozen=True)
class ChangePreview:
    order: Order
    plan: Plan
    cycle: str
    upgrade: bool
    effective_on: dt.date
    period_days: int
    days_left: int
    difference: Money
    lines: list[LineSpec]
    totals: Totals


def ensure_open_period(order: Order, today: dt.date) -> None:
    if order.period_end <= today:
        raise InvalidState(N_("The current period of order #{id} has ended. Extend it first."), id=order.id)


def preview(
    customer: Customer, order: Order, plan: Plan, cycle: str, on: dt.date | None, seller: Seller
) -> ChangePreview:
    """What changing ``order`` to ``plan``/``cycle`` (now, or on ``on``) does and costs."""
    today = clock.today()
    if plan.kind != order.plan.kind or plan.currency != order.currency or cycle not in proration.CYCLES:
        raise NotFound()
    if plan.id == order.plan_id and cycle == order.billing_cycle:
        raise InvalidState(
            N_("Order #{id} is already on {plan} with that billing cycle."), id=order.id, plan=names_of(plan)
        )
    if on is not None and on <= today:
        raise InvalidState(N_("Choose a date after today."))
    upgrade = is_upgrade(order, plan, cycle)
    if upgrade:
        if on is None:
            ensure_open_period(order, today)
        effective = on or today
    else:
        effective = period_end_on_or_after(order, on or order.period_end)
    lines = proration_lines(order, plan, cycle, effective) if upgrade else []
    start = min(max(effective, order.period_start), order.period_end)
    return ChangePreview(
        order,
        plan,
        cycle,
        upgrade,
        effective,
        (order.period_end - order.period_start).days,
        (order.period_end - start).days,
        Money(price(plan, cycle) - order.price_minor, order.currency),
        lines,
        breakdown.totals(customer, lines, seller, effective),
    )


def switch(order: Order, plan: Plan, cycle: str) -> None:
    order.plan_id = plan.id
    order.plan = plan
    order.billing_cycle = cycle
    order.price_minor = price(plan, cycle)


async def _change(uow: UnitOfWork, order: Order, status: str) -> OrderChange | None:
    return await uow.session.scalar(
        select(OrderChange).where(OrderChange.order_id == order.id, OrderChange.status == status).limit(1)
    )


async def scheduled(uow: UnitOfWork, order: Order) -> OrderChange | None:
    """The change of this order waiting for its date (or the end of the period), if any."""
    return await _change(uow, order, "scheduled")


async def load_plan(uow: UnitOfWork, plan_id: int) -> Plan:
    plan = await uow.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound()
    return plan


@dataclass(frozen=True)
class ChangeOutcome:
    preview: ChangePreview
    change: OrderChange | None
    invoice: Invoice | None


async def change(
    uow: UnitOfWork,
    customer: Customer,
    order_id: int,
    plan_id: int,
    cycle: str,
    on: dt.date | None,
    seller: Seller,
    actor: Actor,
) -> ChangeOutcome:
    """Carry out a confirmed change: an upgrade now (switch + prorated invoice), else schedule it."""
    order = await owned(uow, Order, order_id, actor)
    plan = await load_plan(uow, plan_id)
    plan_preview = preview(customer, order, plan, cycle, on, seller)
    pending = await scheduled(uow, order)
    if pending is not None:
        raise InvalidState(
            N_("A change of order #{id} is already scheduled for {date}. Cancel it first."),
            id=order.id,
            date=pending.effective_on,
        )
    invoice: Invoice | None = None
    row: OrderChange | None = None
    if plan_preview.upgrade and on is None:
        invoice = await _upgrade_now(uow, customer, order, plan, cycle, seller, actor)
    else:
        row = OrderChange(
            customer_id=customer.id,
            order_id=order.id,
            kind="plan",
            plan_id=plan.id,
            billing_cycle=cycle,
            effective_on=plan_preview.effective_on,
            status="scheduled",
        )
        uow.session.add(row)
        await uow.flush()
        audit.record(uow, "order.change_scheduled", actor, f"order:{order.id}", change=row.id, plan=plan.code)
    await uow.commit()
    return ChangeOutcome(plan_preview, row, invoice)


async def _upgrade_now(
    uow: UnitOfWork,
    customer: Customer,
    order: Order,
    plan: Plan,
    cycle: str,
    seller: Seller,
    actor: Actor | None,
) -> Invoice | None:
    lines = proration_lines(order, plan, cycle, clock.today())
    old = order.plan.code
    switch(order, plan, cycle)
    invoice = await invoices.create(uow, customer, lines, seller, actor, order_id=order.id) if lines else None
    audit.record(
        uow,
        "order.upgrade",
        actor,
        f"order:{order.id}",
        old=old,
        new=plan.code,
        invoice=invoice.id if invoice else None,
    )
    return invoice


async def cancel(uow: UnitOfWork, change_id: int, actor: Actor) -> OrderChange:
    row = await owned(uow, OrderChange, change_id, actor)
    if row.status != "scheduled":
        raise InvalidState(N_("That change is no longer scheduled."))
    row.status = "cancelled"
    audit.record(uow, "order.change_cancelled", actor, f"order:{row.order_id}", change=row.id)
    await uow.commit()
    return row


def _upgrade(change: type[OrderChange] | Any) -> ColumnElement[bool]:
    """``is_upgrade`` in SQL, for a scheduled change and the order as it is before the change."""
    order = aliased(Order)
    new, current = aliased(Plan), aliased(Plan)
    return exists().where(
        order.id == change.order_id,
        new.id == change.plan_id,
        current.id == order.plan_id,
        func.coalesce(change.billing_cycle, order.billing_cycle) == order.billing_cycle,
        new.rank > current.rank,
    )


async def apply_due(uow: UnitOfWork, seller: Seller, batch: int = BATCH) -> int:
    """The worker's job: apply every scheduled change whose date has come, a batch per transaction;
    returns how many. The downgrades and changes of cycle of a batch are a few statements, each
    change taken by a conditional update; an upgrade is prorated on its own invoice."""
    today = clock.today()
    applied = 0
    after = 0
    while True:
        pick = (
            select(OrderChange.id)
            .where(
                OrderChange.status == "scheduled", OrderChange.effective_on <= today, OrderChange.id > after
            )
            .order_by(OrderChange.id)
            .limit(batch)
        )
        if uow.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list((await uow.session.scalars(pick)).all())
        if not ids:
            return applied
        after = ids[-1]
        applied += await _switch_due(uow, ids) + await _upgrade_due(uow, ids, seller)
        await uow.commit()


async def _switch_due(uow: UnitOfWork, ids: Sequence[int]) -> int:
    """The changes among ``ids`` that are not upgrades: taken, then their orders switched at once."""
    taken = (
        await uow.session.execute(
            update(OrderChange)
            .where(
                OrderChange.id.in_(ids),
                OrderChange.status == "scheduled",
                OrderChange.plan_id.is_not(None),
                ~_upgrade(OrderChange),
            )
            .values(status="done")
            .returning(OrderChange.id, OrderChange.order_id, OrderChange.customer_id, OrderChange.plan_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not taken:
        return 0
    cycle = func.coalesce(OrderChange.billing_cycle, Order.billing_cycle)
    await uow.session.execute(
        update(Order)
        .where(
            Order.id == OrderChange.order_id,
            OrderChange.id.in_([change for change, _order, _customer, _plan in taken]),
            Plan.id == OrderChange.plan_id,
        )
        .values(
            plan_id=OrderChange.plan_id,
            billing_cycle=cycle,
            price_minor=case((cycle == "yearly", Plan.yearly_minor), else_=Plan.monthly_minor),
        )
        .execution_options(synchronize_session=False)
    )
    found = await uow.session.execute(select(Plan.id, Plan.code).where(Plan.id.in_({p for *_, p in taken})))
    codes: dict[int | None, str] = {plan_id: code for plan_id, code in found}
    await audit.record_all(
        uow,
        "order.downgrade",
        [(customer, f"order:{order}", {"new": codes[plan]}) for _change, order, customer, plan in taken],
    )
    return len(taken)


async def _upgrade_due(uow: UnitOfWork, ids: Sequence[int], seller: Seller) -> int:
    """The upgrades among ``ids`` (all that is still scheduled): each switched and prorated."""
    rows = (
        await uow.session.scalars(
            select(OrderChange)
            .where(
                OrderChange.id.in_(ids), OrderChange.status == "scheduled", OrderChange.plan_id.is_not(None)
            )
            .order_by(OrderChange.id)
        )
    ).all()
    for row in rows:
        order = await uow.session.get(Order, row.order_id)
        customer = await uow.session.get(Customer, row.customer_id)
        assert order is not None and customer is not None and row.plan is not None
        invoice = await _upgrade_now(
            uow, customer, order, row.plan, row.billing_cycle or order.billing_cycle, seller, None
        )
        row.invoice_id = invoice.id if invoice else None
        row.status = "done"
    return len(rows)


async def awaiting_payment(uow: UnitOfWork, order: Order) -> OrderChange | None:
    """The upgrade of this order that waits for its invoice to be paid, if any."""
    return await _change(uow, order, "awaiting_payment")


async def apply_paid(uow: UnitOfWork, change_id: int) -> None:
    """Paying the invoice of a pending upgrade carries it out (called from ``paying.mark_paid``)."""
    row = await uow.session.get(OrderChange, change_id)
    if row is None or row.status != "awaiting_payment":
        return
    order = await uow.session.get(Order, row.order_id)
    assert order is not None
    if row.kind == "mailboxes":
        await add_addon(uow, order, MAILBOX, row.quantity)
    elif row.plan is not None:
        switch(order, row.plan, row.billing_cycle or order.billing_cycle)
    row.status = "done"
    audit.record(uow, "order.upgrade", None, f"order:{order.id}", change=row.id)


async def add_addon(uow: UnitOfWork, order: Order, code: str, quantity: int) -> None:
    for extra in order.addons:
        if extra.addon.code == code:
            extra.quantity += quantity
            return
    addon = await uow.session.scalar(
        select(Addon).where(Addon.code == code, Addon.currency == order.currency)
    )
    if addon is None:
        raise NotFound()
    order.addons.append(OrderAddon(order_id=order.id, addon_id=addon.id, addon=addon, quantity=quantity))

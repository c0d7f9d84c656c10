"""Mail packages: upgrade the package or add mailboxes (invoiced, applied when paid), and downgrades.

Only one upgrade may wait for payment at a time: a second is refused, naming the invoice to pay.
A downgrade can only be asked for 30 to 15 days before the due date (the end of the period); it is
then handled by the billing team through a ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import select

from services import audit, breakdown, clock, invoices, plans, proration, tickets
from services.access import owned
from services.audit import Actor
from services.breakdown import Totals
from services.errors import N_, InvalidState, NotFound
from services.invoices import LineSpec, Seller
from services.ports import TicketEvents
from services.wording import Text, names_of
from storage.models import Addon, Customer, Invoice, Order, OrderChange, Plan, Ticket
from storage.uow import UnitOfWork

WINDOW_OPENS_DAYS = 30
WINDOW_CLOSES_DAYS = 15
MAX_MAILBOXES = 1000
MAILBOXES = N_("Extra mailboxes: {name}")


class PendingUpgrade(InvalidState):
    message = N_(
        "An upgrade of this mail package is already waiting for payment of invoice {number}. "
        "Only one upgrade can be pending at a time: pay or delete that invoice first."
    )


def mailboxes(order: Order) -> int:
    """Extra mailboxes bought on top of the package."""
    return sum(extra.quantity for extra in order.addons if extra.addon.code == plans.MAILBOX)


async def pending_invoice(uow: UnitOfWork, order: Order) -> Invoice | None:
    """The unpaid invoice of the upgrade waiting for payment, if any."""
    row = await plans.awaiting_payment(uow, order)
    if row is None or row.invoice_id is None:
        return None
    return await uow.session.get(Invoice, row.invoice_id)


async def _mail_order(uow: UnitOfWork, order_id: int, actor: Actor) -> Order:
    order = await owned(uow, Order, order_id, actor)
    if order.plan.kind != "mail":
        raise NotFound()
    return order


@dataclass(frozen=True)
class UpgradePreview:
    order: Order
    lines: list[LineSpec]
    totals: Totals
    days_left: int
    period_days: int


def _preview(customer: Customer, order: Order, lines: list[LineSpec], seller: Seller) -> UpgradePreview:
    today = clock.today()
    return UpgradePreview(
        order,
        lines,
        breakdown.totals(customer, lines, seller, today),
        (order.period_end - today).days,
        (order.period_end - order.period_start).days,
    )


def preview_upgrade(customer: Customer, order: Order, plan: Plan, seller: Seller) -> UpgradePreview:
    if plan.kind != "mail" or plan.currency != order.currency:
        raise NotFound()
    if plan.rank <= order.plan.rank:
        raise InvalidState(
            N_("{plan} is not an upgrade of your current package {current}."),
            plan=names_of(plan),
            current=names_of(order.plan),
        )
    plans.ensure_open_period(order, clock.today())
    return _preview(
        customer, order, plans.proration_lines(order, plan, order.billing_cycle, clock.today()), seller
    )


async def mailbox_addon(uow: UnitOfWork, currency: str) -> Addon:
    addon = await uow.session.scalar(
        select(Addon).where(Addon.code == plans.MAILBOX, Addon.currency == currency)
    )
    if addon is None:
        raise NotFound()
    return addon


async def preview_mailboxes(
    uow: UnitOfWork, customer: Customer, order: Order, count: int, seller: Seller
) -> UpgradePreview:
    """``count`` more mailboxes, each at its period price prorated to the days left."""
    if not 0 < count <= MAX_MAILBOXES:
        raise InvalidState(N_("Choose between 1 and {limit} mailboxes."), limit=MAX_MAILBOXES)
    today = clock.today()
    plans.ensure_open_period(order, today)
    addon = await mailbox_addon(uow, order.currency)
    full = addon.monthly_minor * proration.months_in(order.billing_cycle)
    each = proration.prorate(full, order.period_start, order.period_end, today, order.period_end)
    line = LineSpec(
        Text(MAILBOXES, {"name": Text("{addon} #{id}", {"addon": names_of(addon), "id": order.id})}),
        each,
        quantity=count,
        kind="mailboxes",
        period_start=today,
        period_end=order.period_end,
    )
    return _preview(customer, order, breakdown.with_fees([line]), seller)


async def _invoice_change(
    uow: UnitOfWork,
    customer: Customer,
    order: Order,
    row: OrderChange,
    lines: list[LineSpec],
    seller: Seller,
    actor: Actor,
) -> Invoice:
    waiting = await pending_invoice(uow, order)
    if waiting is not None:
        audit.record(uow, "mail.upgrade", actor, f"order:{order.id}", outcome="refused", pending=waiting.id)
        await uow.commit()
        raise PendingUpgrade(number=waiting.number)
    uow.session.add(row)
    await uow.flush()
    first = lines[0]
    lines[0] = replace(first, effect="order_change", ref_id=row.id)
    invoice = await invoices.create(uow, customer, lines, seller, actor, order_id=order.id)
    row.invoice_id = invoice.id
    audit.record(uow, "mail.upgrade", actor, f"order:{order.id}", change=row.id, invoice=invoice.id)
    await uow.commit()
    return invoice


async def upgrade(
    uow: UnitOfWork, customer: Customer, order_id: int, plan_id: int, seller: Seller, actor: Actor
) -> Invoice:
    """Invoice the package upgrade; the package changes when the invoice is paid."""
    order = await _mail_order(uow, order_id, actor)
    plan = await plans.load_plan(uow, plan_id)
    up = preview_upgrade(customer, order, plan, seller)
    row = OrderChange(
        customer_id=customer.id,
        order_id=order.id,
        kind="plan",
        plan_id=plan.id,
        billing_cycle=order.billing_cycle,
        status="awaiting_payment",
    )
    return await _invoice_change(uow, customer, order, row, up.lines, seller, actor)


async def add_mailboxes(
    uow: UnitOfWork, customer: Customer, order_id: int, count: int, seller: Seller, actor: Actor
) -> Invoice:
    """Invoice more mailboxes; they are added when the invoice is paid."""
    order = await _mail_order(uow, order_id, actor)
    more = await preview_mailboxes(uow, customer, order, count, seller)
    row = OrderChange(
        customer_id=customer.id,
        order_id=order.id,
        kind="mailboxes",
        quantity=count,
        status="awaiting_payment",
    )
    return await _invoice_change(uow, customer, order, row, more.lines, seller, actor)


@dataclass(frozen=True)
class DowngradeWindow:
    due: dt.date
    opens: dt.date
    closes: dt.date
    is_open: bool


def downgrade_window(order: Order, today: dt.date) -> DowngradeWindow:
    """The next 30-to-15-days-before-due window that has not closed yet (today's, if open)."""
    due = order.period_end
    while today > due - dt.timedelta(days=WINDOW_CLOSES_DAYS):
        due = proration.add_cycle(due, order.billing_cycle)
    opens = due - dt.timedelta(days=WINDOW_OPENS_DAYS)
    closes = due - dt.timedelta(days=WINDOW_CLOSES_DAYS)
    return DowngradeWindow(due, opens, closes, opens <= today <= closes)


def check_downgrade(order: Order, plan: Plan) -> DowngradeWindow:
    if plan.kind != "mail" or plan.currency != order.currency:
        raise NotFound()
    if plan.rank >= order.plan.rank:
        raise InvalidState(
            N_("{plan} is not a downgrade of your current package {current}."),
            plan=names_of(plan),
            current=names_of(order.plan),
        )
    window = downgrade_window(order, clock.today())
    if not window.is_open:
        raise InvalidState(
            N_(
                "A downgrade can only be requested 30 to 15 days before the due date. "
                "For the due date {due}, that is from {opens} to {closes}."
            ),
            due=window.due,
            opens=window.opens,
            closes=window.closes,
        )
    return window


async def request_downgrade(
    uow: UnitOfWork,
    customer: Customer,
    order_id: int,
    plan_id: int,
    subject: str,
    body: str,
    actor: Actor,
    events: TicketEvents | None = None,
) -> Ticket:
    """Inside the window, open a billing ticket for the downgrade (the billing team applies it)."""
    order = await _mail_order(uow, order_id, actor)
    plan = await plans.load_plan(uow, plan_id)
    window = check_downgrade(order, plan)
    audit.record(
        uow, "mail.downgrade_request", actor, f"order:{order.id}", plan=plan.code, due=window.due.isoformat()
    )
    ticket, _copied_to = await tickets.create(
        uow, customer, "financial", "regular", order.id, subject, body, actor, events
    )
    return ticket

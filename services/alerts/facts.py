"""What the finders and the messages both need to know: renewals coming up and what they cost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from services import alert_prefs, clock, metering, renewal_costs
from services.invoices import Seller
from services.money import Money
from storage.models import BillingNotice, Customer, Domain, Invoice, Order, Ticket, TicketMessage
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Renewal:
    """A service (order) or a domain that ends on ``due``; ``cost`` is what renewing it takes
    (``services.renewal_costs``), the total of ``invoice`` when one is open."""

    item: str
    id: int
    name: str
    due: dt.date
    auto: bool
    cost: Money
    invoice: Invoice | None


def local_today(customer: Customer) -> dt.date:
    """The date where the customer lives: a reminder "in 7 days" counts the customer's days."""
    return clock.now().astimezone(alert_prefs.zone(customer.timezone)).date()


def _found(
    costs: dict[renewal_costs.Key, renewal_costs.Cost], orders: Sequence[Order], domains: Sequence[Domain]
) -> list[Renewal]:
    found = []
    for o in orders:
        cost = costs["order", o.id]
        found.append(
            Renewal("order", o.id, o.plan.name, o.period_end, o.auto_renew, cost.amount, cost.invoice)
        )
    for d in domains:
        cost = costs["domain", d.id]
        found.append(Renewal("domain", d.id, d.name, d.expires_on, d.auto_renew, cost.amount, cost.invoice))
    return found


async def renewals(uow: UnitOfWork, customer: Customer, seller: Seller) -> list[Renewal]:
    """Every active order and every domain of the customer, soonest first."""
    orders = (
        await uow.session.scalars(
            select(Order).where(Order.customer_id == customer.id, Order.status == "active")
        )
    ).all()
    domains = (await uow.session.scalars(select(Domain).where(Domain.customer_id == customer.id))).all()
    costs = await renewal_costs.costs(uow, customer, seller, orders, domains)
    return sorted(_found(costs, orders, domains), key=lambda r: (r.due, r.item, r.id))


async def renewal(
    uow: UnitOfWork, customer: Customer, item: str, item_id: int, seller: Seller
) -> Renewal | None:
    """One renewal, as it stands now (None when the order or domain is gone or not the customer's)."""
    orders: list[Order] = []
    domains: list[Domain] = []
    if item == "order":
        order = await uow.session.get(Order, item_id)
        if order is None or order.customer_id != customer.id or order.status != "active":
            return None
        orders.append(order)
    else:
        domain = await uow.session.get(Domain, item_id)
        if domain is None or domain.customer_id != customer.id:
            return None
        domains.append(domain)
    [found] = _found(await renewal_costs.costs(uow, customer, seller, orders, domains), orders, domains)
    return found


def auto_due(found: list[Renewal], start: dt.date, end: dt.date) -> list[Renewal]:
    """Automatic renewals that will charge the balance between ``start`` and ``end`` included."""
    return [r for r in found if r.auto and start <= r.due <= end]


async def usage_ahead(uow: UnitOfWork, customer: Customer, until: dt.date) -> Money:
    """Pay-as-you-use charges the customer's resources will run up from now to the end of ``until``
    (their own day), as ``services.metering.current_usage`` estimates them."""
    zone = alert_prefs.zone(customer.timezone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), zone)
    return Money(await metering.usage_ahead(uow, customer, end), customer.currency)


async def notice(uow: UnitOfWork, customer: Customer, notice_id: int) -> BillingNotice | None:
    """The customer's billing notice, None when gone or someone else's."""
    row = await uow.session.get(BillingNotice, notice_id)
    return row if row is not None and row.customer_id == customer.id else None


async def invoice(uow: UnitOfWork, customer: Customer, invoice_id: int) -> Invoice | None:
    """The customer's invoice, None when gone or someone else's."""
    row = await uow.session.get(Invoice, invoice_id)
    return row if row is not None and row.customer_id == customer.id else None


async def unread_reply(
    uow: UnitOfWork, customer: Customer, ticket_id: int, message_id: int
) -> tuple[Ticket, TicketMessage] | None:
    """Support's reply on the customer's ticket while it is still unread, else None."""
    ticket = await uow.session.get(Ticket, ticket_id)
    message = await uow.session.get(TicketMessage, message_id)
    if ticket is None or message is None or ticket.customer_id != customer.id or message.is_read:
        return None
    return ticket, message

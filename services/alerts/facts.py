"""What the finders and the messages both need to know: the customer's day, usage ahead, and the
records an alert names (renewals coming up and their cost are ``services.renewal_costs``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from services import alert_prefs, clock, metering
from services.money import Money
from storage.models import BillingNotice, Customer, Invoice, Ticket, TicketMessage
from storage.uow import UnitOfWork


def local_today(customer: Customer) -> dt.date:
    """The date where the customer lives: a reminder "in 7 days" counts the customer's days."""
    return clock.now().astimezone(alert_prefs.zone(customer.timezone)).date()


def _end_of(day: dt.date, timezone: str) -> dt.datetime:
    """The end of ``day`` where the customer lives (the next local midnight)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), alert_prefs.zone(timezone))


async def usage_ahead(uow: UnitOfWork, customer: Customer, until: dt.date) -> Money:
    """Pay-as-you-use charges the customer's resources will run up from now to the end of ``until``
    (their own day), as ``services.metering.current_usage`` estimates them."""
    end = _end_of(until, customer.timezone)
    return Money(await metering.usage_ahead(uow, customer, end), customer.currency)


async def usage_ahead_many(uow: UnitOfWork, until: Mapping[int, tuple[str, dt.date]]) -> dict[int, int]:
    """``usage_ahead`` in minor units for many customers at once — by customer id, their time zone
    and ``until`` — with the same few queries whatever their number (the scan's forecast)."""
    ends = {cid: (zone, _end_of(day, zone)) for cid, (zone, day) in until.items()}
    return await metering.usage_ahead_many(uow, ends)


async def notice(uow: UnitOfWork, customer: Customer, notice_id: int) -> BillingNotice | None:
    """The customer's billing notice, None when gone or someone else's."""
    row = await uow.session.get(BillingNotice, notice_id)
    return row if row is not None and row.customer_id == customer.id else None


async def invoice(uow: UnitOfWork, customer: Customer, invoice_id: int) -> Invoice | None:
    """The customer's invoice, None when gone or someone else's."""
    row = await uow.session.get(Invoice, invoice_id)
    return row if row is not None and row.customer_id == customer.id else None


async def ticket(uow: UnitOfWork, customer: Customer, ticket_id: int) -> Ticket | None:
    """The customer's ticket, None when gone or someone else's."""
    row = await uow.session.get(Ticket, ticket_id)
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

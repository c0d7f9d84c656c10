"""Support tickets as the customer sees them: department, importance, linked order, messages,
read flags, a copy by mail (to the account's mailbox for the department, see
``services.mailboxes``); replying, closing and reopening. What the staff do is ``services.desk``.

Every change is published as a ``TicketEvent`` in its own transaction, so the support desk hears
of a new ticket or message exactly when it is committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from services import attachments, audit, clock, mail_outbox, mailboxes
from services.access import owned
from services.attachments import Attaching
from services.audit import Actor
from services.errors import N_, InvalidState
from services.ports import TicketEvent, TicketEvents
from storage.models import Alert, AlertDelivery, Customer, Order, Ticket, TicketMessage
from storage.uow import UnitOfWork

DEPARTMENTS = ("technical", "financial")
IMPORTANCE = ("regular", "high")
FILTERS = ("open", "closed", "unread")
MAX_SUBJECT = 200
MAX_BODY = 3000


def _unread() -> object:
    return exists().where(
        TicketMessage.ticket_id == Ticket.id,
        TicketMessage.author == "staff",
        TicketMessage.is_read.is_(False),
    )


async def listing(uow: UnitOfWork, customer_id: int, which: str = "open") -> Sequence[Ticket]:
    query = select(Ticket).where(Ticket.customer_id == customer_id)
    query = query.where(_unread() if which == "unread" else Ticket.status == which)  # type: ignore[arg-type]
    rows = await uow.session.scalars(query.order_by(Ticket.updated_at.desc(), Ticket.id.desc()))
    return rows.all()


def unread_count(ticket: Ticket) -> int:
    return sum(1 for m in ticket.messages if m.author == "staff" and not m.is_read)


async def get(uow: UnitOfWork, ticket_id: int, actor: Actor) -> Ticket:
    """The actor's ticket, read flags untouched."""
    return await owned(uow, Ticket, ticket_id, actor)


async def read(uow: UnitOfWork, ticket_id: int, actor: Actor) -> Ticket:
    """The ticket with its messages; the staff replies it shows become read."""
    ticket = await owned(uow, Ticket, ticket_id, actor)
    for message in ticket.messages:
        if message.author == "staff" and not message.is_read:
            message.is_read = True
    await uow.commit()
    return ticket


async def create(
    uow: UnitOfWork,
    customer: Customer,
    department: str,
    importance: str,
    order_id: int | None,
    subject: str,
    body: str,
    actor: Actor,
    events: TicketEvents | None = None,
    files: Attaching | None = None,
) -> tuple[Ticket, str]:
    """The new ticket, and the address its copy is mailed to (written to the mail outbox in the
    ticket's own transaction: both or neither). Its first message is unread for the staff until one
    of them answers or reads it; ``files`` come with it (one refused: no ticket)."""
    if department not in DEPARTMENTS or importance not in IMPORTANCE:
        raise ValueError("unknown department or importance")
    if order_id is not None:
        await owned(uow, Order, order_id, actor)
    now = clock.now()
    ticket = Ticket(
        customer_id=customer.id,
        department=department,
        importance=importance,
        order_id=order_id,
        subject=subject[:MAX_SUBJECT],
        created_at=now,
        updated_at=now,
        messages=[TicketMessage(author="customer", body=body[:MAX_BODY], is_read=False, created_at=now)],
    )
    uow.session.add(ticket)
    await uow.flush()
    if files is not None:
        await _attach(uow, ticket.id, ticket.messages[0].id, files, actor)
    audit.record(uow, "ticket.create", actor, f"ticket:{ticket.id}")
    if events is not None:
        opened = TicketEvent(ticket.id, customer.id, "opened", "customer", now, ticket.messages[0].id)
        await events.publish(uow, opened)
    copied_to = await mailboxes.mailbox(
        uow, customer, "billing" if department == "financial" else "technical"
    )
    await mail_outbox.add(
        uow,
        f"ticket:{ticket.id}",
        "ticket",
        copied_to,
        {
            "ticket": ticket.id,
            "department": department,
            "importance": importance,
            "order": order_id,
            "subject": ticket.subject,
            "body": body[:MAX_BODY],
        },
        customer_id=customer.id,
        language=customer.language or "",
    )
    await uow.commit()
    return ticket, copied_to


def reopenable(ticket: Ticket, window: dt.timedelta, now: dt.datetime) -> bool:
    """A closed ticket may be reopened by a reply until ``window`` after it was closed."""
    closed_at = ticket.closed_at or ticket.updated_at
    return ticket.status == "closed" and now - closed_at <= window


async def _attach(uow: UnitOfWork, ticket_id: int, message_id: int, files: Attaching, actor: Actor) -> None:
    await attachments.attach(
        uow, files.store, ticket_id, message_id, files.uploads, files.rules, "customer", actor.identity_id
    )


async def reply(
    uow: UnitOfWork,
    ticket_id: int,
    body: str,
    actor: Actor,
    events: TicketEvents,
    window: dt.timedelta,
    files: Attaching | None = None,
) -> tuple[Ticket, bool]:
    """Add the customer's message (with ``files``, its text may be empty) to their ticket and
    commit; returns the ticket and whether the reply reopened it. A ticket closed longer than
    ``window`` ago is refused: a new one is needed."""
    ticket = await owned(uow, Ticket, ticket_id, actor)
    body = body.strip()
    if not body and (files is None or not files.uploads):
        raise InvalidState(N_("Write your message after the ticket number."))
    now = clock.now()
    reopened = ticket.status == "closed"
    if reopened and not reopenable(ticket, window, now):
        raise InvalidState(
            N_("Ticket #{id} was closed too long ago to be reopened. Please open a new ticket."),
            id=ticket.id,
        )
    message = TicketMessage(author="customer", body=body[:MAX_BODY], is_read=False, created_at=now)
    ticket.messages.append(message)
    ticket.updated_at = now
    if reopened:
        ticket.status, ticket.closed_at = "open", None
    await uow.flush()
    if files is not None:
        await _attach(uow, ticket.id, message.id, files, actor)
    audit.record(uow, "ticket.reopen" if reopened else "ticket.reply", actor, f"ticket:{ticket.id}")
    kind = "reopened" if reopened else "message"
    await events.publish(uow, TicketEvent(ticket.id, ticket.customer_id, kind, "customer", now, message.id))
    await uow.commit()
    return ticket, reopened


async def close(uow: UnitOfWork, ticket_id: int, actor: Actor, events: TicketEvents) -> Ticket:
    """The customer closes their open ticket; committed, and the desk is told."""
    ticket = await owned(uow, Ticket, ticket_id, actor)
    now = clock.now()
    if not await close_once(uow, ticket, now):
        raise InvalidState(N_("Ticket #{id} is already closed."), id=ticket.id)
    audit.record(uow, "ticket.close", actor, f"ticket:{ticket.id}")
    await events.publish(uow, TicketEvent(ticket.id, ticket.customer_id, "closed", "customer", now))
    await uow.commit()
    return ticket


async def close_once(uow: UnitOfWork, ticket: Ticket, now: dt.datetime) -> bool:
    """``open`` → ``closed`` in one conditional UPDATE: of two closings at the same moment (the
    customer and the staff, two staff members), one gets True and the other False."""
    closed = await uow.session.scalar(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == "open")
        .values(status="closed", closed_at=now, updated_at=now)
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    if closed is None:
        return False
    for name, value in (("status", "closed"), ("closed_at", now), ("updated_at", now)):
        set_committed_value(ticket, name, value)
    return True


async def answered(uow: UnitOfWork, identity_id: int, message_id: str) -> int | None:
    """The ticket whose alert (a support reply, a closing: kind ``ticket``) was delivered to this chat as platform
    message ``message_id``: what a customer answers by replying to that message. None otherwise."""
    params = await uow.session.scalar(
        select(Alert.params)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .where(
            AlertDelivery.identity_id == identity_id,
            AlertDelivery.message_id == message_id,
            Alert.kind == "ticket",
        )
        .limit(1)
    )
    ticket = params.get("ticket") if isinstance(params, dict) else None
    return ticket if isinstance(ticket, int) else None

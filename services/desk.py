"""The staff's side of support tickets: list and read them, reply, assign, close.

Called by the support desk in the provider's Slack channel (``bot.adapters.slack_desk``) and by the
admin API. Staff are not customers: a ``Staff`` names who acted (``slack:U123``, ``api:billing``)
for the audit and the ticket; the audit row is filed under the ticket's customer, with the staff
member in its detail, so the customer's trail shows everything done on their account.

What the customer must hear (a reply, a closing) is published as a ``TicketEvent`` in the same
transaction; a reply is also copied by mail once committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services import attachments, audit, clock, mail_outbox, mailboxes, tickets
from services.audit import Actor
from services.errors import N_, InvalidState, NotFound
from services.ports import TicketEvent, TicketEvents
from storage.models import Customer, Order, Ticket, TicketMessage
from storage.uow import UnitOfWork

STATUSES = ("open", "closed")


@dataclass(frozen=True)
class Staff:
    """A staff member: ``ref`` is the platform and its id (``slack:U123``) or a name given by the
    admin API; it is what the audit and the ticket's assignee keep."""

    ref: str


@dataclass(frozen=True)
class DeskFile:
    """A file attached to a message, as the staff see it (its bytes: ``attachments.content``)."""

    id: int
    name: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    created_at: dt.datetime


@dataclass(frozen=True)
class DeskMessage:
    id: int
    author: str
    body: str
    created_at: dt.datetime
    is_read: bool
    staff: str | None = None
    files: tuple[DeskFile, ...] = ()


@dataclass(frozen=True)
class DeskTicket:
    """A ticket as the staff see it: whose, about what, where it stands, and its messages.
    ``unread``: the customer's messages no staff member has read yet."""

    id: int
    customer_id: int
    customer_name: str
    customer_email: str
    order: str | None
    department: str
    importance: str
    subject: str
    status: str
    assignee: str | None
    thread: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    unread: int
    messages: tuple[DeskMessage, ...]

    def message(self, message_id: int | None) -> DeskMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)


def _staff_unread(ticket: Ticket) -> int:
    return sum(1 for m in ticket.messages if m.author == "customer" and not m.is_read)


async def _view(uow: UnitOfWork, ticket: Ticket) -> DeskTicket:
    customer = await uow.session.get(Customer, ticket.customer_id)
    assert customer is not None
    order = None
    if ticket.order_id is not None:
        row = await uow.session.get(Order, ticket.order_id)
        order = f"#{row.id} {row.plan.name}" if row is not None else f"#{ticket.order_id}"
    files = {
        message_id: tuple(
            DeskFile(f.id, f.original_name, f.media_type, f.size, f.sha256, f.uploaded_by, f.created_at)
            for f in rows
        )
        for message_id, rows in (await attachments.of_ticket(uow, ticket.id)).items()
    }
    return DeskTicket(
        id=ticket.id,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_email=customer.email,
        order=order,
        department=ticket.department,
        importance=ticket.importance,
        subject=ticket.subject,
        status=ticket.status,
        assignee=ticket.assignee,
        thread=ticket.desk_thread,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        unread=_staff_unread(ticket),
        messages=tuple(
            DeskMessage(m.id, m.author, m.body, m.created_at, m.is_read, m.staff, files.get(m.id, ()))
            for m in ticket.messages
        ),
    )


async def _ticket(uow: UnitOfWork, ticket_id: int) -> Ticket:
    ticket = await uow.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound()
    return ticket


async def view(uow: UnitOfWork, ticket_id: int) -> DeskTicket:
    """Any customer's ticket with its messages (staff see them all); ``NotFound`` if none."""
    return await _view(uow, await _ticket(uow, ticket_id))


async def listing(
    uow: UnitOfWork,
    status: str | None = None,
    unread: bool = False,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[DeskTicket]:
    """Tickets, most recently updated first: all, or those with ``status``, those with messages no
    staff member has read (``unread``), or one customer's."""
    query = select(Ticket)
    if status is not None:
        query = query.where(Ticket.status == status)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if unread:
        waiting = (
            select(TicketMessage.id)
            .where(
                TicketMessage.ticket_id == Ticket.id,
                TicketMessage.author == "customer",
                TicketMessage.is_read.is_(False),
            )
            .exists()
        )
        query = query.where(waiting)
    rows = await uow.session.scalars(
        query.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    )
    return [await _view(uow, t) for t in rows.all()]


def _mark_read(ticket: Ticket) -> None:
    for message in ticket.messages:
        if message.author == "customer" and not message.is_read:
            message.is_read = True


def _actor(ticket: Ticket) -> Actor:
    """Staff actions are filed under the ticket's customer (the staff member is in the detail)."""
    return Actor(ticket.customer_id)


async def read(uow: UnitOfWork, ticket_id: int, staff: Staff) -> DeskTicket:
    """The ticket as a staff member reads it: the customer's messages become read; committed."""
    ticket = await _ticket(uow, ticket_id)
    _mark_read(ticket)
    await uow.commit()
    return await _view(uow, ticket)


async def reply(
    uow: UnitOfWork,
    ticket_id: int,
    body: str,
    staff: Staff,
    events: TicketEvents,
    external_id: str | None = None,
) -> DeskMessage | None:
    """A staff reply: unread for the customer, told on every chat linked to the account (the
    ``replied`` event), copied by mail (through the mail outbox, in the same transaction); the customer's messages before it count as read. Committed.

    ``external_id`` names the platform message it came from: the same one again (a redelivered
    Slack event, two replicas at once) adds nothing and returns None. A closed ticket takes the
    reply too (the customer is told) and stays closed."""
    body = body.strip()
    if not body:
        raise InvalidState(N_("A reply needs some text."))
    ticket = await _ticket(uow, ticket_id)
    if external_id is not None and await uow.session.scalar(
        select(TicketMessage.id).where(TicketMessage.external_id == external_id)
    ):
        return None
    now = clock.now()
    message = TicketMessage(
        author="staff",
        body=body[: tickets.MAX_BODY],
        is_read=False,
        created_at=now,
        staff=staff.ref,
        external_id=external_id,
    )
    ticket.messages.append(message)
    ticket.updated_at = now
    _mark_read(ticket)
    try:
        await uow.flush()
    except IntegrityError:
        await uow.rollback()  # the same platform message, added by another replica just now
        return None
    audit.record(uow, "ticket.staff_reply", _actor(ticket), f"ticket:{ticket.id}", staff=staff.ref)
    event = TicketEvent(ticket.id, ticket.customer_id, "replied", "staff", now, message.id)
    await events.publish(uow, event)
    customer = await uow.session.get(Customer, ticket.customer_id)
    assert customer is not None
    purpose = "billing" if ticket.department == "financial" else "technical"
    await mail_outbox.add(
        uow,
        f"ticket_reply:{message.id}",
        "ticket_reply",
        await mailboxes.mailbox(uow, customer, purpose),
        {"ticket": ticket.id, "subject": ticket.subject, "body": message.body},
        customer_id=customer.id,
        language=customer.language or "",
    )
    try:
        await uow.commit()  # the reply, its alert and its mail copy: all or nothing
    except IntegrityError:
        await uow.rollback()
        return None
    return DeskMessage(message.id, "staff", message.body, now, False, staff.ref)


async def close(uow: UnitOfWork, ticket_id: int, staff: Staff, events: TicketEvents) -> DeskTicket:
    """A staff member closes an open ticket; the customer is told. Committed. ``InvalidState``
    when it is closed already (a second press of the same button included)."""
    ticket = await _ticket(uow, ticket_id)
    now = clock.now()
    if not await tickets.close_once(uow, ticket, now):
        raise InvalidState(N_("Ticket #{id} is already closed."), id=ticket.id)
    audit.record(uow, "ticket.staff_close", _actor(ticket), f"ticket:{ticket.id}", staff=staff.ref)
    await events.publish(uow, TicketEvent(ticket.id, ticket.customer_id, "closed", "staff", now))
    await uow.commit()
    return await _view(uow, ticket)


async def assign(uow: UnitOfWork, ticket_id: int, assignee: str | None, staff: Staff) -> DeskTicket:
    """Give the ticket to ``assignee`` (None: to nobody); committed and audited."""
    ticket = await _ticket(uow, ticket_id)
    ticket.assignee = assignee
    audit.record(
        uow, "ticket.assign", _actor(ticket), f"ticket:{ticket.id}", staff=staff.ref, assignee=assignee
    )
    await uow.commit()
    return await _view(uow, ticket)


async def attach_thread(uow: UnitOfWork, ticket_id: int, thread: str) -> bool:
    """Remember where the desk posted the ticket, unless it was posted before; committed."""
    attached = await uow.session.scalar(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.desk_thread.is_(None))
        .values(desk_thread=thread)
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return attached is not None


async def by_thread(uow: UnitOfWork, thread: str) -> int | None:
    """The ticket the desk posted as ``thread``, if any."""
    found: int | None = await uow.session.scalar(select(Ticket.id).where(Ticket.desk_thread == thread))
    return found

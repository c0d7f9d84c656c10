"""Support tickets: department, importance, linked order, messages, read flags, a copy by mail
(to the account's mailbox for the department, see ``services.mailboxes``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select

from services import audit, clock, mail_outbox, mailboxes
from services.access import owned
from services.audit import Actor
from storage.models import Customer, Order, Ticket, TicketMessage
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
) -> tuple[Ticket, str]:
    """The new ticket, and the address its copy is mailed to (written to the mail outbox in the
    ticket's own transaction: both or neither)."""
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
        messages=[TicketMessage(author="customer", body=body[:MAX_BODY], is_read=True, created_at=now)],
    )
    uow.session.add(ticket)
    await uow.flush()
    audit.record(uow, "ticket.create", actor, f"ticket:{ticket.id}")
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

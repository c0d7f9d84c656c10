"""Support tickets as the provider's staff reach them without Slack: list, read, reply, close and
assign, through the same desk (``services.desk``) as the support channel, so a reply from here
reaches the customer's chats and is copied by mail exactly like one written in a Slack thread.

The desk's writes commit themselves (a reply, its alert and its mail copy are one transaction);
the caller's audit row follows in its own commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import select

from services import desk, tickets
from services.backoffice.common import (
    Change,
    Conflict,
    Document,
    ExternalId,
    Id,
    Missing,
    Ref,
    owners,
    ref_of,
)
from services.desk import DeskTicket, Staff
from services.errors import NotFound
from services.ports import TicketEvents
from storage.models import TicketMessage
from storage.uow import UnitOfWork

PAGE_MAX = 500
API_PREFIX = "api:"  # a reply's external id as stored, apart from the Slack desk's (``slack:…``)


class TicketQuery(Document):
    """Tickets, most recently updated first; a page at a time by ``offset`` (its ``next`` link does it)."""

    status: Literal["open", "closed"] | None = None
    unread: bool = Field(False, description="only tickets with customer messages no staff member has read")
    customer: Id | None = Field(None, description="only this customer's tickets (hostbot id)")
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0, le=100_000)


class AttachmentView(Document):
    """A file that came with a message; its bytes at ``GET /tickets/{id}/attachments/{attachment}``."""

    id: int
    name: str = Field(description="the name the sender gave it (shown only, never a path)")
    media_type: str = Field(description="what its content was found to be")
    size: int = Field(description="bytes")
    sha256: str
    uploaded_by: Literal["customer", "staff"]
    created_at: dt.datetime


class TicketMessageView(Document):
    id: int
    author: Literal["customer", "staff"]
    body: str
    created_at: dt.datetime
    is_read: bool = Field(description="the other side has read it")
    staff: str | None = Field(description="who wrote a staff reply (slack:U123, token:NAME)")
    attachments: list[AttachmentView] = Field(description="the files sent with the message")


class TicketSummary(Document):
    id: int
    customer: Ref
    customer_name: str
    order: str | None = Field(description="the order the ticket is about, as the customer sees it")
    department: str
    importance: str
    subject: str
    status: Literal["open", "closed"]
    assignee: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    unread: int = Field(description="customer messages no staff member has read yet")


class TicketView(TicketSummary):
    messages: list[TicketMessageView]


class ReplyDoc(Document):
    """A staff reply. ``external_id``: the caller's key for this reply; sent again, nothing is added."""

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=tickets.MAX_BODY)]
    external_id: ExternalId | None = None


class AssignDoc(Document):
    assignee: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = Field(description="who takes the ticket (a name the staff know each other by); null: nobody")


async def _views(uow: UnitOfWork, found: Sequence[DeskTicket]) -> list[TicketView]:
    people = await owners(uow, {t.customer_id for t in found})
    return [
        TicketView(
            id=t.id,
            customer=ref_of(people[t.customer_id]),
            customer_name=t.customer_name,
            order=t.order,
            department=t.department,
            importance=t.importance,
            subject=t.subject,
            status="closed" if t.status == "closed" else "open",
            assignee=t.assignee,
            created_at=t.created_at,
            updated_at=t.updated_at,
            unread=t.unread,
            messages=[
                TicketMessageView(
                    id=m.id,
                    author="staff" if m.author == "staff" else "customer",
                    body=m.body,
                    created_at=m.created_at,
                    is_read=m.is_read,
                    staff=m.staff,
                    attachments=[
                        AttachmentView(
                            id=f.id,
                            name=f.name,
                            media_type=f.media_type,
                            size=f.size,
                            sha256=f.sha256,
                            uploaded_by="staff" if f.uploaded_by == "staff" else "customer",
                            created_at=f.created_at,
                        )
                        for f in m.files
                    ],
                )
                for m in t.messages
            ],
        )
        for t in found
    ]


async def _one(uow: UnitOfWork, found: DeskTicket) -> TicketView:
    [view] = await _views(uow, [found])
    return view


async def listing(uow: UnitOfWork, query: TicketQuery) -> tuple[list[TicketSummary], int | None]:
    """A page of tickets and the offset of the next page (None: the last)."""
    found = await desk.listing(
        uow, query.status, query.unread, query.customer, limit=query.limit + 1, offset=query.offset
    )
    more = len(found) > query.limit
    views = await _views(uow, found[: query.limit])
    summaries = [TicketSummary(**v.model_dump(exclude={"messages"})) for v in views]
    return summaries, (query.offset + query.limit if more else None)


@asynccontextmanager
async def _named(ticket_id: int) -> AsyncIterator[None]:
    """The desk's ``NotFound``, said with the ticket's number."""
    try:
        yield
    except NotFound:
        raise Missing(f"There is no ticket {ticket_id}.") from None


async def view(uow: UnitOfWork, ticket_id: int) -> TicketView:
    async with _named(ticket_id):
        return await _one(uow, await desk.view(uow, ticket_id))


async def read(uow: UnitOfWork, ticket_id: int, by: str) -> TicketView:
    """The customer's messages become read by the staff (their unread marker goes)."""
    async with _named(ticket_id):
        return await _one(uow, await desk.read(uow, ticket_id, Staff(by)))


async def reply(
    uow: UnitOfWork, ticket_id: int, doc: ReplyDoc, by: str, events: TicketEvents
) -> tuple[TicketView, Change]:
    """Add the reply once: the same ``external_id`` again changes nothing; on another ticket, or with
    another text, it is a conflict."""
    key = API_PREFIX + doc.external_id if doc.external_id is not None else None
    if key is not None:
        earlier = await uow.session.scalar(select(TicketMessage).where(TicketMessage.external_id == key))
        if earlier is not None and earlier.ticket_id != ticket_id:
            raise Conflict(f"Reply {doc.external_id!r} is a reply to ticket {earlier.ticket_id}.")
        if earlier is not None and earlier.body != doc.body:
            raise Conflict(f"Reply {doc.external_id!r} was sent with another text.")
        if earlier is not None:
            return await view(uow, ticket_id), "unchanged"
    async with _named(ticket_id):
        sent = await desk.reply(uow, ticket_id, doc.body, Staff(by), events, external_id=key)
    return await view(uow, ticket_id), "created" if sent is not None else "unchanged"


async def close(uow: UnitOfWork, ticket_id: int, by: str, events: TicketEvents) -> TicketView:
    """Close an open ticket; the customer is told (``InvalidState`` when it is closed already)."""
    async with _named(ticket_id):
        return await _one(uow, await desk.close(uow, ticket_id, Staff(by), events))


async def assign(uow: UnitOfWork, ticket_id: int, doc: AssignDoc, by: str) -> TicketView:
    async with _named(ticket_id):
        return await _one(uow, await desk.assign(uow, ticket_id, doc.assignee, Staff(by)))

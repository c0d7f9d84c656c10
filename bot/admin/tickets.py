"""Support tickets for providers without the Slack desk (or beside it): list, read, staff reply,
close, assign. A reply reaches every chat linked to the customer's account and is copied by mail,
as one written in the support channel's thread is; closing tells the customer."""

from __future__ import annotations

from bot.admin.routing import Call, Download, Out, Routes, found, wrote
from services import attachments, desk
from services.backoffice import tickets
from services.backoffice.common import Page
from services.backoffice.tickets import AssignDoc, ReplyDoc, TicketQuery, TicketSummary, TicketView

TICKETS = Routes(
    "tickets", "Customers' support tickets: read them, reply (the customer is told in chat), close, assign."
)


def _at(id: int) -> str:
    return f"/tickets/{id}"


@TICKETS.get("/tickets", "List tickets", returns=Page[TicketSummary])
async def list_tickets(call: Call, query: TicketQuery) -> Out:
    """Most recently updated first; filter by status, by unread customer messages, by customer."""
    items, offset = await tickets.listing(call.uow, query)
    return Out(Page[TicketSummary](items=items, next=call.next_link(offset, "offset")))


@TICKETS.get("/tickets/{id}", "Read a ticket", returns=TicketView)
async def get_ticket(call: Call, id: int) -> Out:
    """The ticket with its messages; reading it here marks nothing (``POST .../read`` does)."""
    view = await tickets.view(call.uow, id)
    return found(call, _at(id), view, view.customer.id)


@TICKETS.route(
    "GET",
    "/tickets/{id}/attachments/{attachment}",
    "Download an attachment",
    scope="read",
    returns=None,
    download=True,
)
async def get_attachment(call: Call, id: int, attachment: int) -> Out:
    """A file the customer sent with the ticket, as it was received (its media type as found in
    the content; the name it was sent under in ``Content-Disposition``). Only ever a download."""
    view = await desk.view(call.uow, id)
    row, data = await attachments.content(call.uow, call.files, id, attachment)
    call.about(f"tickets/{id}/attachments/{attachment}", view.customer_id)
    return Out(None, file=Download(row.original_name, row.media_type, data))


@TICKETS.post("/tickets/{id}/read", "Mark a ticket read", returns=TicketView, status=200)
async def read_ticket(call: Call, id: int) -> Out:
    """The customer's messages count as read by the staff (the ticket leaves the unread filter)."""
    view = await tickets.read(call.uow, id, call.staff)
    return wrote(call, _at(id), "updated", view, view.customer.id)


@TICKETS.route(
    "POST",
    "/tickets/{id}/replies",
    "Reply to a ticket",
    scope="write",
    returns=TicketView,
    statuses=(200, 201),
)
async def reply_ticket(call: Call, id: int, body: ReplyDoc) -> Out:
    """The reply reaches every chat linked to the account, in the customer's language ("Support
    replied to ticket N"), is unread for the customer until seen, and is copied by mail. 201 with
    the ticket; 200 when this ``external_id`` was sent already (nothing is added). A closed ticket
    takes the reply and stays closed."""
    view, change = await tickets.reply(call.uow, id, body, call.staff, call.ticket_events)
    return wrote(call, _at(id), change, view, view.customer.id)


@TICKETS.post("/tickets/{id}/close", "Close a ticket", returns=TicketView, status=200)
async def close_ticket(call: Call, id: int) -> Out:
    """The customer is told in chat; 409 when the ticket is closed already."""
    view = await tickets.close(call.uow, id, call.staff, call.ticket_events)
    return wrote(call, _at(id), "updated", view, view.customer.id)


@TICKETS.post("/tickets/{id}/assign", "Assign a ticket", returns=TicketView, status=200)
async def assign_ticket(call: Call, id: int, body: AssignDoc) -> Out:
    view = await tickets.assign(call.uow, id, body, call.staff)
    return wrote(call, _at(id), "updated", view, view.customer.id)


ROUTES = (TICKETS,)

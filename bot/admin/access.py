"""Who reaches an account and what happened: the chats linked to customers (list, revoke) and the
audit log."""

from __future__ import annotations

from bot.admin.routing import Call, Out, Routes
from services.backoffice import audit_log, chat_links
from services.backoffice.audit_log import AuditQuery, AuditView
from services.backoffice.chat_links import ChatLinkView
from services.backoffice.common import ByCustomer, Page

LINKS = Routes("chat-links", "Chats (Telegram, Slack, shell users) linked to a customer's account.")
AUDIT = Routes("audit", "Every money movement, server action, link, denied access and API call.")


@LINKS.get("/chat-links", "List chat links", returns=Page[ChatLinkView])
async def list_chat_links(call: Call, query: ByCustomer) -> Out:
    items, after = await chat_links.listing(call.uow, query)
    return Out(Page[ChatLinkView](items=items, next=call.next_link(after)))


@LINKS.delete("/chat-links/{id}", "Revoke a chat link")
async def revoke_chat_link(call: Call, id: int) -> Out:
    """The chat reaches nothing of the account until it is linked again with a new code."""
    row = await chat_links.linked(call.uow, id)
    call.about(f"chat-links/{id}", row.customer_id, "revoked")
    await chat_links.revoke(call.uow, row, call.staff)
    return Out(None, 204)


@AUDIT.get("/audit", "Read the audit log", returns=Page[AuditView])
async def list_audit(call: Call, query: AuditQuery) -> Out:
    """Oldest first; filter by customer, action (``api.`` for every API call) and time."""
    items, after = await audit_log.listing(call.uow, query)
    return Out(Page[AuditView](items=items, next=call.next_link(after)))


ROUTES = (LINKS, AUDIT)

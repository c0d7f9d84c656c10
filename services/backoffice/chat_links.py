"""The chats linked to a customer's account (a person on Telegram, Slack or the shell), and
revoking one: that chat then reaches nothing of the account until linked again with a new code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from services.backoffice.common import ByCustomer, Document, Missing, Ref, note, owners, page, ref_of
from storage.models import ChatIdentity
from storage.uow import UnitOfWork


class ChatLinkView(Document):
    id: int
    customer: Ref
    platform: str
    workspace: str
    user_id: str
    role: str
    language: str | None
    created_at: dt.datetime


async def views(uow: UnitOfWork, rows: Sequence[ChatIdentity]) -> list[ChatLinkView]:
    people = await owners(uow, {r.customer_id for r in rows if r.customer_id is not None})
    return [
        ChatLinkView(
            id=r.id,
            customer=ref_of(people[r.customer_id]),
            platform=r.platform,
            workspace=r.workspace,
            user_id=r.user_id,
            role=r.role,
            language=r.language,
            created_at=r.created_at,
        )
        for r in rows
        if r.customer_id is not None
    ]


async def listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[ChatLinkView], int | None]:
    select_ = select(ChatIdentity).where(ChatIdentity.customer_id.is_not(None))
    if query.customer is not None:
        select_ = select_.where(ChatIdentity.customer_id == query.customer)
    rows, after = await page(uow, select_, ChatIdentity.id, query)
    return await views(uow, rows), after


async def linked(uow: UnitOfWork, link_id: int) -> ChatIdentity:
    row = await uow.session.get(ChatIdentity, link_id)
    if row is None or row.customer_id is None:
        raise Missing(f"There is no chat link {link_id}.")
    return row


async def revoke(uow: UnitOfWork, row: ChatIdentity, by: str) -> None:
    """Unlink the chat from its account (the person keeps their language)."""
    if row.customer_id is None:
        return
    note(uow, by, "chat_link.revoke", f"identity:{row.id}", row.customer_id, platform=row.platform)
    row.customer_id = None
    await uow.flush()

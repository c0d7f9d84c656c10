"""The chat core's records: chat identities, button keys, open forms and claimed update ids, read
and written plainly. Kept in the database (not in memory) so several replicas behind one webhook
agree. No function here commits: what is kept, and when, is the chat core's decision
(``bot.core.chat_state``, the dispatcher).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from storage.models import ActionKey, ChatIdentity, Conversation, Customer, ProcessedUpdate
from storage.uow import UnitOfWork


async def find(
    uow: UnitOfWork, platform: str, workspace: str, user_id: str
) -> tuple[ChatIdentity, Customer | None, Conversation | None] | None:
    """An existing identity with its account and its open form, in one query (every update needs all three)."""
    found = (
        await uow.session.execute(
            select(ChatIdentity, Customer, Conversation)
            .outerjoin(Customer, Customer.id == ChatIdentity.customer_id)
            .outerjoin(Conversation, Conversation.identity_id == ChatIdentity.id)
            .where(
                ChatIdentity.platform == platform,
                ChatIdentity.workspace == workspace,
                ChatIdentity.user_id == user_id,
            )
        )
    ).first()
    return None if found is None else (found[0], found[1], found[2])


async def identity(uow: UnitOfWork, platform: str, workspace: str, user_id: str) -> ChatIdentity:
    """Get or add the identity of a chat user (safe when two replicas race to add it); the caller
    commits a new one."""
    query = select(ChatIdentity).where(
        ChatIdentity.platform == platform,
        ChatIdentity.workspace == workspace,
        ChatIdentity.user_id == user_id,
    )
    found = await uow.session.scalar(query)
    if found is not None:
        return found
    try:
        async with uow.session.begin_nested():  # a lost race undoes only this insert
            row = ChatIdentity(platform=platform, workspace=workspace, user_id=user_id)
            uow.session.add(row)
            await uow.session.flush()
        return row
    except IntegrityError:
        again = await uow.session.scalar(query)
        assert again is not None
        return again


async def customer_of(uow: UnitOfWork, ident: ChatIdentity) -> Customer | None:
    if ident.customer_id is None:
        return None
    return await uow.session.get(Customer, ident.customer_id)


async def insert_claim(uow: UnitOfWork, source: str, update_id: str) -> bool:
    """Insert an update id unless it is there already: False when it is (or another transaction
    holds it: on PostgreSQL this waits for that one to end)."""
    insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
    claimed = await uow.session.execute(
        insert(ProcessedUpdate).values(source=source, update_id=update_id).on_conflict_do_nothing()
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def add_key(
    uow: UnitOfWork, key: str, identity_id: int, kind: str, payload: dict[str, Any], expires_at: dt.datetime
) -> None:
    uow.session.add(
        ActionKey(key=key, identity_id=identity_id, kind=kind, payload=payload, expires_at=expires_at)
    )


@dataclass(frozen=True)
class Key:
    """A stored button key as its owner reads it."""

    key: str
    identity_id: int
    kind: str
    payload: dict[str, Any]
    expires_at: dt.datetime
    used_at: dt.datetime | None


async def key(uow: UnitOfWork, key: str) -> Key | None:
    row = await uow.session.get(ActionKey, key, populate_existing=True)
    if row is None:
        return None
    return Key(row.key, row.identity_id, row.kind, dict(row.payload), row.expires_at, row.used_at)


async def use_key(uow: UnitOfWork, key: str, now: dt.datetime, unexpired: bool = True) -> bool:
    """Mark a key used unless it is used already (or, with ``unexpired``, has expired): True when
    this call marked it (of concurrent callers exactly one)."""
    query = update(ActionKey).where(ActionKey.key == key, ActionKey.used_at.is_(None))
    if unexpired:
        query = query.where(ActionKey.expires_at > now)
    claimed = await uow.session.execute(
        query.values(used_at=now).execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def conversation(uow: UnitOfWork, identity_id: int) -> Conversation | None:
    return await uow.session.get(Conversation, identity_id)


async def save_conversation(
    uow: UnitOfWork, identity_id: int, name: str, step: str, data: dict[str, Any], expires_at: dt.datetime
) -> None:
    row = await uow.session.get(Conversation, identity_id)
    if row is None:
        uow.session.add(
            Conversation(identity_id=identity_id, name=name, step=step, data=data, expires_at=expires_at)
        )
    else:
        row.name, row.step, row.data, row.expires_at = name, step, dict(data), expires_at


async def end_conversation(uow: UnitOfWork, identity_id: int) -> None:
    await uow.session.execute(delete(Conversation).where(Conversation.identity_id == identity_id))

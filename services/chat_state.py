"""What the chat layer must remember between messages: identities, button keys, open forms.

Kept in the database (not in memory) so several replicas behind one webhook agree.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from services import audit, clock
from services.audit import Actor
from storage.models import ActionKey, ChatIdentity, Conversation, Customer, ProcessedUpdate
from storage.uow import UnitOfWork


async def identity(uow: UnitOfWork, platform: str, workspace: str, user_id: str) -> ChatIdentity:
    """Get or create the identity of a chat user (safe when two replicas race to create it)."""
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
        await uow.commit()
        return row
    except IntegrityError:
        again = await uow.session.scalar(query)
        assert again is not None
        return again


@dataclass(frozen=True)
class Who:
    """Who sent an update: the chat identity, the account it is linked to, its open form."""

    identity: ChatIdentity
    customer: Customer | None
    form: Conversation | None


async def who(uow: UnitOfWork, platform: str, workspace: str, user_id: str) -> Who:
    """The identity (created if new), its account and its open form, in one query when it exists
    (every update needs all three)."""
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
    if found is not None:
        return Who(found[0], found[1], found[2])
    ident = await identity(uow, platform, workspace, user_id)
    return Who(ident, await customer_of(uow, ident), None)


async def customer_of(uow: UnitOfWork, ident: ChatIdentity) -> Customer | None:
    if ident.customer_id is None:
        return None
    return await uow.session.get(Customer, ident.customer_id)


def claims_wait_for_commit(uow: UnitOfWork) -> bool:
    """Whether an update claim lasts only if the caller's transaction commits (PostgreSQL).

    SQLite has one writer for the whole file: a claim held until the end of an update would queue
    every other update behind it, so there the claim is committed at once."""
    return uow.dialect == "postgresql"


async def claim_update(uow: UnitOfWork, source: str, update_id: str) -> bool:
    """Claim an inbound update id; False when it is claimed already (a redelivery, a restart, or
    another replica has it).

    On PostgreSQL the claim belongs to the caller's transaction and is committed with what the
    update does: a replica claiming the same id meanwhile waits on the key, then finds it taken, or
    takes it over if this transaction rolls back (a replica that dies midway loses nothing).
    """
    insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
    claimed = await uow.session.execute(
        insert(ProcessedUpdate).values(source=source, update_id=update_id).on_conflict_do_nothing()
    )
    if not claims_wait_for_commit(uow):
        await uow.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def new_key() -> str:
    """96 random bits, 16 URL-safe characters: fits Telegram's 64-byte callback data."""
    return secrets.token_urlsafe(12)


def add_key(uow: UnitOfWork, identity_id: int, kind: str, payload: dict[str, Any], ttl: int) -> str:
    key = new_key()
    uow.session.add(
        ActionKey(
            key=key,
            identity_id=identity_id,
            kind=kind,
            payload=payload,
            expires_at=clock.now() + dt.timedelta(seconds=ttl),
        )
    )
    return key


@dataclass(frozen=True)
class Press:
    """The outcome of resolving a pressed key: ``status`` is ok, unknown, expired or used."""

    status: str
    kind: str = ""
    payload: dict[str, Any] | None = None


async def press(uow: UnitOfWork, key: str, ident: ChatIdentity) -> Press:
    """Resolve a key for the identity that pressed it; confirm keys are claimed atomically, once.

    A key that does not exist or belongs to someone else is ``unknown`` and audited as a denial.
    """
    row = await uow.session.get(ActionKey, key[:32])
    if row is None or row.identity_id != ident.id:
        audit.record(
            uow,
            "button",
            Actor(ident.customer_id, ident.id) if ident.customer_id else None,
            f"key:{key[:32]}",
            outcome="denied",
            identity=ident.id,
        )
        await uow.commit()
        return Press("unknown")
    now = clock.now()
    if row.kind == "command":
        return Press("ok" if row.expires_at > now else "expired", row.kind, row.payload)
    claimed = await uow.session.execute(
        update(ActionKey)
        .where(ActionKey.key == row.key, ActionKey.used_at.is_(None), ActionKey.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await uow.session.refresh(row)
        return Press("used" if row.used_at is not None else "expired", row.kind, row.payload)
    status = "ok"
    if row.kind == "cancel":
        voided = await uow.session.execute(
            update(ActionKey)
            .where(ActionKey.key == row.payload["confirm"], ActionKey.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if voided.rowcount != 1:  # type: ignore[attr-defined]
            status = "used"  # the action was already confirmed: too late to cancel
    await uow.commit()
    return Press(status, row.kind, row.payload)


async def conversation(uow: UnitOfWork, identity_id: int) -> Conversation | None:
    return await live(uow, await uow.session.get(Conversation, identity_id))


async def live(uow: UnitOfWork, row: Conversation | None) -> Conversation | None:
    """The form if it is still open; an expired one is closed."""
    if row is not None and row.expires_at <= clock.now():
        await uow.session.delete(row)
        await uow.commit()
        return None
    return row


async def save_conversation(
    uow: UnitOfWork, identity_id: int, name: str, step: str, data: dict[str, Any], ttl: int
) -> None:
    row = await uow.session.get(Conversation, identity_id)
    expires = clock.now() + dt.timedelta(seconds=ttl)
    if row is None:
        uow.session.add(
            Conversation(identity_id=identity_id, name=name, step=step, data=data, expires_at=expires)
        )
    else:
        row.name, row.step, row.data, row.expires_at = name, step, dict(data), expires


async def end_conversation(uow: UnitOfWork, identity_id: int) -> None:
    await uow.session.execute(delete(Conversation).where(Conversation.identity_id == identity_id))

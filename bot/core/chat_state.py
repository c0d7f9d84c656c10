"""What the chat core remembers between messages, and the rules over it: who wrote (identities),
which updates are taken (claims), what a pressed button means (keys), which form is open.

The records are read and written through ``services.chat_records``; nothing here commits. Where a
change must be kept whatever the update does next (a first contact, a claimed confirmation, an
expired form closed), the answer says so and the dispatcher, the one owner of the update's
bookkeeping, commits it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from services import audit, chat_records, clock
from services.audit import Actor
from services.records import ChatIdentity, Conversation, Customer, UnitOfWork


@dataclass(frozen=True)
class Who:
    """Who sent an update: the chat identity, the account it is linked to, its open form, and the
    row of the key it pressed (None for a message, or a key not found). ``new``: the identity was
    added by this update (a first contact, to be committed at once so what is keyed to it survives
    a rollback of the rest)."""

    identity: ChatIdentity
    customer: Customer | None
    form: Conversation | None
    pressed: chat_records.Key | None = None
    new: bool = False


async def who(uow: UnitOfWork, platform: str, workspace: str, user_id: str, key: str | None = None) -> Who:
    """The identity (added if new), its account, its open form and the row of ``key``, the key it
    pressed (read in the same query; see ``press``)."""
    return await _known_or_new(
        uow, platform, workspace, user_id, await chat_records.find(uow, platform, workspace, user_id, key)
    )


async def arrive(
    uow: UnitOfWork, platform: str, workspace: str, user_id: str, update_id: str | None, key: str | None
) -> tuple[bool, Who | None]:
    """Claim the update (``claim_update``; an update without an id is always fresh) and learn who
    sent it and what the key they pressed means (``who``), in one round trip on PostgreSQL. A
    redelivered update is not fresh and has no ``Who``: nothing more is read for it."""
    if update_id is None:
        return True, await who(uow, platform, workspace, user_id, key)
    fresh, found = await chat_records.claim_and_find(
        uow, platform, update_id, platform, workspace, user_id, key
    )
    if not fresh:
        return False, None
    return True, await _known_or_new(uow, platform, workspace, user_id, found)


async def _known_or_new(
    uow: UnitOfWork, platform: str, workspace: str, user_id: str, found: chat_records.Found | None
) -> Who:
    if found is not None:
        return Who(*found)
    # A first contact: no key can be theirs yet (``press`` finds it unknown without reading it).
    ident = await chat_records.identity(uow, platform, workspace, user_id)
    return Who(ident, await chat_records.customer_of(uow, ident), None, new=True)


def claims_wait_for_commit(uow: UnitOfWork) -> bool:
    """Whether an update claim lasts only if the caller's transaction commits (PostgreSQL).

    There the claim belongs to the update's transaction and is committed with what the update
    does: a replica claiming the same id meanwhile waits on the key, then finds it taken, or takes
    it over if this transaction rolls back (a replica that dies midway loses nothing). SQLite has
    one writer for the whole file: a claim held until the end of an update would queue every other
    update behind it, so there the claim is committed at once."""
    return uow.dialect == "postgresql"


async def claim_update(uow: UnitOfWork, source: str, update_id: str) -> bool:
    """Claim an inbound update id; False when it is claimed already (a redelivery, a restart, or
    another replica has it). The caller commits it now unless ``claims_wait_for_commit``."""
    return await chat_records.insert_claim(uow, source, update_id)


def new_key() -> str:
    """96 random bits, 16 URL-safe characters: fits Telegram's 64-byte callback data."""
    return secrets.token_urlsafe(12)


def add_key(uow: UnitOfWork, identity_id: int, kind: str, payload: dict[str, Any], ttl: int) -> str:
    key = new_key()
    expires = clock.now() + dt.timedelta(seconds=ttl)
    chat_records.add_key(uow, key, identity_id, kind, payload, expires)
    return key


@dataclass(frozen=True)
class Press:
    """The outcome of resolving a pressed key: ``status`` is ok, unknown, expired or used.
    ``keep``: what the press changed (a denial's audit, a key used up) must be committed before
    anything is done for it, so a failure later cannot make the key pressable again."""

    status: str
    kind: str = ""
    payload: dict[str, Any] | None = None
    keep: bool = False


async def press(uow: UnitOfWork, key: str, ident: ChatIdentity, row: chat_records.Key | None) -> Press:
    """Resolve a key for the identity that pressed it, from its ``row`` as read with the sender
    (``Who.pressed``: the read costs no round trip of its own; a command key is then only
    compared, and the other kinds are used up by a conditional update whatever the row said).
    Confirm and cancel keys are used up atomically, once (cancelling also voids its
    confirmation, unless that was pressed first).

    A key that does not exist or belongs to someone else is ``unknown`` and audited as a denial.
    """
    if row is None or row.identity_id != ident.id:
        audit.record(
            uow,
            "button",
            Actor(ident.customer_id, ident.id) if ident.customer_id else None,
            f"key:{key[:32]}",
            outcome="denied",
            identity=ident.id,
        )
        return Press("unknown", keep=True)
    now = clock.now()
    if row.kind == "command":
        return Press("ok" if row.expires_at > now else "expired", row.kind, row.payload)
    if not await chat_records.use_key(uow, row.key, now):
        again = await chat_records.key(uow, row.key)
        used = again is not None and again.used_at is not None
        return Press("used" if used else "expired", row.kind, row.payload)
    status = "ok"
    if row.kind == "cancel" and not await chat_records.use_key(
        uow, row.payload["confirm"], now, unexpired=False
    ):
        status = "used"  # the action was already confirmed: too late to cancel
    return Press(status, row.kind, row.payload, keep=True)


@dataclass(frozen=True)
class Open:
    """The open form, if still open; ``closed``: an expired one was closed (to be committed)."""

    form: Conversation | None
    closed: bool = False


async def live(uow: UnitOfWork, row: Conversation | None) -> Open:
    """The form if it is still open; an expired one is closed."""
    if row is not None and row.expires_at <= clock.now():
        await chat_records.end_conversation(uow, row.identity_id)
        return Open(None, closed=True)
    return Open(row)


async def conversation(uow: UnitOfWork, identity_id: int) -> Open:
    return await live(uow, await chat_records.conversation(uow, identity_id))


async def save_conversation(
    uow: UnitOfWork, identity_id: int, name: str, step: str, data: dict[str, Any], ttl: int
) -> None:
    expires = clock.now() + dt.timedelta(seconds=ttl)
    await chat_records.save_conversation(uow, identity_id, name, step, data, expires)


async def end_conversation(uow: UnitOfWork, identity_id: int) -> None:
    await chat_records.end_conversation(uow, identity_id)

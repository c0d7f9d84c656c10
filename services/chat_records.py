"""The chat core's records: chat identities, button keys, open forms and claimed update ids, read
and written plainly. Kept in the database (not in memory) so several replicas behind one webhook
agree. No function here commits: what is kept, and when, is the chat core's decision
(``bot.core.chat_state``, the dispatcher).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import ActionKey, ChatIdentity, Conversation, Customer, ProcessedUpdate, utcnow
from storage.uow import UnitOfWork

# The statements of every update are built once here, with bound parameters, so that SQLAlchemy
# finds their compiled form in its cache instead of building and compiling them per update.
_SENDER = and_(
    ChatIdentity.platform == bindparam("platform"),
    ChatIdentity.workspace == bindparam("workspace"),
    ChatIdentity.user_id == bindparam("user_id"),
)
_UPDATES = cast(Table, ProcessedUpdate.__table__)  # a Core insert: its row count says whether it claimed
_CLAIM_VALUES: dict[str, Any] = {
    "source": bindparam("source"),
    "update_id": bindparam("update_id"),
    "processed_at": bindparam("now"),
}


@dataclass(frozen=True)
class Key:
    """A stored button key as its owner reads it."""

    key: str
    identity_id: int
    kind: str
    payload: dict[str, Any]
    expires_at: dt.datetime
    used_at: dt.datetime | None


Found = tuple[ChatIdentity, Customer | None, Conversation | None, Key | None]
_KEY_COLUMNS = (
    ActionKey.key,
    ActionKey.identity_id,
    ActionKey.kind,
    ActionKey.payload,
    ActionKey.expires_at,
    ActionKey.used_at,
)


def _key_of(row: Any) -> Key | None:
    """A key from its columns (``_KEY_COLUMNS``), None when they are empty."""
    if row is None or row[0] is None:
        return None
    return Key(row[0], row[1], row[2], dict(row[3]), row[4], row[5])


def _who_from(claimed: Any) -> Select[Any]:
    """The identity (None when unknown), its account, its open form and the pressed key (the
    ``key`` parameter: None for a message), beside ``claimed``: a press costs no query of its own."""
    return (
        select(ChatIdentity, Customer, Conversation, claimed, *_KEY_COLUMNS)
        .select_from(select(literal(1).label("one")).subquery("one"))
        .outerjoin(ChatIdentity, _SENDER)
        .outerjoin(Customer, Customer.id == ChatIdentity.customer_id)
        .outerjoin(Conversation, Conversation.identity_id == ChatIdentity.id)
        .outerjoin(ActionKey, ActionKey.key == bindparam("key"))
    )


def _found(row: Any) -> Found | None:
    return None if row[0] is None else (row[0], row[1], row[2], _key_of(row[4:]))


_FIND = _who_from(literal(1).label("fresh"))
_CLAIM = (
    postgresql.insert(_UPDATES).values(_CLAIM_VALUES).on_conflict_do_nothing().returning(literal(1))
).cte("claim")
# PostgreSQL: the claim and who sent it in one round trip (the insert waits for a transaction
# holding the same key, then finds it taken or takes it over).
_CLAIM_AND_FIND = _who_from(select(func.count()).select_from(_CLAIM).scalar_subquery().label("fresh"))
_CLAIM_SQLITE = sqlite.insert(_UPDATES).values(_CLAIM_VALUES).on_conflict_do_nothing()
_CLAIM_POSTGRESQL = postgresql.insert(_UPDATES).values(_CLAIM_VALUES).on_conflict_do_nothing()


async def find(
    uow: UnitOfWork, platform: str, workspace: str, user_id: str, key: str | None = None
) -> Found | None:
    """An existing identity with its account, its open form and the row of the key it pressed (if
    any), in one query (every update needs them)."""
    sender = {"platform": platform, "workspace": workspace, "user_id": user_id, "key": key}
    return _found((await uow.session.execute(_FIND, sender)).one())


async def claim_and_find(
    uow: UnitOfWork, source: str, update_id: str, platform: str, workspace: str, user_id: str, key: str | None
) -> tuple[bool, Found | None]:
    """``insert_claim`` and ``find`` in one statement on PostgreSQL (two on SQLite, which has no
    insert in a ``WITH``): whether the update was claimed now, and who sent it. The caller commits
    the claim at once on SQLite (``bot.core.chat_state.claims_wait_for_commit``)."""
    if uow.dialect != "postgresql":
        # Read first: the claim's write then holds SQLite's one write lock only until its commit.
        found = await find(uow, platform, workspace, user_id, key)
        return await insert_claim(uow, source, update_id), found
    params = {"source": source, "update_id": update_id, "now": utcnow()}
    params |= {"platform": platform, "workspace": workspace, "user_id": user_id, "key": key}
    row = (await uow.session.execute(_CLAIM_AND_FIND, params)).one()
    return bool(row[3]), _found(row)


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


_SEEN = (
    update(cast(Table, ChatIdentity.__table__))
    .where(ChatIdentity.id == bindparam("ident"))
    .values(last_seen_at=bindparam("seen"), platform_language=bindparam("app_language"))
)


def note_sender(uow: UnitOfWork, ident: ChatIdentity, seen: dt.datetime | None, language: str | None) -> None:
    """Set when ``ident`` last wrote and its app's language, on the row read (as if loaded so) and
    in the database with the next commit."""
    set_committed_value(ident, "last_seen_at", seen)
    set_committed_value(ident, "platform_language", language)
    uow.write_later(_SEEN, {"ident": ident.id, "seen": seen, "app_language": language})


async def customer_of(uow: UnitOfWork, ident: ChatIdentity) -> Customer | None:
    if ident.customer_id is None:
        return None
    return await uow.session.get(Customer, ident.customer_id)


async def insert_claim(uow: UnitOfWork, source: str, update_id: str) -> bool:
    """Insert an update id unless it is there already: False when it is (or another transaction
    holds it: on PostgreSQL this waits for that one to end)."""
    statement = _CLAIM_POSTGRESQL if uow.dialect == "postgresql" else _CLAIM_SQLITE
    params = {"source": source, "update_id": update_id, "now": utcnow()}
    claimed = await uow.core(statement, params)
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


_ADD_KEYS = insert(cast(Table, ActionKey.__table__))


def add_key(
    uow: UnitOfWork, key: str, identity_id: int, kind: str, payload: dict[str, Any], expires_at: dt.datetime
) -> None:
    """Saved with the next commit, with the other keys of the transaction in one statement."""
    row = {"key": key, "identity_id": identity_id, "kind": kind, "payload": payload, "expires_at": expires_at}
    uow.write_later(_ADD_KEYS, row)


_KEY = select(*_KEY_COLUMNS).where(ActionKey.key == bindparam("key"))


async def key(uow: UnitOfWork, key: str) -> Key | None:
    """Read as it is in the database now (a row, no mapped object)."""
    return _key_of((await uow.core(_KEY, {"key": key})).first())


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

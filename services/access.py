"""Loading a record by an id (or a name) that came from a chat, scoped to the caller's account.

Someone else's record is answered exactly like a missing one, and in the same time: both take the
scoped lookup, one lookup of whose it is, and an audit row ("denied" or "missing") saved with the
caller's commit, which both paths make anyway; no extra round trip tells them apart.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, select

from services import audit
from services.audit import Actor
from services.errors import NotFound
from storage.uow import UnitOfWork


class Owned(Protocol):
    id: Any
    customer_id: Any


T = TypeVar("T", bound=Owned)


async def owned(uow: UnitOfWork, model: type[T], record_id: int, actor: Actor) -> T:
    """The record if it belongs to the actor; otherwise ``NotFound`` either way."""
    return await find(uow, model, actor, str(record_id), model.id == record_id)


async def find(uow: UnitOfWork, model: type[T], actor: Actor, asked: str, *where: ColumnElement[bool]) -> T:
    """The actor's record matching ``where`` (``asked``: how it was named, for the audit);
    ``NotFound`` when there is none, whether it is missing or someone else's."""
    row = await uow.session.scalar(
        select(model).where(*where, model.customer_id == actor.customer_id).limit(1)
    )
    if row is not None:
        return row
    other = await uow.session.scalar(select(model.id).where(*where).limit(1))
    kind = model.__name__.lower()
    if other is None:
        audit.defer(uow, "access", actor, f"{kind}:{asked}", outcome="missing")
    else:
        audit.defer(uow, "access", actor, f"{kind}:{other}", outcome="denied")
    raise NotFound()

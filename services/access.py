"""Loading a record by an id that came from a chat, scoped to the caller's account."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

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
    return await check(uow, await uow.session.get(model, record_id), actor)


async def check(uow: UnitOfWork, row: T | None, actor: Actor) -> T:
    """``row`` if it belongs to the actor; ``NotFound`` when it is missing or someone else's.

    Someone else's record is audited as a denial, in its own commit, before the caller's
    transaction is abandoned.
    """
    if row is None:
        raise NotFound()
    if row.customer_id != actor.customer_id:
        audit.record(uow, "access", actor, f"{type(row).__name__.lower()}:{row.id}", outcome="denied")
        await uow.commit()
        raise NotFound()
    return row

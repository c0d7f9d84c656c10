"""Loading a record by an id (or a name) that came from a chat, scoped to the caller's account.

Someone else's record is answered exactly like a missing one, and in the same time: both take the
scoped lookup, one lookup of whose it is, and an audit row ("denied" or "missing") saved with the
caller's commit, which both paths make anyway; no extra round trip tells them apart.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, select

from services import audit
from services.audit import Actor
from services.errors import NotFound
from storage.uow import UnitOfWork


class Owned(Protocol):
    id: Any
    customer_id: Any


T = TypeVar("T", bound=Owned)


_BY_ID: dict[type[Any], Select[Any]] = {}


def by_id(model: type[T]) -> Select[T]:
    """The scoped lookup of ``model`` by id (parameters ``id`` and ``customer_id``), built once per
    model so that SQLAlchemy reuses its compiled form; a caller adds its loader options to it."""
    query = _BY_ID.get(model)
    if query is None:
        scoped = (model.id == bindparam("id"), model.customer_id == bindparam("customer_id"))
        query = _BY_ID[model] = select(model).where(*scoped)
    return query


async def owned(
    uow: UnitOfWork, model: type[T], record_id: int, actor: Actor, query: Select[T] | None = None
) -> T:
    """The record if it belongs to the actor; otherwise ``NotFound`` either way. ``query``: a
    statement built once from ``by_id(model)`` with loader options (a collection in the same
    statement)."""
    params = {"id": record_id, "customer_id": actor.customer_id}
    rows = await uow.session.scalars(by_id(model) if query is None else query, params)
    row = rows.unique().one_or_none()
    if row is not None:
        return row
    await refuse(uow, model, actor, str(record_id), model.id == record_id)


async def find(uow: UnitOfWork, model: type[T], actor: Actor, asked: str, *where: ColumnElement[bool]) -> T:
    """The actor's record matching ``where`` (``asked``: how it was named, for the audit);
    ``NotFound`` when there is none, whether it is missing or someone else's."""
    row = await uow.session.scalar(
        select(model).where(*where, model.customer_id == actor.customer_id).limit(1)
    )
    if row is not None:
        return row
    await refuse(uow, model, actor, asked, *where)


async def refuse(
    uow: UnitOfWork, model: type[T], actor: Actor, asked: str, *where: ColumnElement[bool]
) -> NoReturn:
    """``NotFound`` for a record the scoped lookup did not find, audited as missing or, when it
    is someone else's, as denied."""
    other = await uow.session.scalar(select(model.id).where(*where).limit(1))
    kind = model.__name__.lower()
    if other is None:
        audit.defer(uow, "access", actor, f"{kind}:{asked}", outcome="missing")
    else:
        audit.defer(uow, "access", actor, f"{kind}:{other}", outcome="denied")
    raise NotFound()

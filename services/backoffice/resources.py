"""Metered resources as a reseller panel syncs them: an account, add-on or service pack is created,
changes package, and is deleted; each is billed by the hour (``services.metering``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from services import metering
from services.backoffice import catalogue
from services.backoffice.common import (
    ByCustomer,
    Code,
    Conflict,
    Document,
    ExternalId,
    Id,
    Invalid,
    Key,
    Ref,
    Written,
    customer,
    locate,
    note,
    owners,
    page,
    ref_of,
    staff_actor,
    stays_with,
)
from storage.models import MeteredProduct, MeteredResource
from storage.uow import UnitOfWork


class MeteredResourceDoc(Document):
    """A hosting account, add-on or service pack of a reseller, on a metered ``product`` (its code);
    its kind is the product's."""

    external_id: ExternalId | None = None
    customer: Ref
    name: Annotated[str, Field(min_length=1, max_length=200)]
    product: Code


class MeteredResourceEntry(MeteredResourceDoc):
    id: Id | None = None


class MeteredResourceView(MeteredResourceDoc):
    id: int
    kind: str
    created_at: dt.datetime
    deleted_at: dt.datetime | None


class ResourceQuery(ByCustomer):
    deleted: bool = Field(False, description="include deleted resources")


async def put(uow: UnitOfWork, doc: MeteredResourceDoc, key: Key, by: str) -> Written[MeteredResource]:
    """Open the resource, or rename it or move it to another package (billed from the next hour)."""
    row = await locate(uow, MeteredResource, "metered_resource", key, doc.external_id)
    owner = await customer(uow, doc.customer)
    product = await catalogue.priced(
        uow, MeteredProduct, "metered product", doc.product, owner.currency, "product"
    )
    actor = staff_actor(owner.id, by)
    external_id = doc.external_id or key.external_id
    if row is None:
        row = await metering.add(uow, owner, doc.name, product.code, actor)
        row.external_id = external_id
        await uow.flush()
        return Written(row, "created")
    stays_with(row.customer_id, owner, "metered resource")
    if row.deleted_at is not None:
        raise Conflict(f"Metered resource {row.id} was deleted on {row.deleted_at:%Y-%m-%d %H:%M} UTC.")
    changed = False
    if product.id != row.product_id:
        if product.kind != row.kind:
            raise Invalid("product", f"{product.code!r} is a package for {product.kind}s, not {row.kind}s")
        await metering.change_package(uow, row.id, product.code, actor)
        changed = True
    if row.name != doc.name or (external_id is not None and row.external_id != external_id):
        row.name = doc.name
        row.external_id = external_id or row.external_id
        note(uow, by, "metered_resource.updated", f"metered_resource:{row.id}", owner.id)
        changed = True
    await uow.flush()
    return Written(row, "updated" if changed else "unchanged")


async def delete(uow: UnitOfWork, row: MeteredResource, by: str) -> MeteredResourceView:
    """Stop billing the resource from this hour; deleting it again changes nothing."""
    await metering.remove(uow, row.id, staff_actor(row.customer_id, by))
    [gone] = await views(uow, [row])
    return gone


def view(row: MeteredResource, owner_ref: Ref) -> MeteredResourceView:
    return MeteredResourceView(
        id=row.id,
        external_id=row.external_id,
        customer=owner_ref,
        name=row.name,
        product=row.product.code,
        kind=row.kind,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


async def views(uow: UnitOfWork, rows: Sequence[MeteredResource]) -> list[MeteredResourceView]:
    people = await owners(uow, {r.customer_id for r in rows})
    return [view(r, ref_of(people[r.customer_id])) for r in rows]


async def listing(uow: UnitOfWork, query: ResourceQuery) -> tuple[list[MeteredResourceView], int | None]:
    select_ = select(MeteredResource)
    if query.customer is not None:
        select_ = select_.where(MeteredResource.customer_id == query.customer)
    if not query.deleted:
        select_ = select_.where(MeteredResource.deleted_at.is_(None))
    rows, after = await page(uow, select_, MeteredResource.id, query)
    return await views(uow, rows), after

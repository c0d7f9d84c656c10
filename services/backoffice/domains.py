"""Domains: expiry, renewal price (in the customer's currency) and auto-renew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import select

from services.backoffice.common import (
    ByCustomer,
    Conflict,
    Document,
    ExternalId,
    Id,
    Key,
    Minor,
    Ref,
    Written,
    assign,
    customer,
    locate,
    noted,
    owners,
    page,
    ref_of,
    stays_with,
)
from storage.models import Domain
from storage.uow import UnitOfWork

DomainName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=253,
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]$",
    ),
]


class DomainDoc(Document):
    """A registered domain; it is renewed for ``renewal_minor`` in the customer's currency a year."""

    external_id: ExternalId | None = None
    customer: Ref
    name: DomainName
    expires_on: dt.date
    renewal_minor: Minor
    auto_renew: bool = False


class DomainEntry(DomainDoc):
    id: Id | None = None


class DomainView(DomainDoc):
    id: int
    currency: str


async def put(uow: UnitOfWork, doc: DomainDoc, key: Key, by: str) -> Written[Domain]:
    row = await locate(uow, Domain, "domain", key, doc.external_id)
    owner = await customer(uow, doc.customer)
    twin = await uow.session.scalar(select(Domain.id).where(Domain.name == doc.name))
    if twin is not None and (row is None or twin != row.id):
        raise Conflict(f"Domain {doc.name!r} is domain {twin} already.")
    values = {
        "name": doc.name,
        "expires_on": doc.expires_on,
        "renewal_minor": doc.renewal_minor,
        "currency": owner.currency,
        "auto_renew": doc.auto_renew,
    }
    external_id = doc.external_id or key.external_id
    if row is None:
        row = Domain(customer_id=owner.id, external_id=external_id, **values)
        uow.session.add(row)
        await uow.flush()
        return noted(uow, by, "domain", Written(row, "created"), owner.id)
    stays_with(row.customer_id, owner, "domain")
    if external_id is not None:
        values["external_id"] = external_id
    changed = assign(row, values)
    return noted(uow, by, "domain", Written(row, "updated" if changed else "unchanged"), owner.id)


async def views(uow: UnitOfWork, rows: Sequence[Domain]) -> list[DomainView]:
    people = await owners(uow, {r.customer_id for r in rows})
    return [
        DomainView(
            id=r.id,
            external_id=r.external_id,
            customer=ref_of(people[r.customer_id]),
            name=r.name,
            expires_on=r.expires_on,
            renewal_minor=r.renewal_minor,
            currency=r.currency,
            auto_renew=r.auto_renew,
        )
        for r in rows
    ]


async def listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[DomainView], int | None]:
    select_ = select(Domain)
    if query.customer is not None:
        select_ = select_.where(Domain.customer_id == query.customer)
    rows, after = await page(uow, select_, Domain.id, query)
    return await views(uow, rows), after

"""The audit log as staff read it: every money movement, server action, link, denied access and
admin API call, oldest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field
from sqlalchemy import select

from services.backoffice.common import Document, Id, Listing, page
from storage.models import AuditEntry
from storage.uow import UnitOfWork


class AuditQuery(Listing):
    customer: Id | None = None
    action: str | None = Field(
        None, max_length=40, description="an action (``api.put_customer``) or its prefix (``api.``)"
    )
    since: dt.datetime | None = Field(
        None, description="only entries at or after this time (ISO 8601 with an offset)"
    )


class AuditView(Document):
    id: int
    at: dt.datetime
    customer_id: int | None
    identity_id: int | None
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]


async def listing(uow: UnitOfWork, query: AuditQuery) -> tuple[list[AuditView], int | None]:
    select_ = select(AuditEntry)
    if query.customer is not None:
        select_ = select_.where(AuditEntry.customer_id == query.customer)
    if query.action is not None:
        exact = AuditEntry.action == query.action
        select_ = select_.where(
            AuditEntry.action.startswith(query.action, autoescape=True)
            if query.action.endswith(".")
            else exact
        )
    if query.since is not None:
        select_ = select_.where(AuditEntry.at >= query.since)
    rows, after = await page(uow, select_, AuditEntry.id, query)
    views = [
        AuditView(
            id=r.id,
            at=r.at,
            customer_id=r.customer_id,
            identity_id=r.identity_id,
            action=r.action,
            target=r.target,
            outcome=r.outcome,
            detail=r.detail,
        )
        for r in rows
    ]
    return views, after

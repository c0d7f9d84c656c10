"""The metering roll-up: each resource's snapshots as runs of one package and rate (``MeterRun``).

Why: ``services.hourly_billing`` needs the state of every hour, which is the state of the last
snapshot at or before it; the first snapshot of each run of equal states carries the same
information, so a month close reads a few runs per resource instead of 720 snapshots.

The hourly recording keeps the runs in step in its own transaction, with a few set-based
statements for all the hour's snapshots (``extend``); snapshots written any other way (imports,
demo data: ``record``) or an hour recorded out of order are rolled up again from the snapshots
(``rebuild``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, literal, null, select, update
from sqlalchemy.orm import aliased

from storage.models import MeteredResource, MeterRun, MeterSnapshot
from storage.uow import UnitOfWork

_COLUMNS = (
    "resource_id",
    "since",
    "ended",
    "last_hour",
    "hours",
    "customer_id",
    "product_id",
    "hourly_minor",
)


def _runs_of(which: Any) -> Any:
    """Gaps and islands over the snapshots of the resources ``which`` selects: a snapshot whose
    package or rate differs from the one before starts a run; a run ends where the next starts."""
    snap = MeterSnapshot.__table__.c
    same = and_(
        func.lag(snap.product_id).over(partition_by=snap.resource_id, order_by=snap.hour) == snap.product_id,
        func.lag(snap.hourly_minor).over(partition_by=snap.resource_id, order_by=snap.hour)
        == snap.hourly_minor,
    )
    marked = (
        select(
            snap.resource_id,
            snap.hour,
            snap.customer_id,
            snap.product_id,
            snap.hourly_minor,
            case((same, 0), else_=1).label("starts"),
        )
        .where(which)
        .subquery("marked")
    )
    numbered = select(
        marked,
        func.sum(marked.c.starts)
        .over(partition_by=marked.c.resource_id, order_by=marked.c.hour)
        .label("run"),
    ).subquery("numbered")
    runs = (
        select(
            numbered.c.resource_id,
            func.min(numbered.c.hour).label("since"),
            func.max(numbered.c.hour).label("last_hour"),
            func.count().label("hours"),
            func.min(numbered.c.customer_id).label("customer_id"),
            func.min(numbered.c.product_id).label("product_id"),
            func.min(numbered.c.hourly_minor).label("hourly_minor"),
        )
        .group_by(numbered.c.resource_id, numbered.c.run)
        .subquery("runs")
    )
    return select(
        runs.c.resource_id,
        runs.c.since,
        func.lead(runs.c.since).over(partition_by=runs.c.resource_id, order_by=runs.c.since),
        runs.c.last_hour,
        runs.c.hours,
        runs.c.customer_id,
        runs.c.product_id,
        runs.c.hourly_minor,
    )


async def rebuild(uow: UnitOfWork, resource_ids: Collection[int]) -> None:
    """Roll these resources' snapshots up afresh (after snapshots written outside ``extend``).
    Does not commit."""
    if not resource_ids:
        return
    ids = sorted(set(resource_ids))
    await uow.session.execute(
        delete(MeterRun).where(MeterRun.resource_id.in_(ids)).execution_options(synchronize_session=False)
    )
    await uow.session.execute(
        insert(MeterRun).from_select(_COLUMNS, _runs_of(MeterSnapshot.resource_id.in_(ids)))
    )


async def extend(uow: UnitOfWork, hour: dt.datetime) -> None:
    """Roll the snapshots of ``hour`` into the runs, in the caller's transaction (the one that
    wrote them): the same state as the resource's latest run extends it, another starts a run.
    Running it again for the same hour changes nothing. Does not commit.

    Every statement finds the hour's snapshots by primary key from the runs or the resources
    (both small), never by scanning the snapshots for the hour."""
    snap = MeterSnapshot

    def recorded(resource_id: Any) -> Any:
        return exists().where(snap.resource_id == resource_id, snap.hour == hour)

    later = await uow.session.scalars(
        select(MeterRun.resource_id)
        .where(MeterRun.last_hour > hour, recorded(MeterRun.resource_id))
        .distinct()
    )
    # Recorded out of order: that hour may split a run, roll those resources up again.
    await rebuild(uow, later.all())
    await uow.session.execute(
        update(MeterRun)
        .where(
            MeterRun.ended.is_(None),
            MeterRun.last_hour < hour,
            exists().where(
                snap.resource_id == MeterRun.resource_id,
                snap.hour == hour,
                snap.product_id == MeterRun.product_id,
                snap.hourly_minor == MeterRun.hourly_minor,
            ),
        )
        .values(last_hour=hour, hours=MeterRun.hours + 1)
        .execution_options(synchronize_session=False)
    )
    covered = aliased(MeterRun)
    uncovered = ~exists().where(covered.resource_id == MeteredResource.id, covered.last_hour >= hour)
    starting = select(MeteredResource.id).where(recorded(MeteredResource.id), uncovered)
    await uow.session.execute(
        update(MeterRun)
        .where(MeterRun.ended.is_(None), MeterRun.resource_id.in_(starting))
        .values(ended=hour)
        .execution_options(synchronize_session=False)
    )
    await uow.session.execute(
        insert(MeterRun).from_select(
            _COLUMNS,
            select(
                snap.resource_id,
                snap.hour,
                null(),
                snap.hour,
                literal(1),
                snap.customer_id,
                snap.product_id,
                snap.hourly_minor,
            )
            .join(MeteredResource, MeteredResource.id == snap.resource_id)
            .where(snap.hour == hour, uncovered),
        )
    )


async def record(uow: UnitOfWork, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write snapshots recorded elsewhere (an import, demo data: any hours, any order) and roll
    their resources up afresh. Does not commit."""
    if rows:
        await uow.session.execute(insert(MeterSnapshot), list(rows))
        await rebuild(uow, {int(row["resource_id"]) for row in rows})

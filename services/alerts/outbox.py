"""The outbox table: one row per finding, claimed by one worker at a time through a lease.

A claim is a short transaction that marks rows ``sending`` for ``claimed_by`` until
``claimed_until``; the sends happen outside any transaction (so SQLite's single writer is never
held during network calls). A worker that dies leaves its rows ``sending`` with a lease that runs
out, and any worker takes them again; a worker that is stopped hands its rows back at once
(``release``). Deliveries are recorded per chat, so a retry skips the chats
that already got the message: per person's chat (``AlertDelivery``) and per shared chat
(``ChannelAlertDelivery``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import clock
from storage.models import Alert, AlertDelivery, ChannelAlertDelivery, ChatIdentity, Customer, UTCDateTime
from storage.sets import among
from storage.uow import UnitOfWork

STATES = ("pending", "sending", "sent", "dead", "dropped")


def worker_id() -> str:
    return secrets.token_hex(8)


async def add(uow: UnitOfWork, key: str, customer_id: int, kind: str, params: dict[str, Any]) -> bool:
    """Insert the alert unless its key exists; True when this call created it. Does not commit."""
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    result = await uow.session.execute(
        insert(Alert)
        .values(
            key=key,
            customer_id=customer_id,
            kind=kind,
            params=params,
            state="pending",
            attempts=0,
            not_before=clock.now(),
            last_error="",
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


CHUNK = 1000  # keys per statement of ``existing`` on SQLite (bound parameters stay few)


async def existing(uow: UnitOfWork, keys: Sequence[str]) -> list[str]:
    """Those of ``keys`` the outbox already has (any state). On PostgreSQL the keys are one array
    joined with the table (``unnest``): the unique index is probed once per key, whatever the
    statistics say. ``key = ANY(…)`` of a thousand keys was planned as a sequential scan of the
    whole outbox when its statistics were stale, as while a first scan fills it (each batch then
    read every alert written so far)."""
    if uow.dialect == "postgresql":
        wanted = (
            func.unnest(bindparam("keys", list(keys), type_=ARRAY(Alert.key.type)))
            .table_valued("key")
            .render_derived()
        )
        rows = await uow.session.scalars(
            select(Alert.key).join_from(wanted, Alert, Alert.key == wanted.c.key)
        )
        return list(rows.all())
    found: list[str] = []
    for i in range(0, len(keys), CHUNK):
        rows = await uow.session.scalars(
            select(Alert.key).where(among(uow.dialect, Alert.key, keys[i : i + CHUNK]))
        )
        found += rows.all()
    return found


async def add_many(uow: UnitOfWork, rows: Sequence[tuple[str, int, str, dict[str, Any]]]) -> int:
    """``add`` for many findings — (key, customer id, kind, params) — skipping keys that exist;
    returns how many were new. Does not commit. On PostgreSQL one statement inserts them all,
    however many they are, from one JSON array per column (each encoded by one ``json.dumps``
    call rather than one per alert); SQLite takes the rows in batches of one statement compiled
    once (SQLAlchemy's "insert many values")."""
    if not rows:
        return 0
    now = clock.now()
    if uow.dialect == "postgresql":
        columns = zip(("keys", "customers", "kinds", "params"), zip(*rows, strict=True), strict=True)
        result = await uow.core(_FROM_ARRAYS, {"now": now} | {name: json.dumps(c) for name, c in columns})
        return int(result.rowcount)  # type: ignore[attr-defined]
    statement = sqlite_insert(Alert).on_conflict_do_nothing(index_elements=["key"]).returning(Alert.id)
    values = [
        {
            "key": key,
            "customer_id": customer_id,
            "kind": kind,
            "params": params,
            "state": "pending",
            "attempts": 0,
            "not_before": now,
            "last_error": "",
            "created_at": now,
        }
        for key, customer_id, kind, params in rows
    ]
    return len((await uow.core(statement, values)).all())


# One JSON array per column, side by side (``ROWS FROM``), the params' JSON text kept as it is.
# One JSON document of whole rows cost PostgreSQL twice as much to take apart (each row parsed
# again for each of its fields: 7 ms against 3 ms for 2,700 alerts); typed arrays cost the same
# here, but asyncpg checks every element of an array against abstract classes in Python (about
# 0.4 s of a 1 M customer scan), where ``json.dumps`` encodes a list in C.
_FROM_ARRAYS = text(
    """INSERT INTO alerts (key, customer_id, kind, params, state, attempts, not_before, last_error,
           created_at)
       SELECT r.key, CAST(r.customer_id AS integer), r.kind, r.params, 'pending', 0, :now, '', :now
       FROM ROWS FROM (
           json_array_elements_text(CAST(:keys AS json)),
           json_array_elements_text(CAST(:customers AS json)),
           json_array_elements_text(CAST(:kinds AS json)),
           json_array_elements(CAST(:params AS json))
       ) AS r(key, customer_id, kind, params)
       ON CONFLICT (key) DO NOTHING"""
).bindparams(bindparam("now", type_=UTCDateTime()))


async def add_selected(uow: UnitOfWork, rows: Select[Any]) -> list[tuple[int, int, str]]:
    """Insert one alert per row of ``rows`` — (key, customer id, kind, params) — in one statement,
    skipping keys that exist: the set-based ``add`` of a rule that finds many at once. Returns (id,
    customer id, key) of the new ones; does not commit."""
    now = clock.now()
    table = Alert.__table__.c
    key = rows.selected_columns[0]
    source = rows.add_columns(
        literal("pending"),
        literal(0),
        literal(now, table.not_before.type),
        literal(""),
        literal(now, table.created_at.type),
    ).where(~exists().where(Alert.key == key))  # a key found again costs no insert (nor a sequence number)
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Alert)
        .from_select(
            [
                "key",
                "customer_id",
                "kind",
                "params",
                "state",
                "attempts",
                "not_before",
                "last_error",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Alert.id, Alert.customer_id, Alert.key)
    )
    return [(int(i), int(c), str(k)) for i, c, k in (await uow.session.execute(statement)).all()]


def _claimable(now: dt.datetime) -> Any:
    return or_(
        (Alert.state == "pending") & (Alert.not_before <= now),
        (Alert.state == "sending") & (Alert.claimed_until < now),
    )


async def claim(uow: UnitOfWork, worker: str, limit: int, lease_seconds: int) -> list[int]:
    """Take up to ``limit`` due alerts (or alerts whose worker's lease ran out) and commit."""
    now = clock.now()
    pick = select(Alert.id).where(_claimable(now)).order_by(Alert.id).limit(limit)
    if uow.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = await uow.session.scalars(
        update(Alert)
        .where(Alert.id.in_(pick.scalar_subquery()))
        .values(state="sending", claimed_by=worker, claimed_until=now + dt.timedelta(seconds=lease_seconds))
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(rows.all())
    await uow.commit()
    return ids


async def extend(uow: UnitOfWork, alert_id: int, worker: str, lease_seconds: int) -> bool:
    """Push the lease forward before a send; False when the claim was lost to another worker."""
    result = await uow.session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.claimed_by == worker, Alert.state == "sending")
        .values(claimed_until=clock.now() + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(uow: UnitOfWork, alert_id: int, worker: str, **values: Any) -> bool:
    """Leave the ``sending`` state (sent, pending again, dead, dropped) if the claim is still ours."""
    result = await uow.session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.claimed_by == worker, Alert.state == "sending")
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(uow: UnitOfWork, worker: str) -> int:
    """Hand back every alert ``worker`` still holds (it is stopping), due at once for any worker;
    commits and returns how many."""
    result = await uow.session.execute(
        update(Alert)
        .where(Alert.claimed_by == worker, Alert.state == "sending")
        .values(state="pending", claimed_by=None, claimed_until=None, not_before=clock.now())
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def record_delivery(uow: UnitOfWork, alert_id: int, identity_id: int, message_id: str) -> None:
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    await uow.session.execute(
        insert(AlertDelivery)
        .values(alert_id=alert_id, identity_id=identity_id, message_id=message_id, sent_at=clock.now())
        .on_conflict_do_nothing(index_elements=["alert_id", "identity_id"])
    )
    await uow.commit()


async def delivered_to(uow: UnitOfWork, alert_id: int) -> set[int]:
    rows = await uow.session.scalars(
        select(AlertDelivery.identity_id).where(AlertDelivery.alert_id == alert_id)
    )
    return set(rows.all())


async def record_shared_delivery(uow: UnitOfWork, alert_id: int, binding_id: int, message_id: str) -> None:
    """The alert was posted to the shared chat of ``binding_id`` (``services.channel_alerts``)."""
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    await uow.session.execute(
        insert(ChannelAlertDelivery)
        .values(alert_id=alert_id, binding_id=binding_id, message_id=message_id, sent_at=clock.now())
        .on_conflict_do_nothing(index_elements=["alert_id", "binding_id"])
    )
    await uow.commit()


async def shared_delivered_to(uow: UnitOfWork, alert_id: int) -> set[int]:
    rows = await uow.session.scalars(
        select(ChannelAlertDelivery.binding_id).where(ChannelAlertDelivery.alert_id == alert_id)
    )
    return set(rows.all())


async def outstanding(uow: UnitOfWork) -> int:
    """Alerts not settled yet (pending or being sent), due or not."""
    count = await uow.session.scalar(
        select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending")))
    )
    return int(count or 0)


async def counts(uow: UnitOfWork) -> dict[str, int]:
    rows = await uow.session.execute(select(Alert.state, func.count()).group_by(Alert.state))
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


async def dead_letters(uow: UnitOfWork, limit: int = 50) -> Sequence[Alert]:
    rows = await uow.session.scalars(
        select(Alert).where(Alert.state == "dead").order_by(Alert.id.desc()).limit(limit)
    )
    return rows.all()


async def waiting(uow: UnitOfWork, limit: int = 50) -> Sequence[Alert]:
    """Alerts not sent yet (pending, or being sent), the next due first: what an operator sees
    waiting, with when each is due and why the last attempt failed."""
    rows = await uow.session.scalars(
        select(Alert)
        .where(Alert.state.in_(("pending", "sending")))
        .order_by(Alert.not_before, Alert.id)
        .limit(limit)
    )
    return rows.all()


async def requeue(uow: UnitOfWork, ids: Sequence[int] | None = None) -> list[int]:
    """Dead letters back to pending, due at once with a fresh count of attempts (all of them, or
    those of ``ids``); commits and returns the ids requeued. An alert that is not dead is left
    alone, so requeueing twice sends nothing twice."""
    query = (
        update(Alert)
        .where(Alert.state == "dead")
        .values(state="pending", attempts=0, not_before=clock.now(), claimed_by=None, claimed_until=None)
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        query = query.where(Alert.id.in_(list(ids)))
    requeued = sorted((await uow.session.scalars(query)).all())
    await uow.commit()
    return requeued


async def state_of(uow: UnitOfWork, key: str) -> tuple[str, str | None] | None:
    """The state of the alert with ``key`` and the worker that holds it, None when there is none."""
    row = (await uow.session.execute(select(Alert.state, Alert.claimed_by).where(Alert.key == key))).first()
    return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True)
class Depth:
    """Alerts per state, and when the oldest one due but not yet sent was due (None: none is)."""

    by_state: dict[str, int]
    oldest_due: dt.datetime | None


async def depth(uow: UnitOfWork, now: dt.datetime) -> Depth:
    """What the metrics endpoint shows of the queue."""
    oldest = await uow.session.scalar(
        select(func.min(Alert.not_before)).where(
            Alert.state.in_(("pending", "sending")), Alert.not_before <= now
        )
    )
    return Depth(await counts(uow), oldest)


async def held(uow: UnitOfWork, alert_id: int, worker: str) -> Alert | None:
    """The alert while ``worker`` still holds its claim, else None (gone, or taken over)."""
    alert = await uow.session.get(Alert, alert_id)
    return alert if alert is not None and alert.claimed_by == worker else None


async def addressee(uow: UnitOfWork, alert: Alert) -> Customer | None:
    return await uow.session.get(Customer, alert.customer_id)


async def recipients(uow: UnitOfWork, customer_id: int) -> Sequence[ChatIdentity]:
    """Every chat linked to the customer, oldest link first: where an alert goes."""
    rows = await uow.session.scalars(
        select(ChatIdentity).where(ChatIdentity.customer_id == customer_id).order_by(ChatIdentity.id)
    )
    return rows.all()

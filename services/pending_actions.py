"""The queue of calls to outside systems that a transaction decided and that happen after it commits.

Why a table: the database decides (a payment unsuspends an order, a renewal is paid), but a driver
call cannot be rolled back and must not hold a transaction open. So the decision writes a
``PendingAction`` row in its own transaction; after the commit the process that made it carries it
out at once (``services.action_runner``), and the worker takes whatever is left — after a crash, a
failed attempt (retried with backoff) or a lease that ran out.

A claim is one conditional UPDATE over rows picked with ``FOR UPDATE SKIP LOCKED`` (SQLite has a
single writer): of several workers, one gets each row. An action waits while an older one on the
same target is pending or running, so "suspend" then "unsuspend" of one server reach its driver in
that order, never at the same time.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from services import clock
from storage.models import PendingAction
from storage.sets import insert_rows
from storage.uow import UnitOfWork

STATES = ("pending", "running", "done", "failed")
MAX_BACKOFF = dt.timedelta(hours=6)
_DECIDED = "pending_actions.committed"  # Session.info key: ids committed by this unit of work


class ActionRules(Protocol):
    """The settings the queue follows (``bot.config.Settings`` has them)."""

    @property
    def actions_max_attempts(self) -> int: ...
    @property
    def actions_backoff_seconds(self) -> int: ...
    @property
    def actions_lease_seconds(self) -> int: ...


@dataclass(frozen=True)
class Claimed:
    """One action as claimed: what the runner needs to carry it out, outside any transaction."""

    id: int
    customer_id: int
    kind: str
    target: str
    params: dict[str, Any]
    attempts: int

    @property
    def target_id(self) -> int:
        return int(self.target.rsplit(":", 1)[1])


def worker_id() -> str:
    return secrets.token_hex(8)


def _insert(uow: UnitOfWork) -> Any:
    return pg_insert if uow.dialect == "postgresql" else sqlite_insert


def _remember(uow: UnitOfWork, ids: Sequence[int]) -> None:
    """Keep ``ids`` for ``committed`` once this transaction commits."""
    if ids:
        info = uow.session.info
        uow.after_commit(lambda: info.setdefault(_DECIDED, []).extend(ids))


@dataclass(frozen=True)
class Decided:
    """One action to enqueue: its key (decided once), account, kind, target and parameters."""

    key: str
    customer_id: int
    kind: str
    target: str
    params: dict[str, Any]


async def enqueue(
    uow: UnitOfWork, key: str, customer_id: int, kind: str, target: str, params: dict[str, Any]
) -> int | None:
    """Decide one action in the caller's transaction unless ``key`` was decided before; its id, or
    None when it existed. Does not commit."""
    ids = await enqueue_many(uow, [Decided(key, customer_id, kind, target, params)])
    return ids[0] if ids else None


async def enqueue_many(uow: UnitOfWork, actions: Sequence[Decided]) -> list[int]:
    """``enqueue`` for many actions in one statement (a job deciding them for a batch); keys decided
    before are skipped. Returns the new ids; does not commit."""
    if not actions:
        return []
    now = clock.now()
    rows = [
        {
            "key": a.key,
            "customer_id": a.customer_id,
            "kind": a.kind,
            "target": a.target,
            "params": a.params,
            "state": "pending",
            "attempts": 0,
            "not_before": now,
            "last_error": "",
            "result": {},
            "created_at": now,
        }
        for a in actions
    ]
    ids = [int(i) for (i,) in await insert_rows(uow, PendingAction, rows, skip_conflicts=True)]
    _remember(uow, ids)
    return ids


async def enqueue_selected(uow: UnitOfWork, rows: Select[Any]) -> list[int]:
    """Decide one action per row of ``rows`` — (key, customer id, kind, target) — in one statement;
    keys decided before are skipped. Returns the new ids; does not commit."""
    now = clock.now()
    table = PendingAction.__table__.c
    key = rows.selected_columns[0]
    source = rows.add_columns(
        literal({}, table.params.type),
        literal({}, table.result.type),
        literal("pending"),
        literal(0),
        literal(now, table.not_before.type),
        literal(""),
        literal(now, table.created_at.type),
    ).where(~exists().where(PendingAction.key == key))
    columns = ["key", "customer_id", "kind", "target", "params", "result", "state", "attempts"]
    statement = (
        _insert(uow)(PendingAction)
        .from_select([*columns, "not_before", "last_error", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(PendingAction.id)
    )
    ids = list((await uow.session.scalars(statement)).all())
    _remember(uow, ids)
    return ids


def committed(uow: UnitOfWork) -> list[int]:
    """The actions this unit of work decided and committed: what its caller carries out at once."""
    return list(uow.session.info.get(_DECIDED, ()))


async def claim(
    uow: UnitOfWork, worker: str, limit: int, lease_seconds: int, near: Sequence[int] | None = None
) -> list[Claimed]:
    """Take up to ``limit`` due actions, oldest first, and commit. With ``near``: only actions on
    the targets of those ids (the ones a commit just decided, and any older ones before them)."""
    now = clock.now()
    older = aliased(PendingAction)
    waiting = exists().where(
        older.target == PendingAction.target,
        older.id < PendingAction.id,
        older.state.in_(("pending", "running")),
    )
    due = or_(
        and_(PendingAction.state == "pending", PendingAction.not_before <= now),
        and_(PendingAction.state == "running", PendingAction.claimed_until < now),
    )
    pick = select(PendingAction.id).where(due, ~waiting)
    if near is not None:
        targets = select(PendingAction.target).where(PendingAction.id.in_(near))
        pick = pick.where(PendingAction.target.in_(targets.scalar_subquery()))
    pick = pick.order_by(PendingAction.id).limit(limit)
    if uow.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = await uow.session.execute(
        update(PendingAction)
        .where(PendingAction.id.in_(pick.scalar_subquery()), due)
        .values(
            state="running",
            claimed_by=worker,
            claimed_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=PendingAction.attempts + 1,
        )
        .returning(
            PendingAction.id,
            PendingAction.customer_id,
            PendingAction.kind,
            PendingAction.target,
            PendingAction.params,
            PendingAction.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = sorted((Claimed(*row) for row in rows.all()), key=lambda c: c.id)
    await uow.commit()
    return claimed


async def finish(uow: UnitOfWork, action: Claimed, worker: str, result: dict[str, Any]) -> bool:
    """Mark the action done with what the outside system answered, in the caller's transaction
    (which records the outcome); False when ``worker`` lost the claim meanwhile. Does not commit."""
    moved = await uow.session.execute(
        update(PendingAction)
        .where(
            PendingAction.id == action.id,
            PendingAction.claimed_by == worker,
            PendingAction.state == "running",
        )
        .values(state="done", result=result, done_at=clock.now(), claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


async def fail(uow: UnitOfWork, action: Claimed, worker: str, reason: str, rules: ActionRules) -> str | None:
    """Record a failed attempt: due again after the backoff, or ``failed`` after the last attempt.
    Returns the new state (None when the claim was lost). Does not commit."""
    if action.attempts >= rules.actions_max_attempts:
        values: dict[str, Any] = {"state": "failed"}
    else:
        delay = dt.timedelta(seconds=rules.actions_backoff_seconds * 2 ** (action.attempts - 1))
        values = {"state": "pending", "not_before": clock.now() + min(delay, MAX_BACKOFF)}
    moved = await uow.session.execute(
        update(PendingAction)
        .where(
            PendingAction.id == action.id,
            PendingAction.claimed_by == worker,
            PendingAction.state == "running",
        )
        .values(last_error=reason[:300], claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return str(values["state"]) if moved.rowcount else None  # type: ignore[attr-defined]


async def retry(uow: UnitOfWork, action_id: int) -> bool:
    """Put a failed action back in the queue, due now, with its attempts counted afresh; commits."""
    moved = await uow.session.execute(
        update(PendingAction)
        .where(PendingAction.id == action_id, PendingAction.state == "failed")
        .values(state="pending", attempts=0, not_before=clock.now())
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return bool(moved.rowcount)  # type: ignore[attr-defined]


async def counts(uow: UnitOfWork) -> dict[str, int]:
    rows = await uow.session.execute(select(PendingAction.state, func.count()).group_by(PendingAction.state))
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


async def troubled(uow: UnitOfWork, limit: int = 50) -> Sequence[PendingAction]:
    """Actions that failed for good, or that failed at least once and wait for their next attempt:
    what an operator looks at."""
    rows = await uow.session.scalars(
        select(PendingAction)
        .where(PendingAction.state.in_(("failed", "pending")), PendingAction.last_error != "")
        .order_by(PendingAction.id.desc())
        .limit(limit)
    )
    return rows.all()

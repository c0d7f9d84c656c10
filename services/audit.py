"""Audit log: every money movement, server action, link/unlink and denied access leaves a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import AuditEntry
from storage.sets import insert_rows
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Actor:
    """Who is acting: the account they act for and the chat identity they act through; ``staff``
    names the provider's side when staff act on the account (an admin API token, ``import``)."""

    customer_id: int
    identity_id: int | None = None
    staff: str | None = None


def record(
    uow: UnitOfWork,
    action: str,
    actor: Actor | None,
    target: str = "",
    outcome: str = "ok",
    **detail: Any,
) -> None:
    uow.session.add(_entry(action, actor, target, outcome, detail))


async def record_all(
    uow: UnitOfWork, action: str, rows: Sequence[tuple[int, str, dict[str, Any]]], outcome: str = "ok"
) -> None:
    """One row per (customer id, target, detail) in one statement: what a job did to many accounts
    at once, each row under the account it touched (no chat identity: the system acted)."""
    await insert_rows(
        uow,
        AuditEntry,
        [
            {"action": action, "customer_id": c, "target": t, "outcome": outcome, "detail": d}
            for c, t, d in rows
        ],
    )


async def record_system(uow: UnitOfWork, action: str, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """``record`` with no actor for many (target, detail) at once, in one statement: what a job
    did, as ``record(uow, action, None, ...)`` writes it one at a time."""
    await insert_rows(
        uow,
        AuditEntry,
        [{"action": action, "customer_id": None, "target": t, "outcome": "ok", "detail": d} for t, d in rows],
    )


def defer(
    uow: UnitOfWork,
    action: str,
    actor: Actor | None,
    target: str = "",
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """``record``, kept with the caller's next commit even if its transaction is rolled back first."""
    uow.defer(_entry(action, actor, target, outcome, detail))


def _entry(action: str, actor: Actor | None, target: str, outcome: str, detail: dict[str, Any]) -> AuditEntry:
    if actor is not None and actor.staff is not None:
        detail = {"staff": actor.staff, **detail}
    return AuditEntry(
        action=action,
        customer_id=actor.customer_id if actor else None,
        identity_id=actor.identity_id if actor else None,
        target=target,
        outcome=outcome,
        detail=detail,
    )

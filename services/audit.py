"""Audit log: every money movement, server action, link/unlink and denied access leaves a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.models import AuditEntry
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

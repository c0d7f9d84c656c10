"""How deep the alert outbox is: what the metrics endpoint shows about alerts waiting to be sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from storage.models import Alert
from storage.uow import UnitOfWork

WAITING = ("pending", "sending")


@dataclass(frozen=True)
class QueueDepth:
    """Alerts per state, and when the oldest one due but not yet sent was due (None: none is)."""

    by_state: dict[str, int]
    oldest_due: dt.datetime | None


async def depth(uow: UnitOfWork, now: dt.datetime) -> QueueDepth:
    rows = await uow.session.execute(select(Alert.state, func.count()).group_by(Alert.state))
    oldest = await uow.session.scalar(
        select(func.min(Alert.not_before)).where(Alert.state.in_(WAITING), Alert.not_before <= now)
    )
    return QueueDepth({state: int(n) for state, n in rows}, oldest)

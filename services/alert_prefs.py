"""A customer's alert preferences: which kinds to receive, quiet hours, a low-balance threshold.

Quiet hours are wall-clock times in the customer's own time zone (``Customer.timezone``), so an
alert found at 03:00 in Jakarta waits for the morning there, whatever the server's zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services import audit
from services.audit import Actor
from storage.models import AlertSettings
from storage.uow import UnitOfWork

# renewal: the ladder before a service or domain expires; autorenew: an auto-renewal the balance will
# not cover; lowbalance: forecast and threshold; overdue: unpaid after the due date; ticket: support replied.
KINDS = ("renewal", "autorenew", "lowbalance", "overdue", "ticket")


async def get(uow: UnitOfWork, customer_id: int) -> AlertSettings:
    """The saved preferences, or the defaults (everything on, no quiet hours) when none are saved."""
    row = await uow.session.get(AlertSettings, customer_id)
    if row is None:
        return AlertSettings(customer_id=customer_id, muted=[], quiet_start=None, quiet_end=None)
    return row


async def _editable(uow: UnitOfWork, customer_id: int) -> AlertSettings:
    row = await get(uow, customer_id)
    if row not in uow.session:
        uow.session.add(row)
    return row


async def set_kind(uow: UnitOfWork, actor: Actor, kind: str, on: bool) -> AlertSettings:
    if kind not in KINDS:
        raise ValueError(kind)
    row = await _editable(uow, actor.customer_id)
    muted = set(row.muted or [])
    if on:
        muted.discard(kind)
    else:
        muted.add(kind)
    row.muted = sorted(muted)
    audit.record(uow, "alerts.kind", actor, f"customer:{actor.customer_id}", kind=kind, on=on)
    await uow.commit()
    return row


async def set_quiet(
    uow: UnitOfWork, actor: Actor, start: dt.time | None, end: dt.time | None
) -> AlertSettings:
    """Quiet hours from ``start`` to ``end`` (across midnight when end < start); None turns them off."""
    row = await _editable(uow, actor.customer_id)
    row.quiet_start = start.strftime("%H:%M") if start and end else None
    row.quiet_end = end.strftime("%H:%M") if start and end else None
    audit.record(uow, "alerts.quiet", actor, f"customer:{actor.customer_id}", start=row.quiet_start)
    await uow.commit()
    return row


async def set_threshold(uow: UnitOfWork, actor: Actor, minor: int | None) -> AlertSettings:
    row = await _editable(uow, actor.customer_id)
    row.low_balance_minor = minor
    audit.record(uow, "alerts.threshold", actor, f"customer:{actor.customer_id}", minor=minor)
    await uow.commit()
    return row


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(prefs: AlertSettings, timezone: str, now: dt.datetime) -> dt.datetime | None:
    """When ``now`` falls in the quiet hours, the moment (UTC) they end; otherwise None."""
    if not prefs.quiet_start or not prefs.quiet_end:
        return None
    tz = zone(timezone)
    local = now.astimezone(tz)
    start, end = dt.time.fromisoformat(prefs.quiet_start), dt.time.fromisoformat(prefs.quiet_end)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=tz).astimezone(dt.UTC)

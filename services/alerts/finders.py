"""The scan: what needs telling, written to the outbox in the transaction that read it.

Each rule turns today's facts into at most one key per thing and step, e.g.
``renew:order:7:2026-12-01:14`` for the 14-days rung of order 7's period ending on that date.
The key is inserted only if absent, so running the scan twice a day, after a restart, or from two
workers at once adds nothing. After downtime a ladder catches up with its latest rung only: a
worker that was down from 30 to 5 days before expiry sends the 7-day reminder, not three at once.
Only customers with a linked or a shared chat are scanned: whoever links later hears the current
step. A kind a person turned off in their own chat is still found while a shared chat of the
account takes it (``alerts here``): it then goes there only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from services import alert_prefs, channel_alerts, ledger, renewal_costs
from services.alerts import facts, outbox
from services.invoices import Seller
from storage.models import (
    Alert,
    BillingNotice,
    ChannelBinding,
    ChatIdentity,
    Customer,
    Invoice,
    LedgerEntry,
    Ticket,
    TicketMessage,
)
from storage.uow import Database, UnitOfWork

log = logging.getLogger("hostbot.alerts")


class AlertRules(Protocol):
    """The settings the rules follow (bot.config.Settings has them): the rungs of the renewal and
    overdue ladders, the forecast window, and which kinds of alert are on."""

    @property
    def alerts_renewal_days(self) -> list[int]: ...
    @property
    def alerts_overdue_days(self) -> list[int]: ...
    @property
    def alerts_forecast_days(self) -> int: ...
    @property
    def alerts_autorenew_short(self) -> bool: ...
    @property
    def alerts_ticket_replies(self) -> bool: ...


@dataclass(frozen=True)
class Finding:
    key: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def ladder_rung(days_before: Sequence[int], left: int) -> int | None:
    """The rung reached most recently when ``left`` days remain (30/14/7/3/1 and 5 left: 7)."""
    reached = [d for d in days_before if d >= left]
    return min(reached) if reached and left >= 0 else None


def overdue_rung(days_after: Sequence[int], late: int) -> int | None:
    """The reminder reached most recently ``late`` days after the due date (1/3/7 and 5 late: 3)."""
    reached = [d for d in days_after if d <= late]
    return max(reached) if reached else None


async def _renewals(
    uow: UnitOfWork, customer: Customer, settings: AlertRules, seller: Seller, today: dt.date
) -> list[Finding]:
    found = []
    for r in await renewal_costs.renewals(uow, customer, seller):
        rung = ladder_rung(settings.alerts_renewal_days, (r.due - today).days)
        if rung is None:
            continue
        params = {"item": r.item, "id": r.id, "due": r.due.isoformat()}
        step = f"{r.item}:{r.id}:{r.due}:{rung}"
        if r.auto and settings.alerts_autorenew_short and await ledger.balance(uow, customer) < r.cost:
            found.append(Finding(f"short:{step}", "autorenew", params))
        elif not await _exists(uow, f"short:{step}"):  # a warning for this step already said enough
            found.append(Finding(f"renew:{step}", "renewal", params))
    return found


async def _exists(uow: UnitOfWork, key: str) -> bool:
    return await uow.session.scalar(select(Alert.id).where(Alert.key == key)) is not None


async def _forecast(
    uow: UnitOfWork, customer: Customer, settings: AlertRules, seller: Seller, today: dt.date
) -> list[Finding]:
    """The balance will not cover the automatic renewals and the pay-as-you-use charges of the next
    N days: one alert per first renewal due, or per month when only usage is short."""
    if settings.alerts_forecast_days <= 0:
        return []
    until = today + dt.timedelta(days=settings.alerts_forecast_days)
    due = renewal_costs.auto_due(await renewal_costs.renewals(uow, customer, seller), today, until)
    usage = await facts.usage_ahead(uow, customer, until)
    need = sum(r.cost.minor for r in due) + usage.minor
    if need <= 0 or (await ledger.balance(uow, customer)).minor >= need:
        return []
    step = str(min(r.due for r in due)) if due else f"usage:{today:%Y-%m}"
    params = {"rule": "forecast", "until": until.isoformat()}
    return [Finding(f"forecast:{customer.id}:{step}", "lowbalance", params)]


async def _threshold(uow: UnitOfWork, customer: Customer, threshold: int | None) -> list[Finding]:
    """Below the customer's own threshold: one alert each time the balance crosses it downwards."""
    if threshold is None:
        return []
    rows = await uow.session.execute(
        select(LedgerEntry.id, LedgerEntry.amount_minor)
        .where(LedgerEntry.customer_id == customer.id, LedgerEntry.currency == customer.currency)
        .order_by(LedgerEntry.id)
    )
    running, crossed = 0, (0 if threshold > 0 else None)
    for entry_id, amount in rows:
        before, running = running, running + amount
        if before >= threshold > running:
            crossed = entry_id
    if running >= threshold or crossed is None:
        return []
    key = f"threshold:{customer.id}:{threshold}:{crossed}"
    return [Finding(key, "lowbalance", {"rule": "threshold", "threshold": threshold})]


async def _overdue(
    uow: UnitOfWork, customer: Customer, settings: AlertRules, today: dt.date
) -> list[Finding]:
    rows = await uow.session.scalars(
        select(Invoice).where(
            Invoice.customer_id == customer.id,
            Invoice.status == "unpaid",
            Invoice.kind == "invoice",
            Invoice.due_date < today,
        )
    )
    found = []
    for inv in rows.all():
        rung = overdue_rung(settings.alerts_overdue_days, (today - inv.due_date).days)
        if rung is not None:
            found.append(Finding(f"overdue:{inv.id}:{rung}", "overdue", {"invoice": inv.id}))
    return found


async def _notices(uow: UnitOfWork, customer: Customer) -> list[Finding]:
    """Auto-renewals the billing job could not pay at the period's end (``BillingNotice`` rows not
    told yet); the notice is marked delivered once its alert is sent."""
    rows = await uow.session.scalars(
        select(BillingNotice.id).where(
            BillingNotice.customer_id == customer.id,
            BillingNotice.kind == "renewal_shortfall",
            BillingNotice.delivered_at.is_(None),
        )
    )
    return [Finding(f"notice:{n}", "autorenew", {"rule": "notice", "notice": n}) for n in rows.all()]


async def _replies(uow: UnitOfWork, customer: Customer) -> list[Finding]:
    """One alert per unread support reply (the latest one of each ticket)."""
    rows = await uow.session.execute(
        select(TicketMessage.ticket_id, TicketMessage.id)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            Ticket.customer_id == customer.id,
            TicketMessage.author == "staff",
            TicketMessage.is_read.is_(False),
        )
        .order_by(TicketMessage.id)
    )
    latest = dict(rows.all())
    return [
        Finding(f"reply:{ticket}:{message}", "ticket", {"ticket": ticket, "message": message})
        for ticket, message in latest.items()
    ]


async def find(uow: UnitOfWork, customer: Customer, settings: AlertRules, seller: Seller) -> list[Finding]:
    """Everything worth telling this customer today, minus the kinds turned off in their own
    chats that no shared chat of theirs takes either."""
    prefs = await alert_prefs.get(uow, customer.id)
    today = facts.local_today(customer)
    found: list[Finding] = []
    if settings.alerts_renewal_days:
        found += await _renewals(uow, customer, settings, seller, today)
    if settings.alerts_autorenew_short:
        found += await _notices(uow, customer)
    found += await _forecast(uow, customer, settings, seller, today)
    found += await _threshold(uow, customer, prefs.low_balance_minor)
    if settings.alerts_overdue_days:
        found += await _overdue(uow, customer, settings, today)
    if settings.alerts_ticket_replies:
        found += await _replies(uow, customer)
    muted = set(prefs.muted or []) - await channel_alerts.taken(uow, customer.id)
    return [f for f in found if f.kind not in muted]


async def scan_customer(uow: UnitOfWork, customer: Customer, settings: AlertRules, seller: Seller) -> int:
    """Find and enqueue in one transaction; returns how many alerts are new."""
    added = 0
    for finding in await find(uow, customer, settings, seller):
        added += await outbox.add(uow, finding.key, customer.id, finding.kind, finding.params)
    await uow.commit()
    return added


async def scan(db: Database, settings: AlertRules, seller: Seller) -> int:
    """Scan every customer with at least one linked or shared chat; one transaction per customer."""
    async with db.uow() as uow:
        linked = await uow.session.scalars(
            select(ChatIdentity.customer_id).where(ChatIdentity.customer_id.is_not(None)).distinct()
        )
        shared = await uow.session.scalars(select(ChannelBinding.customer_id).distinct())
        ids = sorted({*(c for c in linked.all() if c is not None), *shared.all()})
    added = 0
    for customer_id in ids:
        async with db.uow() as uow:
            customer = await uow.session.get(Customer, customer_id)
            if customer is not None:
                added += await scan_customer(uow, customer, settings, seller)
    if added:
        log.info("alerts scan: %d new", added)
    return added

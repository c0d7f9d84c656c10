"""Today's per-customer logic of the jobs, kept as the reference that the set-based jobs are
compared with (``tests/integration/test_set_based_jobs.py``): the alerts scan customer by customer
and the auto-renew pass order by order, as they were before they became set-based."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import alert_prefs, audit, channel_alerts, clock, domains, ledger, paying, renewal_costs
from services.alerts import facts, finders, outbox
from services.invoices import Seller
from services.renewals import RenewalRun, _create, _fresh, pending_invoice, shortfall_key
from storage.models import (
    Alert,
    BillingNotice,
    ChannelBinding,
    ChatIdentity,
    Customer,
    Domain,
    Invoice,
    LedgerEntry,
    Order,
    Ticket,
    TicketMessage,
)
from storage.uow import Database, UnitOfWork

log = logging.getLogger("hostbot.alerts")


@dataclass(frozen=True)
class Finding:
    key: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


async def _renewals(
    uow: UnitOfWork, customer: Customer, settings: finders.AlertRules, seller: Seller, today: dt.date
) -> list[Finding]:
    found = []
    for r in await renewal_costs.renewals(uow, customer, seller):
        rung = finders.ladder_rung(settings.alerts_renewal_days, (r.due - today).days)
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
    uow: UnitOfWork, customer: Customer, settings: finders.AlertRules, seller: Seller, today: dt.date
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
    uow: UnitOfWork, customer: Customer, settings: finders.AlertRules, today: dt.date
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
        rung = finders.overdue_rung(settings.alerts_overdue_days, (today - inv.due_date).days)
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


async def find(
    uow: UnitOfWork, customer: Customer, settings: finders.AlertRules, seller: Seller
) -> list[Finding]:
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


async def scan_customer(
    uow: UnitOfWork, customer: Customer, settings: finders.AlertRules, seller: Seller
) -> int:
    """Find and enqueue in one transaction; returns how many alerts are new."""
    added = 0
    for finding in await find(uow, customer, settings, seller):
        added += await outbox.add(uow, finding.key, customer.id, finding.kind, finding.params)
    await uow.commit()
    return added


async def scan_per_customer(db: Database, settings: finders.AlertRules, seller: Seller) -> int:
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


async def run_due_per_order(uow: UnitOfWork, seller: Seller) -> RenewalRun:
    """The worker's job: renew every auto-renew order whose period has ended, and every auto-renew
    domain that expires today or earlier, from the balance (the whole amount or nothing).

    Each item is handled in its own transaction with its customer's row locked and the item read
    again under the lock, so several workers never renew one twice; the debit itself only passes
    while the balance covers the whole invoice. What the balance does not cover is recorded once
    per period for the alerts (``notify_shortfall``) and tried again on the next pass.
    """
    run = RenewalRun([], [])
    today = clock.today()
    # A suspended order is renewed too: paying its renewal brings it back (``service_lifecycle``).
    renewable = ("active", "suspended")
    due = (Order.auto_renew.is_(True), Order.status.in_(renewable), Order.period_end <= today)
    last_id = 0
    while found := await _next(uow, select(Order.id, Order.customer_id).where(*due, Order.id > last_id)):
        last_id = found.id
        await ledger.lock(uow, found.customer_id)
        order = await _fresh(uow, found.id)
        customer = await uow.session.get(Customer, order.customer_id)
        if (
            customer is not None
            and order.auto_renew
            and order.status in renewable
            and order.period_end <= today
        ):
            invoice = await pending_invoice(uow, order) or await _create(uow, customer, order, seller, None)
            if await paying.from_balance_if_covered(uow, customer, invoice, None):
                audit.record(uow, "order.auto_renewed", None, f"order:{order.id}", invoice=invoice.id)
                run.renewed.append(order.id)
            else:
                await notify_shortfall(uow, customer, "order", order.id, order.period_end, invoice)
                run.short.append(order.id)
        await uow.commit()  # also when another worker renewed it meanwhile: the lock is released
    await _run_due_domains(uow, seller, today, run)
    return run


async def _next(uow: UnitOfWork, query: Select[int, int]) -> Row[int, int] | None:
    """The first (id, customer id) of a due item after the last one handled."""
    return (await uow.session.execute(query.order_by(query.selected_columns[0]).limit(1))).first()


async def _run_due_domains(uow: UnitOfWork, seller: Seller, today: dt.date, run: RenewalRun) -> None:
    due = (Domain.auto_renew.is_(True), Domain.expires_on <= today)
    last_id = 0
    while found := await _next(uow, select(Domain.id, Domain.customer_id).where(*due, Domain.id > last_id)):
        last_id = found.id
        await ledger.lock(uow, found.customer_id)
        domain = await uow.session.scalar(
            select(Domain).where(Domain.id == found.id).execution_options(populate_existing=True)
        )
        customer = await uow.session.get(Customer, found.customer_id)
        if domain is not None and customer is not None and domain.auto_renew and domain.expires_on <= today:
            start = domain.expires_on
            invoice = await domains.renewal_invoice(uow, customer, domain, seller, None)
            if await paying.from_balance_if_covered(uow, customer, invoice, None):
                audit.record(uow, "domain.auto_renewed", None, f"domain:{domain.id}", invoice=invoice.id)
                run.domains_renewed.append(domain.id)
            else:
                await notify_shortfall(uow, customer, "domain", domain.id, start, invoice)
                run.domains_short.append(domain.id)
        await uow.commit()


async def notify_shortfall(
    uow: UnitOfWork, customer: Customer, item: str, ref_id: int, start: dt.date, invoice: Invoice
) -> None:
    """Record, once per item and period, that the balance misses ``total - balance`` to renew an
    order or a domain (``item``) whose period starts on ``start``: one item at a time, as the pass
    did before it wrote its notices for a batch at once."""
    balance = await ledger.balance(uow, customer)
    missing = invoice.total_minor - balance.minor
    values = {
        "customer_id": customer.id,
        "kind": "renewal_shortfall",
        "key": shortfall_key(item, ref_id, start),
        "params": {
            "item": item,
            "ref_id": ref_id,
            "invoice_id": invoice.id,
            "currency": invoice.currency,
            "total_minor": invoice.total_minor,
            "balance_minor": balance.minor,
            "missing_minor": missing,
        },
        "created_at": clock.now(),
    }
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    result = await uow.session.execute(insert(BillingNotice).values(**values).on_conflict_do_nothing())
    if result.rowcount:  # type: ignore[attr-defined]
        audit.record(
            uow, f"{item}.renewal_short", None, f"{item}:{ref_id}", invoice=invoice.id, missing=missing
        )

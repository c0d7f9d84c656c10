"""Changing the currency an account is billed in: what is billed next follows the provider's price
list in that currency; what was billed never changes.

Each live order moves to the same plan (same code) at its price in the new currency, each add-on to
the same add-on, each domain renews at the price of its ending (``DomainPrice``), a scheduled plan
change to the same plan there; when one of them has no price in the new currency nothing changes
and the customer is told which. Invoices, quotes, payments and ledger entries keep their currency
(a quote in the old one can no longer become an invoice: ``services.quotes``).

With no exchange rates nothing can carry money across currencies, so the change waits for a settled
account: no unpaid invoice, a balance of exactly zero (a credit stays in the currency it was paid
in: it pays the next invoices, or is refunded on request), no credit limit (granted by the provider
in one currency), and no pay-as-you-use hours recorded but not invoiced yet. A low-balance alert
threshold, written in the old currency, is cleared. All of it is decided under the customer's lock,
the one paying and renewing take, so no invoice appears in the old currency meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from services import audit, ledger, metering, plans
from services.audit import Actor
from services.errors import N_, DomainError, InvalidState
from services.iso4217 import MINOR_UNITS
from services.money import Money
from services.wording import Names, names_of
from storage.models import (
    Addon,
    AlertSettings,
    Customer,
    Domain,
    DomainPrice,
    Invoice,
    Order,
    OrderAddon,
    OrderChange,
    Plan,
)
from storage.uow import UnitOfWork


class NotACurrency(DomainError):
    message = N_("“{code}” is not a currency code. Send a three-letter ISO 4217 code such as EUR.")


class NoPriceList(DomainError):
    message = N_("We have no prices in {code}. Prices exist in: {available}.")


class NoPrice(DomainError):
    """Something the account has that the price list has no price for in the new currency."""


NO_PLAN_PRICE = N_("{plan} (order #{id}) has no price in {currency}, so the currency cannot change.")
NO_ADDON_PRICE = N_(
    "The add-on {addon} of order #{id} has no price in {currency}, so the currency cannot change."
)
NO_DOMAIN_PRICE = N_("Renewing {domain} has no price in {currency}, so the currency cannot change.")


@dataclass(frozen=True)
class Repriced:
    """One thing billed from now on at its price in the new currency: a plan or add-on of an order,
    or a domain (``order_id`` None)."""

    name: Names
    order_id: int | None
    before: Money
    after: Money


@dataclass
class _Moves:
    """The rows the change rewrites, found while checking it."""

    orders: list[tuple[Order, Plan]] = field(default_factory=list)
    addons: list[tuple[OrderAddon, Addon]] = field(default_factory=list)
    scheduled: list[tuple[OrderChange, Plan]] = field(default_factory=list)
    domains: list[tuple[Domain, int]] = field(default_factory=list)
    alerts: AlertSettings | None = None


@dataclass(frozen=True)
class Switch:
    """A currency change as checked: the new currency, what is repriced, and whether the
    low-balance threshold is cleared."""

    currency: str
    repriced: tuple[Repriced, ...]
    clears_threshold: bool


async def currencies(uow: UnitOfWork) -> Sequence[str]:
    """The currencies the price list has plans in."""
    rows = await uow.session.scalars(select(Plan.currency).distinct().order_by(Plan.currency))
    return rows.all()


async def preview(uow: UnitOfWork, customer: Customer, code: str) -> Switch:
    """What changing to ``code`` would do; raises the reason when it cannot be done now."""
    switch, _moves = await _check(uow, customer, code)
    return switch


async def change(uow: UnitOfWork, customer: Customer, code: str, actor: Actor) -> Switch:
    """Change the account's currency, checked again under the customer's lock."""
    await ledger.lock(uow, customer.id)
    await uow.session.refresh(customer)
    switch, moves = await _check(uow, customer, code)
    before = customer.currency
    customer.currency = switch.currency
    for order, plan in moves.orders:
        plans.switch(order, plan, order.billing_cycle)
        order.currency = switch.currency
    for line, addon in moves.addons:
        line.addon_id, line.addon = addon.id, addon
    for scheduled, plan in moves.scheduled:
        scheduled.plan_id, scheduled.plan = plan.id, plan
    for domain, minor in moves.domains:
        domain.renewal_minor, domain.currency = minor, switch.currency
    if moves.alerts is not None:
        moves.alerts.low_balance_minor = None
    audit.record(
        uow, "account.currency", actor, f"customer:{customer.id}", before=before, after=switch.currency
    )
    await uow.commit()
    return switch


async def _check(uow: UnitOfWork, customer: Customer, code: str) -> tuple[Switch, _Moves]:
    wanted = code.strip().upper()
    if wanted not in MINOR_UNITS:
        raise NotACurrency(code=code.strip()[:10])
    if wanted == customer.currency:
        raise InvalidState(N_("Your account is already billed in {currency}."), currency=wanted)
    available = await currencies(uow)
    if wanted not in available:
        raise NoPriceList(code=wanted, available=", ".join(available))
    await _settled(uow, customer)
    moves = _Moves()
    repriced = [
        *await _orders(uow, customer, wanted, moves),
        *await _scheduled(uow, customer, wanted, moves),
        *await _domains(uow, customer, wanted, moves),
    ]
    moves.alerts = await uow.session.scalar(
        select(AlertSettings).where(
            AlertSettings.customer_id == customer.id, AlertSettings.low_balance_minor.is_not(None)
        )
    )
    return Switch(wanted, tuple(repriced), moves.alerts is not None), moves


async def _settled(uow: UnitOfWork, customer: Customer) -> None:
    """Refuse while money is open in the current currency."""
    unpaid = await uow.session.scalar(
        select(func.count()).where(Invoice.customer_id == customer.id, Invoice.status == "unpaid")
    )
    if unpaid:
        raise InvalidState(
            N_("The currency can change only while no invoice is unpaid. Pay your unpaid invoices first.")
        )
    balance = await ledger.balance(uow, customer)
    if balance.minor:
        raise InvalidState(
            N_(
                "Your balance is {balance}. A balance stays in the currency it was paid in, so the "
                "currency can change once it is zero: it pays your next invoices, or ask us by ticket "
                "to refund it."
            ),
            balance=balance,
        )
    if customer.overdraft_limit_minor:
        raise InvalidState(
            N_("Your account has a credit limit in {currency}. Ask us by ticket to change the currency."),
            currency=customer.currency,
        )
    if await metering.billing_open(uow, customer):
        raise InvalidState(
            N_(
                "Your pay-as-you-use packages are billed at the end of each month in {currency}. "
                "Ask us by ticket to change the currency."
            ),
            currency=customer.currency,
        )


async def _orders(uow: UnitOfWork, customer: Customer, wanted: str, moves: _Moves) -> list[Repriced]:
    found = []
    orders = await uow.session.scalars(
        select(Order).where(Order.customer_id == customer.id, Order.status != "cancelled").order_by(Order.id)
    )
    for order in orders:
        plan = await _plan(uow, order.plan.code, wanted)
        if plan is None:
            raise NoPrice(NO_PLAN_PRICE, plan=names_of(order.plan), id=order.id, currency=wanted)
        moves.orders.append((order, plan))
        after = Money(plans.price(plan, order.billing_cycle), wanted)
        found.append(
            Repriced(names_of(order.plan), order.id, Money(order.price_minor, order.currency), after)
        )
        for line in order.addons:
            addon = await uow.session.scalar(
                select(Addon).where(Addon.code == line.addon.code, Addon.currency == wanted)
            )
            if addon is None:
                raise NoPrice(NO_ADDON_PRICE, addon=names_of(line.addon), id=order.id, currency=wanted)
            moves.addons.append((line, addon))
            before = Money(line.addon.monthly_minor * line.quantity, line.addon.currency)
            after = Money(addon.monthly_minor * line.quantity, wanted)
            found.append(Repriced(names_of(line.addon), order.id, before, after))
    return found


async def _scheduled(uow: UnitOfWork, customer: Customer, wanted: str, moves: _Moves) -> list[Repriced]:
    """Plan changes waiting for their date switch to the same plan in the new currency."""
    found = []
    rows = await uow.session.scalars(
        select(OrderChange).where(
            OrderChange.customer_id == customer.id,
            OrderChange.status == "scheduled",
            OrderChange.plan_id.is_not(None),
        )
    )
    for row in rows:
        assert row.plan is not None and row.billing_cycle is not None
        plan = await _plan(uow, row.plan.code, wanted)
        if plan is None:
            raise NoPrice(NO_PLAN_PRICE, plan=names_of(row.plan), id=row.order_id, currency=wanted)
        moves.scheduled.append((row, plan))
        before = Money(plans.price(row.plan, row.billing_cycle), row.plan.currency)
        after = Money(plans.price(plan, row.billing_cycle), wanted)
        found.append(Repriced(names_of(row.plan), row.order_id, before, after))
    return found


async def _domains(uow: UnitOfWork, customer: Customer, wanted: str, moves: _Moves) -> list[Repriced]:
    found = []
    domains = await uow.session.scalars(
        select(Domain).where(Domain.customer_id == customer.id).order_by(Domain.name)
    )
    for domain in domains:
        minor = await domain_price(uow, domain.name, wanted)
        if minor is None:
            raise NoPrice(NO_DOMAIN_PRICE, domain=domain.name, currency=wanted)
        moves.domains.append((domain, minor))
        found.append(
            Repriced(
                Names(domain.name), None, Money(domain.renewal_minor, domain.currency), Money(minor, wanted)
            )
        )
    return found


async def _plan(uow: UnitOfWork, code: str, currency: str) -> Plan | None:
    return await uow.session.scalar(select(Plan).where(Plan.code == code, Plan.currency == currency))


async def domain_price(uow: UnitOfWork, name: str, currency: str) -> int | None:
    """A year's renewal of ``name`` in ``currency`` by the price list: the longest ending priced
    (``shop.co.uk``: ``co.uk`` before ``uk``)."""
    labels = name.lower().split(".")
    endings = [".".join(labels[i:]) for i in range(1, len(labels))]
    if not endings:
        return None
    row = await uow.session.scalar(
        select(DomainPrice)
        .where(DomainPrice.tld.in_(endings), DomainPrice.currency == currency)
        .order_by(func.length(DomainPrice.tld).desc())
        .limit(1)
    )
    return row.renewal_minor if row is not None else None

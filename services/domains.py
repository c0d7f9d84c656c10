"""Domains: expiry and renewal, paid from the balance when it covers the price."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from services import access, audit, invoices, ledger, paying, renewal_costs
from services.audit import Actor
from services.errors import N_, InvalidState, NotFound
from services.invoices import Seller
from services.money import Money
from storage.models import Customer, Domain, Invoice
from storage.uow import UnitOfWork


async def listing(uow: UnitOfWork, customer_id: int) -> Sequence[Domain]:
    rows = await uow.session.scalars(
        select(Domain).where(Domain.customer_id == customer_id).order_by(Domain.expires_on)
    )
    return rows.all()


async def find(uow: UnitOfWork, name: str, actor: Actor) -> Domain:
    """A domain by name, scoped to the actor; someone else's is audited and looks missing."""
    name = name.strip().lower()
    return await access.find(uow, Domain, actor, name, Domain.name == name)


@dataclass(frozen=True)
class RenewalQuote:
    domain: Domain
    gross: Money
    balance: Money

    @property
    def from_balance(self) -> bool:
        return self.balance.minor >= self.gross.minor


async def quote(uow: UnitOfWork, customer: Customer, domain: Domain, seller: Seller) -> RenewalQuote:
    """What one more year costs with VAT, and whether the balance covers it."""
    cost = await renewal_costs.of_domain(uow, customer, seller, domain)
    return RenewalQuote(domain, cost.amount, await ledger.balance(uow, customer))


async def renew(
    uow: UnitOfWork,
    customer: Customer,
    domain_id: int,
    seller: Seller,
    actor: Actor,
    expires_on: dt.date | None = None,
) -> tuple[Domain, Invoice]:
    """Invoice one more year; pay it from the balance at once when the balance covers it.

    ``expires_on`` is the expiry the customer was shown: a renewal confirmed twice, or after the
    domain was renewed some other way, renews nothing more. The customer's row is locked and the
    domain read again under the lock; the year's invoice is the one live renewal for that period
    (created once), and the debit only passes while the balance covers the whole invoice."""
    await ledger.lock(uow, customer.id)
    domain = await uow.session.scalar(
        select(Domain).where(Domain.id == domain_id).execution_options(populate_existing=True)
    )
    if domain is None or domain.customer_id != customer.id:
        raise NotFound()
    if expires_on is not None and domain.expires_on != expires_on:
        raise InvalidState(
            N_("{domain} was already renewed: it now expires on {date}."),
            domain=domain.name,
            date=domain.expires_on,
        )
    invoice = await renewal_invoice(uow, customer, domain, seller, actor)
    await paying.from_balance_if_covered(uow, customer, invoice, actor)
    audit.record(uow, "domain.renew", actor, f"domain:{domain.id}", invoice=invoice.id, status=invoice.status)
    await uow.commit()
    return domain, invoice


async def renewal_invoice(
    uow: UnitOfWork, customer: Customer, domain: Domain, seller: Seller, actor: Actor | None
) -> Invoice:
    """The one live invoice renewing the domain for its next year: the one there is, else a new one
    (call with the customer's row locked, so that two callers never both create it)."""
    start, _end = renewal_costs.domain_period(domain)
    found = await invoices.renewal(uow, "domain_renewal", domain.id, start)
    if found is not None:
        return found
    return await invoices.create(
        uow, customer, renewal_costs.domain_lines(domain), seller, actor, supply_date=start
    )


async def set_auto_renew(uow: UnitOfWork, domain_id: int, on: bool, actor: Actor) -> Domain:
    """Whether the billing job renews the domain on its expiry date (from the balance, whole amount)."""
    domain = await uow.session.scalar(
        select(Domain).where(Domain.id == domain_id, Domain.customer_id == actor.customer_id)
    )
    if domain is None:
        raise NotFound()
    domain.auto_renew = on
    audit.record(uow, "domain.auto_renew", actor, f"domain:{domain.id}", on=on)
    await uow.commit()
    return domain

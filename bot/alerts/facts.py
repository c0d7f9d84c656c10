"""What the finders and the messages both need to know: renewals coming up and what they cost."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from services import alert_prefs, clock, invoices, metering, vat
from services.invoices import Seller
from services.money import Money
from storage.models import Customer, Domain, Invoice, InvoiceLine, Order
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Renewal:
    """A service (order) or a domain that ends on ``due``; ``cost`` is what renewing it takes:
    the open renewal invoice when there is one, else one more period with VAT."""

    item: str
    id: int
    name: str
    due: dt.date
    auto: bool
    cost: Money
    invoice: Invoice | None


def local_today(customer: Customer) -> dt.date:
    """The date where the customer lives: a reminder "in 7 days" counts the customer's days."""
    return clock.now().astimezone(alert_prefs.zone(customer.timezone)).date()


async def _open_invoice(uow: UnitOfWork, customer_id: int, effect: str, ref_id: int) -> Invoice | None:
    found = await uow.session.scalar(
        select(Invoice)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.customer_id == customer_id,
            Invoice.status == "unpaid",
            Invoice.kind == "invoice",
            InvoiceLine.effect == effect,
            InvoiceLine.ref_id == ref_id,
        )
        .order_by(Invoice.id.desc())
        .limit(1)
    )
    return found


def _with_vat(customer: Customer, seller: Seller, net_minor: int, currency: str) -> Money:
    decision = vat.decide(
        customer.country, customer.is_business, customer.vat_id, seller.country, clock.today()
    )
    return Money(net_minor + invoices.vat_amount(net_minor, decision.rate), currency)


async def _cost(
    uow: UnitOfWork, customer: Customer, seller: Seller, effect: str, ref_id: int, net: Money
) -> tuple[Money, Invoice | None]:
    """What renewing takes: the open renewal invoice's total if there is one, else ``net`` with VAT."""
    invoice = await _open_invoice(uow, customer.id, effect, ref_id)
    if invoice is not None:
        return Money(invoice.total_minor, invoice.currency), invoice
    return _with_vat(customer, seller, net.minor, net.currency), None


async def _order(uow: UnitOfWork, customer: Customer, order: Order, seller: Seller) -> Renewal:
    net = Money(order.price_minor, order.currency)
    cost, invoice = await _cost(uow, customer, seller, "order_renewal", order.id, net)
    return Renewal("order", order.id, order.plan.name, order.period_end, order.auto_renew, cost, invoice)


async def _domain(uow: UnitOfWork, customer: Customer, domain: Domain, seller: Seller) -> Renewal:
    net = Money(domain.renewal_minor, domain.currency)
    cost, invoice = await _cost(uow, customer, seller, "domain_renewal", domain.id, net)
    return Renewal("domain", domain.id, domain.name, domain.expires_on, domain.auto_renew, cost, invoice)


async def renewals(uow: UnitOfWork, customer: Customer, seller: Seller) -> list[Renewal]:
    """Every active order and every domain of the customer, soonest first."""
    orders = await uow.session.scalars(
        select(Order).where(Order.customer_id == customer.id, Order.status == "active")
    )
    domains = await uow.session.scalars(select(Domain).where(Domain.customer_id == customer.id))
    found = [await _order(uow, customer, o, seller) for o in orders.all()]
    found += [await _domain(uow, customer, d, seller) for d in domains.all()]
    return sorted(found, key=lambda r: (r.due, r.item, r.id))


async def renewal(
    uow: UnitOfWork, customer: Customer, item: str, item_id: int, seller: Seller
) -> Renewal | None:
    """One renewal, as it stands now (None when the order or domain is gone or not the customer's)."""
    if item == "order":
        order = await uow.session.get(Order, item_id)
        if order is None or order.customer_id != customer.id or order.status != "active":
            return None
        return await _order(uow, customer, order, seller)
    domain = await uow.session.get(Domain, item_id)
    if domain is None or domain.customer_id != customer.id:
        return None
    return await _domain(uow, customer, domain, seller)


def auto_due(found: list[Renewal], start: dt.date, end: dt.date) -> list[Renewal]:
    """Automatic renewals that will charge the balance between ``start`` and ``end`` included."""
    return [r for r in found if r.auto and start <= r.due <= end]


async def usage_ahead(uow: UnitOfWork, customer: Customer, until: dt.date) -> Money:
    """Pay-as-you-use charges the customer's resources will run up from now to the end of ``until``
    (their own day), as ``services.metering.current_usage`` estimates them."""
    zone = alert_prefs.zone(customer.timezone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), zone)
    return Money(await metering.usage_ahead(uow, customer, end), customer.currency)

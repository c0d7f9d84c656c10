"""What renewing an order or a domain costs: one rule, computed from the renewal invoice's own lines.

The cost of renewing an item is the total of its open renewal invoice for the next period when
there is one; else exactly what that invoice will total: the same lines (``breakdown.period_lines``
for an order, the one-year line for a domain), VAT decided on the supply date (the first day of the
next period) and the same rounding (``breakdown.totals``). ``services.renewals`` and
``services.domains`` build their invoices from the lines and dates defined here, so what the
overview, the alerts and the forecast announce is what the invoice charges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from services import breakdown, invoices, proration
from services.errors import N_
from services.invoices import LineSpec, Seller
from services.money import Money
from services.wording import Names, Text, names_of
from storage.models import Customer, Domain, Invoice, Order
from storage.uow import UnitOfWork

EFFECTS = {"order": "order_renewal", "domain": "domain_renewal"}
# TRANSLATORS: an invoice line; {domain} is a domain name.
DOMAIN_RENEWAL = N_("Domain renewal {domain} (1 year)")


def order_period(order: Order) -> tuple[dt.date, dt.date]:
    """The order's next billing period; its first day is the renewal invoice's supply date."""
    return order.period_end, proration.add_cycle(order.period_end, order.billing_cycle)


def order_lines(order: Order) -> list[LineSpec]:
    start, end = order_period(order)
    return breakdown.period_lines(order, start, end, effect=EFFECTS["order"])


def domain_period(domain: Domain) -> tuple[dt.date, dt.date]:
    """The domain's next year; its first day is the renewal invoice's supply date."""
    return domain.expires_on, domain.expires_on + relativedelta(years=1)


def domain_lines(domain: Domain) -> list[LineSpec]:
    start, end = domain_period(domain)
    return [
        LineSpec(
            description=Text(DOMAIN_RENEWAL, {"domain": domain.name}),
            unit_minor=domain.renewal_minor,
            kind="domain",
            period_start=start,
            period_end=end,
            effect=EFFECTS["domain"],
            ref_id=domain.id,
        )
    ]


@dataclass(frozen=True)
class Cost:
    """What renewing one item takes, and the open invoice it is the total of (None: not invoiced yet)."""

    amount: Money
    invoice: Invoice | None


Key = tuple[str, int]  # ("order", id) or ("domain", id)


async def _open_invoices(uow: UnitOfWork, customer_id: int) -> dict[str, Invoice]:
    """The customer's unpaid renewal invoices by renewal key (item and first day of the period they
    renew; one live invoice per key): one query for all items."""
    rows = await uow.session.scalars(
        select(Invoice).where(
            Invoice.customer_id == customer_id,
            Invoice.status == "unpaid",
            Invoice.renewal_key.is_not(None),
        )
    )
    return {invoice.renewal_key: invoice for invoice in rows if invoice.renewal_key}


async def costs(
    uow: UnitOfWork,
    customer: Customer,
    seller: Seller,
    orders: Sequence[Order] = (),
    domains: Sequence[Domain] = (),
) -> dict[Key, Cost]:
    """The cost of renewing each of these orders and domains of the customer, by ``(item, id)``."""
    if not orders and not domains:
        return {}
    return priced(customer, seller, await _open_invoices(uow, customer.id), orders, domains)


def priced(
    customer: Customer,
    seller: Seller,
    invoiced: Mapping[str, Invoice],
    orders: Sequence[Order],
    domains: Sequence[Domain],
) -> dict[Key, Cost]:
    """``costs`` once the customer's open renewal invoices (by renewal key) are read: the set-based
    alerts scan reads them for a whole batch of customers in one query."""
    items: list[tuple[Key, tuple[dt.date, dt.date], list[LineSpec]]] = [
        (("order", o.id), order_period(o), order_lines(o)) for o in orders
    ] + [(("domain", d.id), domain_period(d), domain_lines(d)) for d in domains]
    found = {}
    for key, (start, _end), lines in items:
        invoice = invoiced.get(invoices.renewal_key(EFFECTS[key[0]], key[1], start))
        if invoice is not None:
            found[key] = Cost(Money(invoice.total_minor, invoice.currency), invoice)
        else:
            found[key] = Cost(breakdown.totals(customer, lines, seller, start).total, None)
    return found


class Buyer(NamedTuple):
    """The customer's facts a renewal invoice is priced with: VAT (country, business, VAT id) and
    the currency; read as columns by the alerts scan instead of loading ``Customer`` objects."""

    country: str
    is_business: bool
    vat_id: str | None
    currency: str


def quoted(
    item: str,
    item_id: int,
    start: dt.date,
    subtotal_minor: int,
    buyer: Buyer,
    seller: Seller,
    invoiced: Mapping[str, Money],
) -> Money:
    """``priced`` for one item from plain values: the total of its open renewal invoice
    (``invoiced``: totals by renewal key) when there is one, else what that invoice will total for
    these lines (``subtotal_minor``: ``breakdown.period_subtotal`` for an order, the renewal price for a
    domain) with VAT decided on ``start``, the period's first day. Same rule, no ORM objects: the
    set-based alerts scan prices every automatic renewal of a batch of customers this way."""
    open_total = invoiced.get(invoices.renewal_key(EFFECTS[item], item_id, start))
    if open_total is not None:
        return open_total
    country, is_business, vat_id, currency = buyer
    return Money(breakdown.total_minor(country, is_business, vat_id, subtotal_minor, seller, start), currency)


async def of_order(uow: UnitOfWork, customer: Customer, seller: Seller, order: Order) -> Cost:
    return (await costs(uow, customer, seller, orders=[order]))["order", order.id]


async def of_domain(uow: UnitOfWork, customer: Customer, seller: Seller, domain: Domain) -> Cost:
    return (await costs(uow, customer, seller, domains=[domain]))["domain", domain.id]


@dataclass(frozen=True)
class Renewal:
    """A service (order) or a domain that ends on ``due``; ``cost`` is what renewing it takes
    (``costs``), the total of ``invoice`` when one is open. The one read model of a renewal: the
    overview, the renewal alerts and the balance forecast all show this."""

    item: str
    id: int
    name: Names
    due: dt.date
    auto: bool
    cost: Money
    invoice: Invoice | None

    @property
    def ref(self) -> Text:
        """How the customer recognises it: "#7 Cloud S" for an order, the name for a domain."""
        if self.item == "order":
            return Text("#{id} {name}", {"id": self.id, "name": self.name})
        return Text("{name}", {"name": self.name})


def found_renewals(
    prices: dict[Key, Cost], orders: Sequence[Order], domains: Sequence[Domain]
) -> list[Renewal]:
    """The renewals of these orders and domains at the ``prices`` computed for them (``priced``)."""
    found = []
    for o in orders:
        cost = prices["order", o.id]
        found.append(
            Renewal("order", o.id, names_of(o.plan), o.period_end, o.auto_renew, cost.amount, cost.invoice)
        )
    for d in domains:
        cost = prices["domain", d.id]
        found.append(
            Renewal("domain", d.id, Names(d.name), d.expires_on, d.auto_renew, cost.amount, cost.invoice)
        )
    return found


async def renewals(
    uow: UnitOfWork, customer: Customer, seller: Seller, until: dt.date | None = None
) -> list[Renewal]:
    """Every active order and every domain of the customer (those due by ``until`` if given), soonest
    first: what the overview, the alerts and the forecast announce."""
    order_query = select(Order).where(Order.customer_id == customer.id, Order.status == "active")
    domain_query = select(Domain).where(Domain.customer_id == customer.id)
    if until is not None:
        order_query = order_query.where(Order.period_end <= until)
        domain_query = domain_query.where(Domain.expires_on <= until)
    orders = (await uow.session.scalars(order_query)).all()
    domains = (await uow.session.scalars(domain_query)).all()
    found = await costs(uow, customer, seller, orders, domains)
    return sorted(found_renewals(found, orders, domains), key=lambda r: (r.due, r.item, r.id))


async def renewal(
    uow: UnitOfWork, customer: Customer, item: str, item_id: int, seller: Seller
) -> Renewal | None:
    """One renewal, as it stands now (None when the order or domain is gone or not the customer's)."""
    orders: list[Order] = []
    domains: list[Domain] = []
    if item == "order":
        order = await uow.session.get(Order, item_id)
        if order is None or order.customer_id != customer.id or order.status != "active":
            return None
        orders.append(order)
    else:
        domain = await uow.session.get(Domain, item_id)
        if domain is None or domain.customer_id != customer.id:
            return None
        domains.append(domain)
    [found] = found_renewals(await costs(uow, customer, seller, orders, domains), orders, domains)
    return found


def auto_due(found: list[Renewal], start: dt.date, end: dt.date) -> list[Renewal]:
    """Automatic renewals that will charge the balance between ``start`` and ``end`` included."""
    return [r for r in found if r.auto and start <= r.due <= end]

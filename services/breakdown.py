"""Invoice breakdown: the lines one billing period of an order costs, and the fees on top.

Fees are the provider's published rules, kept here as data: a monthly maintenance fee on managed
servers and a payment processing fee as a percentage of the other lines. Line descriptions are
``wording.Text``: written in the customer's language when the invoice is issued.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services import invoices, proration, vat
from services.errors import N_
from services.invoices import LineSpec, Seller
from services.money import Money
from services.wording import Text, names_of
from storage.models import Customer, Order

MAINTENANCE_MONTHLY = {"server": {"EUR": 300, "IDR": 4500000, "TRY": 10500}}
PROCESSING_PERCENT = Decimal("2.5")
MAINTENANCE = N_("Maintenance fee")
PROCESSING = N_("Payment processing fee")
PLATFORM = N_("Platform charge: {name}")


def processing_minor(base_minor: int) -> int:
    """The processing fee on lines adding up to ``base_minor``, rounded half-up."""
    return int((Decimal(base_minor) * PROCESSING_PERCENT / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def processing_fee(lines: Sequence[LineSpec]) -> list[LineSpec]:
    """The processing fee line for these lines (none when it rounds to nothing)."""
    fee = processing_minor(sum(spec.unit_minor * spec.quantity for spec in lines))
    return [LineSpec(Text(PROCESSING), fee, kind="processing")] if fee > 0 else []


def with_fees(lines: Sequence[LineSpec]) -> list[LineSpec]:
    return [*lines, *processing_fee(lines)]


def period_lines(order: Order, start: dt.date, end: dt.date, effect: str | None = None) -> list[LineSpec]:
    """One full period of the order: the plan (platform charge for subscriptions), each add-on,
    the maintenance fee of managed servers, then the processing fee."""
    months = proration.months_in(order.billing_cycle)
    plan = order.plan
    numbered = Text("{plan} #{id}", {"plan": names_of(plan), "id": order.id})
    lines = [
        LineSpec(
            Text(PLATFORM, {"name": numbered}) if plan.kind == "subscription" else numbered,
            order.price_minor,
            kind="platform" if plan.kind == "subscription" else "service",
            period_start=start,
            period_end=end,
            effect=effect,
            ref_id=order.id if effect else None,
        )
    ]
    for extra in order.addons:
        lines.append(
            LineSpec(
                names_of(extra.addon),
                extra.addon.monthly_minor * months,
                quantity=extra.quantity,
                kind="addon",
                period_start=start,
                period_end=end,
            )
        )
    monthly_fee = maintenance_monthly(plan.kind, order.currency)
    if monthly_fee:
        lines.append(
            LineSpec(
                Text(MAINTENANCE),
                monthly_fee * months,
                kind="maintenance",
                period_start=start,
                period_end=end,
            )
        )
    return with_fees(lines)


def maintenance_monthly(plan_kind: str, currency: str) -> int:
    """The monthly maintenance fee of a plan of this kind (0: none)."""
    return MAINTENANCE_MONTHLY.get(plan_kind, {}).get(currency, 0)


def period_subtotal(plan_kind: str, cycle: str, currency: str, price_minor: int, addons_minor: int) -> int:
    """What ``period_lines`` add up to (fees included, before VAT), from an order's columns and the
    monthly price of its add-ons times their quantities (``addons_minor``): the alerts scan prices
    thousands of renewals a batch without loading the orders and building their lines."""
    months = proration.months_in(cycle)
    base = price_minor + (addons_minor + maintenance_monthly(plan_kind, currency)) * months
    return base + processing_minor(base)


@dataclass(frozen=True)
class Totals:
    subtotal: Money
    rate: Decimal
    vat: Money
    total: Money
    reverse_charge: bool


def totals(customer: Customer, lines: Sequence[LineSpec], seller: Seller, on: dt.date) -> Totals:
    """What ``invoices.create`` will charge for these lines, computed the same way, for previews."""
    decision = vat.decide(customer.country, customer.is_business, customer.vat_id, seller.country, on)
    subtotal = sum(spec.unit_minor * spec.quantity for spec in lines)
    tax = invoices.vat_amount(subtotal, decision.rate)
    cur = customer.currency
    return Totals(
        Money(subtotal, cur),
        decision.rate,
        Money(tax, cur),
        Money(subtotal + tax, cur),
        decision.reverse_charge,
    )


def total_minor(
    country: str, is_business: bool, vat_id: str | None, subtotal_minor: int, seller: Seller, on: dt.date
) -> int:
    """``totals(...).total`` from the buyer's VAT facts and the lines' subtotal alone (no customer
    object): the VAT decided the same way, on the same day, with the same rounding."""
    decision = _decided(country, is_business, vat_id, seller.country, on)
    return subtotal_minor + invoices.vat_amount(subtotal_minor, decision.rate)


@functools.lru_cache(maxsize=4096)
def _decided(
    country: str, is_business: bool, vat_id: str | None, seller_country: str, on: dt.date
) -> vat.VatDecision:
    """``vat.decide``, remembered: it depends on these values and the rate table only, and the alerts
    scan asks it for thousands of renewals a batch with a few countries and days between them."""
    return vat.decide(country, is_business, vat_id, seller_country, on)

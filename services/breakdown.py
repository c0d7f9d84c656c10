"""Invoice breakdown: the lines one billing period of an order costs, and the fees on top.

Fees are the provider's published rules, kept here as data: a monthly maintenance fee on managed
servers and a payment processing fee as a percentage of the other lines. Line descriptions are
``wording.Text``: written in the customer's language when the invoice is issued.
"""

from __future__ import annotations

import datetime as dt
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


def processing_fee(lines: Sequence[LineSpec]) -> list[LineSpec]:
    """The processing fee line for these lines (none when it rounds to nothing)."""
    base = sum(spec.unit_minor * spec.quantity for spec in lines)
    fee = int((Decimal(base) * PROCESSING_PERCENT / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
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
    monthly_fee = MAINTENANCE_MONTHLY.get(plan.kind, {}).get(order.currency, 0)
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

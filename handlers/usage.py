"""Pay-as-you-use (resellers): this month per day, what is billed so far, and the month's estimate."""

from __future__ import annotations

import datetime as dt

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Button, Reply
from services import clock, metering
from services.errors import N_
from services.hourly_billing import FREE_HOURS
from services.metering import MonthUsage
from services.records import Customer, UnitOfWork

router = Router()


def _billed(usage: MonthUsage) -> list[str]:
    lines = []
    for line in usage.lines:
        lines.append(
            # TRANSLATORS: one billed line: a hosting account, add-on or service pack in one package;
            # "h" is the abbreviation of hours and {rate} a price per hour.
            _("• {name} — {package}: {hours} h × {rate} = {amount}").format(
                name=usage.resources[line.resource_id].name,
                package=localized.name(usage.products[line.state.product_id]),
                hours=len(line.hours),
                rate=formatting.rate(line.state.rate, usage.currency),
                amount=formatting.amount(line.amount, usage.currency),
            )
        )
    return lines


def _pending(usage: MonthUsage) -> list[str]:
    if not usage.pending:
        return []
    lines = [
        _("Not billed yet, under {free} hours this month (kept longer, billed from its first hour):").format(
            free=FREE_HOURS
        )
    ]
    for rid, hours in usage.pending.items():
        resource = usage.resources[rid]
        lines.append(
            # TRANSLATORS: "h" is the abbreviation of hours.
            _("• {name} — {package}: {hours} h").format(
                name=resource.name, package=localized.name(resource.product), hours=hours
            )
        )
    return lines


@router.command(
    "usage",
    aliases={
        "en": ("usage", "payg"),
        "fr": ("consommation", "utilisation"),
        "id": ("pemakaian", "penggunaan"),
        "tr": ("kullanim", "tuketim"),
    },
    summary=N_("pay-as-you-use: this month per day and an estimate of the month's total"),
)
async def usage(uow: UnitOfWork, customer: Customer) -> Reply:
    report = await metering.current_usage(uow, customer)
    so_far, estimate = report.so_far, report.estimate
    if not estimate.resources:
        return Reply(_("You have no pay-as-you-use accounts, add-ons or service packs."))
    currency = so_far.currency
    today = clock.now().astimezone(so_far.tz).date()
    lines = [
        _("Pay-as-you-use from {start} to {end}, per day:").format(
            start=formatting.date(so_far.month.first_day()), end=formatting.date(today)
        )
    ]
    days = so_far.days()
    day = so_far.month.first_day()
    while day <= today:
        lines.append(f"{formatting.date(day)}: {formatting.amount(days.get(day, 0), currency)}")
        day += dt.timedelta(days=1)
    lines.append(_("So far this month: {amount}").format(amount=formatting.amount(so_far.total, currency)))
    lines.append(
        _("Estimate for the whole month: {amount}").format(amount=formatting.amount(estimate.total, currency))
    )
    if so_far.lines:
        lines.append(_("Billed so far:"))
        lines.extend(_billed(so_far))
    lines.extend(_pending(so_far))
    lines.append(_("The usage invoice is created when the month ends."))
    return Reply("\n".join(lines), buttons=[[Button(_("Invoices"), command="invoices all")]])

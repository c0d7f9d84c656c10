"""The account at a glance (also the Slack App Home): balance, unpaid invoices, upcoming renewals."""

from __future__ import annotations

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.invoice_views import summary_line
from services import overview
from services.errors import N_
from services.invoices import Seller
from services.records import Customer, UnitOfWork

router = Router()


@router.command(
    "overview",
    aliases={
        "en": ("overview", "summary", "home"),
        "fr": ("apercu", "resume"),
        "id": ("ringkasan", "ikhtisar"),
        "tr": ("ozet", "genelbakis"),
    },
    summary=N_("your account at a glance: balance, unpaid invoices, upcoming renewals"),
)
async def show_overview(uow: UnitOfWork, customer: Customer, seller: Seller) -> Reply:
    view = await overview.account_overview(uow, customer, seller)
    lines = [
        customer.name,
        _("Balance: {amount}").format(amount=formatting.money(view.balance)),
        ngettext(
            "Unpaid: {count} invoice, {amount}", "Unpaid: {count} invoices, {amount}", view.unpaid_count
        ).format(count=view.unpaid_count, amount=formatting.money(view.unpaid_total)),
    ]
    lines += [summary_line(inv) for inv in view.unpaid]
    if view.renewals:
        lines.append(_("Renewals in the next 30 days:"))
        for item in view.renewals:
            auto = _("auto-renew") if item.auto else _("manual")
            lines.append(
                f"{formatting.date(item.due)} · {localized.text(item.ref)} · {formatting.money(item.cost)} · {auto}"
            )
    else:
        lines.append(_("No renewals in the next 30 days."))
    buttons = [
        [
            Button(_("Unpaid invoices"), command="invoices unpaid"),
            Button(_("Top up"), command="topup"),
            Button(_("New ticket"), command="newticket"),
        ]
    ]
    return Reply("\n".join(lines), buttons=buttons)

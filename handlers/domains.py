"""Domains: expiry dates and renewal (from the balance, or by invoice)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from bot.core import formatting
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import confirmation
from services import clock, domains
from services.audit import Actor
from services.errors import N_
from services.invoices import Seller
from services.records import Customer, UnitOfWork

router = Router()


@router.command(
    "domains",
    aliases={"en": ("domains",), "fr": ("domaines",), "id": ("domain",), "tr": ("alanadları",)},
    summary=N_("your domains and when they expire"),
)
async def list_domains(uow: UnitOfWork, customer: Customer) -> Reply:
    rows = await domains.listing(uow, customer.id)
    if not rows:
        return Reply(_("You have no domains."))
    today = clock.today()
    lines = [_("Your domains:")]
    buttons = []
    for domain in rows:
        days = (domain.expires_on - today).days
        left = (
            ngettext("expires in {n} day", "expires in {n} days", days).format(n=days)
            if days >= 0
            else _("expired")
        )
        lines.append(f"{domain.name} · {formatting.date(domain.expires_on)} · {left}")
        if days <= 60:
            buttons.append(
                [Button(_("Renew {domain}").format(domain=domain.name), command=f"renew {domain.name}")]
            )
    return Reply("\n".join(lines), buttons=buttons)


@dataclass(frozen=True)
class RenewDomain:
    """Renewing a domain for a year; ``expires_on`` is the expiry the price was shown for (a
    renewal made meanwhile voids the confirmation)."""

    domain_id: int
    expires_on: dt.date


@router.command(
    "renew",
    aliases={"en": ("renew",), "fr": ("renouveler",), "id": ("perpanjang",), "tr": ("yenile",)},
    summary=N_("renew a domain for one year (asks for confirmation)"),
    usage=N_("DOMAIN"),
    capability="money",
    confirms=RenewDomain,
)
async def renew(uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller) -> Reply:
    if not args:
        return await _which_to_renew(uow, customer)
    domain = await domains.find(uow, args[0], actor)
    quote = await domains.quote(uow, customer, domain, seller)
    text = _("Renew {domain} for one year for {price} (VAT included). New expiry date: {date}.").format(
        domain=domain.name,
        price=formatting.money(quote.gross),
        date=formatting.date(domain.expires_on + relativedelta(years=1)),
    )
    if quote.from_balance:
        text += "\n" + _("It will be paid from your balance of {balance}.").format(
            balance=formatting.money(quote.balance)
        )
    else:
        text += "\n" + _(
            "Your balance of {balance} does not cover it, so an invoice will be created."
        ).format(balance=formatting.money(quote.balance))
    return confirmation(text, _("Renew"), RenewDomain(domain.id, domain.expires_on))


@router.confirmer(RenewDomain)
async def confirm_renew(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: RenewDomain, seller: Seller
) -> Reply:
    domain, invoice = await domains.renew(uow, customer, action.domain_id, seller, actor, action.expires_on)
    total = formatting.amount(invoice.total_minor, invoice.currency)
    if invoice.status == "paid":
        return Reply(
            _("{domain} is renewed until {date}. {amount} was taken from your balance.").format(
                domain=domain.name, date=formatting.date(domain.expires_on), amount=total
            )
        )
    return Reply(
        _(
            "Invoice {number} for {amount} was created. {domain} will be renewed as soon as it is paid."
        ).format(number=invoice.number, amount=total, domain=domain.name),
        buttons=[[Button(_("Pay"), command=f"pay {invoice.id}")]],
    )


async def _which_to_renew(uow: UnitOfWork, customer: Customer) -> Reply:
    """ "Renew my domain" without a name: the domains to choose from, soonest expiry first."""
    owned = sorted(await domains.listing(uow, customer.id), key=lambda d: d.expires_on)
    if not owned:
        return Reply(_("You have no domains."))
    buttons = [
        [
            Button(
                _("{domain} (expires {date})").format(domain=d.name, date=formatting.date(d.expires_on)),
                command=f"renew {d.name}",
            )
        ]
        for d in owned
    ]
    return Reply(_("Which domain do you want to renew?"), buttons=buttons)

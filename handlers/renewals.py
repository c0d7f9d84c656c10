"""Renewals: ``extend ORDER`` (the invoice for the next period) and ``settings`` (auto-renew)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import breakdown_text, confirmation, first_number, keyword
from services import domains, orders, renewal_costs, renewals
from services.audit import Actor
from services.errors import N_, InvalidState
from services.invoices import Seller
from services.records import Customer, Invoice, UnitOfWork

router = Router()

SWITCH_WORDS = {
    "on": frozenset({"on", "activer", "active", "oui", "aktif", "aktifkan", "ya", "ac", "acik", "evet"}),
    "off": frozenset(
        {"off", "desactiver", "desactive", "non", "nonaktif", "matikan", "kapat", "kapali", "hayir"}
    ),
}


def _total(inv: Invoice) -> str:
    return formatting.amount(inv.total_minor, inv.currency)


def _pay_button(inv: Invoice) -> list[list[Button]]:
    return [[Button(_("Pay"), command=f"pay {inv.id}")]]


@dataclass(frozen=True)
class ExtendOrder:
    """The invoice for an order's next period, starting ``start`` (the period the price was shown for)."""

    order_id: int
    start: dt.date


@router.command(
    "extend",
    aliases={"en": ("extend",), "fr": ("prolonger",), "id": ("perpanjangan",), "tr": ("uzat",)},
    summary=N_("the invoice for an order's next period (asks for confirmation)"),
    usage=N_("ORDER"),
    capability="money",
    confirms=ExtendOrder,
)
async def extend(uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller) -> Reply:
    order = await orders.get(uow, first_number(args), actor)
    plan = await renewals.preview(uow, customer, order, seller)
    period = _("{start} – {end}").format(start=formatting.date(plan.start), end=formatting.date(plan.end))
    if plan.existing is not None:
        return Reply(
            _("Invoice {number} ({total}) already renews order #{id} for {period}.").format(
                number=plan.existing.number, total=_total(plan.existing), id=order.id, period=period
            ),
            buttons=_pay_button(plan.existing),
        )
    text = "\n".join(
        [
            _("Extend order #{id} ({plan}) for {period}:").format(
                id=order.id, plan=localized.name(order.plan), period=period
            ),
            breakdown_text(plan.lines, plan.totals),
            _(
                "An invoice will be created; the order is extended when it is paid. Your balance: {balance}."
            ).format(balance=formatting.money(plan.balance)),
        ]
    )
    return confirmation(text, _("Create invoice"), ExtendOrder(order.id, plan.start))


@router.confirmer(ExtendOrder)
async def confirm_extend(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ExtendOrder, seller: Seller
) -> Reply:
    inv = await renewals.extend(uow, customer, action.order_id, seller, actor, action.start)
    return Reply(
        _("Invoice {number} ({total}) was created. The order is extended as soon as it is paid.").format(
            number=inv.number, total=_total(inv)
        ),
        buttons=_pay_button(inv),
    )


@dataclass(frozen=True)
class SetAutoRenew:
    """Turning an order's auto-renew on or off."""

    order_id: int
    on: bool


@dataclass(frozen=True)
class SetDomainAutoRenew:
    """Turning a domain's auto-renew on or off."""

    domain_id: int
    on: bool


# ``settings domain NAME on|off``: the word that names a domain, in every language (folded).
DOMAIN_WORDS = frozenset({"domain", "domaine", "alanadi"})


@router.command(
    "settings",
    aliases={
        "en": ("settings",),
        "fr": ("parametres", "reglages"),
        "id": ("pengaturan",),
        "tr": ("ayarlar",),
    },
    summary=N_("auto-renew of each order and domain, on or off"),
    usage=N_("[ORDER on|off] or [domain NAME on|off]"),
    capability="settings",
    bare="read",
    confirms=(SetAutoRenew, SetDomainAutoRenew),
)
async def settings_(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller
) -> Reply:
    if args and fold(args[0]) in DOMAIN_WORDS:
        return await _domain_auto_renew_preview(uow, customer, actor, args[1:], seller)
    if args:
        return await _auto_renew_preview(uow, customer, actor, args, seller)
    rows = await orders.listing(uow, customer.id)
    names = await domains.listing(uow, customer.id)
    if not rows and not names:
        return Reply(_("You have no orders."))
    lines = [
        _(
            "Auto-renew pays the next period from your balance when the period ends, "
            "only if the balance covers the whole invoice."
        )
    ]
    buttons = []
    for order in rows:
        state = _("auto-renew on") if order.auto_renew else _("auto-renew off")
        lines.append(
            _("#{id} · {plan} · until {end} · {state}").format(
                id=order.id,
                plan=localized.name(order.plan),
                end=formatting.date(order.period_end),
                state=state,
            )
        )
        label = _("#{id}: turn off") if order.auto_renew else _("#{id}: turn on")
        switch = "off" if order.auto_renew else "on"
        buttons.append([Button(label.format(id=order.id), command=f"settings {order.id} {switch}")])
    for domain in names:
        state = _("auto-renew on") if domain.auto_renew else _("auto-renew off")
        lines.append(
            _("{domain} · until {end} · {state}").format(
                domain=domain.name, end=formatting.date(domain.expires_on), state=state
            )
        )
        label = _("{domain}: turn off") if domain.auto_renew else _("{domain}: turn on")
        switch = "off" if domain.auto_renew else "on"
        command = f"settings domain {domain.name} {switch}"
        buttons.append([Button(label.format(domain=domain.name), command=command)])
    return Reply("\n".join(lines), buttons=buttons)


async def _auto_renew_preview(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller
) -> Reply:
    order = await orders.get(uow, first_number(args), actor)
    switch = keyword(args, SWITCH_WORDS, "")
    if not switch:
        raise UsageError()
    on = switch == "on"
    if on == order.auto_renew:
        return Reply(
            (
                _("Auto-renew is already on for order #{id}.")
                if on
                else _("Auto-renew is already off for order #{id}.")
            ).format(id=order.id)
        )
    if on and order.status == "cancelled":
        raise InvalidState(N_("Order #{id} is cancelled and cannot be extended."), id=order.id)
    if on:
        cost = await renewal_costs.of_order(uow, customer, seller, order)
        text = _(
            "Turn auto-renew on for order #{id}? On {date} the renewal invoice ({total}) will be paid from your "
            "balance if it covers the whole amount; if it does not, you will be told what is missing."
        ).format(id=order.id, date=formatting.date(order.period_end), total=formatting.money(cost.amount))
    else:
        text = _(
            "Turn auto-renew off for order #{id}? You will then need to extend it yourself before {date}."
        ).format(id=order.id, date=formatting.date(order.period_end))
    return confirmation(text, _("Confirm"), SetAutoRenew(order.id, on))


@router.confirmer(SetAutoRenew)
async def confirm_settings(uow: UnitOfWork, actor: Actor, action: SetAutoRenew) -> Reply:
    order = await renewals.set_auto_renew(uow, action.order_id, action.on, actor)
    if order.auto_renew:
        return Reply(_("Auto-renew is now on for order #{id}.").format(id=order.id))
    return Reply(_("Auto-renew is now off for order #{id}.").format(id=order.id))


async def _domain_auto_renew_preview(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller
) -> Reply:
    switch = keyword(args, SWITCH_WORDS, "")
    names = [a for a in args if fold(a) not in SWITCH_WORDS["on"] | SWITCH_WORDS["off"]]
    if not switch or len(names) != 1:
        raise UsageError()
    domain = await domains.find(uow, names[0], actor)
    on = switch == "on"
    if on == domain.auto_renew:
        return Reply(
            (
                _("Auto-renew is already on for {domain}.")
                if on
                else _("Auto-renew is already off for {domain}.")
            ).format(domain=domain.name)
        )
    if on:
        cost = await renewal_costs.of_domain(uow, customer, seller, domain)
        text = _(
            "Turn auto-renew on for {domain}? On {date} one more year ({total}) will be paid from your "
            "balance if it covers the whole amount; if it does not, you will be told what is missing."
        ).format(
            domain=domain.name, date=formatting.date(domain.expires_on), total=formatting.money(cost.amount)
        )
    else:
        text = _(
            "Turn auto-renew off for {domain}? You will then need to renew it yourself before {date}."
        ).format(domain=domain.name, date=formatting.date(domain.expires_on))
    return confirmation(text, _("Confirm"), SetDomainAutoRenew(domain.id, on))


@router.confirmer(SetDomainAutoRenew)
async def confirm_domain_settings(uow: UnitOfWork, actor: Actor, action: SetDomainAutoRenew) -> Reply:
    domain = await domains.set_auto_renew(uow, action.domain_id, action.on, actor)
    if domain.auto_renew:
        return Reply(_("Auto-renew is now on for {domain}.").format(domain=domain.name))
    return Reply(_("Auto-renew is now off for {domain}.").format(domain=domain.name))

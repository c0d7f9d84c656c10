"""Orders: what the customer rents, and the server behind each."""

from __future__ import annotations

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import first_number, label
from services import orders
from services.audit import Actor
from services.errors import N_
from services.records import Customer, UnitOfWork

router = Router()


@router.command(
    "orders",
    aliases={
        "en": ("orders", "services"),
        "fr": ("commandes",),
        "id": ("pesanan", "layanan"),
        "tr": ("siparisler",),
    },
    summary=N_("your orders: plan, IP, period end, cost"),
)
async def list_orders(uow: UnitOfWork, customer: Customer) -> Reply:
    rows = await orders.listing(uow, customer.id)
    if not rows:
        return Reply(_("You have no orders."))
    lines = [_("Your orders:")]
    buttons = []
    for order in rows:
        servers = await orders.servers_of(uow, order)
        ip = servers[0].ip if servers else "—"
        lines.append(
            _("#{id} · {plan} · {ip} · until {end} · {price} {cycle} · {status}").format(
                id=order.id,
                plan=localized.name(order.plan),
                ip=ip,
                end=formatting.date(order.period_end),
                price=formatting.amount(order.price_minor, order.currency),
                cycle=label(order.billing_cycle),
                status=label(order.status),
            )
        )
        buttons.append(Button(f"#{order.id}", command=f"order {order.id}"))
    return Reply("\n".join(lines), buttons=[buttons])


@router.command(
    "order",
    aliases={"en": ("order",), "fr": ("commande",), "id": ("order",), "tr": ("siparis",)},
    summary=N_("one order: plan, IP, period end, cost, server state"),
    usage=N_("NUMBER"),
)
async def show_order(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    order = await orders.get(uow, first_number(args), actor)
    lines = [
        _("Order #{id}: {plan} — {status}").format(
            id=order.id, plan=localized.name(order.plan), status=label(order.status)
        ),
        _("Cost: {price} {cycle}").format(
            price=formatting.amount(order.price_minor, order.currency), cycle=label(order.billing_cycle)
        ),
        _("Current period ends on {date}").format(date=formatting.date(order.period_end)),
        _("Auto-renew: on") if order.auto_renew else _("Auto-renew: off"),
    ]
    buttons = []
    for server in await orders.servers_of(uow, order):
        lines.append(
            _("Server {name}: {ip}, {os}, {state}").format(
                name=server.hostname, ip=server.ip, os=server.os, state=label(server.power_state)
            )
        )
        buttons.append(
            [Button(_("Reboot {name}").format(name=server.hostname), command=f"reboot {server.hostname}")]
        )
    buttons.append([Button(_("Invoices"), command="invoices all")])
    return Reply("\n".join(lines), buttons=buttons)

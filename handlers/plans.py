"""Plans and support packages: ``plan`` / ``support`` show the current one and the options; with a
name they preview a change (upgrade now with proration, downgrade at period end, or on a date) and
ask for confirmation; ``cancel`` drops a scheduled change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import CYCLE_WORDS, breakdown_text, confirmation, iso_date, keyword, label, price_line
from services import plans
from services.audit import Actor
from services.errors import N_, NotFound
from services.invoices import Seller
from services.records import Customer, Order, UnitOfWork

router = Router()

CANCEL_WORDS = frozenset({"cancel", "annuler", "batal", "iptal"})
NONE_YET = {
    "subscription": N_("You have no subscription plan."),
    "support": N_("You have no support package."),
}


@dataclass(frozen=True)
class ChangePlan:
    """A change of the subscription plan: now (an upgrade), at period end, or ``on`` a date."""

    order_id: int
    plan_id: int
    cycle: str
    on: dt.date | None


@dataclass(frozen=True)
class CancelPlanChange:
    """Dropping a scheduled change of the subscription plan."""

    change_id: int


@dataclass(frozen=True)
class ChangeSupport(ChangePlan):
    """A change of the support package (confirmed by ``supportpackage``)."""


@dataclass(frozen=True)
class CancelSupportChange(CancelPlanChange):
    """Dropping a scheduled change of the support package."""


# The confirmations each command offers (one class per command: the press needs its capability).
CHANGES: dict[str, type[ChangePlan]] = {"plan": ChangePlan, "supportpackage": ChangeSupport}
CANCELS: dict[str, type[CancelPlanChange]] = {"plan": CancelPlanChange, "supportpackage": CancelSupportChange}


async def _overview(uow: UnitOfWork, order: Order, command: str) -> Reply:
    lines = [
        _("Current: {plan} (order #{id}), {price} {cycle}, period {start} – {end}.").format(
            plan=localized.name(order.plan),
            id=order.id,
            price=formatting.amount(order.price_minor, order.currency),
            cycle=label(order.billing_cycle),
            start=formatting.date(order.period_start),
            end=formatting.date(order.period_end),
        )
    ]
    buttons: list[list[Button]] = []
    pending = await plans.scheduled(uow, order)
    if pending is not None and pending.plan is not None:
        lines.append(
            _("Scheduled: change to {plan} ({cycle}) on {date}.").format(
                plan=localized.name(pending.plan),
                cycle=label(pending.billing_cycle or order.billing_cycle),
                date=formatting.date(pending.effective_on or order.period_end),
            )
        )
        buttons.append([Button(_("Cancel the scheduled change"), command=f"{command} cancel")])
    lines.append(_("Options:"))
    choices = []
    for plan in await plans.options(uow, order):
        lines.append(price_line(plan))
        if plan.id != order.plan_id:
            choices.append(Button(localized.name(plan), command=f"{command} {plan.code}"))
    other = "yearly" if order.billing_cycle == "monthly" else "monthly"
    choices.append(Button(label(other), command=f"{command} {order.plan.code} {other}"))
    buttons.insert(0, choices)
    lines.append(_("Choose an option, or add a date (YYYY-MM-DD) to schedule the change."))
    return Reply("\n".join(lines), buttons=buttons)


async def plan_reply(
    uow: UnitOfWork, customer: Customer, args: list[str], seller: Seller, kind: str, command: str
) -> Reply:
    order = await plans.order_of_kind(uow, customer.id, kind)
    if order is None:
        return Reply(_(NONE_YET[kind]))
    if not args:
        return await _overview(uow, order, command)
    if {fold(a) for a in args} & CANCEL_WORDS:
        pending = await plans.scheduled(uow, order)
        if pending is None or pending.plan is None:
            return Reply(_("No change is scheduled for order #{id}.").format(id=order.id))
        return confirmation(
            _("Cancel the change of order #{id} to {plan} scheduled for {date}?").format(
                id=order.id,
                plan=localized.name(pending.plan),
                date=formatting.date(pending.effective_on or order.period_end),
            ),
            _("Confirm"),
            CANCELS[command](pending.id),
        )
    on = iso_date(args)
    cycle = keyword(args, CYCLE_WORDS, order.billing_cycle)
    names = [a for a in args if keyword([a], CYCLE_WORDS, "") == "" and iso_date([a]) is None]
    plan = plans.find(await plans.options(uow, order), " ".join(names)) if names else order.plan
    if plan is None:
        raise NotFound()
    change = plans.preview(customer, order, plan, cycle, on, seller)
    action = CHANGES[command](order.id, plan.id, cycle, on)
    new_price = formatting.amount(plans.price(plan, cycle), order.currency)
    head = {
        "old": localized.name(order.plan),
        "new": localized.name(plan),
        "id": order.id,
        "date": formatting.date(change.effective_on),
    }
    if change.upgrade and on is None:
        text = [
            _("Upgrade order #{id} from {old} to {new} now.").format(**head),
            _("Proration: {difference} ÷ {period} days × {days} days left in the period.").format(
                difference=formatting.money(change.difference),
                period=change.period_days,
                days=change.days_left,
            ),
            breakdown_text(change.lines, change.totals),
            _("An invoice will be created. From the next period: {price} {cycle}.").format(
                price=new_price, cycle=label(cycle)
            ),
        ]
        button = _("Upgrade")
    elif change.upgrade:
        text = [
            _("On {date}, order #{id} will change from {old} to {new}.").format(**head),
            _("The days left in the period then will be invoiced: {amount} at today's prices.").format(
                amount=formatting.money(change.totals.total)
            ),
            _("You can cancel it until then."),
        ]
        button = _("Schedule")
    else:
        text = [
            _("Order #{id} will change from {old} to {new} on {date}, at the end of a period.").format(
                **head
            ),
            _("Nothing to pay now; from then on: {price} {cycle}. You can cancel it until then.").format(
                price=new_price, cycle=label(cycle)
            ),
        ]
        button = _("Schedule")
    return confirmation("\n".join(text), button, action)


async def cancel_reply(uow: UnitOfWork, actor: Actor, action: CancelPlanChange) -> Reply:
    await plans.cancel(uow, action.change_id, actor)
    return Reply(_("The scheduled change is cancelled."))


async def change_reply(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ChangePlan, seller: Seller
) -> Reply:
    done = await plans.change(
        uow, customer, action.order_id, action.plan_id, action.cycle, action.on, seller, actor
    )
    plan = localized.name(done.preview.plan)
    if done.change is not None:
        return Reply(
            _("Done: order #{id} will change to {plan} on {date}.").format(
                id=done.preview.order.id, plan=plan, date=formatting.date(done.preview.effective_on)
            )
        )
    text = _("Order #{id} is now on {plan}.").format(id=done.preview.order.id, plan=plan)
    if done.invoice is None:
        return Reply(text)
    text += " " + _("Invoice {number} ({total}) was created.").format(
        number=done.invoice.number,
        total=formatting.amount(done.invoice.total_minor, done.invoice.currency),
    )
    return Reply(text, buttons=[[Button(_("Pay"), command=f"pay {done.invoice.id}")]])


@router.command(
    "plan",
    aliases={"en": ("plan",), "fr": ("forfait", "offre"), "id": ("paket",), "tr": ("plan", "abonelik")},
    summary=N_("your plan and the options: upgrade now, downgrade at period end, or schedule a change"),
    usage=N_("[PLAN] [monthly|yearly] [YYYY-MM-DD] | cancel"),
    capability="money",
    confirms=(ChangePlan, CancelPlanChange),
)
async def plan(uow: UnitOfWork, customer: Customer, args: list[str], seller: Seller) -> Reply:
    return await plan_reply(uow, customer, args, seller, "subscription", "plan")


@router.confirmer(ChangePlan)
async def confirm_plan(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ChangePlan, seller: Seller
) -> Reply:
    return await change_reply(uow, customer, actor, action, seller)


@router.confirmer(CancelPlanChange)
async def confirm_plan_cancel(uow: UnitOfWork, actor: Actor, action: CancelPlanChange) -> Reply:
    return await cancel_reply(uow, actor, action)


@router.command(
    "supportpackage",
    aliases={
        "en": ("support package", "supportpackage"),
        "fr": ("assistance",),
        "id": ("paket dukungan", "dukungan"),
        "tr": ("destek paketi", "destekpaketi"),
    },
    summary=N_("your support package and the options, changed like a plan"),
    usage=N_("[PACKAGE] [monthly|yearly] [YYYY-MM-DD] | cancel"),
    capability="money",
    confirms=(ChangeSupport, CancelSupportChange),
)
async def support(uow: UnitOfWork, customer: Customer, args: list[str], seller: Seller) -> Reply:
    return await plan_reply(uow, customer, args, seller, "support", "supportpackage")


@router.confirmer(ChangeSupport)
async def confirm_support(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ChangeSupport, seller: Seller
) -> Reply:
    return await change_reply(uow, customer, actor, action, seller)


@router.confirmer(CancelSupportChange)
async def confirm_support_cancel(uow: UnitOfWork, actor: Actor, action: CancelSupportChange) -> Reply:
    return await cancel_reply(uow, actor, action)

"""``currency``: the currency the account is billed in, and changing it for what is billed next."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import formatting, localized
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import Registry
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import confirmation
from services import currency
from services.audit import Actor
from services.errors import N_
from services.records import Customer, UnitOfWork

router = Router()


@dataclass(frozen=True)
class ChangeCurrency:
    """Billing the account in ``currency`` from now on."""

    currency: str


def _repriced(item: currency.Repriced) -> str:
    prices = {"before": formatting.money(item.before), "after": formatting.money(item.after)}
    if item.order_id is None:
        return _("• {name}: {before} → {after}").format(name=localized.text(item.name), **prices)
    return _("• {name} (order #{id}): {before} → {after}").format(
        name=localized.text(item.name), id=item.order_id, **prices
    )


@router.command(
    "currency",
    aliases={
        "en": ("currency",),
        "fr": ("devise", "monnaie"),
        "id": ("matauang", "mata uang"),
        "tr": ("parabirimi", "para birimi", "doviz"),
    },
    summary=N_("the currency you are billed in; change it for what is billed next"),
    usage=N_("[CODE]"),
    capability="settings",
    bare="read",
    confirms=ChangeCurrency,
)
async def billing_currency(uow: UnitOfWork, customer: Customer, args: list[str], registry: Registry) -> Reply:
    if not args:
        available = await currency.currencies(uow)
        text = "\n".join(
            [
                _("Your account is billed in {currency}. Our prices exist in: {available}.").format(
                    currency=customer.currency, available=", ".join(available)
                ),
                _(
                    "To be billed in another one from now on (invoices already issued keep theirs): /{command} CODE"
                ).format(command=registry.commands["currency"].alias_for(current())),
            ]
        )
        others = [Button(code, command=f"currency {code}") for code in available if code != customer.currency]
        return Reply(text, buttons=[others] if others else [])
    switch = await currency.preview(uow, customer, args[0])
    lines = [
        _(
            "Bill the account in {currency} from now on? Invoices already issued keep their currency; "
            "what is billed next is at these prices:"
        ).format(currency=switch.currency),
        *(_repriced(item) for item in switch.repriced),
    ]
    if switch.clears_threshold:
        lines.append(
            _(
                "Your low-balance alert threshold is in {currency}, so it is cleared: set it again "
                "afterwards if you want one."
            ).format(currency=customer.currency)
        )
    return confirmation("\n".join(lines), _("Change currency"), ChangeCurrency(switch.currency))


@router.confirmer(ChangeCurrency)
async def confirm_currency(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ChangeCurrency
) -> Reply:
    switch = await currency.change(uow, customer, action.currency, actor)
    return Reply(
        _("Your account is now billed in {currency}. Invoices already issued keep their currency.").format(
            currency=switch.currency
        )
    )

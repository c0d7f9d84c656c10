"""Balance top-up: amount, then the billing address step by step, a preview, and a confirmation.

The billing address goes on that invoice only; when it differs from the account's, the chat offers
to ask for the account's change by ticket (as ``changecontact`` does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core import formatting
from bot.core.context import Context
from bot.core.forms import Data, Form, Parse, Step, Suggest
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import confirmation, country_name
from handlers.contact_views import ContactChange, changes_text
from handlers.invoice_views import invoice_text
from services import topup
from services.audit import Actor
from services.errors import N_
from services.invoices import Seller
from services.money import Money
from services.records import Customer, UnitOfWork

router = Router()

NO_TAX_ID = frozenset({"none", "no", "aucun", "non", "tidak", "tidak ada", "yok", "-"})


def _current_value(customer: Customer, step: str) -> str | None:
    """What the account has on file for a step."""
    return {
        "name": customer.name,
        "address": customer.address_line,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.country,
        "tax_id": customer.vat_id,
    }.get(step) or None


def _suggest(step: str) -> Suggest:
    """What the account has on file for ``step``, as a one-press answer."""

    async def suggest(ctx: Context) -> list[tuple[str, str]]:
        assert ctx.customer is not None
        known = _current_value(ctx.customer, step)
        if not known:
            return []
        return [(known, (country_name(known) if step == "country" else known)[:60])]

    return suggest


def _currency(ctx: Context) -> str:
    assert ctx.customer is not None
    return ctx.customer.currency


async def _amount(answer: str, ctx: Context, data: Data) -> int:
    return topup.parse_amount(answer, _currency(ctx), current()).minor


def _amount_read(value: Any, ctx: Context) -> str:
    """Say at once how the amount was read ("500.000" in Indonesian is Rp500.000)."""
    return _("Top-up of {amount}.").format(amount=formatting.money(Money(value, _currency(ctx)), exact=True))


def _field(step: str) -> Parse:
    async def parse(answer: str, ctx: Context, data: Data) -> str:
        return topup.parse_field(step, answer)

    return parse


async def _country(answer: str, ctx: Context, data: Data) -> str:
    return topup.parse_country(answer, current())


async def _tax_id(answer: str, ctx: Context, data: Data) -> str | None:
    """Checked against the country (when the country itself was refused, its field says so)."""
    value = None if fold(answer) in NO_TAX_ID else answer
    return topup.parse_tax_id(value, data["country"]) if "country" in data else value


async def _preview(customer: Customer, data: dict[str, Any]) -> Reply:
    billing = {k: v for k, v in data.items() if k != "amount"}
    amount = Money(data["amount"], customer.currency)
    text = _(
        "Top-up of {amount}. The invoice goes to:\n{name}\n{address}\n{postal_code} {city}\n{country}\n"
        "Tax id: {tax_id}\nYour balance is credited when the invoice is paid. Issue the invoice?"
    ).format(
        amount=formatting.money(amount, exact=True),
        name=billing["name"],
        address=billing["address"],
        postal_code=billing["postal_code"],
        city=billing["city"],
        country=country_name(billing["country"]),
        tax_id=billing["tax_id"] or _("none"),
    )
    text += "\n" + _(
        "These details are printed on this invoice only: your account's contact data stay as they are."
    )
    preview = confirmation(text, _("Issue invoice"), TopUp(amount.minor, amount.currency, billing))
    preview.private = True
    return preview


@dataclass(frozen=True)
class TopUp:
    """A top-up invoice for ``amount_minor`` in ``currency`` to the billing address given."""

    amount_minor: int
    currency: str
    billing: dict[str, Any]


TOP_UP = Form(
    "topup",
    title=N_("Top up"),
    steps=(
        Step(
            "amount",
            prompt=N_("Top up your balance. How much, in {currency}?"),
            label=N_("Amount"),
            parse=_amount,
            hint="50.00",
            echo=_amount_read,
        ),
        Step(
            "name",
            prompt=N_("Business name for the invoice?"),
            label=N_("Business name"),
            parse=_field("name"),
            suggest=_suggest("name"),
        ),
        Step(
            "address",
            prompt=N_("Street and number?"),
            label=N_("Street and number"),
            parse=_field("address"),
            suggest=_suggest("address"),
        ),
        Step(
            "postal_code",
            prompt=N_("Postal code?"),
            label=N_("Postal code"),
            parse=_field("postal_code"),
            suggest=_suggest("postal_code"),
        ),
        Step("city", prompt=N_("City?"), label=N_("City"), parse=_field("city"), suggest=_suggest("city")),
        Step(
            "country",
            prompt=N_("Country? A two-letter code such as FR, or its name."),
            label=N_("Country (two-letter code or name)"),
            parse=_country,
            suggest=_suggest("country"),
            hint="FR",
        ),
        Step(
            "tax_id",
            prompt=N_("Tax id (VAT number)? Send none if you have none."),
            label=N_("Tax id (optional)"),
            parse=_tax_id,
            suggest=_suggest("tax_id"),
            shortcuts=(("none", N_("No tax id")),),
            optional=True,
        ),
    ),
    finish=_preview,
    fills=lambda ctx: {"currency": _currency(ctx)},
)
router.form(
    TOP_UP,
    aliases={
        "en": ("topup", "top up", "add funds"),
        "fr": ("recharger", "recharge", "crediter"),
        "id": ("isisaldo", "isi saldo", "topup"),
        "tr": ("bakiyeyükle", "bakiye yükle", "yükle"),
    },
    summary=N_("top up your balance: amount and billing address, then an invoice"),
    capability="money",
    confirms=TopUp,
)


@router.confirmer(TopUp)
async def confirm_topup(
    uow: UnitOfWork, customer: Customer, actor: Actor, seller: Seller, action: TopUp
) -> Reply:
    billing = topup.validate(action.billing)
    amount = Money(action.amount_minor, action.currency)
    invoice = await topup.request(uow, customer, amount, billing, seller, actor)
    lines = [_("Top-up invoice issued. Your balance is credited when it is paid."), "", invoice_text(invoice)]
    buttons = [[Button(_("Pay"), command=f"pay {invoice.id}")]]
    changes = billing.differences(customer)
    if changes:
        lines += [
            "",
            _("Your account has other contact data. Ask us to change them too (a Financial ticket)?"),
            *changes_text(customer, changes),
        ]
        buttons.append([Button(_("Ask to update my account"), confirm=ContactChange(changes))])
    return Reply("\n".join(lines), buttons=buttons)

"""Balance top-up: amount, then the billing address step by step, a preview, and a confirmation."""

from __future__ import annotations

from typing import Any

from babel import Locale

from bot.core import formatting
from bot.core.dispatcher import Context
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import fold, registry
from bot.core.types import Button, Reply
from handlers.common import ask_again, confirmation
from handlers.invoice_views import invoice_text
from services import topup
from services.audit import Actor
from services.errors import N_, DomainError
from services.invoices import Seller
from services.money import Money
from services.records import Customer, UnitOfWork

STEPS = ("amount", "name", "address", "postal_code", "city", "country", "tax_id")
PROMPTS = {
    "amount": N_("Top up your balance. How much, in {currency}?"),
    "name": N_("Business name for the invoice?"),
    "address": N_("Street and number?"),
    "postal_code": N_("Postal code?"),
    "city": N_("City?"),
    "country": N_("Country? A two-letter code such as FR, or its name."),
    "tax_id": N_("Tax id (VAT number)? Send none if you have none."),
}
NO_TAX_ID = frozenset({"none", "no", "aucun", "non", "tidak", "tidak ada", "yok", "-"})


def country_name(code: str) -> str:
    return str(Locale.parse(current()).territories.get(code, code))


def _current_value(customer: Customer, step: str) -> str | None:
    """What the account has on file for a step, offered as a one-press answer."""
    return {
        "name": customer.name,
        "address": customer.address_line,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.country,
        "tax_id": customer.vat_id,
    }.get(step) or None


def ask(step: str, customer: Customer) -> Reply:
    text = _(PROMPTS[step]).format(currency=customer.currency)
    buttons: list[list[Button]] = []
    known = _current_value(customer, step)
    if known:
        label = country_name(known) if step == "country" else known
        buttons.append([Button(label[:60], answer=known)])
    if step == "tax_id":
        buttons.append([Button(_("No tax id"), answer="none")])
    buttons.append([Button(_("Cancel"), answer="cancel")])
    return Reply(text, buttons=buttons)


def take(step: str, answer: str, customer: Customer) -> Any:
    """The answer to one step as stored in the form; raises a ``DomainError`` saying what is wrong."""
    if step == "amount":
        return topup.parse_amount(answer, customer.currency, current()).minor
    if step == "country":
        return topup.parse_country(answer, current())
    if step == "tax_id":
        return None if fold(answer) in NO_TAX_ID else answer
    return topup.parse_field(step, answer)


@registry.command(
    "topup",
    aliases={
        "en": ("topup", "top up", "add funds"),
        "fr": ("recharger", "recharge", "crediter"),
        "id": ("isisaldo", "isi saldo", "topup"),
        "tr": ("bakiyeyukle", "bakiye yukle", "yukle"),
    },
    summary=N_("top up your balance: amount and billing address, then an invoice"),
    capability="money",
)
async def start_topup(ctx: Context, customer: Customer) -> Reply:
    await ctx.open_form("topup", STEPS[0], {})
    return ask(STEPS[0], customer)


@registry.form("topup")
async def topup_step(ctx: Context, customer: Customer, step: str, data: dict[str, Any], answer: str) -> Reply:
    try:
        value = take(step, answer, customer)
        if step == "tax_id":
            value = topup.parse_tax_id(value, data["country"])
    except DomainError as err:
        return ask_again(formatting.error_text(err), ask(step, customer))
    data = {**data, step: value}
    following = STEPS.index(step) + 1
    if following < len(STEPS):
        await ctx.open_form("topup", STEPS[following], data)
        reply = ask(STEPS[following], customer)
        if step == "amount":
            # Say at once how the amount was read ("500.000" in Indonesian is Rp500.000).
            read = _("Top-up of {amount}.").format(
                amount=formatting.money(Money(value, customer.currency), exact=True)
            )
            reply.text = f"{read}\n{reply.text}"
        return reply
    await ctx.close_form()
    amount = Money(data.pop("amount"), customer.currency)
    text = _(
        "Top-up of {amount}. The invoice goes to:\n{name}\n{address}\n{postal_code} {city}\n{country}\n"
        "Tax id: {tax_id}\nYour balance is credited when the invoice is paid. Issue the invoice?"
    ).format(
        amount=formatting.money(amount, exact=True),
        name=data["name"],
        address=data["address"],
        postal_code=data["postal_code"],
        city=data["city"],
        country=country_name(data["country"]),
        tax_id=data["tax_id"] or _("none"),
    )
    preview = confirmation(
        text, _("Issue invoice"), "topup", amount_minor=amount.minor, currency=amount.currency, billing=data
    )
    preview.private = True
    return preview


@registry.confirmer("topup")
async def confirm_topup(
    uow: UnitOfWork, customer: Customer, actor: Actor, seller: Seller, params: dict[str, Any]
) -> Reply:
    billing = topup.validate(params["billing"])
    amount = Money(int(params["amount_minor"]), str(params["currency"]))
    invoice = await topup.request(uow, customer, amount, billing, seller, actor)
    text = _("Top-up invoice issued. Your balance is credited when it is paid.")
    return Reply(
        f"{text}\n\n{invoice_text(invoice)}",
        buttons=[[Button(_("Pay"), command=f"pay {invoice.id}")]],
    )

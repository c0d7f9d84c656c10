"""Billing documents: ``vat COUNTRY``, ``quote ORDER [PLAN]`` (turned into an invoice on request)
and ``delete invoice NUMBER``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel import Locale

from bot.core import formatting
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import CYCLE_WORDS, confirmation, first_number, iso_date, keyword
from handlers.invoice_views import invoice_text, named, summary_line
from services import clock, invoices, orders, plans, quotes, vat
from services.audit import Actor
from services.errors import N_, NotFound
from services.invoices import Seller
from services.records import Customer, UnitOfWork

router = Router()


@router.command(
    "vat",
    aliases={"en": ("vat",), "fr": ("tva",), "id": ("ppn",), "tr": ("kdv",)},
    summary=N_("the standard VAT rate of a country (today or on a date)"),
    usage=N_("COUNTRY [YYYY-MM-DD]"),
    needs_account=False,
)
async def vat_rate(args: list[str], customer: Customer | None) -> Reply:
    codes = [a.upper() for a in args if len(a) == 2 and a.isalpha()]
    country = codes[0] if codes else (customer.country if customer else None)
    names = Locale.parse(current()).territories
    if country is None or country not in names:
        raise UsageError()
    today = clock.today()
    on = iso_date(args) or today
    name = names[country]
    if not vat.in_eu(country, on):
        if country in vat.RATES and on < today:
            return Reply(
                _("{country} was not in the EU on {date}: no EU VAT applied ({rate}).").format(
                    country=name, date=formatting.date(on), rate=formatting.percent(Decimal(0))
                )
            )
        return Reply(
            _("{country} is outside the EU: no EU VAT is charged ({rate}).").format(
                country=name, rate=formatting.percent(Decimal(0))
            )
        )
    if on < vat.KNOWN_FROM:
        return Reply(_("VAT rates are known from {date} on.").format(date=formatting.date(vat.KNOWN_FROM)))
    lines = [
        _("Standard VAT rate in {country} on {date}: {rate}.").format(
            country=name, date=formatting.date(on), rate=formatting.percent(vat.standard_rate(country, on))
        )
    ]
    # The change that brought this rate and the next one, rather than the whole history.
    changes = vat.RATES[country]
    steps = list(zip(changes[1:], changes, strict=False))
    shown = [s for s in steps if s[0][0] <= on][-1:] + [s for s in steps if s[0][0] > on][:1]
    for (since, new), (_since, old) in shown:
        lines.append(
            _("{new} from {date} ({old} before).").format(
                new=formatting.percent(new), date=formatting.date(since), old=formatting.percent(old)
            )
        )
    if country in vat.LEFT:
        lines.append(
            _("No EU VAT from {date}: {country} left the EU.").format(
                date=formatting.date(vat.LEFT[country]), country=name
            )
        )
    lines.append(
        _(
            "Consumers pay their country's rate; a business in another EU country with a valid VAT id "
            "is invoiced with reverse charge ({rate})."
        ).format(rate=formatting.percent(Decimal(0)))
    )
    return Reply("\n".join(lines))


@dataclass(frozen=True)
class ConvertQuote:
    """Turning a quote into an invoice."""

    quote_id: int


@router.command(
    "quote",
    aliases={"en": ("quote",), "fr": ("devis",), "id": ("penawaran",), "tr": ("teklif",)},
    summary=N_("a quote to extend an order or change its plan, which can become an invoice"),
    usage=N_("ORDER [PLAN] [monthly|yearly]"),
    capability="money",
    confirms=ConvertQuote,
)
async def quote(uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], seller: Seller) -> Reply:
    order = await orders.get(uow, first_number(args), actor)
    words = [a for a in args if not a.lstrip("#").isdigit()]
    cycle = keyword(words, CYCLE_WORDS, order.billing_cycle)
    names = [w for w in words if keyword([w], CYCLE_WORDS, "") == ""]
    if names:
        plan = plans.find(await plans.options(uow, order), " ".join(names))
        if plan is None:
            raise NotFound()
        doc = await quotes.for_upgrade(uow, customer, order.id, plan.id, cycle, seller, actor)
    else:
        doc = await quotes.for_extension(uow, customer, order.id, seller, actor)
    text = "\n".join(
        [
            invoice_text(doc),
            _("Turn this quote into an invoice?"),
        ]
    )
    return confirmation(text, _("Create invoice"), ConvertQuote(doc.id))


@router.confirmer(ConvertQuote)
async def confirm_quote(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: ConvertQuote, seller: Seller
) -> Reply:
    inv = await quotes.convert(uow, customer, action.quote_id, seller, actor)
    return Reply(
        _("Invoice {number} ({total}) was created from the quote.").format(
            number=inv.number, total=formatting.amount(inv.total_minor, inv.currency)
        ),
        buttons=[[Button(_("Pay"), command=f"pay {inv.id}")]],
    )


@dataclass(frozen=True)
class DeleteInvoice:
    """Deleting an unpaid invoice (it stays in the register as cancelled)."""

    invoice_id: int


@router.command(
    "deleteinvoice",
    aliases={
        "en": ("delete invoice", "deleteinvoice"),
        "fr": ("supprimer facture", "supprimerfacture"),
        "id": ("hapus tagihan", "hapus invoice", "hapustagihan"),
        "tr": ("fatura sil", "faturasil"),
    },
    summary=N_("delete an unpaid invoice that has no payment (asks for confirmation)"),
    usage=N_("NUMBER"),
    capability="destructive",
    confirms=DeleteInvoice,
    sensitive=True,
)
async def delete_invoice(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    inv = await named(uow, args, actor)
    await invoices.check_deletable(uow, inv)
    text = "\n".join(
        [
            summary_line(inv),
            _(
                "Delete invoice {number}? It stays in the invoice register marked as cancelled, so the "
                "numbering has no gap, and it can no longer be paid."
            ).format(number=inv.number),
        ]
    )
    return confirmation(text, _("Delete"), DeleteInvoice(inv.id))


@router.confirmer(DeleteInvoice)
async def confirm_delete_invoice(uow: UnitOfWork, actor: Actor, action: DeleteInvoice) -> Reply:
    inv = await invoices.delete(uow, action.invoice_id, actor)
    return Reply(_("Invoice {number} is deleted.").format(number=inv.number))

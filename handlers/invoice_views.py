"""How an invoice reads in chat, and how a command names one: what the invoices, billing, top-up and
overview handlers all show of the same record, kept in one place. Like handlers.common, this is a
helper module, not a handler."""

from __future__ import annotations

from decimal import Decimal

from bot.core import formatting
from bot.core.i18n import gettext as _
from bot.core.types import UsageError
from handlers.common import document_ref, label, line_text
from services import invoices
from services.audit import Actor
from services.money import Money
from services.records import Invoice, UnitOfWork


def summary_line(inv: invoices.Listed | Invoice) -> str:
    """One invoice in a list, by the number the customer sees and types."""
    return _("{number} · due {due} · {total} · {status}").format(
        number=inv.number,
        due=formatting.date(inv.due_date),
        total=formatting.amount(inv.total_minor, inv.currency),
        status=label(inv.status),
    )


async def named(uow: UnitOfWork, args: list[str], actor: Actor) -> Invoice:
    """The invoice or quote the arguments name, by number ("HB2026-00014") or short id ("14")."""
    ref = document_ref(args)
    if ref is None:
        raise UsageError()
    if isinstance(ref, int):
        return await invoices.get(uow, ref, actor)
    return await invoices.by_number(uow, ref, actor)


def party_text(title: str, party: dict[str, str]) -> str:
    """A seller or buyer block: name, address, country and VAT id as printed on the invoice."""
    place = " ".join(p for p in (party.get("postal_code", ""), party.get("city", "")) if p)
    address = ", ".join(p for p in (party.get("address", ""), place, party.get("country", "")) if p)
    text = f"{title} {party.get('name', '')}, {address}"
    if party.get("vat_id"):
        text += " · " + _("VAT id {vat_id}").format(vat_id=party["vat_id"])
    return text


def invoice_text(inv: Invoice) -> str:
    """Everything an invoice carries: number, dates, both parties, each service and its period,
    the taxable amount per rate, the rate and the VAT (or the reverse-charge mention)."""

    def money(minor: int) -> str:
        return formatting.amount(minor, inv.currency)

    headings = {"quote": _("Quote {number} — {status}"), "credit": _("Credit note {number} — {status}")}
    heading = headings.get(inv.kind, _("Invoice {number} — {status}"))
    lines = [
        heading.format(number=inv.number, status=label(inv.status)),
        _("Issued {issued}, due {due}").format(
            issued=formatting.date(inv.issue_date), due=formatting.date(inv.due_date)
        ),
        _("Date of supply: {date}").format(date=formatting.date(inv.supply_date)),
        party_text(_("From:"), inv.seller),
        party_text(_("To:"), inv.buyer),
    ]
    for line in inv.lines:
        lines.append(
            line_text(
                line.description,
                line.quantity,
                Money(line.unit_minor, inv.currency),
                line.period_start,
                line.period_end,
            )
        )
    lines.append(_("Subtotal: {amount}").format(amount=money(inv.subtotal_minor)))
    lines.append(
        _("Taxable amount at {rate}: {amount}").format(
            rate=formatting.percent(inv.vat_rate), amount=money(inv.subtotal_minor)
        )
    )
    if inv.reverse_charge:
        lines.append(_("VAT: reverse charge ({rate})").format(rate=formatting.percent(Decimal(0))))
        lines.append(
            _("Reverse charge: VAT to be accounted for by the customer ({buyer}; supplier {seller}).").format(
                buyer=inv.buyer.get("vat_id", ""), seller=inv.seller.get("vat_id", "")
            )
        )
    else:
        lines.append(
            _("VAT {rate}: {amount}").format(
                rate=formatting.percent(inv.vat_rate), amount=money(inv.vat_minor)
            )
        )
    lines.append(_("Total: {amount}").format(amount=money(inv.total_minor)))
    return "\n".join(lines)

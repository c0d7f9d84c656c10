"""Invoices: list with filters and pages, show one, pay link, pay from balance."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import formatting
from bot.core.documents import DocumentRenderer
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Attachment, Button, Reply
from handlers.common import confirmation, document_ref, filter_row, keyword, page_of
from handlers.invoice_views import invoice_text, named, summary_line
from services import invoices, ledger, paying
from services.audit import Actor
from services.errors import N_
from services.records import Customer, Invoice, UnitOfWork

router = Router()

PAGE = 5
FILTER_WORDS = {
    # "unpaid" first: "belum lunas" (not yet paid) contains "lunas" (paid).
    "unpaid": frozenset(
        {"unpaid", "impaye", "impayee", "impayes", "impayees", "belum", "odenmemis", "odenmeyen"}
    ),
    "paid": frozenset({"paid", "paye", "payee", "payes", "payees", "lunas", "dibayar", "odenmis", "odenen"}),
    "all": frozenset({"all", "tout", "toutes", "tous", "semua", "tumu", "hepsi"}),
}
FILTER_NAMES = {"unpaid": N_("Unpaid"), "paid": N_("Paid"), "all": N_("All")}
# "pay 12 qr", "invoice 12 pdf": the words that ask for the document instead of the text.
QR_WORDS = frozenset({"qr", "qrcode", "karekod"})
PDF_WORDS = frozenset({"pdf"})


@router.command(
    "invoices",
    aliases={
        "en": ("invoices", "bills"),
        "fr": ("factures",),
        "id": ("tagihan", "invoices"),
        "tr": ("faturalar",),
    },
    summary=N_("your invoices: unpaid (default), paid or all"),
    usage=N_("[unpaid|paid|all] [PAGE]"),
)
async def list_invoices(uow: UnitOfWork, customer: Customer, args: list[str]) -> Reply:
    status = keyword(args, FILTER_WORDS, "unpaid")
    page = page_of(args)
    rows, total = await invoices.listing(uow, customer.id, status, (page - 1) * PAGE, PAGE)
    pages = max(1, -(-total // PAGE))
    title = {
        "unpaid": _("Unpaid invoices"),
        "paid": _("Paid invoices"),
        "all": _("All invoices"),
    }[status]
    if not rows:
        text = {
            "unpaid": _("You have no unpaid invoices."),
            "paid": _("You have no paid invoices."),
            "all": _("You have no invoices."),
        }[status]
    else:
        text = "\n".join(
            [_("{title} (page {page} of {pages}):").format(title=title, page=page, pages=pages)]
            + [summary_line(inv) for inv in rows]
        )
    # Numbers are long: three buttons to a row, so none is cut short on a phone.
    show = [Button(inv.number, command=f"invoice {inv.id}") for inv in rows]
    buttons = [show[i : i + 3] for i in range(0, len(show), 3)]
    nav = []
    if page > 1:
        nav.append(Button(_("◀ Previous"), command=f"invoices {status} {page - 1}", edit=True))
    if page < pages:
        nav.append(Button(_("Next ▶"), command=f"invoices {status} {page + 1}", edit=True))
    if nav:
        buttons.append(nav)
    buttons.append(filter_row(FILTER_NAMES, status, "invoices"))
    return Reply(text, buttons=buttons)


@router.command(
    "invoice",
    aliases={"en": ("invoice", "bill"), "fr": ("facture",), "id": ("lihattagihan",), "tr": ("fatura",)},
    summary=N_("one invoice with its lines, VAT and total"),
    usage=N_("NUMBER [pdf]"),
)
async def show_invoice(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], documents: DocumentRenderer
) -> Reply:
    if not args or (keyword(args, FILTER_WORDS, "") and document_ref(args) is None):
        return await list_invoices(uow, customer, args)
    inv = await named(uow, args, actor)
    if PDF_WORDS & {fold(a) for a in args}:
        return invoice_document(inv, documents)
    buttons = []
    if inv.status == "unpaid":
        buttons.append([Button(_("Pay"), command=f"pay {inv.id}")])
    if inv.status in ("paid", "credited") or inv.kind == "quote":
        buttons.append([Button(_("PDF"), command=f"invoice {inv.id} pdf")])
    buttons.append([Button(_("All invoices"), command="invoices all")])
    return Reply(invoice_text(inv), buttons=buttons)


def invoice_document(inv: Invoice, documents: DocumentRenderer) -> Reply:
    """The PDF exists for what is final: a paid invoice, a quote, or a credit note."""
    if inv.kind == "quote":
        text = _("Quote {number} as a PDF.").format(number=inv.number)
    elif inv.kind == "credit":
        text = _("Credit note {number} as a PDF.").format(number=inv.number)
    elif inv.status == "paid":
        text = _("Invoice {number} as a PDF.").format(number=inv.number)
    else:
        return Reply(
            _("The PDF of invoice {number} is available once it is paid. To pay it: /pay {number}").format(
                number=inv.number
            )
        )
    pdf = Attachment(f"{inv.number}.pdf", "application/pdf", documents.invoice_pdf(inv))
    return Reply(text, attachments=[pdf], private=True)


@router.command(
    "pay",
    aliases={"en": ("pay",), "fr": ("payer",), "id": ("bayar",), "tr": ("öde",)},
    summary=N_("a payment link for an invoice (add qr for a QR code), or pay it from your balance"),
    usage=N_("NUMBER [qr]"),
    capability="money",
)
async def pay(
    uow: UnitOfWork,
    customer: Customer,
    actor: Actor,
    args: list[str],
    pay_links: paying.PayLinks,
    documents: DocumentRenderer,
) -> Reply:
    if not args:
        return await _which_to_pay(uow, customer)
    inv = await named(uow, args, actor)
    link = await paying.open_pay_link(uow, inv, pay_links)
    total = formatting.amount(inv.total_minor, inv.currency)
    text = _(
        "Invoice {number}: {total} to pay. This link opens the payment page, no login needed:\n{link}"
    ).format(number=inv.number, total=total, link=link)
    buttons = [[Button(_("Open payment page"), url=link)]]
    attachments = []
    if QR_WORDS & {fold(a) for a in args}:
        text += "\n" + _("Or scan the QR code with your phone.")
        attachments.append(Attachment(f"pay-{inv.number}.png", "image/png", documents.qr_png(link)))
    else:
        buttons.append([Button(_("QR code"), command=f"pay {inv.id} qr")])
    bal = await ledger.balance(uow, customer)
    if bal.minor >= inv.total_minor:
        text += "\n" + _("Your balance of {balance} covers it: you can also pay from your balance.").format(
            balance=formatting.money(bal)
        )
        buttons.append([Button(_("Pay from balance"), command=f"paybalance {inv.id}")])
    return Reply(text, buttons=buttons, attachments=attachments, private=True)


@dataclass(frozen=True)
class PayFromBalance:
    """Paying an open invoice from the balance."""

    invoice_id: int


@router.command(
    "paybalance",
    aliases={"en": ("paybalance",), "fr": ("payersolde",), "id": ("bayarsaldo",), "tr": ("bakiyeileöde",)},
    summary=N_("pay an invoice from your balance"),
    usage=N_("NUMBER"),
    capability="money",
    confirms=PayFromBalance,
)
async def pay_from_balance(uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str]) -> Reply:
    inv = await named(uow, args, actor)
    if inv.status != "unpaid":
        return Reply(_("Invoice {number} is not open for payment.").format(number=inv.number))
    bal = await ledger.balance(uow, customer)
    text = _("Pay invoice {number} ({total}) from your balance of {balance}?").format(
        number=inv.number,
        total=formatting.amount(inv.total_minor, inv.currency),
        balance=formatting.money(bal),
    )
    return confirmation(text, _("Confirm"), PayFromBalance(inv.id))


@router.confirmer(PayFromBalance)
async def confirm_pay_from_balance(uow: UnitOfWork, actor: Actor, action: PayFromBalance) -> Reply:
    inv = await invoices.get(uow, action.invoice_id, actor)
    await paying.pay_from_balance(uow, inv, actor)
    return Reply(_("Invoice {number} is paid. Thank you!").format(number=inv.number))


async def _which_to_pay(uow: UnitOfWork, customer: Customer) -> Reply:
    """ "Pay my invoice" without a number: the unpaid invoices to choose from."""
    unpaid, count = await invoices.listing(uow, customer.id, "unpaid")
    if not unpaid:
        return Reply(_("You have no unpaid invoices."))
    buttons = [
        [
            Button(
                _("Pay {number} ({total})").format(
                    number=inv.number, total=formatting.amount(inv.total_minor, inv.currency)
                ),
                command=f"pay {inv.number}",
            )
        ]
        for inv in unpaid
    ]
    if count > len(unpaid):
        buttons.append([Button(_("All unpaid invoices"), command="invoices unpaid")])
    return Reply(_("Which invoice do you want to pay?"), buttons=buttons)

"""Mail packages: ``mail`` shows the package, mailboxes and options; ``mail upgrade PLAN`` and
``mail add N`` preview an invoice; ``mail downgrade PLAN`` opens a billing ticket inside the window."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import breakdown_text, confirmation, keyword, label, price_line
from services import clock, mail, plans
from services.audit import Actor
from services.errors import N_, NotFound
from services.ids import is_digits
from services.invoices import Seller
from services.ports import TicketEvents
from services.records import Customer, Invoice, Order, UnitOfWork

router = Router()

ACTION_WORDS = {
    "upgrade": frozenset({"upgrade", "ameliorer", "monter", "tingkatkan", "naikkan", "yukselt"}),
    "add": frozenset({"add", "ajouter", "tambah", "tambahkan", "ekle"}),
    "downgrade": frozenset({"downgrade", "retrograder", "descendre", "turunkan", "dusur"}),
}


async def _overview(uow: UnitOfWork, order: Order) -> Reply:
    window = mail.downgrade_window(order, clock.today())
    lines = [
        ngettext(
            "Mail package: {plan} (order #{id}), {price} {cycle}, {boxes} extra mailbox, due {due}.",
            "Mail package: {plan} (order #{id}), {price} {cycle}, {boxes} extra mailboxes, due {due}.",
            mail.mailboxes(order),
        ).format(
            plan=localized.name(order.plan),
            id=order.id,
            price=formatting.amount(order.price_minor, order.currency),
            cycle=label(order.billing_cycle),
            boxes=mail.mailboxes(order),
            due=formatting.date(order.period_end),
        )
    ]
    waiting = await mail.pending_invoice(uow, order)
    if waiting is not None:
        lines.append(
            _("An upgrade is waiting for payment of invoice {number}.").format(number=waiting.number)
        )
    lines.append(_("Options:"))
    up: list[Button] = []
    down: list[Button] = []
    for plan in await plans.options(uow, order):
        lines.append(price_line(plan))
        if plan.rank > order.plan.rank:
            up.append(
                Button(
                    _("Upgrade to {plan}").format(plan=localized.name(plan)),
                    command=f"mail upgrade {plan.code}",
                )
            )
        elif plan.rank < order.plan.rank:
            down.append(
                Button(
                    _("Downgrade to {plan}").format(plan=localized.name(plan)),
                    command=f"mail downgrade {plan.code}",
                )
            )
    lines.append(
        _(
            "A downgrade can be asked for from {opens} to {closes} (30 to 15 days before the due date {due})."
        ).format(
            opens=formatting.date(window.opens),
            closes=formatting.date(window.closes),
            due=formatting.date(window.due),
        )
    )
    buttons = [b for b in [up, [Button(_("Add a mailbox"), command="mail add 1")], down] if b]
    return Reply("\n".join(lines), buttons=buttons)


@dataclass(frozen=True)
class AddMailboxes:
    """Mailboxes added to the mail package, invoiced for the rest of the period."""

    count: int


@dataclass(frozen=True)
class UpgradeMail:
    """The mail package upgraded to another plan, invoiced with proration."""

    plan_id: int


@dataclass(frozen=True)
class DowngradeMail:
    """A downgrade of the mail package asked of the billing team (a ticket)."""

    plan_id: int


@router.command(
    "mail",
    aliases={"en": ("mail",), "fr": ("messagerie",), "id": ("surel",), "tr": ("eposta",)},
    summary=N_("your mail package: upgrade it, add mailboxes, or ask for a downgrade"),
    usage=N_("[upgrade PACKAGE | add N | downgrade PACKAGE]"),
    capability="money",
    confirms=(AddMailboxes, UpgradeMail, DowngradeMail),
)
async def mail_package(uow: UnitOfWork, customer: Customer, args: list[str], seller: Seller) -> Reply:
    order = await plans.order_of_kind(uow, customer.id, "mail")
    if order is None:
        return Reply(_("You have no mail package."))
    if not args:
        return await _overview(uow, order)
    action = keyword(args[:1], ACTION_WORDS, "")
    rest = args[1:]
    if action == "add":
        if len(rest) != 1 or not is_digits(rest[0]) or len(rest[0]) > 4:
            raise UsageError()
        count = int(rest[0])
        more = await mail.preview_mailboxes(uow, customer, order, count, seller)
        waiting = await mail.pending_invoice(uow, order)
        if waiting is not None:
            raise mail.PendingUpgrade(number=waiting.number)
        text = [
            ngettext(
                "Add {count} mailbox to order #{id} for the {days} days left in the period:",
                "Add {count} mailboxes to order #{id} for the {days} days left in the period:",
                count,
            ).format(count=count, id=order.id, days=more.days_left),
            breakdown_text(more.lines, more.totals),
            _("An invoice will be created; the mailboxes are added as soon as it is paid."),
        ]
        return confirmation("\n".join(text), _("Create invoice"), AddMailboxes(count))
    if action not in ("upgrade", "downgrade") or not rest:
        raise UsageError()
    plan = plans.find(await plans.options(uow, order), " ".join(rest))
    if plan is None:
        raise NotFound()
    if action == "upgrade":
        waiting = await mail.pending_invoice(uow, order)
        if waiting is not None:
            raise mail.PendingUpgrade(number=waiting.number)
        up = mail.preview_upgrade(customer, order, plan, seller)
        text = [
            _("Upgrade order #{id} from {old} to {new} for the {days} days left in the period:").format(
                id=order.id, old=localized.name(order.plan), new=localized.name(plan), days=up.days_left
            ),
            breakdown_text(up.lines, up.totals),
            _("An invoice will be created; the package changes as soon as it is paid."),
        ]
        return confirmation("\n".join(text), _("Create invoice"), UpgradeMail(plan.id))
    window = mail.check_downgrade(order, plan)
    text = [
        _("Ask for a downgrade of order #{id} from {old} to {new} at the due date {due}?").format(
            id=order.id,
            old=localized.name(order.plan),
            new=localized.name(plan),
            due=formatting.date(window.due),
        ),
        _("A ticket will be opened for our billing team, who will confirm it there."),
    ]
    return confirmation("\n".join(text), _("Open ticket"), DowngradeMail(plan.id))


async def _mail_order(uow: UnitOfWork, customer: Customer) -> Order:
    order = await plans.order_of_kind(uow, customer.id, "mail")
    if order is None:
        raise NotFound()
    return order


def _invoice_created(inv: Invoice) -> Reply:
    return Reply(
        _("Invoice {number} ({total}) was created. The change is made as soon as it is paid.").format(
            number=inv.number, total=formatting.amount(inv.total_minor, inv.currency)
        ),
        buttons=[[Button(_("Pay"), command=f"pay {inv.id}")]],
    )


@router.confirmer(AddMailboxes)
async def confirm_add(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: AddMailboxes, seller: Seller
) -> Reply:
    order = await _mail_order(uow, customer)
    return _invoice_created(await mail.add_mailboxes(uow, customer, order.id, action.count, seller, actor))


@router.confirmer(UpgradeMail)
async def confirm_upgrade(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: UpgradeMail, seller: Seller
) -> Reply:
    order = await _mail_order(uow, customer)
    return _invoice_created(await mail.upgrade(uow, customer, order.id, action.plan_id, seller, actor))


@router.confirmer(DowngradeMail)
async def confirm_downgrade(
    uow: UnitOfWork, customer: Customer, actor: Actor, action: DowngradeMail, ticket_events: TicketEvents
) -> Reply:
    order = await _mail_order(uow, customer)
    plan = await plans.load_plan(uow, action.plan_id)
    window = mail.check_downgrade(order, plan)
    subject = _("Mail package downgrade to {plan} (order #{id})").format(
        plan=localized.name(plan), id=order.id
    )
    body = _("Please downgrade order #{id} from {old} to {new} at the due date {due}.").format(
        id=order.id, old=localized.name(order.plan), new=localized.name(plan), due=formatting.date(window.due)
    )
    ticket = await mail.request_downgrade(
        uow, customer, order.id, plan.id, subject, body, actor, ticket_events
    )
    return Reply(
        _("Ticket #{id} was opened for the billing team.").format(id=ticket.id),
        buttons=[[Button(_("Show ticket"), command=f"ticket {ticket.id}")]],
    )

"""Support tickets: list, read, and the new-ticket form (department, importance, order, subject, message)."""

from __future__ import annotations

from typing import Any

from bot.core import formatting
from bot.core.dispatcher import Context
from bot.core.i18n import gettext as _
from bot.core.registry import fold, registry
from bot.core.types import Button, Reply, UsageError
from handlers.common import ask_again, filter_row, first_number, keyword, label
from services import orders, tickets
from services.audit import Actor
from services.errors import N_, NotFound
from services.ports import Mailer
from services.records import Customer, UnitOfWork

FILTER_WORDS = {
    "unread": frozenset({"unread", "lus", "nonlus", "nonlu", "belum", "okunmamis", "okunmayan"}),
    "closed": frozenset({"closed", "fermes", "ferme", "clos", "ditutup", "tutup", "kapali", "kapanan"}),
    "open": frozenset({"open", "ouverts", "ouvert", "terbuka", "buka", "acik"}),
}
FILTER_NAMES = {"open": N_("Open"), "closed": N_("Closed"), "unread": N_("Unread")}
DEPARTMENT_WORDS = {
    "technical": frozenset({"technical", "tech", "technique", "teknis", "teknik", "1"}),
    "financial": frozenset(
        {"financial", "billing", "financier", "facturation", "keuangan", "finansal", "mali", "2"}
    ),
}
IMPORTANCE_WORDS = {
    "regular": frozenset({"regular", "normal", "normale", "biasa", "1"}),
    "high": frozenset({"high", "haute", "elevee", "urgent", "tinggi", "yuksek", "acil", "2"}),
}
NO_ORDER = frozenset({"none", "no", "aucune", "aucun", "non", "tidak", "tanpa", "yok", "hayir", "-", "0"})


@registry.command(
    "tickets",
    aliases={"en": ("tickets",), "fr": ("tickets",), "id": ("tiket",), "tr": ("talepler",)},
    summary=N_("your support tickets: open (default), closed or unread"),
    usage=N_("[open|closed|unread]"),
)
async def list_tickets(uow: UnitOfWork, customer: Customer, args: list[str]) -> Reply:
    which = keyword(args, FILTER_WORDS, "open")
    rows = await tickets.listing(uow, customer.id, which)
    title = {
        "open": _("Open tickets"),
        "closed": _("Closed tickets"),
        "unread": _("Tickets with unread replies"),
    }[which]
    if not rows:
        text = f"{title}: " + _("none.")
    else:
        lines = [f"{title}:"]
        for t in rows:
            unread = tickets.unread_count(t)
            mark = " ✉" if unread else ""
            lines.append(
                f"#{t.id} · {t.subject} · {label(t.department)} · {label(t.importance)} · "
                f"{formatting.date(t.updated_at.date())}{mark}"
            )
        text = "\n".join(lines)
    buttons = [[Button(f"#{t.id}", command=f"ticket {t.id}") for t in rows[:8]]] if rows else []
    buttons.append(
        [*filter_row(FILTER_NAMES, which, "tickets"), Button(_("New ticket"), command="newticket")]
    )
    return Reply(text, buttons=buttons)


@registry.command(
    "ticket",
    aliases={"en": ("ticket",), "fr": ("ticket",), "id": ("lihattiket",), "tr": ("talep",)},
    summary=N_("one ticket with its messages"),
    usage=N_("NUMBER"),
)
async def show_ticket(uow: UnitOfWork, actor: Actor, customer: Customer, args: list[str]) -> Reply:
    if not args or (keyword(args, FILTER_WORDS, "") and not any(a.lstrip("#").isdigit() for a in args)):
        return await list_tickets(uow, customer, args)
    ticket = await tickets.read(uow, first_number(args), actor)
    lines = [
        _("Ticket #{id}: {subject} — {status}").format(
            id=ticket.id, subject=ticket.subject, status=label(ticket.status)
        ),
        _("Department: {department} · Importance: {importance}").format(
            department=label(ticket.department), importance=label(ticket.importance)
        ),
    ]
    if ticket.order_id:
        lines.append(_("Order: #{id}").format(id=ticket.order_id))
    for message in ticket.messages:
        who = _("You") if message.author == "customer" else _("Support")
        lines.append(f"\n{who} · {formatting.datetime(message.created_at)}\n{message.body}")
    return Reply("\n".join(lines))


def _cancel_row() -> list[Button]:
    return [Button(_("Cancel"), answer="cancel")]


def _ask_department() -> Reply:
    return Reply(
        _("New ticket. Which department is it for?"),
        buttons=[
            [Button(_("Technical"), answer="technical"), Button(_("Financial"), answer="financial")],
            _cancel_row(),
        ],
    )


def _ask_importance() -> Reply:
    return Reply(
        _("How important is it?"),
        buttons=[[Button(_("Regular"), answer="regular"), Button(_("High"), answer="high")], _cancel_row()],
    )


async def _ask_order(uow: UnitOfWork, customer: Customer) -> Reply:
    rows = await orders.listing(uow, customer.id)
    buttons = [[Button(f"#{o.id} {o.plan.name}", answer=str(o.id))] for o in rows[:6]]
    buttons.append([Button(_("No order"), answer="none")])
    buttons.append(_cancel_row())
    return Reply(_("Which order is it about? Send its number, or choose No order."), buttons=buttons)


def _ask_subject() -> Reply:
    return Reply(_("Subject: sum up your question in one line."), buttons=[_cancel_row()])


def _ask_message() -> Reply:
    return Reply(_("Message: describe the question or the problem."), buttons=[_cancel_row()])


@registry.command(
    "newticket",
    aliases={
        "en": ("newticket", "new ticket", "open ticket"),
        "fr": ("nouveauticket", "nouveau ticket", "ouvrir ticket"),
        "id": ("tiketbaru", "tiket baru", "buat tiket"),
        "tr": ("yenitalep", "yeni talep", "talep ac"),
    },
    summary=N_("open a support ticket, step by step"),
    capability="tickets",
)
async def new_ticket(ctx: Context) -> Reply:
    await ctx.open_form("newticket", "department", {})
    return _ask_department()


@registry.form("newticket")
async def new_ticket_step(
    ctx: Context,
    uow: UnitOfWork,
    customer: Customer,
    actor: Actor,
    mailer: Mailer,
    step: str,
    data: dict[str, Any],
    answer: str,
) -> Reply:
    words = [answer]
    if step == "department":
        choice = keyword(words, DEPARTMENT_WORDS, "")
        if not choice:
            return ask_again(_("Please choose Technical or Financial."), _ask_department())
        await ctx.open_form("newticket", "importance", {**data, "department": choice})
        return _ask_importance()
    if step == "importance":
        choice = keyword(words, IMPORTANCE_WORDS, "")
        if not choice:
            return ask_again(_("Please choose Regular or High."), _ask_importance())
        await ctx.open_form("newticket", "order", {**data, "importance": choice})
        return await _ask_order(uow, customer)
    if step == "order":
        order_id: int | None = None
        if fold(answer) not in NO_ORDER:
            try:
                order_id = first_number(answer.split())
                await orders.get(uow, order_id, actor)
            except (UsageError, NotFound):
                return ask_again(_("That is not one of your orders."), await _ask_order(uow, customer))
        await ctx.open_form("newticket", "subject", {**data, "order_id": order_id})
        return _ask_subject()
    if step == "subject":
        if len(answer) > tickets.MAX_SUBJECT:
            return ask_again(
                _("The subject is too long (at most {limit} characters).").format(limit=tickets.MAX_SUBJECT),
                _ask_subject(),
            )
        await ctx.open_form("newticket", "message", {**data, "subject": answer})
        return _ask_message()
    if len(answer) > tickets.MAX_BODY:
        return ask_again(
            _("The message is too long (at most {limit} characters).").format(limit=tickets.MAX_BODY),
            _ask_message(),
        )
    await ctx.close_form()
    ticket, copied_to = await tickets.create(
        uow,
        customer,
        data["department"],
        data["importance"],
        data.get("order_id"),
        data["subject"],
        answer,
        actor,
        mailer,
    )
    return Reply(
        _("Ticket #{id} is open. We will answer here and by e-mail to {email}.").format(
            id=ticket.id, email=copied_to
        ),
        buttons=[[Button(_("Show ticket"), command=f"ticket {ticket.id}")]],
    )

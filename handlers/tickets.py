"""Support tickets: list, read, the new-ticket form (department, importance, order, subject,
message), replying (which reopens a ticket closed not long ago) and closing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from bot.core import formatting, localized
from bot.core.context import Context
from bot.core.forms import Data, Form, Invalid, Step
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import confirmation, filter_row, first_number, is_id, keyword, label
from services import orders, tickets
from services.audit import Actor
from services.errors import N_, NotFound
from services.ports import TicketEvents
from services.records import Customer, UnitOfWork

router = Router()

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


@router.command(
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


@router.command(
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
    lines.append("\n" + _("To answer: reply {id} followed by your text.").format(id=ticket.id))
    buttons = []
    if ticket.status == "open":
        buttons.append([Button(_("Close ticket"), command=f"close {ticket.id}")])
    return Reply("\n".join(lines), buttons=buttons)


_WORD = re.compile(r"\S+")


def _after_number(line: str) -> str:
    """What follows the first id of the command line, as typed (line breaks kept)."""
    for word in _WORD.finditer(line):
        if is_id(word.group()):
            return line[word.end() :].strip()
    return ""


@router.command(
    "reply",
    aliases={
        "en": ("reply", "answer"),
        "fr": ("repondre", "reponse"),
        "id": ("balas", "balastiket"),
        "tr": ("yanitla", "cevapla"),
    },
    summary=N_("answer one of your tickets (a closed one reopens if it was closed recently)"),
    usage=N_("NUMBER TEXT"),
    capability="tickets",
)
async def reply(
    ctx: Context, uow: UnitOfWork, actor: Actor, args: list[str], ticket_events: TicketEvents
) -> Reply:
    ticket_id = first_number(args)
    body = _after_number(ctx.line)
    if not body:
        raise UsageError()
    if len(body) > tickets.MAX_BODY:
        return Reply(
            _("The message is too long (at most {limit} characters).").format(limit=tickets.MAX_BODY)
        )
    window = dt.timedelta(days=ctx.settings.ticket_reopen_days)
    ticket, reopened = await tickets.reply(uow, ticket_id, body, actor, ticket_events, window)
    if reopened:
        text = _("Ticket #{id} is open again and your message was added. We will answer here.")
    else:
        text = _("Your message was added to ticket #{id}. We will answer here.")
    return Reply(
        text.format(id=ticket.id), buttons=[[Button(_("Show ticket"), command=f"ticket {ticket.id}")]]
    )


@dataclass(frozen=True)
class CloseTicket:
    ticket_id: int


@router.command(
    "closeticket",
    aliases={
        "en": ("close", "close ticket"),
        "fr": ("fermer", "fermer ticket", "cloturer"),
        "id": ("tutup", "tutup tiket", "tutuptiket"),
        "tr": ("talebi kapat", "talep kapat"),
    },
    summary=N_("close one of your tickets when your question is answered"),
    usage=N_("NUMBER"),
    capability="tickets",
    confirms=CloseTicket,
)
async def close_ticket(uow: UnitOfWork, actor: Actor, ctx: Context, args: list[str]) -> Reply:
    ticket = await tickets.get(uow, first_number(args), actor)
    if ticket.status == "closed":
        return Reply(_("Ticket #{id} is already closed.").format(id=ticket.id))
    days = ctx.settings.ticket_reopen_days
    question = _("Close ticket #{id} ({subject})?").format(id=ticket.id, subject=ticket.subject)
    if days > 0:
        question += "\n" + ngettext(
            "You can reopen it by replying to it within {n} day.",
            "You can reopen it by replying to it within {n} days.",
            days,
        ).format(n=days)
    return confirmation(question, _("Close ticket"), CloseTicket(ticket.id))


@router.confirmer(CloseTicket)
async def confirm_close(
    uow: UnitOfWork, actor: Actor, action: CloseTicket, ticket_events: TicketEvents
) -> Reply:
    ticket = await tickets.close(uow, action.ticket_id, actor, ticket_events)
    return Reply(_("Ticket #{id} is closed.").format(id=ticket.id))


async def _department(answer: str, ctx: Context, data: Data) -> str:
    choice = keyword([answer], DEPARTMENT_WORDS, "")
    if not choice:
        raise Invalid(_("Please choose Technical or Financial."))
    return choice


async def _importance(answer: str, ctx: Context, data: Data) -> str:
    choice = keyword([answer], IMPORTANCE_WORDS, "")
    if not choice:
        raise Invalid(_("Please choose Regular or High."))
    return choice


async def _order(answer: str, ctx: Context, data: Data) -> int | None:
    if fold(answer) in NO_ORDER:
        return None
    try:
        order_id = first_number(answer.split())
        await orders.get(ctx.uow, order_id, ctx.actor)
    except (UsageError, NotFound):
        raise Invalid(_("That is not one of your orders.")) from None
    return order_id


async def _your_orders(ctx: Context) -> list[tuple[str, str]]:
    assert ctx.customer is not None
    rows = await orders.listing(ctx.uow, ctx.customer.id)
    return [(str(o.id), f"#{o.id} {localized.name(o.plan)}") for o in rows[:6]]


async def _subject(answer: str, ctx: Context, data: Data) -> str:
    if len(answer) > tickets.MAX_SUBJECT:
        raise Invalid(
            _("The subject is too long (at most {limit} characters).").format(limit=tickets.MAX_SUBJECT)
        )
    return answer


async def _message(answer: str, ctx: Context, data: Data) -> str:
    if len(answer) > tickets.MAX_BODY:
        raise Invalid(
            _("The message is too long (at most {limit} characters).").format(limit=tickets.MAX_BODY)
        )
    return answer


async def _open_ticket(
    uow: UnitOfWork, customer: Customer, actor: Actor, ticket_events: TicketEvents, data: dict[str, Any]
) -> Reply:
    ticket, copied_to = await tickets.create(
        uow,
        customer,
        data["department"],
        data["importance"],
        data.get("order"),
        data["subject"],
        data["message"],
        actor,
        ticket_events,
    )
    return Reply(
        _("Ticket #{id} is open. We will answer here and by e-mail to {email}.").format(
            id=ticket.id, email=copied_to
        ),
        buttons=[[Button(_("Show ticket"), command=f"ticket {ticket.id}")]],
    )


NEW_TICKET = Form(
    "newticket",
    title=N_("New ticket"),
    steps=(
        Step(
            "department",
            prompt=N_("New ticket. Which department is it for?"),
            label=N_("Department"),
            parse=_department,
            choices=(("technical", N_("Technical")), ("financial", N_("Financial"))),
        ),
        Step(
            "importance",
            prompt=N_("How important is it?"),
            label=N_("Importance"),
            parse=_importance,
            choices=(("regular", N_("Regular")), ("high", N_("High"))),
        ),
        Step(
            "order",
            prompt=N_("Which order is it about? Send its number, or choose No order."),
            label=N_("Order number (optional)"),
            parse=_order,
            suggest=_your_orders,
            shortcuts=(("none", N_("No order")),),
            optional=True,
        ),
        Step(
            "subject",
            prompt=N_("Subject: sum up your question in one line."),
            label=N_("Subject"),
            parse=_subject,
        ),
        Step(
            "message",
            prompt=N_("Message: describe the question or the problem."),
            label=N_("Message"),
            parse=_message,
            multiline=True,
        ),
    ),
    finish=_open_ticket,
)
router.form(
    NEW_TICKET,
    aliases={
        "en": ("newticket", "new ticket", "open ticket"),
        "fr": ("nouveauticket", "nouveau ticket", "ouvrir ticket"),
        "id": ("tiketbaru", "tiket baru", "buat tiket"),
        "tr": ("yenitalep", "yeni talep", "talep ac"),
    },
    summary=N_("open a support ticket, step by step"),
    capability="tickets",
)

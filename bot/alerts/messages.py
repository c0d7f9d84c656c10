"""An alert as the customer reads it: a ``Reply`` in their language, with what to do next.

``compose`` looks the facts up again when the alert is sent (an invoice may have been paid, a
reply read, a balance topped up since the scan) and returns None when there is nothing left to
say. It returns a ``Draft``: functions that build the message in the current locale, so one alert
sent to chats in different languages reads right in each, and one pay link serves them all.

Each alert has two wordings. The personal one goes to the chats of the people linked to the
account: pay link, buttons, a support reply's text, marked private. The shared one goes to a group
chat the account is shared with (``alerts here``): plain text with the amounts and dates, and
never a pay link, a button, login details or what support wrote; where something needs doing, it
says that the owners and admins can see to it in a private chat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.core import formatting, localized
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.types import Button, Reply
from services import alert_prefs, invoices, ledger, renewal_costs, service_lifecycle
from services.alerts import facts
from services.invoices import Seller
from services.money import Money
from services.records import Alert, Customer, Invoice, UnitOfWork


@dataclass(frozen=True)
class Draft:
    """``personal``: the ``Reply`` for a linked person's chat; ``shared``: the text for a shared chat
    (nothing but text: no button, no attachment, nothing private)."""

    personal: Callable[[], Reply]
    shared: Callable[[], str]


def _button(label: str, line: str) -> list[Button]:
    """A button running ``line`` (``topup``, ``extend``), in a row of its own."""
    return [Button(label, command=line)]


def _top_up() -> list[Button]:
    return _button(_("Top up"), "topup")


def _pay_line(link: str) -> str:
    return _("Pay it here, no login needed:\n{link}").format(link=link)


def _see_to_it() -> str:
    """The shared wording's last line where something needs doing (paying, renewing, topping up)."""
    return _("The owners and admins of the account can see to it in a private chat with me.")


async def _pay_link(uow: UnitOfWork, inv: Invoice, settings: Settings, personal: bool) -> str | None:
    """A pay link for the personal wording; none when only shared chats get the alert."""
    if not personal:
        return None
    return await invoices.create_pay_link(uow, inv, settings.public_base_url, settings.pay_link_ttl_days)


def _service(r: renewal_costs.Renewal) -> str:
    if r.item == "order":
        return _("Order #{id} ({plan})").format(id=r.id, plan=localized.text(r.name))
    return r.name.fallback


def _expiry(r: renewal_costs.Renewal, today: dt.date) -> str:
    left = (r.due - today).days
    if left <= 0:
        return _("{service} expires today ({date}).").format(service=_service(r), date=formatting.date(r.due))
    return ngettext(
        "{service} expires in {n} day, on {date}.", "{service} expires in {n} days, on {date}.", left
    ).format(service=_service(r), n=left, date=formatting.date(r.due))


async def _renewal(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, seller: Seller, personal: bool
) -> Draft | None:
    p = alert.params
    r = await renewal_costs.renewal(uow, customer, p["item"], p["id"], seller)
    if r is None or r.due.isoformat() != p["due"]:
        return None  # renewed, cancelled or gone since the scan
    balance = await ledger.balance(uow, customer)
    today = facts.local_today(customer)
    link = None
    if not r.auto and r.invoice is not None:
        link = await _pay_link(uow, r.invoice, settings, personal)

    def said() -> tuple[list[str], bool]:
        """What both wordings say, and whether something needs doing."""
        amount = formatting.money(r.cost)
        lines = [formatting.sentence(_expiry(r, today))]
        if r.auto and balance >= r.cost:
            lines.append(
                _(
                    "It renews automatically: {amount} will be taken from your balance, which is {balance} now."
                ).format(amount=amount, balance=formatting.money(balance))
            )
            return lines, False
        if r.auto:
            lines.append(
                _(
                    "It is set to renew automatically, but your balance of {balance} does not cover the "
                    "{amount} it costs: {missing} is missing. Please top up before {date}."
                ).format(
                    balance=formatting.money(balance),
                    amount=amount,
                    missing=formatting.money(r.cost - balance),
                    date=formatting.date(r.due),
                )
            )
        elif r.invoice is not None:
            lines.append(
                _("Invoice {number} for {amount} renews it.").format(number=r.invoice.number, amount=amount)
            )
        else:
            lines.append(_("It stops then unless you renew it ({amount}).").format(amount=amount))
        return lines, True

    def draft() -> Reply:
        lines, _todo = said()
        buttons: list[list[Button]] = []
        if r.auto:
            buttons.append(_top_up() if balance < r.cost else [])
        elif r.invoice is not None:
            lines += [_pay_line(link)] if link is not None else []
            buttons.append([Button(_("Pay"), command=f"pay {r.invoice.id}")])
        else:
            line = f"renew {r.name.fallback}" if r.item == "domain" else f"extend {r.id}"
            buttons.append(_button(_("Renew"), line))
        return Reply("\n".join(lines), buttons=[row for row in buttons if row], private=True)

    def shared() -> str:
        lines, todo = said()
        return "\n".join([*lines, _see_to_it()] if todo else lines)

    return Draft(draft, shared)


async def _forecast(uow: UnitOfWork, alert: Alert, customer: Customer, seller: Seller) -> Draft | None:
    today = facts.local_today(customer)
    until = dt.date.fromisoformat(alert.params["until"])
    due = renewal_costs.auto_due(await renewal_costs.renewals(uow, customer, seller), today, until)
    usage = await facts.usage_ahead(uow, customer, until)
    balance = await ledger.balance(uow, customer)
    need = Money(sum(r.cost.minor for r in due) + usage.minor, customer.currency)
    if need.minor <= 0 or balance >= need:
        return None

    def said() -> str:
        values = {
            "balance": formatting.money(balance),
            "date": formatting.date(until),
            "amount": formatting.money(need),
            "missing": formatting.money(need - balance),
        }
        if usage.minor:
            head = _(
                "Your balance of {balance} will not cover what is expected to be charged by {date} "
                "({amount}): {missing} is missing."
            )
        else:
            head = _(
                "Your balance of {balance} will not cover the automatic renewals due by {date} "
                "({amount}): {missing} is missing."
            )
        lines = [head.format(**values)]
        lines += [f"• {_service(r)} · {formatting.date(r.due)} · {formatting.money(r.cost)}" for r in due]
        if usage.minor:
            label = _("Pay-as-you-use charges until {date}").format(date=formatting.date(until))
            lines.append(f"• {label} · {formatting.money(usage)}")
        return "\n".join(lines)

    return Draft(
        lambda: Reply(said(), buttons=[row for row in [_top_up()] if row], private=True),
        lambda: f"{said()}\n{_see_to_it()}",
    )


async def _notice(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, seller: Seller, personal: bool
) -> Draft | None:
    """An auto-renewal the billing job could not pay (``BillingNotice``), as things stand now: gone
    once its invoice is paid or the balance covers it (the next billing run renews it then)."""
    notice = await facts.notice(uow, customer, alert.params["notice"])
    if notice is None:
        return None
    inv = await facts.invoice(uow, customer, notice.params["invoice_id"])
    # Notices recorded before domains renewed automatically name only an order.
    item = notice.params.get("item", "order")
    ref_id = int(notice.params.get("ref_id") or notice.params["order_id"])
    r = await renewal_costs.renewal(uow, customer, item, ref_id, seller)
    if inv is None or inv.status != "unpaid" or r is None:
        return None
    cost = Money(inv.total_minor, inv.currency)
    balance = await ledger.balance(uow, customer)
    if balance >= cost:
        return None
    link = await _pay_link(uow, inv, settings, personal)

    def said() -> str:
        return _(
            "The automatic renewal of {service} on {date} did not go through: it costs {amount} and "
            "your balance of {balance} is {missing} short."
        ).format(
            service=_service(r),
            date=formatting.date(r.due),
            amount=formatting.money(cost),
            balance=formatting.money(balance),
            missing=formatting.money(cost - balance),
        )

    def draft() -> Reply:
        lines = [said(), *([_pay_line(link)] if link is not None else [])]
        buttons = [[Button(_("Pay"), command=f"pay {inv.id}")], _top_up()]
        return Reply("\n".join(lines), buttons=[row for row in buttons if row], private=True)

    return Draft(draft, lambda: f"{said()}\n{_see_to_it()}")


async def _threshold(uow: UnitOfWork, alert: Alert, customer: Customer) -> Draft | None:
    threshold = Money(alert.params["threshold"], customer.currency)
    prefs = await alert_prefs.get(uow, customer.id)
    balance = await ledger.balance(uow, customer)
    if prefs.low_balance_minor != threshold.minor or balance >= threshold:
        return None

    def said() -> str:
        return _("Your balance is {balance}, below the {threshold} you asked to be warned about.").format(
            balance=formatting.money(balance), threshold=formatting.money(threshold)
        )

    return Draft(
        lambda: Reply(said(), buttons=[row for row in [_top_up()] if row], private=True),
        lambda: f"{said()}\n{_see_to_it()}",
    )


async def _overdue(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, personal: bool
) -> Draft | None:
    inv = await facts.invoice(uow, customer, alert.params["invoice"])
    if inv is None or inv.status != "unpaid":
        return None
    link = await _pay_link(uow, inv, settings, personal)
    late = (facts.local_today(customer) - inv.due_date).days

    def said() -> str:
        return ngettext(
            "Invoice {number} for {amount} was due on {date}, {n} day ago.",
            "Invoice {number} for {amount} was due on {date}, {n} days ago.",
            late,
        ).format(
            number=inv.number,
            amount=formatting.amount(inv.total_minor, inv.currency),
            date=formatting.date(inv.due_date),
            n=late,
        )

    def draft() -> Reply:
        lines = [said(), *([_pay_line(link)] if link is not None else [])]
        return Reply("\n".join(lines), buttons=[[Button(_("Pay"), command=f"pay {inv.id}")]], private=True)

    return Draft(draft, lambda: f"{said()}\n{_see_to_it()}")


def _ticket_buttons(ticket_id: int) -> list[list[Button]]:
    return [[Button(_("Open ticket"), command=f"ticket {ticket_id}")]]


def _answer_hint(ticket_id: int) -> str:
    return _("To answer, reply to this message or send: reply {id} followed by your text.").format(
        id=ticket_id
    )


async def _reply(uow: UnitOfWork, alert: Alert, customer: Customer) -> Draft | None:
    reply = await facts.unread_reply(uow, customer, alert.params["ticket"], alert.params["message"])
    if reply is None:
        return None
    ticket, message = reply
    excerpt = message.body if len(message.body) <= 300 else message.body[:299] + "…"

    def draft() -> Reply:
        head = _("Support replied to ticket #{id} ({subject}):").format(id=ticket.id, subject=ticket.subject)
        return Reply(f"{head}\n{excerpt}\n\n{_answer_hint(ticket.id)}", buttons=_ticket_buttons(ticket.id))

    def shared() -> str:
        # What support wrote may be meant for the account's people only (an address, a password).
        return _(
            "Support replied to ticket #{id} ({subject}). The people linked to the account can read "
            "the reply in a private chat with me."
        ).format(id=ticket.id, subject=ticket.subject)

    return Draft(draft, shared)


async def _closed(uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings) -> Draft | None:
    """Support closed the ticket (``services.desk.close``); gone once the customer reopened it."""
    ticket = await facts.ticket(uow, customer, alert.params["ticket"])
    if ticket is None or ticket.status != "closed":
        return None
    days = settings.ticket_reopen_days

    def said() -> str:
        head = _("Support closed ticket #{id} ({subject}).").format(id=ticket.id, subject=ticket.subject)
        if days <= 0:
            return head
        reopen = ngettext(
            "If you still need help, reply to it within {n} day to reopen it.",
            "If you still need help, reply to it within {n} days to reopen it.",
            days,
        ).format(n=days)
        return f"{head}\n{reopen}"

    return Draft(lambda: Reply(said(), buttons=_ticket_buttons(ticket.id)), said)


async def _payment(uow: UnitOfWork, alert: Alert, customer: Customer) -> Draft | None:
    """A payment landed (``bot.alerts.notifier``): the invoice is paid, or the money is on the balance."""
    inv = await facts.invoice(uow, customer, alert.params["invoice"])
    if inv is None:
        return None
    amount = Money(alert.params["amount"], alert.params["currency"])

    def said() -> str:
        if alert.kind == "invoice_paid":
            return _("Invoice {number} is paid. Thank you!").format(number=inv.number)
        return _(
            "We received {amount} for invoice {number}, which could not take it; "
            "it was added to your balance."
        ).format(amount=formatting.money(amount), number=inv.number)

    def draft() -> Reply:
        text = said()
        if alert.kind == "invoice_paid":
            text += "\n" + _("Your invoice as a PDF: /invoice {number} pdf").format(number=inv.number)
        return Reply(text, private=True)

    return Draft(draft, said)


def _lifecycle_text(step: str, standing: service_lifecycle.Standing, today: dt.date) -> str:
    order = standing.order
    service = _("Order #{id} ({plan})").format(id=order.id, plan=localized.name(order.plan))
    due = formatting.date(order.period_end)
    if step == "suspend":
        left = (standing.suspend_on - today).days
        if left <= 0:
            return _("{service} was due on {due} and is unpaid: it will be suspended today.").format(
                service=service, due=due
            )
        return ngettext(
            "{service} was due on {due} and is unpaid: it will be suspended in {n} day, on {date}.",
            "{service} was due on {due} and is unpaid: it will be suspended in {n} days, on {date}.",
            left,
        ).format(service=service, due=due, n=left, date=formatting.date(standing.suspend_on))
    if step == "suspended":
        return _(
            "{service} is suspended: its renewal, due on {due}, is unpaid. Once it is paid, the service "
            "is back at once; unpaid, it will be terminated on {date}."
        ).format(service=service, due=due, date=formatting.date(standing.terminate_on))
    if step == "terminate":
        left = (standing.terminate_on - today).days
        if left <= 0:
            return _(
                "{service} will be terminated today because its renewal, due on {due}, is unpaid: its "
                "servers and their data will be deleted."
            ).format(service=service, due=due)
        return ngettext(
            "{service} will be terminated in {n} day, on {date}, because its renewal, due on {due}, is "
            "unpaid: its servers and their data will be deleted.",
            "{service} will be terminated in {n} days, on {date}, because its renewal, due on {due}, is "
            "unpaid: its servers and their data will be deleted.",
            left,
        ).format(service=service, due=due, n=left, date=formatting.date(standing.terminate_on))
    return _(
        "{service} was terminated: its renewal, due on {due}, was not paid. Its servers are deleted."
    ).format(service=service, due=due)


async def _lifecycle(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, personal: bool
) -> Draft | None:
    """A step of an unpaid order's lifecycle, ahead or done (``services.service_lifecycle``), with
    what brings the order back while it still can be: its renewal invoice to pay, or a renewal."""
    p = alert.params
    step = str(p["step"])
    standing = await service_lifecycle.standing(uow, customer, int(p["order"]), step, str(p["due"]), settings)
    if standing is None:
        return None
    today = facts.local_today(customer)
    inv = standing.invoice if step != "terminated" else None
    link = await _pay_link(uow, inv, settings, personal) if inv is not None else None

    def said() -> list[str]:
        lines = [formatting.sentence(_lifecycle_text(step, standing, today))]
        if inv is not None:
            amount = formatting.amount(inv.total_minor, inv.currency)
            lines.append(
                _("To keep this order, pay invoice {number} ({amount}).").format(
                    number=inv.number, amount=amount
                )
            )
        elif step != "terminated":
            lines.append(_("To keep this order, renew it."))
        return lines

    def draft() -> Reply:
        lines = said()
        buttons: list[list[Button]] = []
        if inv is not None:
            lines += [_pay_line(link)] if link is not None else []
            buttons.append([Button(_("Pay"), command=f"pay {inv.id}")])
        elif step != "terminated":
            buttons.append(_button(_("Renew"), f"extend {standing.order.id}"))
        return Reply("\n".join(lines), buttons=buttons, private=True)

    def shared() -> str:
        lines = said()
        return "\n".join([*lines, _see_to_it()] if step != "terminated" else lines)

    return Draft(draft, shared)


async def compose(
    uow: UnitOfWork,
    alert: Alert,
    customer: Customer,
    settings: Settings,
    seller: Seller,
    personal: bool = True,
) -> Draft | None:
    """The message for this alert as things stand now, or None when it no longer applies.
    ``personal``: a linked person's chat gets it (else only shared chats do, and no pay link is made)."""
    if alert.kind == "autorenew" and alert.params.get("rule") == "notice":
        return await _notice(uow, alert, customer, settings, seller, personal)
    if alert.kind in ("renewal", "autorenew"):
        return await _renewal(uow, alert, customer, settings, seller, personal)
    if alert.kind == "lowbalance" and alert.params.get("rule") == "forecast":
        return await _forecast(uow, alert, customer, seller)
    if alert.kind == "lowbalance":
        return await _threshold(uow, alert, customer)
    if alert.kind == "overdue":
        return await _overdue(uow, alert, customer, settings, personal)
    if alert.kind == "ticket" and "closed" in alert.params:
        return await _closed(uow, alert, customer, settings)
    if alert.kind == "ticket":
        return await _reply(uow, alert, customer)
    if alert.kind in ("invoice_paid", "payment_credited"):
        return await _payment(uow, alert, customer)
    if alert.kind == service_lifecycle.KIND:
        return await _lifecycle(uow, alert, customer, settings, personal)
    raise ValueError(f"unknown alert kind {alert.kind!r}")

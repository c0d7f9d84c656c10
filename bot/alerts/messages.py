"""An alert as the customer reads it: a ``Reply`` in their language, with what to do next.

``compose`` looks the facts up again when the alert is sent (an invoice may have been paid, a
reply read, a balance topped up since the scan) and returns None when there is nothing left to
say. It returns a function that builds the ``Reply`` in the current locale, so one alert sent to
chats in different languages reads right in each, and one pay link serves them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.config import Settings
from bot.core import formatting
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.types import Button, Reply
from services import alert_prefs, invoices, ledger, renewal_costs, service_lifecycle
from services.alerts import facts
from services.invoices import Seller
from services.money import Money
from services.records import Alert, Customer, UnitOfWork

Draft = Callable[[], Reply]


def _button(label: str, line: str) -> list[Button]:
    """A button running ``line`` (``topup``, ``extend``), in a row of its own."""
    return [Button(label, command=line)]


def _top_up() -> list[Button]:
    return _button(_("Top up"), "topup")


def _pay_line(link: str) -> str:
    return _("Pay it here, no login needed:\n{link}").format(link=link)


def _service(r: renewal_costs.Renewal) -> str:
    if r.item == "order":
        return _("Order #{id} ({plan})").format(id=r.id, plan=r.name)
    return r.name


def _expiry(r: renewal_costs.Renewal, today: dt.date) -> str:
    left = (r.due - today).days
    if left <= 0:
        return _("{service} expires today ({date}).").format(service=_service(r), date=formatting.date(r.due))
    return ngettext(
        "{service} expires in {n} day, on {date}.", "{service} expires in {n} days, on {date}.", left
    ).format(service=_service(r), n=left, date=formatting.date(r.due))


async def _renewal(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, seller: Seller
) -> Draft | None:
    p = alert.params
    r = await renewal_costs.renewal(uow, customer, p["item"], p["id"], seller)
    if r is None or r.due.isoformat() != p["due"]:
        return None  # renewed, cancelled or gone since the scan
    balance = await ledger.balance(uow, customer)
    today = facts.local_today(customer)
    link = None
    if not r.auto and r.invoice is not None:
        link = await invoices.create_pay_link(
            uow, r.invoice, settings.public_base_url, settings.pay_link_ttl_days
        )

    def draft() -> Reply:
        amount = formatting.money(r.cost)
        lines = [formatting.sentence(_expiry(r, today))]
        buttons: list[list[Button]] = []
        if r.auto and balance >= r.cost:
            lines.append(
                _(
                    "It renews automatically: {amount} will be taken from your balance, which is {balance} now."
                ).format(amount=amount, balance=formatting.money(balance))
            )
        elif r.auto:
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
            buttons.append(_top_up())
        elif r.invoice is not None and link is not None:
            lines.append(
                _("Invoice {number} for {amount} renews it.").format(number=r.invoice.number, amount=amount)
            )
            lines.append(_pay_line(link))
            buttons.append([Button(_("Pay"), command=f"pay {r.invoice.id}")])
        else:
            lines.append(_("It stops then unless you renew it ({amount}).").format(amount=amount))
            line = f"renew {r.name}" if r.item == "domain" else f"extend {r.id}"
            buttons.append(_button(_("Renew"), line))
        return Reply("\n".join(lines), buttons=[row for row in buttons if row], private=True)

    return draft


async def _forecast(uow: UnitOfWork, alert: Alert, customer: Customer, seller: Seller) -> Draft | None:
    today = facts.local_today(customer)
    until = dt.date.fromisoformat(alert.params["until"])
    due = renewal_costs.auto_due(await renewal_costs.renewals(uow, customer, seller), today, until)
    usage = await facts.usage_ahead(uow, customer, until)
    balance = await ledger.balance(uow, customer)
    need = Money(sum(r.cost.minor for r in due) + usage.minor, customer.currency)
    if need.minor <= 0 or balance >= need:
        return None

    def draft() -> Reply:
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
        return Reply("\n".join(lines), buttons=[row for row in [_top_up()] if row], private=True)

    return draft


async def _notice(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, seller: Seller
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
    link = await invoices.create_pay_link(uow, inv, settings.public_base_url, settings.pay_link_ttl_days)

    def draft() -> Reply:
        text = _(
            "The automatic renewal of {service} on {date} did not go through: it costs {amount} and "
            "your balance of {balance} is {missing} short."
        ).format(
            service=_service(r),
            date=formatting.date(r.due),
            amount=formatting.money(cost),
            balance=formatting.money(balance),
            missing=formatting.money(cost - balance),
        )
        buttons = [[Button(_("Pay"), command=f"pay {inv.id}")], _top_up()]
        return Reply(f"{text}\n{_pay_line(link)}", buttons=[row for row in buttons if row], private=True)

    return draft


async def _threshold(uow: UnitOfWork, alert: Alert, customer: Customer) -> Draft | None:
    threshold = Money(alert.params["threshold"], customer.currency)
    prefs = await alert_prefs.get(uow, customer.id)
    balance = await ledger.balance(uow, customer)
    if prefs.low_balance_minor != threshold.minor or balance >= threshold:
        return None

    def draft() -> Reply:
        text = _("Your balance is {balance}, below the {threshold} you asked to be warned about.").format(
            balance=formatting.money(balance), threshold=formatting.money(threshold)
        )
        return Reply(text, buttons=[row for row in [_top_up()] if row], private=True)

    return draft


async def _overdue(uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings) -> Draft | None:
    inv = await facts.invoice(uow, customer, alert.params["invoice"])
    if inv is None or inv.status != "unpaid":
        return None
    link = await invoices.create_pay_link(uow, inv, settings.public_base_url, settings.pay_link_ttl_days)
    late = (facts.local_today(customer) - inv.due_date).days

    def draft() -> Reply:
        text = ngettext(
            "Invoice {number} for {amount} was due on {date}, {n} day ago.",
            "Invoice {number} for {amount} was due on {date}, {n} days ago.",
            late,
        ).format(
            number=inv.number,
            amount=formatting.amount(inv.total_minor, inv.currency),
            date=formatting.date(inv.due_date),
            n=late,
        )
        return Reply(
            f"{text}\n{_pay_line(link)}",
            buttons=[[Button(_("Pay"), command=f"pay {inv.id}")]],
            private=True,
        )

    return draft


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

    return draft


async def _closed(uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings) -> Draft | None:
    """Support closed the ticket (``services.desk.close``); gone once the customer reopened it."""
    ticket = await facts.ticket(uow, customer, alert.params["ticket"])
    if ticket is None or ticket.status != "closed":
        return None
    days = settings.ticket_reopen_days

    def draft() -> Reply:
        head = _("Support closed ticket #{id} ({subject}).").format(id=ticket.id, subject=ticket.subject)
        if days <= 0:
            return Reply(head, buttons=_ticket_buttons(ticket.id))
        reopen = ngettext(
            "If you still need help, reply to it within {n} day to reopen it.",
            "If you still need help, reply to it within {n} days to reopen it.",
            days,
        ).format(n=days)
        return Reply(f"{head}\n{reopen}", buttons=_ticket_buttons(ticket.id))

    return draft


async def _payment(uow: UnitOfWork, alert: Alert, customer: Customer) -> Draft | None:
    """A payment landed (``bot.alerts.notifier``): the invoice is paid, or the money is on the balance."""
    inv = await facts.invoice(uow, customer, alert.params["invoice"])
    if inv is None:
        return None
    amount = Money(alert.params["amount"], alert.params["currency"])

    def draft() -> Reply:
        if alert.kind == "invoice_paid":
            text = _("Invoice {number} is paid. Thank you!").format(number=inv.number)
            text += "\n" + _("Your invoice as a PDF: /invoice {number} pdf").format(number=inv.number)
        else:
            text = _(
                "We received {amount} for invoice {number}, which could not take it; "
                "it was added to your balance."
            ).format(amount=formatting.money(amount), number=inv.number)
        return Reply(text, private=True)

    return draft


def _lifecycle_text(step: str, standing: service_lifecycle.Standing, today: dt.date) -> str:
    order = standing.order
    service = _("Order #{id} ({plan})").format(id=order.id, plan=order.plan.name)
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


async def _lifecycle(uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings) -> Draft | None:
    """A step of an unpaid order's lifecycle, ahead or done (``services.service_lifecycle``), with
    what brings the order back while it still can be: its renewal invoice to pay, or a renewal."""
    p = alert.params
    step = str(p["step"])
    standing = await service_lifecycle.standing(uow, customer, int(p["order"]), step, str(p["due"]), settings)
    if standing is None:
        return None
    today = facts.local_today(customer)
    inv = standing.invoice if step != "terminated" else None
    link = None
    if inv is not None:
        link = await invoices.create_pay_link(uow, inv, settings.public_base_url, settings.pay_link_ttl_days)

    def draft() -> Reply:
        lines = [formatting.sentence(_lifecycle_text(step, standing, today))]
        buttons: list[list[Button]] = []
        if inv is not None and link is not None:
            amount = formatting.amount(inv.total_minor, inv.currency)
            lines.append(
                _("To keep this order, pay invoice {number} ({amount}).").format(
                    number=inv.number, amount=amount
                )
            )
            lines.append(_pay_line(link))
            buttons.append([Button(_("Pay"), command=f"pay {inv.id}")])
        elif step != "terminated":
            lines.append(_("To keep this order, renew it."))
            buttons.append(_button(_("Renew"), f"extend {standing.order.id}"))
        return Reply("\n".join(lines), buttons=buttons, private=True)

    return draft


async def compose(
    uow: UnitOfWork, alert: Alert, customer: Customer, settings: Settings, seller: Seller
) -> Draft | None:
    """The message for this alert as things stand now, or None when it no longer applies."""
    if alert.kind == "autorenew" and alert.params.get("rule") == "notice":
        return await _notice(uow, alert, customer, settings, seller)
    if alert.kind in ("renewal", "autorenew"):
        return await _renewal(uow, alert, customer, settings, seller)
    if alert.kind == "lowbalance" and alert.params.get("rule") == "forecast":
        return await _forecast(uow, alert, customer, seller)
    if alert.kind == "lowbalance":
        return await _threshold(uow, alert, customer)
    if alert.kind == "overdue":
        return await _overdue(uow, alert, customer, settings)
    if alert.kind == "ticket" and "closed" in alert.params:
        return await _closed(uow, alert, customer, settings)
    if alert.kind == "ticket":
        return await _reply(uow, alert, customer)
    if alert.kind in ("invoice_paid", "payment_credited"):
        return await _payment(uow, alert, customer)
    if alert.kind == service_lifecycle.KIND:
        return await _lifecycle(uow, alert, customer, settings)
    raise ValueError(f"unknown alert kind {alert.kind!r}")

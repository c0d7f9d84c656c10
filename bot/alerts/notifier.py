"""Payments landing and ticket events, passed on through the outbox: the production ``Notifier``
and ``TicketEvents`` write alerts that the ``AlertSender`` sends like any other (and a payment's
receipt into the mail outbox, for the billing mailbox).

A payment notice goes to every chat linked to the account, in the customer's language (composed
when sending, not when paid), with retries and dead letters. The key makes a second notice for
the same thing harmless: ``paid:{invoice}`` (an invoice is paid once) and ``credited:{event}``
(each payment the invoice could not take).

Ticket events go the same way: what the staff do (a reply, a closing) to the customer's chats as
``ticket`` alerts (``reply:{ticket}:{message}``, the key the scan uses for unread replies, so the
two never both send one); what the customer does to the support desk as ``desk`` alerts, when a
desk is configured. The desk hears of every ticket first (``desk:{ticket}:opened``, added before
any other event of the ticket, so a ticket older than the desk is posted before its news).
"""

from __future__ import annotations

import asyncio
from typing import Any

from services import receipts
from services.alerts import outbox
from services.ports import PaymentNotice, TicketEvent
from services.records import UnitOfWork


class OutboxNotifier:
    """``wake`` is set after each notice, so that an ``AlertSender`` in the same process
    (``hostbot run``) sends it at once instead of at its next round. ``desk``: a support desk is
    configured (the customer's ticket events go to it); ``replies``: staff replies are told to the
    customer (``ALERTS_TICKET_REPLIES``)."""

    def __init__(self, desk: bool = False, replies: bool = True) -> None:
        self.wake = asyncio.Event()
        self.desk = desk
        self.replies = replies

    async def notify(self, uow: UnitOfWork, notice: PaymentNotice) -> None:
        """Add the alert to the payment's transaction; wake the sender once it is committed."""
        if notice.paid:
            key, kind = f"paid:{notice.invoice_id}", "invoice_paid"
        else:
            key, kind = f"credited:{notice.event_id}", "payment_credited"
        params = {
            "invoice": notice.invoice_id,
            "amount": notice.amount.minor,
            "currency": notice.amount.currency,
        }
        await outbox.add(uow, key, notice.customer_id, kind, params)
        await receipts.mail_receipt(uow, notice)
        uow.after_commit(self.wake.set)

    async def publish(self, uow: UnitOfWork, event: TicketEvent) -> None:
        """Add the event's alert to the ticket's transaction; wake the sender once it is committed."""
        ticket, customer = event.ticket_id, event.customer_id
        if event.by == "staff":
            if event.kind == "replied" and self.replies:
                params: dict[str, Any] = {"ticket": ticket, "message": event.message_id}
                await outbox.add(uow, f"reply:{ticket}:{event.message_id}", customer, "ticket", params)
            elif event.kind == "closed":
                at = event.at.isoformat()
                params = {"ticket": ticket, "closed": at}
                await outbox.add(uow, f"closed:{ticket}:{at}", customer, "ticket", params)
        elif self.desk:
            await outbox.add(
                uow, f"desk:{ticket}:opened", customer, "desk", {"ticket": ticket, "event": "opened"}
            )
            if event.kind != "opened":
                step = event.message_id if event.message_id is not None else event.at.isoformat()
                news: dict[str, Any] = {"ticket": ticket, "event": event.kind, "message": event.message_id}
                await outbox.add(uow, f"desk:{ticket}:{event.kind}:{step}", customer, "desk", news)
        uow.after_commit(self.wake.set)

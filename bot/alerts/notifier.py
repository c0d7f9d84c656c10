"""Payments landing, told in chat: the production ``Notifier`` writes an alert into the outbox (and
a receipt into the mail outbox, for the billing mailbox).

The ``AlertSender`` then sends it like any alert: to every chat linked to the account, in the
customer's language (composed when sending, not when paid), with retries and dead letters. The
key makes a second notice for the same thing harmless: ``paid:{invoice}`` (an invoice is paid
once) and ``credited:{event}`` (each payment the invoice could not take).
"""

from __future__ import annotations

import asyncio

from services import receipts
from services.alerts import outbox
from services.ports import PaymentNotice
from services.records import UnitOfWork


class OutboxNotifier:
    """``wake`` is set after each notice, so that an ``AlertSender`` in the same process
    (``hostbot run``) sends it at once instead of at its next round."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()

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

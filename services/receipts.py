"""A payment that landed, mailed to the account's billing mailbox as a receipt (the chat is told
by the alerts outbox, in the same transaction)."""

from __future__ import annotations

from services import mail_outbox, mailboxes
from services.ports import PaymentNotice
from storage.models import Customer
from storage.uow import UnitOfWork


async def mail_receipt(uow: UnitOfWork, notice: PaymentNotice) -> None:
    """Write the receipt into the payment's transaction; keyed like the chat notice, so a second
    notice of the same payment adds nothing. Does not commit."""
    customer = await uow.session.get(Customer, notice.customer_id)
    if customer is None:
        return
    key = f"receipt:{notice.invoice_id}" if notice.paid else f"credit:{notice.event_id}"
    await mail_outbox.add(
        uow,
        key[:150],
        "receipt",
        await mailboxes.mailbox(uow, customer, "billing"),
        {
            "invoice": notice.invoice_id,
            "paid": notice.paid,
            "amount": notice.amount.minor,
            "currency": notice.amount.currency,
        },
        customer_id=customer.id,
        language=customer.language or "",
    )

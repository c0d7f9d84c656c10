"""Payments: a bank transfer the staff saw arrive is recorded here, as a statement import would
apply it: the invoice is paid, or the money goes to the customer's balance, once per bank
transaction id. Recording money needs the ``money`` scope."""

from __future__ import annotations

from bot.admin.routing import Call, Out, Routes, found, wrote
from services.backoffice import payments
from services.backoffice.common import ByCustomer, Page
from services.backoffice.payments import PaymentView, TransferDoc

PAYMENTS = Routes("payments", "Payments received: card, balance, and bank transfers the staff record.")


@PAYMENTS.get("/payments", "List payments", returns=Page[PaymentView])
async def list_payments(call: Call, query: ByCustomer) -> Out:
    items, after = await payments.listing(call.uow, query)
    return Out(Page[PaymentView](items=items, next=call.next_link(after)))


@PAYMENTS.get("/payments/{id}", "Read a payment", returns=PaymentView)
async def get_payment(call: Call, id: int) -> Out:
    row = await payments.payment(call.uow, id)
    [view] = await payments.views(call.uow, [row])
    return found(call, f"/payments/{id}", view, row.customer_id)


@PAYMENTS.route(
    "POST",
    "/payments/bank-transfers",
    "Record a bank transfer",
    scope="money",
    returns=PaymentView,
    statuses=(200, 201),
)
async def record_bank_transfer(call: Call, body: TransferDoc) -> Out:
    """The invoice (named, or found by the reference, else by amount and payer) is paid when it is
    unpaid and the amount is its total; otherwise the money goes to the customer's balance. The
    customer is told in chat. 201 the first time; 200 when this bank transaction id was recorded
    already (nothing changes); 409 when it was recorded with another amount; 422 naming
    ``reference`` when no invoice can be found."""
    row, change = await payments.record(call.uow, body, call.staff, call.notifier, call.bank_reference)
    [view] = await payments.views(call.uow, [row])
    return wrote(call, f"/payments/{row.id}", change, view, row.customer_id)


ROUTES = (PAYMENTS,)

"""Money: invoices (a manual one, cancel, credit note) and balance adjustments. Everything that
issues or moves money needs the ``money`` scope; reading needs ``read``."""

from __future__ import annotations

from typing import Any

from bot.admin.routing import Call, Out, Routes, found, wrote
from services.backoffice import billing
from services.backoffice.billing import (
    AdjustmentDoc,
    AdjustmentView,
    CancelDoc,
    CreditNoteDoc,
    InvoiceDoc,
    InvoiceQuery,
    InvoiceView,
)
from services.backoffice.common import ByCustomer, Key, Page, Written, fetch
from services.records import Invoice

INVOICES = Routes("invoices", "Invoices, quotes and credit notes; manual invoices, cancelling, crediting.")
ADJUSTMENTS = Routes(
    "balance-adjustments", "Money added to or taken from a balance by the provider, with a reason."
)


async def _invoice(call: Call, written: Written[Invoice]) -> Out:
    [view] = await billing.invoice_views(call.uow, [written.row])
    return wrote(call, f"/invoices/{written.row.id}", written.change, view, written.row.customer_id)


@INVOICES.get("/invoices", "List invoices", returns=Page[InvoiceView])
async def list_invoices(call: Call, query: InvoiceQuery) -> Out:
    items, after = await billing.invoice_listing(call.uow, query)
    return Out(Page[InvoiceView](items=items, next=call.next_link(after)))


@INVOICES.get("/invoices/{id}", "Read an invoice", returns=InvoiceView)
async def get_invoice(call: Call, id: int) -> Out:
    row = await fetch(call.uow, Invoice, "invoice", Key(id=id))
    [view] = await billing.invoice_views(call.uow, [row])
    return found(call, f"/invoices/{id}", view, row.customer_id)


@INVOICES.post("/invoices", "Issue a manual invoice", returns=InvoiceView, scope="money")
async def create_invoice(call: Call, body: InvoiceDoc) -> Out:
    """Numbered in the invoice series, VAT as for every invoice; the customer pays it as any other."""
    return await _invoice(call, await billing.issue(call.uow, body, Key(), call.seller, call.staff))


@INVOICES.put(
    "/invoices/external/{external_id}", "Issue a manual invoice once", returns=InvoiceView, scope="money"
)
async def put_invoice_by_external_id(call: Call, external_id: str, body: InvoiceDoc) -> Out:
    """201 when issued; 200 when this external id's invoice has these lines already; 409 when it
    was issued with other lines (an issued invoice does not change)."""
    key = Key(external_id=external_id)
    return await _invoice(call, await billing.issue(call.uow, body, key, call.seller, call.staff))


@INVOICES.post(
    "/invoices/{id}/cancel", "Cancel an unpaid invoice", returns=InvoiceView, scope="money", status=200
)
async def cancel_invoice(call: Call, id: int, body: CancelDoc) -> Out:
    """Only an unpaid invoice with no payment; its number stays in the register, as cancelled."""
    row = await fetch(call.uow, Invoice, "invoice", Key(id=id))
    await billing.cancel(call.uow, row, body.reason, call.staff)
    return await _invoice(call, Written(row, "updated"))


@INVOICES.post("/invoices/{id}/credit-notes", "Credit a paid invoice", returns=InvoiceView, scope="money")
async def credit_invoice(call: Call, id: int, body: CreditNoteDoc) -> Out:
    """A credit note (an invoice of kind ``credit``, negative, at the invoice's VAT rate); its
    total goes to the customer's balance. Answers the credit note."""
    row = await fetch(call.uow, Invoice, "invoice", Key(id=id))
    return await _invoice(call, await billing.credit(call.uow, row, body, call.seller, call.staff))


async def _adjustment(call: Call, written: Written[Any]) -> Out:
    [view] = await billing.adjustment_views(call.uow, [written.row])
    return wrote(
        call, f"/balance-adjustments/{written.row.id}", written.change, view, written.row.customer_id
    )


@ADJUSTMENTS.get("/balance-adjustments", "List balance adjustments", returns=Page[AdjustmentView])
async def list_adjustments(call: Call, query: ByCustomer) -> Out:
    items, after = await billing.adjustment_listing(call.uow, query)
    return Out(Page[AdjustmentView](items=items, next=call.next_link(after)))


@ADJUSTMENTS.post("/balance-adjustments", "Adjust a balance", returns=AdjustmentView, scope="money")
async def create_adjustment(call: Call, body: AdjustmentDoc) -> Out:
    """Posted to the ledger with its reason; it may take the balance below zero."""
    return await _adjustment(call, await billing.adjust(call.uow, body, Key(), call.staff))


@ADJUSTMENTS.put(
    "/balance-adjustments/external/{external_id}",
    "Adjust a balance once",
    returns=AdjustmentView,
    scope="money",
)
async def put_adjustment_by_external_id(call: Call, external_id: str, body: AdjustmentDoc) -> Out:
    """201 when posted; 200 when it was posted already; 409 when this external id was posted otherwise."""
    return await _adjustment(
        call, await billing.adjust(call.uow, body, Key(external_id=external_id), call.staff)
    )


ROUTES = (INVOICES, ADJUSTMENTS)

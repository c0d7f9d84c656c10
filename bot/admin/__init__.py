"""The admin HTTP API under ``/admin/api/v1``: the provider's staff and systems reach every record
through ``services.backoffice``, with scoped bearer tokens, problem details and one audit row per
call. A resource is a ``Routes`` in one module, listed in ``ROUTES`` below."""

from __future__ import annotations

from bot.admin import access, accounts, billing, catalogue, payments, tickets
from bot.admin.routing import Route

# Each module's routes, in the document's order.
ROUTES: tuple[Route, ...] = tuple(
    route
    for group in (
        *accounts.ROUTES,
        *catalogue.ROUTES,
        *billing.ROUTES,
        *payments.ROUTES,
        *tickets.ROUTES,
        *access.ROUTES,
    )
    for route in group.routes
)

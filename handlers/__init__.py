"""Chat commands, one module per area, each declaring its own ``router``.

Importing registers nothing: whoever builds the bot assembles the routers it wants with
``Registry.from_routers(*ROUTERS)`` (tests may pick fewer).
"""

from bot.core.router import Router
from handlers import (
    account,
    alerts,
    billing,
    channels,
    contact,
    currency,
    domains,
    invoices,
    mail,
    mailboxes,
    orders,
    overview,
    plans,
    rdns,
    renewals,
    security,
    servers,
    tickets,
    topup,
    traffic,
    usage,
)

# In help's order (as before routers: the order the modules used to be imported in).
ROUTERS: tuple[Router, ...] = (
    account.router,
    alerts.router,
    invoices.router,
    plans.router,
    billing.router,
    channels.router,
    domains.router,
    mail.router,
    mailboxes.router,
    orders.router,
    overview.router,
    renewals.router,
    servers.router,
    rdns.router,
    tickets.router,
    topup.router,
    traffic.router,
    usage.router,
    currency.router,
    contact.router,
    security.router,
)

__all__ = ["ROUTERS"]

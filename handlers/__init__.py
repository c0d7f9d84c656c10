"""Chat commands, one module per area. Importing this package registers them all."""

from handlers import (
    account,
    alerts,
    billing,
    channels,
    domains,
    invoices,
    mail,
    orders,
    overview,
    plans,
    renewals,
    servers,
    tickets,
    topup,
    usage,
)

__all__ = [
    "account",
    "alerts",
    "billing",
    "channels",
    "domains",
    "invoices",
    "mail",
    "orders",
    "overview",
    "plans",
    "renewals",
    "servers",
    "tickets",
    "topup",
    "usage",
]

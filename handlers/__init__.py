"""Chat commands, one module per area. Importing this package registers them all."""

from handlers import (
    account,
    billing,
    domains,
    invoices,
    mail,
    orders,
    plans,
    renewals,
    servers,
    tickets,
    usage,
)

__all__ = [
    "account",
    "billing",
    "domains",
    "invoices",
    "mail",
    "orders",
    "plans",
    "renewals",
    "servers",
    "tickets",
    "usage",
]

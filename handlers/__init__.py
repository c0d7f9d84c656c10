"""Chat commands, one module per area. Importing this package registers them all."""

from handlers import account, domains, invoices, orders, servers, tickets, usage

__all__ = ["account", "domains", "invoices", "orders", "servers", "tickets", "usage"]

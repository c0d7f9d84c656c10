"""Chat commands, one module per area. Importing this package registers them all."""

from handlers import account, alerts, domains, invoices, orders, servers, tickets

__all__ = ["account", "alerts", "domains", "invoices", "orders", "servers", "tickets"]

"""Chat commands, one module per area. Importing this package registers them all."""

from handlers import account, channels, domains, invoices, orders, overview, servers, tickets, topup

__all__ = ["account", "channels", "domains", "invoices", "orders", "overview", "servers", "tickets", "topup"]

"""The service layer's public vocabulary: the unit of work callers open and pass in, and the records
services take and return. Everything above services (the chat core, handlers, documents) names these
types from here and never imports ``storage``.

Why the records are the mapped rows themselves rather than copies: services return them to be read
(``inv.number``, ``customer.currency``) and handed back to another service in the same unit of work
(``paying.mark_paid(uow, inv, ...)``), which needs the row attached to its session. A copy would
have to be looked up again on the way back, and would duplicate every model for no rule it could
enforce. So the service layer publishes the rows as its API, read-only by convention: callers change
state only by calling a service, which is what the import contracts (pyproject ``[tool.importlinter]``)
and this module make the one path. Storage stays free to change anything not listed here.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from storage.models import (
    Alert,
    AlertSettings,
    ChannelBinding,
    ChatIdentity,
    Conversation,
    Customer,
    Domain,
    Invoice,
    InvoiceLine,
    Mail,
    MeteredResource,
    Order,
    Plan,
    Server,
)
from storage.uow import Database, UnitOfWork, again_if_dropped

DatabaseError = SQLAlchemyError
"""Whatever the database (or the driver under it) refused or failed to do."""

__all__ = [
    "Alert",
    "AlertSettings",
    "ChannelBinding",
    "ChatIdentity",
    "Conversation",
    "Customer",
    "Database",
    "DatabaseError",
    "Domain",
    "Invoice",
    "InvoiceLine",
    "Mail",
    "MeteredResource",
    "Order",
    "Plan",
    "Server",
    "UnitOfWork",
    "again_if_dropped",
    "connection_lost",
]


def connection_lost(err: BaseException) -> bool:
    """Whether ``err`` says the server dropped the pooled connection (a restart,
    ``pg_terminate_backend``): the whole unit of work may then run once more on a fresh one."""
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)

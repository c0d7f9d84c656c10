"""Customers and what they have: orders, servers, domains and metered resources. Each has the six
routes of a record (``bot.admin.records``); a metered resource can also be deleted, as a reseller
panel deletes an account."""

from __future__ import annotations

from bot.admin.records import Record, routes_of
from bot.admin.routing import Call, Out, Routes
from services.backoffice import customers, domains, orders, resources, servers
from services.backoffice.common import ByCustomer, Key, fetch
from services.backoffice.customers import CustomerDoc, CustomerQuery, CustomerView
from services.backoffice.domains import DomainDoc, DomainView
from services.backoffice.orders import OrderDoc, OrderView
from services.backoffice.resources import MeteredResourceDoc, MeteredResourceView, ResourceQuery
from services.backoffice.servers import ServerDoc, ServerView
from services.records import Customer, Domain, MeteredResource, Order, Server

CUSTOMERS = routes_of(
    Record(
        "customer",
        "customers",
        Customer,
        CustomerDoc,
        CustomerView,
        CustomerQuery,
        customers.put,
        customers.views,
        customers.listing,
        lambda row: row.id,
    ),
    "The provider's customers: contact data, mailboxes per purpose, language, currency, country, VAT id.",
)
ORDERS = routes_of(
    Record(
        "order",
        "orders",
        Order,
        OrderDoc,
        OrderView,
        ByCustomer,
        orders.put,
        orders.views,
        orders.listing,
        lambda row: row.customer_id,
    ),
    "Orders: a plan rented by a customer, its billing cycle, price, period and add-ons.",
)
SERVERS = routes_of(
    Record(
        "server",
        "servers",
        Server,
        ServerDoc,
        ServerView,
        ByCustomer,
        servers.put,
        servers.views,
        servers.listing,
        lambda row: row.customer_id,
    ),
    "Servers behind orders, with the server driver's reference (Proxmox node and VM id).",
)
DOMAINS = routes_of(
    Record(
        "domain",
        "domains",
        Domain,
        DomainDoc,
        DomainView,
        ByCustomer,
        domains.put,
        domains.views,
        domains.listing,
        lambda row: row.customer_id,
    ),
    "Domains: expiry, renewal price and auto-renew.",
)
METERED_RESOURCES = routes_of(
    Record(
        "metered resource",
        "metered-resources",
        MeteredResource,
        MeteredResourceDoc,
        MeteredResourceView,
        ResourceQuery,
        resources.put,
        resources.views,
        resources.listing,
        lambda row: row.customer_id,
    ),
    "A reseller's hosting accounts, add-ons and service packs, billed by the hour: a panel creates them, "
    "changes their package (PUT with another product) and deletes them.",
    operation="resource",
)


async def _deleted(call: Call, key: Key) -> Out:
    row = await fetch(call.uow, MeteredResource, "metered resource", key)
    gone = await resources.delete(call.uow, row, call.staff)
    call.about(f"metered-resources/{row.id}", row.customer_id, "deleted")
    return Out(gone)


def _deletions(routes: Routes) -> Routes:
    @routes.delete("/metered-resources/{id}", "Delete a metered resource", returns=MeteredResourceView)
    async def delete_resource(call: Call, id: int) -> Out:
        """Billed up to this hour, no longer after; deleting it again changes nothing."""
        return await _deleted(call, Key(id=id))

    @routes.delete(
        "/metered-resources/external/{external_id}",
        "Delete a metered resource by external id",
        returns=MeteredResourceView,
    )
    async def delete_resource_by_external_id(call: Call, external_id: str) -> Out:
        """Billed up to this hour, no longer after; deleting it again changes nothing."""
        return await _deleted(call, Key(external_id=external_id))

    return routes


ROUTES = (CUSTOMERS, ORDERS, SERVERS, DOMAINS, _deletions(METERED_RESOURCES))

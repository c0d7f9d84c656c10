"""Servers: the machines behind orders, with their addresses and the driver's reference to them
(a Proxmox VE node and VM id)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import select

from services.backoffice.common import (
    ByCustomer,
    Conflict,
    Document,
    ExternalId,
    Id,
    Invalid,
    Key,
    Ref,
    Written,
    assign,
    customer,
    locate,
    noted,
    owners,
    page,
    ref_of,
    resolve,
    stays_with,
)
from storage.models import Order, Server
from storage.uow import UnitOfWork

Hostname = Annotated[
    str, StringConstraints(to_lower=True, pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
]
Address = IPv4Address | IPv6Address
Mac = Annotated[str, StringConstraints(to_lower=True, pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]
DnsName = Annotated[
    str, StringConstraints(to_lower=True, max_length=253, pattern=r"^([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
]


class ServerDoc(Document):
    """A server of a customer, optionally behind one of its orders. ``node`` and ``vm_id`` are what
    the server driver acts on (Proxmox VE); the inventory driver needs neither."""

    external_id: ExternalId | None = None
    customer: Ref
    order: Ref | None = None
    hostname: Hostname
    os: Annotated[str, Field(min_length=1, max_length=60)]
    ip: Address
    netmask: Address
    gateway: Address
    mac: Mac
    reverse_dns: DnsName = ""
    power_state: Literal["running", "stopped", "suspended"] = "running"
    node: Annotated[str, Field(max_length=63)] = ""
    vm_id: int | None = Field(None, ge=1, le=999_999_999)


class ServerEntry(ServerDoc):
    id: Id | None = None


class ServerView(ServerDoc):
    id: int
    power_state: str  # type: ignore[assignment]  # what the driver last said, ``rebooting`` included


async def put(uow: UnitOfWork, doc: ServerDoc, key: Key, by: str) -> Written[Server]:
    row = await locate(uow, Server, "server", key, doc.external_id)
    owner = await customer(uow, doc.customer)
    order_id = None
    if doc.order is not None:
        order = await resolve(uow, Order, "order", doc.order, "order")
        if order.customer_id != owner.id:
            raise Invalid("order", f"order {order.id} is not an order of customer {owner.id}")
        order_id = order.id
    twin = await uow.session.scalar(
        select(Server.id).where(Server.customer_id == owner.id, Server.hostname == doc.hostname)
    )
    if twin is not None and (row is None or twin != row.id):
        raise Conflict(f"Customer {owner.id} has a server {doc.hostname!r} already: server {twin}.")
    values = {
        "order_id": order_id,
        "hostname": doc.hostname,
        "os": doc.os,
        "ip": str(doc.ip),
        "netmask": str(doc.netmask),
        "gateway": str(doc.gateway),
        "mac": doc.mac,
        "reverse_dns": doc.reverse_dns,
        "power_state": doc.power_state,
        "node": doc.node,
        "vm_id": doc.vm_id,
    }
    external_id = doc.external_id or key.external_id
    if row is None:
        row = Server(customer_id=owner.id, external_id=external_id, **values)
        uow.session.add(row)
        await uow.flush()
        return noted(uow, by, "server", Written(row, "created"), owner.id)
    stays_with(row.customer_id, owner, "server")
    if external_id is not None:
        values["external_id"] = external_id
    changed = assign(row, values)
    return noted(uow, by, "server", Written(row, "updated" if changed else "unchanged"), owner.id)


async def views(uow: UnitOfWork, rows: Sequence[Server]) -> list[ServerView]:
    people = await owners(uow, {r.customer_id for r in rows})
    order_ids = {r.order_id for r in rows if r.order_id is not None}
    orders = {o.id: o for o in await uow.session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    return [
        ServerView(
            id=r.id,
            external_id=r.external_id,
            customer=ref_of(people[r.customer_id]),
            order=ref_of(orders[r.order_id]) if r.order_id is not None else None,
            hostname=r.hostname,
            os=r.os,
            ip=r.ip,
            netmask=r.netmask,
            gateway=r.gateway,
            mac=r.mac,
            reverse_dns=r.reverse_dns,
            power_state=r.power_state,
            node=r.node,
            vm_id=r.vm_id,
        )
        for r in rows
    ]


async def listing(uow: UnitOfWork, query: ByCustomer) -> tuple[list[ServerView], int | None]:
    select_ = select(Server)
    if query.customer is not None:
        select_ = select_.where(Server.customer_id == query.customer)
    rows, after = await page(uow, select_, Server.id, query)
    return await views(uow, rows), after

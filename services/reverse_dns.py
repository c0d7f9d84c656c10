"""Reverse DNS of the customers' servers: the PTR of each of a server's addresses, read and set
through the DNS port, and the forward confirmation (the PTR's name resolves back to the address)
that mail servers and others check.

The server's record keeps the PTR too (``reverse_dns``): with the inventory driver it is the only
copy, with a real DNS driver it mirrors the last change made here. One name serves every address
of a server, as a host's name does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select

from services import audit, hostnames, servers
from services.access import owned
from services.audit import Actor
from services.errors import N_, InvalidState
from services.ports import DnsDriver, DnsError, NoReverseZone
from storage.models import Server
from storage.uow import UnitOfWork

log = logging.getLogger("hostbot.dns")

UNREACHABLE = N_("The DNS server is not answering right now. Please try again in a few minutes.")
NOT_MANAGED = N_(
    "The reverse DNS of {ip} is not managed here, so it cannot be changed from the chat. "
    "Please open a ticket and we will set it for you."
)


@dataclass(frozen=True)
class AddressPtr:
    """One address of a server and its PTR: ``hostname`` "" when it has none, ``managed`` False
    when no zone of the DNS server holds the address, ``forward`` whether the hostname resolves back
    to the address (None: not checked, or nothing to check)."""

    ip: str
    hostname: str
    managed: bool = True
    forward: bool | None = None


@dataclass(frozen=True)
class ServerPtrs:
    """A server's name and the PTR of each of its addresses."""

    server_id: int
    name: str
    addresses: tuple[AddressPtr, ...]


@dataclass(frozen=True)
class Change:
    """A change of PTR about to be confirmed: ``hostname`` in its stored (ASCII) form."""

    server_id: int
    name: str
    hostname: str
    before: tuple[AddressPtr, ...]

    @property
    def needed(self) -> bool:
        return any(address.hostname != self.hostname for address in self.before)


def addresses(server: Server) -> list[str]:
    """The addresses of a server, as its record holds them (IPv6 stored with its prefix)."""
    found = [server.ip] if server.ip else []
    if server.ipv6:
        found.append(server.ipv6.partition("/")[0])
    return found


async def listing(uow: UnitOfWork, customer_id: int, dns: DnsDriver) -> list[ServerPtrs]:
    """Every server of the account with the PTR of each address (no forward check: a look)."""
    rows = await uow.session.scalars(
        select(Server).where(Server.customer_id == customer_id).order_by(Server.hostname)
    )
    return [await _answered(server, dns, check=False) for server in rows.all()]


async def lookup(uow: UnitOfWork, ref: str, actor: Actor, dns: DnsDriver) -> ServerPtrs:
    """One of the account's servers (by hostname, IP or order number), with each PTR forward-checked."""
    server = await servers.one(uow, ref, actor)
    return await _answered(server, dns, check=True)


async def preview(uow: UnitOfWork, ref: str, actor: Actor, text: str, dns: DnsDriver) -> Change:
    """What setting ``text`` as the PTR of every address of the server would change; the name is
    checked here (``hostnames.InvalidHostname``) so that only a valid one is ever confirmed."""
    hostname = hostnames.parse(text)
    server = await servers.one(uow, ref, actor)
    current = await _answered(server, dns, check=False)
    for address in current.addresses:
        if not address.managed:
            raise InvalidState(NOT_MANAGED, ip=address.ip)
    return Change(server.id, server.hostname, hostname, current.addresses)


async def change(uow: UnitOfWork, server_id: int, actor: Actor, text: str, dns: DnsDriver) -> ServerPtrs:
    """Set the PTR of every address of the server to ``text`` (checked again), record it on the
    server and in the audit log, then check the forward confirmation of each address.

    A DNS failure keeps what was set before it (recorded, and audited as failed with the addresses
    done) and is answered with a clear refusal."""
    hostname = hostnames.parse(text)
    server = await owned(uow, Server, server_id, actor)
    old: dict[str, str] = {}
    done: list[str] = []
    try:
        before = await _ptrs(server, dns, check=False)
        old = {address.ip: address.hostname for address in before.addresses}
        for ip in addresses(server):
            await dns.set_ptr(ip, hostname)
            done.append(ip)
            server.reverse_dns = hostname
    except DnsError as err:
        log.warning("reverse DNS of server %s not set: %s", server.id, err.reason)
        audit.record(
            uow,
            "server.rdns",
            actor,
            f"server:{server.id}",
            "failed",
            name=server.hostname,
            old=old,
            new=hostname,
            done=done,
            reason=err.reason,
        )
        await uow.commit()
        if isinstance(err, NoReverseZone):
            raise InvalidState(NOT_MANAGED, ip=addresses(server)[len(done)]) from err
        raise InvalidState(UNREACHABLE) from err
    audit.record(
        uow, "server.rdns", actor, f"server:{server.id}", name=server.hostname, old=old, new=hostname
    )
    await uow.commit()
    checked = await asyncio.gather(*(dns.resolves_to(hostname, ip) for ip in done))
    return ServerPtrs(
        server.id,
        server.hostname,
        tuple(AddressPtr(ip, hostname, forward=f) for ip, f in zip(done, checked, strict=True)),
    )


async def _answered(server: Server, dns: DnsDriver, check: bool) -> ServerPtrs:
    """``_ptrs``, with a DNS server that fails answered as a refusal the customer understands."""
    try:
        return await _ptrs(server, dns, check)
    except DnsError as err:
        log.warning("reverse DNS of server %s not read: %s", server.id, err.reason)
        raise InvalidState(UNREACHABLE) from err


async def _ptrs(server: Server, dns: DnsDriver, check: bool) -> ServerPtrs:
    found = await asyncio.gather(*(_ptr(server, ip, dns, check) for ip in addresses(server)))
    return ServerPtrs(server.id, server.hostname, tuple(found))


async def _ptr(server: Server, ip: str, dns: DnsDriver, check: bool) -> AddressPtr:
    try:
        hostname = await dns.ptr(ip)
    except NoReverseZone:
        return AddressPtr(ip, "", managed=False)
    if hostname is None:  # the inventory is the zone
        hostname = server.reverse_dns
    forward = await dns.resolves_to(hostname, ip) if check and hostname else None
    return AddressPtr(ip, hostname, forward=forward)

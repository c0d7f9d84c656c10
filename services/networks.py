"""The networks an account's pay pages may be opened from (a CIDR list; empty: anywhere), and who
a web request comes from behind the provider's proxies.

``allows`` is the one check: the pay pages use it, and so may any other web entry point that acts
for one account (an admin API scoped to it)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from services import account_security, audit, clock
from services.audit import Actor
from services.errors import N_, DomainError, InvalidState
from storage.uow import UnitOfWork

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_NETWORKS = 20


class InvalidNetwork(DomainError):
    message = N_(
        "“{text}” is not an IP address or network. Send one such as 203.0.113.0/24 or 2001:db8::/48."
    )


def parse(text: str) -> str:
    """A network as stored: ``203.0.113.7`` -> ``203.0.113.7/32``; host bits are dropped
    (``203.0.113.7/24`` -> ``203.0.113.0/24``)."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise InvalidNetwork(text=text.strip()[:60]) from None


def networks_of(text: str) -> tuple[Network, ...]:
    """A comma-separated CIDR list from the settings (``TRUSTED_PROXIES``); ``ValueError`` names a
    wrong entry, so a mistyped setting stops the start-up."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client reaching an IPv6 socket shows as ::ffff:a.b.c.d: it is the IPv4 address.
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _within(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The address a request comes from: the peer's, unless the peer is one of the ``trusted``
    proxies; then the right-most address of the X-Forwarded-For headers that is not itself a
    trusted proxy (what a client writes there itself is to the left, never believed), or the last
    proxy's when all are. None when it cannot be told (a hop that is no address)."""
    address = _address(peer)
    if address is None or not _within(address, trusted):
        return str(address) if address is not None else None
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:
            return None
        address = found
        if not _within(found, trusted):
            break
    return str(address)


def contains(allowed: Sequence[str], address: str | None) -> bool:
    """Whether ``address`` is inside one of the ``allowed`` networks; an empty list allows all,
    an unknown address nothing else."""
    if not allowed:
        return True
    found = _address(address)
    return found is not None and _within(found, (ipaddress.ip_network(n) for n in allowed))


async def allowed(uow: UnitOfWork, customer_id: int) -> list[str]:
    row = await account_security.read(uow, customer_id)
    return list(row.allowed_networks) if row is not None else []


async def allows(uow: UnitOfWork, customer_id: int, address: str | None) -> bool:
    """Whether a request from ``address`` may act for the account (its allowed networks)."""
    return contains(await allowed(uow, customer_id), address)


async def add(uow: UnitOfWork, customer_id: int, network: str, actor: Actor) -> list[str]:
    """Add a network (``parse``d) to the list; the list as it now is."""
    row = await account_security.for_change(uow, customer_id)
    current = list(row.allowed_networks)
    if network not in current:
        if len(current) >= MAX_NETWORKS:
            raise InvalidState(N_("An account can allow at most {limit} networks."), limit=MAX_NETWORKS)
        row.allowed_networks = [*current, network]
        row.updated_at = clock.now()
        audit.record(uow, "networks.add", actor, f"customer:{customer_id}", network=network)
    await uow.commit()
    return list(row.allowed_networks)


async def remove(uow: UnitOfWork, customer_id: int, network: str | None, actor: Actor) -> list[str]:
    """Remove one network, or every one (``None``: pay pages open from anywhere again)."""
    row = await account_security.for_change(uow, customer_id)
    current = list(row.allowed_networks)
    kept = [] if network is None else [n for n in current if n != network]
    if kept != current:
        row.allowed_networks = kept
        row.updated_at = clock.now()
        audit.record(uow, "networks.remove", actor, f"customer:{customer_id}", network=network or "all")
    await uow.commit()
    return kept

"""Forward confirmation through dnspython: does a hostname resolve to an address (A or AAAA)?

Every DNS driver answers ``resolves_to`` with this, against the resolver the settings name
(``DNS_RESOLVER``): the system's (``/etc/resolv.conf``) when empty, one server as ``host`` or
``host:port`` (``[2001:db8::53]:53`` for IPv6), or ``none`` to not check at all.

dnspython is imported at the first lookup: every process builds a resolver, few look anything up
(a one-shot command or ``hostbot run`` on the demo configuration never does).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dns.asyncresolver

log = logging.getLogger("hostbot.dns")

NONE = "none"
DNS_PORT = 53


def parse_resolver(text: str) -> tuple[str, int] | None:
    """``DNS_RESOLVER`` as (address, port); None for the system's resolver or for ``none``. A
    name or malformed value raises ``ValueError`` (the start-up stops: a resolver is an address)."""
    text = text.strip()
    if not text or text == NONE:
        return None
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"DNS_RESOLVER={text!r}: expected [address]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"DNS_RESOLVER={text!r}: no such port")
    return host, port


class ForwardResolver:
    """Looks a hostname up afresh each time (no cache: the customer may just have added it)."""

    def __init__(self, resolver: str = "", timeout: float = 3.0) -> None:
        self._off = resolver.strip() == NONE
        self._server = parse_resolver(resolver)
        self._timeout = timeout

    async def resolves_to(self, hostname: str, ip: str) -> bool | None:
        """True when ``hostname`` has an A (IPv4) or AAAA (IPv6) record equal to ``ip``, False
        when it has none or others, None when no resolver answered."""
        if self._off:
            return None
        import dns.exception
        import dns.resolver

        address = ipaddress.ip_address(ip)
        try:
            resolver = self._resolver()
            answer = await resolver.resolve(
                hostname.rstrip(".") + ".", "A" if address.version == 4 else "AAAA", search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return False
        except dns.exception.DNSException as err:
            log.info("forward confirmation of %s not checked: %s", hostname, err)
            return None
        return any(ipaddress.ip_address(record.address) == address for record in answer)

    def _resolver(self) -> dns.asyncresolver.Resolver:
        import dns.asyncresolver

        if self._server is None:
            resolver = dns.asyncresolver.Resolver()  # the system's; NoResolverConfiguration without one
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [self._server[0]]
            resolver.port = self._server[1]
        resolver.lifetime = self._timeout
        return resolver

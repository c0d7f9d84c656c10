"""The embedded defaults (``SERVER_DRIVER=inventory``, ``DNS_DRIVER=inventory``,
``REGISTRAR_DRIVER=inventory``): for the demo and for providers without an API, the inventory in the
database is the machine, the zone and the registry. The drivers answer as a machine that does what
it is told would; the services record the outcome in the inventory, which is what is shown."""

from __future__ import annotations

import datetime as dt
import secrets

from services import clock, consoles, sealing
from services.drivers.forward import ForwardResolver
from services.ports import (
    ConsoleLink,
    DomainRef,
    LoginDetails,
    OsTemplate,
    ServerError,
    ServerNetwork,
    ServerRef,
    ServerStatus,
    TrafficSample,
)

TEMPLATES = (
    OsTemplate("debian-12", "Debian 12"),
    OsTemplate("ubuntu-24.04", "Ubuntu 24.04 LTS"),
    OsTemplate("almalinux-9", "AlmaLinux 9"),
    OsTemplate("rocky-9", "Rocky Linux 9"),
)


class InventoryDriver:
    """Servers whose only record is the inventory: state changes succeed at once, a reinstall
    hands out a fresh root password, and the console is a one-time link to the provider's noVNC
    page (``services.consoles``: signed with ``secret``, valid ``console_ttl`` seconds; ``console_url``
    holds ``{token}``)."""

    def __init__(self, secret: str = "", console_url: str = "", console_ttl: int = 120) -> None:
        self._secret = secret
        self._console_url = console_url
        self._console_ttl = console_ttl

    async def status(self, server: ServerRef) -> ServerStatus | None:
        return None

    async def network(self, server: ServerRef) -> ServerNetwork | None:
        return None

    async def start(self, server: ServerRef) -> str:
        return "running"

    async def stop(self, server: ServerRef) -> str:
        return "stopped"

    async def reboot(self, server: ServerRef) -> str:
        return "running"

    async def templates(self, server: ServerRef) -> list[OsTemplate]:
        return list(TEMPLATES)

    async def reinstall(self, server: ServerRef, template: OsTemplate) -> LoginDetails:
        return LoginDetails("root", secrets.token_urlsafe(12))

    async def console(self, server: ServerRef) -> ConsoleLink:
        if not self._console_url:
            raise ServerError("INVENTORY_CONSOLE_URL is not set")
        expires = clock.now() + dt.timedelta(seconds=self._console_ttl)
        try:
            token = consoles.issue(self._secret, server.id, expires)
        except sealing.NoSecret:
            raise ServerError("SECRET_KEY is not set") from None
        return ConsoleLink(self._console_url.replace("{token}", token), expires)

    async def suspend(self, server: ServerRef) -> None:
        return None

    async def unsuspend(self, server: ServerRef) -> None:
        return None

    async def terminate(self, server: ServerRef) -> None:
        return None

    async def traffic(self, server: ServerRef, since: dt.datetime) -> list[TrafficSample] | None:
        return None


class InventoryDns:
    """Reverse DNS kept in the inventory: the service stores the PTR on the server's record (for
    a provider whose DNS is run by hand from it). The forward confirmation is a real lookup."""

    def __init__(self, forward: ForwardResolver) -> None:
        self._forward = forward

    async def ptr(self, ip: str) -> str | None:
        return None

    async def set_ptr(self, ip: str, hostname: str) -> None:
        return None

    async def resolves_to(self, hostname: str, ip: str) -> bool | None:
        return await self._forward.resolves_to(hostname, ip)


class InventoryRegistrar:
    """A registry that is the inventory: a renewal moves the expiry by whole years."""

    async def renew(self, domain: DomainRef, years: int) -> dt.date:
        expires = domain.expires_on
        try:
            return expires.replace(year=expires.year + years)
        except ValueError:  # 29 February
            return expires.replace(year=expires.year + years, day=28)

    async def expiry(self, domain: DomainRef) -> dt.date:
        return domain.expires_on

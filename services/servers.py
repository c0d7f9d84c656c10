"""The customers' servers: finding one by what its owner calls it, reading what it is, and acting on
it through the server driver. The inventory records each outcome and the audit log who asked; a
driver's failure changes nothing, is audited (``failed``, with its reason) and answered plainly.

A driver call can take minutes (a Proxmox task): nothing is written before it returns, so no
database lock is held while the machine works.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import or_, select

from services import audit, clock, sealing
from services.access import find, owned
from services.audit import Actor
from services.errors import N_, DomainError, InvalidState, NotFound
from services.ids import is_digits, parse_id
from services.orders import servers_of
from services.ports import ConsoleLink, LoginDetails, OsTemplate, ServerDriver, ServerError, ServerRef
from storage.models import Order, Server
from storage.uow import UnitOfWork

log = logging.getLogger("hostbot.servers")
T = TypeVar("T")

BLOCKED = frozenset({"suspended", "blocked"})  # by the provider (unpaid): the customer cannot act


class Unavailable(DomainError):
    """The machine or its manager did not do what was asked (the reason is in the log and audit)."""

    message = N_(
        "{server} did not respond as expected, so nothing was changed. Please try again in a few "
        "minutes, or open a ticket if it keeps happening."
    )


class NoSecret(DomainError):
    message = N_(
        "Login details cannot be kept safely here yet: the provider has not set a secret key. "
        "Please open a ticket."
    )


@dataclass(frozen=True)
class Details:
    """What ``server NAME`` shows: the inventory's record, overlaid with what the machine reports.
    ``live``: the driver answered (False: the record alone, the machine did not answer)."""

    hostname: str
    order_id: int | None
    os: str
    power_state: str
    cpus: int | None
    memory_mb: int | None
    disk_gb: int | None
    ipv4: str
    netmask: str
    gateway: str
    mac: str
    ipv6: tuple[str, ...]
    reverse_dns: str
    live: bool


def ref(server: Server) -> ServerRef:
    """The plain reference a driver gets (never the row)."""
    return ServerRef(server.id, server.hostname, server.ip, server.mac, server.node, server.vm_id)


async def of_customer(uow: UnitOfWork, customer_id: int) -> Sequence[Server]:
    rows = await uow.session.scalars(
        select(Server).where(Server.customer_id == customer_id).order_by(Server.hostname, Server.id)
    )
    return rows.all()


async def get(uow: UnitOfWork, server_id: int, actor: Actor) -> Server:
    return await owned(uow, Server, server_id, actor)


async def named(uow: UnitOfWork, name: str, actor: Actor) -> Sequence[Server]:
    """The actor's servers that ``name`` names: a hostname, an IPv4 or IPv6 address, or an order
    number (every server of that order). Someone else's looks missing (and is audited)."""
    text = name.strip().lower()
    if is_digits(text):
        order_id = parse_id(text)
        if order_id is None:
            raise NotFound()
        order = await owned(uow, Order, order_id, actor)
        found = await servers_of(uow, order)
        if not found:
            raise InvalidState(N_("Order #{order} has no server."), order=order.id)
        return found
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return [await find(uow, Server, actor, text[:60], Server.hostname == text)]
    if address.version == 4:
        return [await find(uow, Server, actor, str(address), Server.ip == str(address))]
    v6 = str(address)
    return [
        await find(
            uow, Server, actor, v6, or_(Server.ipv6 == v6, Server.ipv6.startswith(f"{v6}/", autoescape=True))
        )
    ]


async def one(uow: UnitOfWork, name: str, actor: Actor) -> Server:
    """The one server ``name`` names; an order number with several servers asks for a hostname."""
    found = await named(uow, name, actor)
    if len(found) > 1:
        raise InvalidState(
            N_("Order #{order} has several servers: {names}. Name one of them."),
            order=found[0].order_id,
            names=", ".join(s.hostname for s in found),
        )
    return found[0]


async def details(server: Server, driver: ServerDriver) -> Details:
    """The record overlaid with the machine's own report, where its driver has one."""
    machine = ref(server)
    try:
        status = await driver.status(machine)
        network = await driver.network(machine)
        live = True
    except ServerError as err:
        log.warning("server %s: status failed: %s", server.id, err.reason)
        status, network, live = None, None, False
    return Details(
        hostname=server.hostname,
        order_id=server.order_id,
        os=server.os,
        power_state=_reported(server, status.power_state if status else None),
        cpus=(status.cpus if status else None) or server.cpus,
        memory_mb=(status.memory_mb if status else None) or server.memory_mb,
        disk_gb=(status.disk_gb if status else None) or server.disk_gb,
        ipv4=(network.ipv4 if network else "") or server.ip,
        netmask=(network.netmask if network else "") or server.netmask,
        gateway=(network.gateway if network else "") or server.gateway,
        mac=(network.mac if network else "") or server.mac,
        ipv6=(network.ipv6 if network else ()) or ((server.ipv6,) if server.ipv6 else ()),
        reverse_dns=server.reverse_dns,
        live=live,
    )


def _reported(server: Server, state: str | None) -> str:
    """The machine's power state, except that the provider's block stands until it is lifted."""
    if server.power_state in BLOCKED or state is None:
        return server.power_state
    return state


async def _drive(uow: UnitOfWork, actor: Actor, server: Server, action: str, call: Awaitable[T]) -> T:
    """Await the driver; its failure is logged, audited (kept through the rollback) and answered."""
    try:
        return await call
    except ServerError as err:
        log.warning("server %s: %s failed: %s", server.id, action, err.reason)
        target = f"server:{server.id}"
        audit.defer(uow, f"server.{action}", actor, target, outcome="failed", reason=err.reason[:200])
        raise Unavailable(server=server.hostname) from None


async def _actionable(
    uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver, action: str
) -> Server:
    """The actor's server, its power state refreshed from the machine, if it allows ``action``."""
    server = await owned(uow, Server, server_id, actor)
    if server.power_state not in BLOCKED:
        status = await _drive(uow, actor, server, "status", driver.status(ref(server)))
        if status is not None:
            server.power_state = status.power_state
    check(server, action)
    return server


def check(server: Server, action: str) -> None:
    """Refuse what the server's power state does not allow (``start``, ``stop``, ``reboot``, or
    anything else while the provider blocks it): before asking, and again before doing."""
    if server.power_state in BLOCKED:
        raise InvalidState(
            N_(
                "{server} is suspended by your provider, usually for an unpaid invoice: it cannot be "
                "started, stopped, reinstalled or reached until the suspension is lifted."
            ),
            server=server.hostname,
        )
    if action == "start" and server.power_state == "running":
        raise InvalidState(N_("{server} is already running."), server=server.hostname)
    if action == "stop" and server.power_state != "running":
        raise InvalidState(N_("{server} is not running."), server=server.hostname)
    if action == "reboot" and server.power_state != "running":
        raise InvalidState(N_("{server} is not running, so it cannot be rebooted."), server=server.hostname)


async def start(uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver) -> Server:
    server = await _actionable(uow, server_id, actor, driver, "start")
    server.power_state = await _drive(uow, actor, server, "start", driver.start(ref(server)))
    server.last_boot_at = clock.now()
    audit.record(uow, "server.start", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return server


async def stop(uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver) -> Server:
    """A clean shutdown (forced off if the system does not stop in time)."""
    server = await _actionable(uow, server_id, actor, driver, "stop")
    server.power_state = await _drive(uow, actor, server, "stop", driver.stop(ref(server)))
    audit.record(uow, "server.stop", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return server


async def reboot(uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver) -> Server:
    """Cycle the power of a running server."""
    server = await _actionable(uow, server_id, actor, driver, "reboot")
    server.power_state = await _drive(uow, actor, server, "reboot", driver.reboot(ref(server)))
    server.last_boot_at = clock.now()
    audit.record(uow, "server.reboot", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return server


async def templates(uow: UnitOfWork, server: Server, actor: Actor, driver: ServerDriver) -> list[OsTemplate]:
    """The operating systems ``server`` can be reinstalled with."""
    return await _drive(uow, actor, server, "templates", driver.templates(ref(server)))


async def reinstall(
    uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver, template_id: str, secret: str
) -> tuple[Server, LoginDetails]:
    """Wipe the server and install ``template_id``; the new login is kept sealed on the record
    (``login``) and returned once, for a private reply. The audit names the system, never the password."""
    try:
        sealing.derive(secret, sealing.LOGIN_DETAILS)
    except sealing.NoSecret:
        raise NoSecret() from None  # before anything is wiped: the new password could not be kept
    server = await _actionable(uow, server_id, actor, driver, "reinstall")
    offered = await templates(uow, server, actor, driver)
    template = next((t for t in offered if t.id == template_id), None)
    if template is None:
        raise InvalidState(N_("That operating system is not offered for {server}."), server=server.hostname)
    login = await _drive(uow, actor, server, "reinstall", driver.reinstall(ref(server), template))
    server.os = template.name[:60]
    server.power_state = "running"
    server.last_boot_at = clock.now()
    server.login_user = login.username[:32]
    server.login_secret = sealing.seal(secret, login.password)
    audit.record(
        uow, "server.reinstall", actor, f"server:{server.id}", hostname=server.hostname, os=template.id
    )
    await uow.commit()
    return server, login


async def login(uow: UnitOfWork, server_id: int, actor: Actor, secret: str) -> LoginDetails | None:
    """The login kept from the last install, or None; each reading is audited."""
    server = await owned(uow, Server, server_id, actor)
    if server.login_secret is None:
        return None
    try:
        password = sealing.unseal(secret, server.login_secret)
    except (sealing.NoSecret, sealing.Unreadable):
        log.warning("server %s: the sealed login cannot be read with the configured key", server.id)
        raise InvalidState(
            N_("The login details of {server} on file can no longer be read. Please open a ticket."),
            server=server.hostname,
        ) from None
    audit.record(uow, "server.login", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return LoginDetails(server.login_user, password)


async def console(uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver) -> ConsoleLink:
    """A one-time console link; each one handed out is audited."""
    server = await _actionable(uow, server_id, actor, driver, "console")
    link = await _drive(uow, actor, server, "console", driver.console(ref(server)))
    audit.record(uow, "server.console", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return link

"""Reverse DNS (PTR) of the account's servers: shown, and changed behind a confirmation."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Reply, UsageError
from handlers.common import confirmation
from services import hostnames, reverse_dns
from services.audit import Actor
from services.errors import N_
from services.ports import DnsDriver
from services.records import Customer, UnitOfWork
from services.reverse_dns import AddressPtr

router = Router()

ALIASES = {
    "en": ("rdns", "ptr", "reversedns"),
    "fr": ("rdns", "dnsinverse"),
    "id": ("rdns", "dnsbalik"),
    "tr": ("rdns", "tersdns"),
}


@dataclass(frozen=True)
class SetReverseDns:
    """Setting ``hostname`` (ASCII, checked) as the PTR of every address of a server."""

    server_id: int
    hostname: str


@router.command(
    "rdns",
    aliases=ALIASES,
    summary=N_(
        "reverse DNS (PTR) of your servers' addresses; set it with a host name (asks for confirmation)"
    ),
    usage=N_("[SERVER [HOSTNAME]]"),
    capability="settings",
    bare="read",
    confirms=SetReverseDns,
)
async def rdns(uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], dns: DnsDriver) -> Reply:
    if not args:
        return await _listing(uow, customer, dns)
    if len(args) > 2:
        raise UsageError()
    if len(args) == 1:
        found = await reverse_dns.lookup(uow, args[0], actor, dns)
        lines = [_("Reverse DNS of {server}:").format(server=found.name)]
        lines += [_address_line(address) for address in found.addresses]
        lines.append(
            _("To change it, send: {example}").format(
                example=f"/{ALIASES.get(current(), ALIASES['en'])[0]} {found.name} mail.example.com"
            )
        )
        return Reply("\n".join(lines))
    change = await reverse_dns.preview(uow, args[0], actor, args[1], dns)
    new = hostnames.shown(change.hostname)
    if not change.needed:
        return Reply(
            _("The reverse DNS of {server} is already {hostname}.").format(server=change.name, hostname=new)
        )
    lines = [_("Change the reverse DNS of {server}?").format(server=change.name)]
    for address in change.before:
        old = hostnames.shown(address.hostname) if address.hostname else _("not set")
        lines.append(f"{address.ip}: {old} → {new}")
    return confirmation("\n".join(lines), _("Change"), SetReverseDns(change.server_id, change.hostname))


@router.confirmer(SetReverseDns)
async def confirm_rdns(uow: UnitOfWork, actor: Actor, action: SetReverseDns, dns: DnsDriver) -> Reply:
    done = await reverse_dns.change(uow, action.server_id, actor, action.hostname, dns)
    lines = [
        _("The reverse DNS of {server} is now {hostname}.").format(
            server=done.name, hostname=hostnames.shown(action.hostname)
        )
    ]
    lines += [_forward(address) for address in done.addresses]
    return Reply("\n".join(lines))


async def _listing(uow: UnitOfWork, customer: Customer, dns: DnsDriver) -> Reply:
    servers = await reverse_dns.listing(uow, customer.id, dns)
    if not servers:
        return Reply(_("You have no servers."))
    lines = [_("Reverse DNS of your servers:")]
    for server in servers:
        for address in server.addresses:
            lines.append(f"{server.name} · {address.ip} → {_name(address)}")
    return Reply("\n".join(lines))


def _name(address: AddressPtr) -> str:
    if not address.managed:
        return _("not managed here")
    return hostnames.shown(address.hostname) if address.hostname else _("not set")


def _address_line(address: AddressPtr) -> str:
    line = f"{address.ip} → {_name(address)}"
    return f"{line}\n{_forward(address)}" if address.managed and address.hostname else line


def _forward(address: AddressPtr) -> str:
    """What the forward confirmation of an address found, as one sentence."""
    hostname = hostnames.shown(address.hostname)
    if address.forward is None:
        return _("Whether {hostname} resolves to {ip} could not be checked right now.").format(
            hostname=hostname, ip=address.ip
        )
    if address.forward:
        return _("{hostname} resolves to {ip}: the forward confirmation is complete.").format(
            hostname=hostname, ip=address.ip
        )
    return _(
        "{hostname} does not resolve to {ip}. Add an {type} record for {hostname} with {ip} in its domain's "
        "DNS: mail servers and others check that both directions match."
    ).format(hostname=hostname, ip=address.ip, type="AAAA" if ":" in address.ip else "A")

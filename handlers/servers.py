"""Servers: what each one is, its power, a reinstall, its console and its login.

A server is named by its hostname, an address or its order number; without a name, the account's
only server is meant, and with several the answer offers each as a button ("reboot my server").
Every change is confirmed; a reinstall, which wipes the disk, only once the server's name is typed.
What opens the machine (a new password, the login, a console link) is sent privately.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core import formatting
from bot.core.context import Context
from bot.core.forms import Form, Step
from bot.core.i18n import gettext as _
from bot.core.i18n import ngettext
from bot.core.phrases import fold
from bot.core.router import Router
from bot.core.types import Button, Reply
from handlers.common import bare, confirmation, label
from handlers.server_views import SERVER_WORDS, named_server
from services import clock
from services import servers as server_ops
from services.audit import Actor
from services.errors import N_
from services.ports import OsTemplate, ServerDriver
from services.records import Server, UnitOfWork

router = Router()


def _rest(args: list[str]) -> list[str]:
    """The arguments after the server's name (a reinstall's operating system)."""
    named = [a for a in args if fold(bare(a)) not in SERVER_WORDS]
    return named[1:]


# -- what a server is --------------------------------------------------------------------------


@router.command(
    "server",
    aliases={
        "en": ("server", "vps"),
        "fr": ("serveur",),
        "id": ("server", "vps"),
        "tr": ("sunucu",),
    },
    summary=N_("one server: configuration, state, addresses, reverse DNS"),
    usage=N_("SERVER"),
)
async def show(uow: UnitOfWork, actor: Actor, args: list[str], servers: ServerDriver) -> Reply:
    target = await named_server(uow, actor, args, "server")
    if isinstance(target, Reply):
        return target
    return _details(await server_ops.details(target, servers), target)


def _details(found: server_ops.Details, server: Server) -> Reply:
    title = _("{name} — {state}").format(name=found.hostname, state=label(found.power_state))
    if found.order_id is not None:
        title = _("{name} (order #{order}) — {state}").format(
            name=found.hostname, order=found.order_id, state=label(found.power_state)
        )
    lines = [title, _("Configuration: {config}").format(config=" · ".join(_configuration(found)))]
    lines.append(
        _("IPv4: {ip}, netmask {netmask}, gateway {gateway}").format(
            ip=found.ipv4, netmask=found.netmask, gateway=found.gateway
        )
    )
    lines.append(_("MAC address: {mac}").format(mac=found.mac))
    if found.ipv6:
        lines.append(_("IPv6: {addresses}").format(addresses=", ".join(found.ipv6)))
    lines.append(_("Reverse DNS: {name}").format(name=found.reverse_dns or "—"))
    if not found.live:
        lines.append(_("(As last recorded: the server's host did not answer just now.)"))
    name = server.hostname
    buttons = [
        [
            Button(_("Reboot"), command=f"reboot {name}"),
            Button(_("Stop"), command=f"stop {name}"),
            Button(_("Start"), command=f"poweron {name}"),
        ],
        [
            Button(_("Reinstall"), command=f"reinstall {name}"),
            Button(_("Console"), command=f"console {name}"),
            Button(_("Login details"), command=f"login {name}"),
        ],
    ]
    return Reply("\n".join(lines), buttons=buttons)


def _configuration(found: server_ops.Details) -> list[str]:
    parts = []
    if found.cpus:
        parts.append(ngettext("{count} vCPU", "{count} vCPUs", found.cpus).format(count=found.cpus))
    if found.memory_mb:
        memory = found.memory_mb
        size = formatting.capacity(memory // 1024, "gigabyte") if memory % 1024 == 0 else None
        parts.append(_("{size} RAM").format(size=size or formatting.capacity(memory, "megabyte")))
    if found.disk_gb:
        parts.append(_("{size} disk").format(size=formatting.capacity(found.disk_gb, "gigabyte")))
    parts.append(found.os)
    return parts


# -- power ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerOn:
    """Starting one of the account's servers."""

    server_id: int


@dataclass(frozen=True)
class Stop:
    """Shutting one of the account's servers down."""

    server_id: int


@dataclass(frozen=True)
class Reboot:
    """Rebooting one of the account's servers."""

    server_id: int


@router.command(
    "poweron",
    aliases={
        "en": ("poweron", "power on", "boot"),
        "fr": ("allumer",),
        "id": ("nyalakan", "hidupkan"),
        "tr": ("çalıştır",),
    },
    summary=N_("start a stopped server (asks for confirmation)"),
    usage=N_("SERVER"),
    capability="servers",
    confirms=PowerOn,
)
async def power_on(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    target = await named_server(uow, actor, args, "poweron")
    if isinstance(target, Reply):
        return target
    server_ops.check(target, "start")
    text = _("Start {name} ({ip})? It is {state} now.").format(
        name=target.hostname, ip=target.ip, state=label(target.power_state)
    )
    return confirmation(text, _("Start"), PowerOn(target.id))


@router.confirmer(PowerOn)
async def confirm_power_on(uow: UnitOfWork, actor: Actor, action: PowerOn, servers: ServerDriver) -> Reply:
    server = await server_ops.start(uow, action.server_id, actor, servers)
    return Reply(
        _("{name} was started and is {state}.").format(name=server.hostname, state=label(server.power_state))
    )


@router.command(
    "stop",
    aliases={
        "en": ("stop", "shutdown", "poweroff", "power off"),
        "fr": ("arreter", "eteindre"),
        "id": ("matikan", "hentikan"),
        "tr": ("kapat", "durdur"),
    },
    summary=N_("shut a server down (asks for confirmation)"),
    usage=N_("SERVER"),
    capability="servers",
    confirms=Stop,
)
async def stop(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    target = await named_server(uow, actor, args, "stop")
    if isinstance(target, Reply):
        return target
    server_ops.check(target, "stop")
    text = _(
        "Shut {name} ({ip}) down? It is {state} now; its system is asked to stop, and switched off "
        "if it has not within a minute. It stays off until you start it again."
    ).format(name=target.hostname, ip=target.ip, state=label(target.power_state))
    return confirmation(text, _("Shut down"), Stop(target.id))


@router.confirmer(Stop)
async def confirm_stop(uow: UnitOfWork, actor: Actor, action: Stop, servers: ServerDriver) -> Reply:
    server = await server_ops.stop(uow, action.server_id, actor, servers)
    return Reply(
        _("{name} was shut down and is {state}.").format(
            name=server.hostname, state=label(server.power_state)
        )
    )


@router.command(
    "reboot",
    aliases={
        "en": ("reboot", "restart"),
        "fr": ("redemarrer",),
        "id": ("reboot", "restart"),
        "tr": ("yenidenbaşlat",),
    },
    summary=N_("restart a server (asks for confirmation)"),
    usage=N_("SERVER"),
    capability="servers",
    confirms=Reboot,
)
async def reboot(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    target = await named_server(uow, actor, args, "reboot")
    if isinstance(target, Reply):
        return target
    server_ops.check(target, "reboot")
    text = _(
        "Reboot {name} ({ip})? It is {state} now; it will restart and be unreachable for a minute or two."
    ).format(name=target.hostname, ip=target.ip, state=label(target.power_state))
    return confirmation(text, _("Reboot"), Reboot(target.id))


@router.confirmer(Reboot)
async def confirm_reboot(uow: UnitOfWork, actor: Actor, action: Reboot, servers: ServerDriver) -> Reply:
    server = await server_ops.reboot(uow, action.server_id, actor, servers)
    return Reply(
        _("{name} was rebooted and is {state}.").format(name=server.hostname, state=label(server.power_state))
    )


# -- reinstall: a typed confirmation -------------------------------------------------------------


async def _typed(answer: str, ctx: Context, data: Mapping[str, Any]) -> str:
    return answer.strip()


async def _wipe(
    ctx: Context, uow: UnitOfWork, actor: Actor, data: Mapping[str, Any], servers: ServerDriver
) -> Reply:
    """The name was typed: reinstall if it is the server's and the question has not expired."""
    if clock.now() > dt.datetime.fromisoformat(str(data["until"])):
        return Reply(_("This confirmation has expired and nothing was reinstalled. Please ask again."))
    server = await server_ops.get(uow, int(data["server_id"]), actor)
    if fold(str(data["name"])) != fold(server.hostname):
        return Reply(
            _("That is not the server's name, so nothing was reinstalled. Send the command again to retry.")
        )
    server, login = await server_ops.reinstall(
        uow, server.id, actor, servers, str(data["template"]), ctx.settings.secret_key
    )
    text = "\n".join(
        [
            _("{name} was reinstalled with {os} and is {state}.").format(
                name=server.hostname, os=server.os, state=label(server.power_state)
            ),
            _("Log in as {user} with the password: {password}").format(
                user=login.username, password=login.password
            ),
            _("Change the password after your first login. Only you can see this message."),
        ]
    )
    return Reply(text, private=True)


WIPE = Form(
    name="reinstall",
    title=N_("Reinstall"),
    steps=(Step("name", N_("Type the server's name to confirm."), N_("Server name"), _typed),),
    finish=_wipe,
)


def _template(offered: list[OsTemplate], words: list[str]) -> OsTemplate | None:
    """The template the words name: its id ("debian-12", "9000") or its name ("Debian 12")."""
    wanted = fold(" ".join(words))
    return next((t for t in offered if wanted in (fold(t.id), fold(t.name))), None)


@router.command(
    "reinstall",
    aliases={
        "en": ("reinstall",),
        "fr": ("reinstaller",),
        "id": ("instalulang", "install ulang"),
        "tr": ("yenidenkur", "yeniden kur"),
    },
    summary=N_("erase a server and install an operating system (you type its name to confirm)"),
    usage=N_("SERVER [SYSTEM]"),
    capability="servers",
    follow_up=WIPE,
    sensitive=True,
)
async def reinstall(
    ctx: Context, uow: UnitOfWork, actor: Actor, args: list[str], servers: ServerDriver
) -> Reply:
    target = await named_server(uow, actor, args, "reinstall")
    if isinstance(target, Reply):
        return target
    server_ops.check(target, "reinstall")
    offered = await server_ops.templates(uow, target, actor, servers)
    wanted = _rest(args)
    template = _template(offered, wanted) if wanted else None
    if template is None:
        text = _("Which operating system should {name} get? Everything on its disk will be erased.").format(
            name=target.hostname
        )
        if wanted:
            text = _("{name} cannot get that system. Pick one:").format(name=target.hostname)
        buttons = [[Button(t.name, command=f"reinstall {target.hostname} {t.id}")] for t in offered]
        return Reply(text, buttons=buttons)
    until = clock.now() + dt.timedelta(seconds=ctx.settings.confirm_ttl_seconds)
    data = {"server_id": target.id, "template": template.id, "until": until.isoformat()}
    await ctx.open_form(WIPE.name, WIPE.steps[0].name, data)
    text = _(
        "Reinstalling {name} with {os} erases everything on its disk: files, databases and settings. "
        "This cannot be undone.\nTo go ahead, type the server's name: {name}"
    ).format(name=target.hostname, os=template.name)
    return Reply(text, buttons=[[Button(_("Cancel"), answer="cancel")]])


# -- what opens the machine: private only -----------------------------------------------------------


@router.command(
    "console",
    aliases={"en": ("console", "kvm"), "fr": ("console",), "id": ("konsol",), "tr": ("konsol",)},
    summary=N_("a one-time console link to a server (sent privately)"),
    usage=N_("SERVER"),
    capability="servers",
    sensitive=True,
)
async def console(uow: UnitOfWork, actor: Actor, args: list[str], servers: ServerDriver) -> Reply:
    target = await named_server(uow, actor, args, "console")
    if isinstance(target, Reply):
        return target
    server_ops.check(target, "console")
    link = await server_ops.console(uow, target.id, actor, servers)
    left = max(int((link.expires_at - clock.now()).total_seconds()), 1)
    text = _("Console of {name}: the link works once, for the next {duration}.\n{url}").format(
        name=target.hostname, duration=formatting.duration(left), url=link.url
    )
    return Reply(text, buttons=[[Button(_("Open the console"), url=link.url)]], private=True)


@router.command(
    "login",
    aliases={
        "en": ("login", "credentials"),
        "fr": ("identifiants", "acces"),
        "id": ("akses", "kredensial"),
        "tr": ("giriş", "erişim"),
    },
    summary=N_("a server's login details (sent privately)"),
    usage=N_("SERVER"),
    capability="servers",
    sensitive=True,
)
async def login(ctx: Context, uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    target = await named_server(uow, actor, args, "login")
    if isinstance(target, Reply):
        return target
    found = await server_ops.login(uow, target.id, actor, ctx.settings.secret_key)
    if found is None:
        return Reply(
            _("There are no login details on file for {name}; a reinstall from here sets new ones.").format(
                name=target.hostname
            ),
            private=True,
        )
    text = _("Login details of {name} ({ip}): user {user}, password {password}").format(
        name=target.hostname, ip=target.ip, user=found.username, password=found.password
    )
    return Reply(text, private=True)

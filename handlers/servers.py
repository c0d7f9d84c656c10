"""Server power actions, always behind a confirmation."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Reply, UsageError
from handlers.common import confirmation, label
from services import orders
from services.audit import Actor
from services.errors import N_
from services.ports import ServerDriver
from services.records import UnitOfWork

router = Router()


@dataclass(frozen=True)
class Reboot:
    """Rebooting one of the account's servers."""

    server_id: int


@router.command(
    "reboot",
    aliases={
        "en": ("reboot", "restart"),
        "fr": ("redemarrer",),
        "id": ("reboot", "restart"),
        "tr": ("yenidenbaslat",),
    },
    summary=N_("restart a server (asks for confirmation)"),
    usage=N_("SERVER"),
    capability="destructive",
    confirms=Reboot,
)
async def reboot(uow: UnitOfWork, actor: Actor, args: list[str]) -> Reply:
    if not args:
        raise UsageError()
    server = await orders.find_server(uow, args[0], actor)
    text = _(
        "Reboot {name} ({ip})? It is {state} now; it will restart and be unreachable for a minute or two."
    ).format(name=server.hostname, ip=server.ip, state=label(server.power_state))
    return confirmation(text, _("Reboot"), Reboot(server.id))


@router.confirmer(Reboot)
async def confirm_reboot(uow: UnitOfWork, actor: Actor, action: Reboot, servers: ServerDriver) -> Reply:
    server = await orders.reboot(uow, action.server_id, actor, servers)
    return Reply(
        _("{name} was rebooted and is {state}.").format(name=server.hostname, state=label(server.power_state))
    )

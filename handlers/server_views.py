"""Naming a server in a command: by hostname, address or order number, or the account's only one;
with several and none named, which one? (buttons that run the command again with the name)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import gettext as _
from bot.core.phrases import FILLERS, fold
from bot.core.types import Button, Reply
from handlers.common import bare
from services import servers as server_ops
from services.audit import Actor
from services.records import Server, UnitOfWork

# Words that say "a server" rather than name one ("reboot my server", "redemarrer serveur").
SERVER_WORDS = FILLERS | {"server", "servers", "serveur", "serveurs", "vps", "sunucu", "sunucum", "sunucuyu"}


async def named_server(uow: UnitOfWork, actor: Actor, args: list[str], command: str) -> Server | Reply:
    """The server the arguments name, or the account's only one; with several, which one? (buttons)."""
    name = next((bare(a) for a in args if fold(bare(a)) not in SERVER_WORDS and bare(a)), None)
    found: Sequence[Server]
    if name is not None:
        found = await server_ops.named(uow, name, actor)
    else:
        found = await server_ops.of_customer(uow, actor.customer_id)
    if not found:
        return Reply(_("You have no servers."))
    if len(found) == 1:
        return found[0]
    return Reply(
        _("Which server?"),
        buttons=[[Button(s.hostname, command=f"{command} {s.hostname}")] for s in found],
    )

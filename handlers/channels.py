"""Sharing a group chat with the team: bind it to the account, or stop sharing it."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.i18n import gettext as _
from bot.core.router import Router
from bot.core.types import Reply
from services import channels
from services.audit import Actor
from services.errors import N_
from services.records import Customer, UnitOfWork

router = Router()


def _group_only() -> Reply:
    return Reply(_("Use this command in the channel or group you want to share with your team."))


@router.command(
    "sharechannel",
    aliases={
        "en": ("sharechannel", "share channel"),
        "fr": ("partagercanal", "partager canal"),
        "id": ("bagikanal", "bagi kanal"),
        "tr": ("kanalpaylaş", "kanal paylaş"),
    },
    summary=N_("share the account with everyone in this channel (those not linked to it may only read)"),
    capability="linking",
)
async def share_channel(ctx: Context, uow: UnitOfWork, actor: Actor, customer: Customer) -> Reply:
    incoming = ctx.incoming
    if not incoming.is_group or not incoming.chat_id:
        return _group_only()
    await channels.bind(uow, incoming.platform, incoming.workspace, incoming.chat_id, actor)
    return Reply(
        _(
            "This channel now shares the account of {name}. Everyone here can read it; paying, "
            "renewing and rebooting stay with the owners and admins linked with their own code."
        ).format(name=customer.name)
    )


@router.command(
    "unsharechannel",
    aliases={
        "en": ("unsharechannel", "unshare channel"),
        "fr": ("departagercanal", "ne plus partager canal"),
        "id": ("hentikanbagikanal", "hentikan bagi kanal"),
        "tr": ("kanalpaylaşmabitir", "kanal paylaşma bitir"),
    },
    summary=N_("stop sharing the account in this channel"),
    capability="linking",
)
async def unshare_channel(ctx: Context, uow: UnitOfWork, actor: Actor) -> Reply:
    incoming = ctx.incoming
    if not incoming.is_group or not incoming.chat_id:
        return _group_only()
    if not await channels.unbind(uow, incoming.platform, incoming.workspace, incoming.chat_id, actor):
        return Reply(_("This channel was not sharing your account."))
    return Reply(_("This channel no longer shares the account."))

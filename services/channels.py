"""Binding a group chat to a customer account, so that a team shares the account in that channel."""

from __future__ import annotations

from sqlalchemy import delete, select

from services import audit
from services.audit import Actor
from services.errors import N_, InvalidState
from storage.models import ChannelBinding, Customer
from storage.uow import UnitOfWork


async def bound_customer(uow: UnitOfWork, platform: str, workspace: str, chat_id: str) -> Customer | None:
    """The account a group chat is bound to, if any."""
    customer_id = await uow.session.scalar(
        select(ChannelBinding.customer_id).where(
            ChannelBinding.platform == platform,
            ChannelBinding.workspace == workspace,
            ChannelBinding.chat_id == chat_id,
        )
    )
    return None if customer_id is None else await uow.session.get(Customer, customer_id)


async def bind(uow: UnitOfWork, platform: str, workspace: str, chat_id: str, actor: Actor) -> bool:
    """Bind the chat to the actor's account; False when it already was. Another account's channel
    stays with that account."""
    current = await bound_customer(uow, platform, workspace, chat_id)
    if current is not None:
        if current.id != actor.customer_id:
            audit.record(uow, "channel.bind", actor, f"chat:{platform}:{chat_id}", outcome="denied")
            await uow.commit()
            raise InvalidState(N_("This channel is already shared with another account."))
        return False
    uow.session.add(
        ChannelBinding(
            platform=platform,
            workspace=workspace,
            chat_id=chat_id,
            customer_id=actor.customer_id,
            bound_by=actor.identity_id,
        )
    )
    audit.record(uow, "channel.bind", actor, f"chat:{platform}:{chat_id}")
    await uow.commit()
    return True


async def unbind(uow: UnitOfWork, platform: str, workspace: str, chat_id: str, actor: Actor) -> bool:
    """Remove the actor's account from the chat; False when it was not bound to it."""
    removed = await uow.session.execute(
        delete(ChannelBinding).where(
            ChannelBinding.platform == platform,
            ChannelBinding.workspace == workspace,
            ChannelBinding.chat_id == chat_id,
            ChannelBinding.customer_id == actor.customer_id,
        )
    )
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.record(uow, "channel.unbind", actor, f"chat:{platform}:{chat_id}")
    await uow.commit()
    return True

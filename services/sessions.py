"""Every chat linked to an account (seed 001's record of recent access, for a chat bot): the people
linked one by one, with their role, when they were linked and when they last wrote, and the group
chats shared with the whole team; and revoking any of them from elsewhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from services import audit, chat_records, clock, linking
from services.access import owned
from services.audit import Actor
from storage.models import ChannelBinding, ChatIdentity, Conversation
from storage.uow import UnitOfWork

SEEN_EVERY = dt.timedelta(minutes=1)


def seen(uow: UnitOfWork, ident: ChatIdentity, platform_language: str | None) -> None:
    """Note that ``ident`` wrote now (at most once a minute, so a busy chat writes nothing more per
    message) and the language its app is set to, when told and changed (for the alerts sent to
    this chat later). Saved with the update's own commit, after the reply."""
    now = clock.now()
    last = ident.last_seen_at
    due = last is None or now - last >= SEEN_EVERY
    language = platform_language if platform_language is not None else ident.platform_language
    if due or language != ident.platform_language:
        chat_records.note_sender(uow, ident, now if due else last, language)


@dataclass(frozen=True)
class LinkedChat:
    """One person's chat (``channel`` False: ``ref`` is the identity's id) or a shared group chat
    (``channel`` True: ``ref`` is the binding's id; everyone there reads as a guest)."""

    channel: bool
    ref: int
    platform: str
    who: str
    role: str
    linked_at: dt.datetime
    last_seen_at: dt.datetime | None


async def listing(uow: UnitOfWork, customer_id: int) -> Sequence[LinkedChat]:
    """People first, the most recently seen first; then shared channels, the newest first."""
    people = await uow.session.scalars(
        select(ChatIdentity)
        .where(ChatIdentity.customer_id == customer_id)
        .order_by(ChatIdentity.last_seen_at.desc().nulls_last(), ChatIdentity.id)
    )
    channels = await uow.session.scalars(
        select(ChannelBinding)
        .where(ChannelBinding.customer_id == customer_id)
        .order_by(ChannelBinding.created_at.desc(), ChannelBinding.id)
    )
    # A chat linked without a code (an import, a script) has no linked_at: when it was first known.
    return [
        *(
            LinkedChat(
                False, p.id, p.platform, p.user_id, p.role, p.linked_at or p.created_at, p.last_seen_at
            )
            for p in people
        ),
        *(LinkedChat(True, c.id, c.platform, c.chat_id, "guest", c.created_at, None) for c in channels),
    ]


async def person(uow: UnitOfWork, identity_id: int, actor: Actor) -> ChatIdentity:
    """A chat linked to the actor's account (someone else's is audited and looks missing)."""
    return await owned(uow, ChatIdentity, identity_id, actor)


async def channel(uow: UnitOfWork, binding_id: int, actor: Actor) -> ChannelBinding:
    return await owned(uow, ChannelBinding, binding_id, actor)


async def revoke_person(uow: UnitOfWork, identity_id: int, actor: Actor) -> ChatIdentity:
    """Unlink that chat from the account: its next message gets the link instructions, its open
    form is closed and its buttons stop working for the account (they are re-authorised on press)."""
    ident = await person(uow, identity_id, actor)
    audit.record(
        uow, "session.revoke", actor, f"identity:{ident.id}", platform=ident.platform, role=ident.role
    )
    linking.detach(ident)
    await uow.session.execute(delete(Conversation).where(Conversation.identity_id == ident.id))
    await uow.commit()
    return ident


async def revoke_channel(uow: UnitOfWork, binding_id: int, actor: Actor) -> ChannelBinding:
    """Stop sharing the account in that group chat, from anywhere."""
    binding = await channel(uow, binding_id, actor)
    audit.record(uow, "channel.unbind", actor, f"chat:{binding.platform}:{binding.chat_id}")
    await uow.session.delete(binding)
    await uow.commit()
    return binding

"""Alerts in shared chats: which alert kinds the owners and admins of an account send to a group
chat the account is shared with (``services.channels``), in which language.

A shared chat gets nothing until someone chooses: a team's channel is never told about money by
surprise. What it gets is an alert's shared wording (``bot.alerts.messages``): amounts and dates,
never a pay link, a button or the text of a support reply. Where each alert goes, and what was
posted where, is the outbox's business (``services.alerts.outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select

from services import audit
from services.audit import Actor
from services.errors import NotFound
from storage.models import ChannelBinding
from storage.uow import UnitOfWork

# The kinds of ``services.alert_prefs`` (renewal, autorenew, lowbalance, overdue, ticket) and two
# a person cannot turn off in their own chat: payments that landed, and an unpaid order's
# suspension or termination (``services.service_lifecycle``).
KINDS = ("renewal", "autorenew", "lowbalance", "overdue", "ticket", "payment", "lifecycle")
PAYMENTS = frozenset({"invoice_paid", "payment_credited"})


def kind_of(alert_kind: str) -> str | None:
    """The kind a shared chat chooses for an alert of ``alert_kind`` (both payment notices are
    ``payment``); None for an alert that never goes to a shared chat (the support desk's news)."""
    if alert_kind in PAYMENTS:
        return "payment"
    return alert_kind if alert_kind in KINDS else None


async def shared_chat(
    uow: UnitOfWork, customer_id: int, platform: str, workspace: str, chat_id: str
) -> ChannelBinding | None:
    """The chat's binding when it shares this customer's account, else None."""
    return await uow.session.scalar(
        select(ChannelBinding).where(
            ChannelBinding.platform == platform,
            ChannelBinding.workspace == workspace,
            ChannelBinding.chat_id == chat_id,
            ChannelBinding.customer_id == customer_id,
        )
    )


async def configure(
    uow: UnitOfWork, actor: Actor, binding_id: int, kinds: Iterable[str], language: str | None
) -> ChannelBinding:
    """Send exactly ``kinds`` to the shared chat from now on, in ``language`` (None: the
    account's). ``NotFound`` when the chat no longer shares the actor's account; audited with
    what it was before."""
    chosen = sorted(set(kinds))
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown alert kinds {unknown}")
    binding = await uow.session.get(ChannelBinding, binding_id)
    if binding is None or binding.customer_id != actor.customer_id:
        raise NotFound()
    audit.record(
        uow,
        "channel.alerts",
        actor,
        f"chat:{binding.platform}:{binding.chat_id}",
        kinds=chosen,
        language=language,
        before={"kinds": list(binding.alert_kinds or []), "language": binding.language},
    )
    binding.alert_kinds = [k for k in KINDS if k in chosen]
    binding.language = language
    await uow.commit()
    return binding


async def taken(uow: UnitOfWork, customer_id: int) -> set[str]:
    """Every kind that at least one of the customer's shared chats takes."""
    rows = await uow.session.scalars(
        select(ChannelBinding.alert_kinds).where(ChannelBinding.customer_id == customer_id)
    )
    return {kind for kinds in rows.all() for kind in kinds or []}


async def takers(uow: UnitOfWork, customer_id: int, alert_kind: str) -> Sequence[ChannelBinding]:
    """The customer's shared chats that take alerts of ``alert_kind``, oldest binding first (a
    customer shares a handful of chats: their choices are read here, not in SQL, so that both
    databases read the JSON list the same way)."""
    kind = kind_of(alert_kind)
    if kind is None:
        return []
    rows = await uow.session.scalars(
        select(ChannelBinding).where(ChannelBinding.customer_id == customer_id).order_by(ChannelBinding.id)
    )
    return [b for b in rows.all() if kind in (b.alert_kinds or [])]

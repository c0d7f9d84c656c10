"""The Slack workspaces that installed the app (OAuth v2), and the installs under way.

An install is a row per workspace (its team id is the ``workspace`` of its people's chat identities)
with the bot token sealed under its own key from ``SECRET_KEY``: a copy of the database alone speaks
to no workspace. A reinstall replaces the row. An uninstall (Slack's ``app_uninstalled`` or the bot
token's ``tokens_revoked``) deletes it, unlinks every identity of the workspace from its account and
stops sharing its channels, all audited: whoever installs the app there again starts unlinked.

An install under way is the OAuth ``state`` handed to Slack at ``/slack/install``: kept as a hash,
good once, for a few minutes (every replica sees it, whichever one Slack redirects back to).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from services import audit, clock, linking, sealing
from services.audit import Actor
from storage.models import ChannelBinding, ChatIdentity, SlackInstallation, SlackOAuthState
from storage.uow import UnitOfWork

log = logging.getLogger("hostbot.slack.installs")
PLATFORM = "slack"


@dataclass(frozen=True)
class Workspace:
    """One workspace's install as the Slack adapter uses it; ``bot_token`` in clear."""

    team_id: str
    team_name: str
    app_id: str
    bot_id: str
    bot_user_id: str
    bot_scopes: str
    bot_token: str
    installer: str = ""
    installed_at: dt.datetime | None = None


async def save(uow: UnitOfWork, secret: str, workspace: Workspace) -> None:
    """Keep ``workspace``'s install (a new one, or the workspace's again with a new token), audited."""
    insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
    values = {
        "team_name": workspace.team_name,
        "app_id": workspace.app_id,
        "bot_id": workspace.bot_id,
        "bot_user_id": workspace.bot_user_id,
        "bot_scopes": workspace.bot_scopes,
        "bot_token": sealing.seal(secret, workspace.bot_token, sealing.SLACK_TOKENS),
        "installer": workspace.installer,
        "installed_at": clock.now(),
    }
    await uow.session.execute(
        insert(SlackInstallation)
        .values(team_id=workspace.team_id, **values)
        .on_conflict_do_update(index_elements=["team_id"], set_=values)
    )
    audit.record(uow, "slack.install", None, f"slack:{workspace.team_id}", installer=workspace.installer)
    await uow.commit()


async def find(uow: UnitOfWork, secret: str, team_id: str) -> Workspace | None:
    """The workspace's install, None when it has none (or its token was sealed under another
    ``SECRET_KEY``: the workspace must install the app again)."""
    row = await uow.session.scalar(select(SlackInstallation).where(SlackInstallation.team_id == team_id))
    if row is None:
        return None
    try:
        token = sealing.unseal(secret, row.bot_token, sealing.SLACK_TOKENS)
    except sealing.Unreadable:
        log.warning("the bot token of Slack workspace %s is unreadable with this SECRET_KEY", team_id)
        return None
    return Workspace(
        row.team_id,
        row.team_name,
        row.app_id,
        row.bot_id,
        row.bot_user_id,
        row.bot_scopes,
        token,
        row.installer,
        row.installed_at,
    )


async def uninstall(uow: UnitOfWork, team_id: str, reason: str) -> int:
    """Forget the workspace: its install, its people's links to accounts and its shared channels,
    each audited (``reason``: the Slack event). Returns how many identities were unlinked; nothing
    is written for a workspace already forgotten (Slack may tell twice)."""
    removed = await uow.session.execute(delete(SlackInstallation).where(SlackInstallation.team_id == team_id))
    linked = (
        await uow.session.scalars(
            select(ChatIdentity).where(
                ChatIdentity.platform == PLATFORM,
                ChatIdentity.workspace == team_id,
                ChatIdentity.customer_id.is_not(None),
            )
        )
    ).all()
    for ident in linked:
        assert ident.customer_id is not None
        audit.record(uow, "unlink", Actor(ident.customer_id, ident.id), f"identity:{ident.id}", reason=reason)
        linking.detach(ident)
    channels = (
        await uow.session.scalars(
            select(ChannelBinding).where(
                ChannelBinding.platform == PLATFORM, ChannelBinding.workspace == team_id
            )
        )
    ).all()
    for channel in channels:
        audit.record(
            uow,
            "channel.unbind",
            Actor(channel.customer_id),
            f"chat:{PLATFORM}:{channel.chat_id}",
            reason=reason,
        )
        await uow.session.delete(channel)
    if removed.rowcount or linked or channels:  # type: ignore[attr-defined]
        audit.record(uow, "slack.uninstall", None, f"slack:{team_id}", reason=reason, unlinked=len(linked))
        await uow.commit()
    return len(linked)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def issue_state(uow: UnitOfWork, ttl: dt.timedelta) -> str:
    """A new install's state (256 random bits), good once within ``ttl``; the expired ones go."""
    now = clock.now()
    await uow.session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at <= now))
    state = secrets.token_urlsafe(32)
    uow.session.add(SlackOAuthState(state_hash=_hash(state), expires_at=now + ttl))
    await uow.commit()
    return state


async def consume_state(uow: UnitOfWork, state: str) -> bool:
    """Whether ``state`` is a live install's, using it up (of two redirects with it, one is True)."""
    used = await uow.session.execute(
        delete(SlackOAuthState).where(
            SlackOAuthState.state_hash == _hash(state), SlackOAuthState.expires_at > clock.now()
        )
    )
    await uow.commit()
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]

"""Periodic clean-up of short-lived rows: expired buttons, forms, link codes, mailed codes, old
update ids, and mails sent (or expired) a month ago."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from services import clock
from storage.models import ActionKey, Conversation, LinkCode, Mail, MailCode, ProcessedUpdate
from storage.uow import UnitOfWork

KEEP_UPDATE_IDS = dt.timedelta(days=7)
KEEP_MAILS = dt.timedelta(days=30)


async def purge(uow: UnitOfWork) -> int:
    """Delete what can no longer be used; returns how many rows went."""
    now = clock.now()
    removed = 0
    for stmt in (
        delete(ActionKey).where(ActionKey.expires_at < now),
        delete(Conversation).where(Conversation.expires_at < now),
        delete(LinkCode).where(LinkCode.expires_at < now),
        delete(MailCode).where(MailCode.expires_at < now),
        delete(Mail).where(Mail.state.in_(("sent", "expired")), Mail.created_at < now - KEEP_MAILS),
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - KEEP_UPDATE_IDS),
    ):
        result = await uow.session.execute(stmt)
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await uow.commit()
    return removed

"""The mail outbox: a mail is a row written in the transaction that has something to tell, and
sent by a worker once that transaction has committed, so a rolled-back ticket mails nothing and a
committed one is never forgotten, whatever the mail server does meanwhile.

Sending follows the alerts outbox (``services.alerts.outbox``): a worker claims rows in a short
transaction (``sending``, with a lease), sends outside any transaction, and settles each row only
while its claim is still its own. A worker that dies leaves its rows to be taken over when the
lease runs out; one that stops hands them back (``release``). The ``Message-ID`` is chosen when
the row is written, so every attempt sends the same message.

A process that sends mail itself (``hostbot run``, the shell) asks to be woken as soon as a
transaction that wrote a mail commits (``wake_on_commit``), instead of at its next round.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services import clock
from storage.models import Customer, Mail
from storage.sets import insert_rows
from storage.uow import Database, UnitOfWork

STATES = ("pending", "sending", "sent", "dead", "expired")
SETTLED = ("sent", "dead", "expired")
_WAKE = "hostbot.mail.wake"


def worker_id() -> str:
    return secrets.token_hex(8)


def wake_on_commit(db: Database, wake: Callable[[], None]) -> None:
    """Call ``wake`` after every transaction of ``db`` that wrote a mail has committed."""
    db.sessions.configure(info={_WAKE: wake})


async def add(
    uow: UnitOfWork,
    key: str,
    kind: str,
    to: str,
    params: dict[str, Any],
    *,
    customer_id: int | None = None,
    language: str = "",
    secret: bool = False,
    not_after: dt.datetime | None = None,
) -> bool:
    """Write the mail unless its ``key`` exists; True when this call wrote it. Does not commit:
    it is sent only if the caller's transaction commits. ``secret``: ``params`` hold a code,
    emptied once the mail is settled; ``not_after``: not worth sending after that (the code has
    expired)."""
    now = clock.now()
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    result = await uow.session.execute(
        insert(Mail)
        .values(
            key=key,
            message_id=secrets.token_hex(16),
            customer_id=customer_id,
            kind=kind,
            to_addr=to,
            language=language,
            params=params,
            secret=secret,
            state="pending",
            attempts=0,
            not_before=now,
            not_after=not_after,
            last_error="",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    wake = uow.session.info.get(_WAKE)
    if wake is not None:
        uow.after_commit(wake)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Draft:
    """One mail for ``add_all``: what ``add`` takes, without a secret or a deadline."""

    key: str
    kind: str
    to: str
    params: dict[str, Any]
    customer_id: int | None
    language: str


async def add_all(uow: UnitOfWork, drafts: Sequence[Draft]) -> int:
    """``add`` for many mails in one statement (keys that exist are skipped); how many were
    written. Does not commit. The rows go as one statement compiled once whatever their number
    (``insert_rows``)."""
    if not drafts:
        return 0
    now = clock.now()
    written = await insert_rows(
        uow,
        Mail,
        [
            {
                "key": d.key,
                "message_id": secrets.token_hex(16),
                "customer_id": d.customer_id,
                "kind": d.kind,
                "to_addr": d.to,
                "language": d.language,
                "params": d.params,
                "secret": False,
                "state": "pending",
                "attempts": 0,
                "not_before": now,
                "not_after": None,
                "last_error": "",
                "created_at": now,
            }
            for d in drafts
        ],
        skip_conflicts=True,
    )
    wake = uow.session.info.get(_WAKE)
    if wake is not None:
        uow.after_commit(wake)
    return len(written)


def _claimable(now: dt.datetime) -> Any:
    return or_(
        (Mail.state == "pending") & (Mail.not_before <= now),
        (Mail.state == "sending") & (Mail.claimed_until < now),
    )


async def claim(uow: UnitOfWork, worker: str, limit: int, lease_seconds: int) -> list[int]:
    """Take up to ``limit`` mails that are due (or whose worker's lease ran out) and commit.
    PostgreSQL skips rows another worker is claiming; SQLite has one writer at a time."""
    now = clock.now()
    pick = select(Mail.id).where(_claimable(now)).order_by(Mail.id).limit(limit)
    if uow.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = await uow.session.scalars(
        update(Mail)
        .where(Mail.id.in_(pick.scalar_subquery()), _claimable(now))
        .values(state="sending", claimed_by=worker, claimed_until=now + dt.timedelta(seconds=lease_seconds))
        .returning(Mail.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(rows.all())
    await uow.commit()
    return ids


async def held(uow: UnitOfWork, mail_id: int, worker: str) -> Mail | None:
    """The mail while ``worker`` still holds its claim, else None (settled, or taken over)."""
    mail = await uow.session.get(Mail, mail_id)
    if mail is None or mail.state != "sending" or mail.claimed_by != worker:
        return None
    return mail


async def extend(uow: UnitOfWork, mail_id: int, worker: str, lease_seconds: int) -> bool:
    """Push the lease forward just before a send; False when the claim was lost. Commits."""
    result = await uow.session.execute(
        update(Mail)
        .where(Mail.id == mail_id, Mail.claimed_by == worker, Mail.state == "sending")
        .values(claimed_until=clock.now() + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(uow: UnitOfWork, mail_id: int, worker: str, state: str, secret: bool, **values: Any) -> bool:
    """Leave ``sending`` for ``state`` if the claim is still ``worker``'s; a settled secret mail
    forgets its code. Commits; False when the claim was lost (another worker has the mail)."""
    if state in SETTLED and secret:
        values["params"] = {}
    result = await uow.session.execute(
        update(Mail)
        .where(Mail.id == mail_id, Mail.claimed_by == worker, Mail.state == "sending")
        .values(state=state, claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(uow: UnitOfWork, worker: str) -> int:
    """Hand back every mail ``worker`` holds (it is stopping), due at once; commits."""
    result = await uow.session.execute(
        update(Mail)
        .where(Mail.claimed_by == worker, Mail.state == "sending")
        .values(state="pending", claimed_by=None, claimed_until=None, not_before=clock.now())
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def requeue(uow: UnitOfWork, ids: Sequence[int] | None = None) -> int:
    """Dead letters back to pending with a fresh count of attempts (all of them, or ``ids``);
    codes are not: they have expired or will before long (the person asks for a new one).
    Commits; returns how many."""
    query = (
        update(Mail)
        .where(Mail.state == "dead", Mail.secret.is_(False))
        .values(state="pending", attempts=0, not_before=clock.now(), last_error="")
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        query = query.where(Mail.id.in_(list(ids)))
    result = await uow.session.execute(query)
    await uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def counts(uow: UnitOfWork) -> dict[str, int]:
    rows = await uow.session.execute(select(Mail.state, func.count()).group_by(Mail.state))
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


async def dead_letters(uow: UnitOfWork, limit: int = 50) -> Sequence[Mail]:
    rows = await uow.session.scalars(
        select(Mail).where(Mail.state == "dead").order_by(Mail.id.desc()).limit(limit)
    )
    return rows.all()


async def by_key(uow: UnitOfWork, key: str) -> Mail | None:
    return await uow.session.scalar(select(Mail).where(Mail.key == key))


async def addressee(uow: UnitOfWork, mail: Mail) -> Customer | None:
    """The account the mail is about (None for a mail about no account, or one since deleted)."""
    return await uow.session.get(Customer, mail.customer_id) if mail.customer_id is not None else None

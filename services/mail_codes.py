"""Six-digit codes mailed to an address, to prove that the person in a chat reads that mailbox.

A code is short enough to type, so what protects it is not its size: it works for one chat only
(the one that asked), once, for 15 minutes, and for at most ``MAX_TRIES`` tries, counted in the
database before the code is compared (committed even when the caller's transaction is rolled
back), besides the callers' rate limits per chat and per address. Asking again voids the earlier
code of that chat. Only a hash is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from services import audit, clock
from services.audit import Actor
from services.errors import N_, DomainError
from storage.models import MailCode
from storage.uow import UnitOfWork

CODE_TTL = dt.timedelta(minutes=15)
MAX_TRIES = 5
DIGITS = 6


class WrongCode(DomainError):
    message = N_("That code is not the one we sent. Check the e-mail and try again.")


class NoCode(DomainError):
    message = N_(
        "There is no valid code for this chat: it has expired, was used, or was tried too often. "
        "Ask for a new one."
    )


def _hash(kind: str, identity_id: int, code: str) -> str:
    return hashlib.sha256(f"{kind}:{identity_id}:{code}".encode()).hexdigest()


def well_formed(text: str) -> bool:
    """Six ASCII digits (spaces around them are the caller's to strip)."""
    return len(text) == DIGITS and text.isascii() and text.isdigit()


async def issue(
    uow: UnitOfWork,
    kind: str,
    identity_id: int,
    email: str,
    *,
    customer_id: int | None,
    usable: bool = True,
    role: str = "member",
    purpose: str = "",
) -> tuple[MailCode, str]:
    """A fresh code for the chat ``identity_id`` (its earlier live code of this ``kind`` is voided)
    and the code itself, to be mailed. ``usable`` False: a row that no code opens (the address
    belongs to nobody), kept so the chat sees the same thing either way. Does not commit."""
    now = clock.now()
    await uow.session.execute(
        update(MailCode)
        .where(MailCode.identity_id == identity_id, MailCode.kind == kind, MailCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    row = MailCode(
        kind=kind,
        identity_id=identity_id,
        customer_id=customer_id,
        email=email,
        purpose=purpose,
        role=role,
        code_hash=_hash(kind, identity_id, code) if usable else "",
        attempts=0,
        expires_at=now + CODE_TTL,
        created_at=now,
    )
    uow.session.add(row)
    await uow.flush()
    return row, code


async def live(uow: UnitOfWork, kind: str, identity_id: int) -> MailCode | None:
    """The chat's code of this kind that may still be tried."""
    return await uow.session.scalar(
        select(MailCode)
        .where(
            MailCode.identity_id == identity_id,
            MailCode.kind == kind,
            MailCode.used_at.is_(None),
            MailCode.expires_at > clock.now(),
            MailCode.attempts < MAX_TRIES,
        )
        .order_by(MailCode.id.desc())
        .limit(1)
    )


async def use(uow: UnitOfWork, kind: str, identity_id: int, code: str, actor: Actor | None) -> MailCode:
    """The chat's live code if ``code`` is it, used up; ``WrongCode`` or ``NoCode`` otherwise.
    The try is counted and committed before the comparison, so a rollback cannot give it back."""
    row = await live(uow, kind, identity_id)
    counted = None
    if row is not None:
        counted = await uow.session.execute(
            update(MailCode)
            .where(MailCode.id == row.id, MailCode.used_at.is_(None), MailCode.attempts < MAX_TRIES)
            .values(attempts=MailCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    if row is None or counted is None or counted.rowcount != 1:  # type: ignore[attr-defined]
        audit.record(uow, f"{kind}.code", actor, f"identity:{identity_id}", outcome="denied")
        await uow.commit()
        raise NoCode()
    await uow.commit()
    if not hmac.compare_digest(row.code_hash, _hash(kind, identity_id, code.strip())):
        audit.record(uow, f"{kind}.code", actor, f"identity:{identity_id}", outcome="denied")
        await uow.commit()
        raise WrongCode()
    used = await uow.session.execute(
        update(MailCode)
        .where(MailCode.id == row.id, MailCode.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # used by a concurrent try meanwhile
        raise NoCode()
    return row


async def pending(uow: UnitOfWork, kind: str, customer_id: int) -> list[MailCode]:
    """The codes of this kind sent for an account and still usable (mailboxes waiting for one)."""
    rows = await uow.session.scalars(
        select(MailCode)
        .where(
            MailCode.customer_id == customer_id,
            MailCode.kind == kind,
            MailCode.used_at.is_(None),
            MailCode.expires_at > clock.now(),
            MailCode.attempts < MAX_TRIES,
        )
        .order_by(MailCode.id)
    )
    return list(rows.all())

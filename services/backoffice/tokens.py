"""Bearer tokens of the admin API: created from the command line (shown once), kept as a SHA-256
(the token is 256 random bits, so a plain hash cannot be reversed), scoped, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from services import audit, clock
from services.backoffice.common import Conflict, Missing
from services.backoffice.scopes import SCOPES, Scope
from storage.models import ApiToken
from storage.uow import UnitOfWork

PREFIX = "hbt_"  # recognisable in a leaked file or a secret scanner


@dataclass(frozen=True)
class Token:
    name: str
    scopes: tuple[Scope, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def staff(self) -> str:
        """How the audit log names whoever holds this token."""
        return f"token:{self.name}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: ApiToken) -> Token:
    return Token(row.name, tuple(s for s in SCOPES if s in row.scopes), row.created_at, row.revoked_at)


async def create(uow: UnitOfWork, name: str, scopes: Sequence[Scope]) -> tuple[str, Token]:
    """A new token (the secret is returned here only); committed."""
    if await uow.session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"A token named {name!r} exists already (revoked tokens keep their name).")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, token_hash=_hash(secret), scopes=[s for s in SCOPES if s in scopes], created_at=clock.now()
    )
    uow.session.add(row)
    audit.record(uow, "api_token.create", None, f"api_token:{name}", scopes=row.scopes)
    await uow.commit()
    return secret, _token(row)


async def listing(uow: UnitOfWork) -> list[Token]:
    rows = await uow.session.scalars(select(ApiToken).order_by(ApiToken.id))
    return [_token(r) for r in rows]


async def revoke(uow: UnitOfWork, name: str) -> Token:
    """From now on the token is refused; committed. Revoking twice changes nothing."""
    row = await uow.session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise Missing(f"There is no token named {name!r}.")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record(uow, "api_token.revoke", None, f"api_token:{name}")
        await uow.commit()
    return _token(row)


async def verify(uow: UnitOfWork, secret: str) -> Token | None:
    """The live token ``secret`` is, or None (unknown or revoked)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    row = await uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return _token(row)

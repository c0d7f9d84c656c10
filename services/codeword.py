"""The account's code word, asked for before its most sensitive actions (seed 001's "enhanced
security"): set and removed by an admin, kept only as a scrypt hash, checked with a lock after
repeated wrong answers.

The word is read forgivingly, since people type it on phones that capitalise and add spaces:
Unicode NFKC, case folded, runs of spaces made one. Wrong answers are counted per account in the
database, by one conditional UPDATE each, so every chat and every replica shares the count; the
answer that reaches the limit resets it and locks sensitive actions for a while. Each wrong answer,
each lock and each change of the word is audited.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import case, literal, update

from services import account_security, audit, clock
from services.audit import Actor
from services.errors import N_, DomainError
from storage.models import AccountSecurity
from storage.uow import UnitOfWork

MIN_LENGTH = 6
MAX_LENGTH = 64
# scrypt's cost (RFC 7914): 16 MiB and some 50 ms per hash, computed off the event loop.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16


class UnfitCodeWord(DomainError):
    message = N_("A code word needs {min} to {max} characters.")

    def __init__(self) -> None:
        super().__init__(None, min=MIN_LENGTH, max=MAX_LENGTH)


@dataclass(frozen=True)
class Lockout:
    """How many wrong answers in a row lock sensitive actions, and for how long."""

    attempts: int = 5
    duration: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Guard:
    """Whether the account has a code word, and until when wrong answers lock it (None: open)."""

    is_set: bool
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class Check:
    """The outcome of one answer: ``ok``; else ``locked_until`` when sensitive actions are locked
    (by this answer or before it)."""

    ok: bool
    locked_until: dt.datetime | None = None


def normalize(word: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", word).split()).casefold()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _derive(word: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        normalize(word).encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def _hash(word: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_derive(word, salt, _N, _R, _P))}"


def _matches(stored: str, word: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown code word scheme {scheme!r}")
    derived = _derive(word, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(derived, base64.b64decode(digest))


async def hash_new(word: str) -> str:
    """The stored form of a new code word (a salted scrypt hash); ``UnfitCodeWord`` when too
    short or too long."""
    if not MIN_LENGTH <= len(normalize(word)) <= MAX_LENGTH:
        raise UnfitCodeWord()
    return await asyncio.to_thread(_hash, word)


def _locked(row: AccountSecurity | None, now: dt.datetime) -> dt.datetime | None:
    until = row.code_word_locked_until if row is not None else None
    return until if until is not None and until > now else None


async def guard(uow: UnitOfWork, customer_id: int) -> Guard:
    row = await account_security.read(uow, customer_id)
    return Guard(row is not None and row.code_word_hash is not None, _locked(row, clock.now()))


async def set_word(uow: UnitOfWork, customer_id: int, hashed: str, actor: Actor) -> None:
    """Set or replace the code word by its hash (``hash_new``); the count of wrong answers starts
    again, and a lock in force stays."""
    row = await account_security.for_change(uow, customer_id)
    replaced = row.code_word_hash is not None
    row.code_word_hash = hashed
    row.code_word_failures = 0
    row.updated_at = clock.now()
    audit.record(uow, "codeword.set", actor, f"customer:{customer_id}", replaced=replaced)
    await uow.commit()


async def remove(uow: UnitOfWork, customer_id: int, actor: Actor) -> bool:
    """Remove the code word; False when there was none."""
    row = await account_security.for_change(uow, customer_id)
    if row.code_word_hash is None:
        return False
    row.code_word_hash = None
    row.code_word_failures = 0
    row.updated_at = clock.now()
    audit.record(uow, "codeword.remove", actor, f"customer:{customer_id}")
    await uow.commit()
    return True


async def check(
    uow: UnitOfWork, customer_id: int, word: str, actor: Actor, what: str, lockout: Lockout
) -> Check:
    """Whether ``word`` is the account's code word, for the sensitive action ``what`` (named in the
    audit). While locked nothing is compared. A right answer clears the count; a wrong one adds to
    it, and the one that reaches ``lockout.attempts`` locks for ``lockout.duration``. The caller
    commits (what it does next depends on the outcome)."""
    now = clock.now()
    row = await account_security.read(uow, customer_id)
    if row is None or row.code_word_hash is None:
        return Check(True)  # removed meanwhile: nothing left to ask
    locked = _locked(row, now)
    if locked is not None:
        audit.record(uow, "codeword.check", actor, f"customer:{customer_id}", outcome="locked", command=what)
        return Check(False, locked)
    target = f"customer:{customer_id}"
    if await asyncio.to_thread(_matches, row.code_word_hash, word):
        await uow.session.execute(
            update(AccountSecurity)
            .where(AccountSecurity.customer_id == customer_id)
            .values(code_word_failures=0)
        )
        audit.record(uow, "codeword.check", actor, target, command=what)
        return Check(True)
    reached = AccountSecurity.code_word_failures + 1 >= lockout.attempts
    counted = (
        await uow.session.execute(
            update(AccountSecurity)
            .where(AccountSecurity.customer_id == customer_id)
            .values(
                code_word_failures=case((reached, 0), else_=AccountSecurity.code_word_failures + 1),
                code_word_locked_until=case(
                    (reached, literal(now + lockout.duration, AccountSecurity.code_word_locked_until.type)),
                    else_=AccountSecurity.code_word_locked_until,
                ),
            )
            .returning(AccountSecurity.code_word_locked_until)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    audit.record(uow, "codeword.check", actor, target, outcome="denied", command=what)
    until = counted if counted is not None and counted > now else None
    if until is not None:
        audit.record(uow, "codeword.lock", actor, target, until=until.isoformat(), command=what)
    return Check(False, until)

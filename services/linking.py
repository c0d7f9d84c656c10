"""Linking a chat identity to a billing account with a one-time code, and unlinking it.

Two kinds of code: one an operator hands over (``hostbot link-code``: 128 bits, for one platform),
and one the person asks for in the chat with the account's e-mail address (``request_by_mail``:
six digits mailed to that address, usable in that chat only, see ``services.mail_codes``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update

from services import audit, clock, mail_codes, mail_outbox, mailboxes
from services.audit import Actor
from services.errors import N_, DomainError, NotFound
from storage.models import ChatIdentity, Customer, LinkCode
from storage.uow import UnitOfWork

CODE_TTL = dt.timedelta(minutes=15)


class LinkFailed(DomainError):
    message = N_("This link code is not valid. It may have expired or been used already; ask for a new one.")


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(uow: UnitOfWork, customer_id: int, platform: str, role: str = "owner") -> str:
    """A random single-use code (128 bits) that expires in 15 minutes; only its hash is stored."""
    if await uow.session.get(Customer, customer_id) is None:
        raise NotFound()
    code = secrets.token_urlsafe(16)
    uow.session.add(
        LinkCode(
            code_hash=_hash(code),
            customer_id=customer_id,
            platform=platform,
            role=role,
            expires_at=clock.now() + CODE_TTL,
        )
    )
    audit.record(uow, "link.code", Actor(customer_id), f"platform:{platform}")
    await uow.commit()
    return code


def code_key(code: str) -> str:
    """How a code is known once typed (its hash): a confirmation carries this, not the code."""
    return _hash(code.strip())


async def replaces(uow: UnitOfWork, ident: ChatIdentity, code: str) -> tuple[Customer, Customer] | None:
    """(the account ``ident`` is linked to, the other one ``code`` would link it to) when a valid
    code would move it to another account, which it should not do without asking; else None
    (``redeem`` then links, or refuses the code)."""
    if ident.customer_id is None:
        return None
    row = await uow.session.scalar(select(LinkCode).where(LinkCode.code_hash == code_key(code)))
    if (
        row is None
        or row.customer_id == ident.customer_id
        or row.platform != ident.platform
        or row.used_at is not None
        or row.expires_at <= clock.now()
    ):
        return None
    current = await uow.session.get(Customer, ident.customer_id)
    other = await uow.session.get(Customer, row.customer_id)
    return None if current is None or other is None else (current, other)


async def redeem(uow: UnitOfWork, ident: ChatIdentity, code: str) -> Customer:
    """Link ``ident`` to the code's customer; the code is claimed atomically, so it works once."""
    return await redeem_key(uow, ident, code_key(code))


async def redeem_key(uow: UnitOfWork, ident: ChatIdentity, key: str) -> Customer:
    """``redeem`` for a code known by its ``code_key`` (a confirmed re-link)."""
    now = clock.now()
    row = await uow.session.scalar(select(LinkCode).where(LinkCode.code_hash == key))
    claimed = None
    if row is not None and row.platform == ident.platform:
        claimed = await uow.session.execute(
            update(LinkCode)
            .where(LinkCode.code_hash == row.code_hash, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    if row is None or claimed is None or claimed.rowcount != 1:  # type: ignore[attr-defined]
        audit.record(uow, "link", None, f"identity:{ident.id}", outcome="denied")
        await uow.commit()
        raise LinkFailed()
    attach(ident, row.customer_id, row.role)
    customer = await uow.session.get(Customer, row.customer_id)
    assert customer is not None
    audit.record(uow, "link", Actor(customer.id, ident.id), f"identity:{ident.id}", platform=ident.platform)
    await uow.commit()
    return customer


def attach(ident: ChatIdentity, customer_id: int, role: str) -> None:
    """Link ``ident`` to the account with ``role``, noting when (``sessions`` shows it)."""
    ident.customer_id = customer_id
    ident.role = role
    ident.linked_at = clock.now()


def detach(ident: ChatIdentity) -> None:
    ident.customer_id = None
    ident.linked_at = None


async def unlink(uow: UnitOfWork, ident: ChatIdentity) -> None:
    if ident.customer_id is None:
        return
    audit.record(uow, "unlink", Actor(ident.customer_id, ident.id), f"identity:{ident.id}")
    detach(ident)
    await uow.commit()


async def set_language(uow: UnitOfWork, ident: ChatIdentity, lang: str, account: Customer | None) -> None:
    """The choice is the person's own (it comes first for them); it also becomes ``account``'s
    language (alerts, and people who chose none) when given: for those who may change settings."""
    ident.language = lang
    if account is not None:
        account.language = lang
    await uow.commit()


async def request_by_mail(uow: UnitOfWork, ident: ChatIdentity, email: str, language: str) -> None:
    """Mail a six-digit code to ``email`` if it is an account's main address (the code links as
    owner) or one of its mailboxes (as member); otherwise mail nothing. The chat cannot tell which:
    a code row is written either way (one that no code opens for an unknown address). Commits."""
    email = mailboxes.address(email)
    found = await mailboxes.account_of(uow, email)
    customer, role = found if found is not None else (None, "member")
    row, code = await mail_codes.issue(
        uow,
        "link",
        ident.id,
        email,
        customer_id=customer.id if customer else None,
        usable=customer is not None,
        role=role,
    )
    if customer is not None:
        await mail_outbox.add(
            uow,
            f"link-code:{row.id}",
            "link_code",
            email,
            {"code": code, "platform": ident.platform},
            customer_id=customer.id,
            language=customer.language or language,
            secret=True,
            not_after=row.expires_at,
        )
    audit.record(uow, "link.request", None, f"identity:{ident.id}", account=customer.id if customer else None)
    await uow.commit()


async def redeem_by_mail(uow: UnitOfWork, ident: ChatIdentity, code: str) -> Customer:
    """Link ``ident`` with the code mailed for it (``request_by_mail``); the account's general
    mailbox is told that a chat was linked. ``WrongCode`` / ``NoCode`` otherwise. Commits."""
    row = await mail_codes.use(uow, "link", ident.id, code, None)
    customer = await uow.session.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None:
        raise mail_codes.NoCode()
    ident.customer_id = customer.id
    ident.role = row.role
    await mail_outbox.add(
        uow,
        f"linked:{row.id}",
        "chat_linked",
        await mailboxes.mailbox(uow, customer, "general"),
        {"platform": ident.platform, "role": row.role, "email": row.email},
        customer_id=customer.id,
        language=customer.language or "",
    )
    audit.record(
        uow, "link", Actor(customer.id, ident.id), f"identity:{ident.id}", platform=ident.platform, via="mail"
    )
    await uow.commit()
    return customer

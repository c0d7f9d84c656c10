"""Alternative mailboxes per purpose: where the account's mail of each kind goes.

``billing`` (invoices, receipts, financial tickets), ``technical`` (technical tickets) and
``general`` (account notices, such as a chat linked): one mailbox each, the main address for a
purpose that has none. A new mailbox is used only once the code mailed to it has been typed in
the chat that asked for it; until then mail keeps going where it went.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, func, select

from services import audit, mail_codes, mail_outbox
from services.audit import Actor
from services.errors import N_, InvalidState
from storage.models import ChatIdentity, Customer, CustomerEmail, MailCode
from storage.uow import UnitOfWork

PURPOSES = ("billing", "technical", "general")
MAX_ADDRESS = 254
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class BadAddress(InvalidState):
    message = N_("That is not an e-mail address. Write it as name@example.com.")


def address(text: str) -> str:
    """``text`` as an e-mail address (the domain lower-cased, an international one in its ASCII
    form), or ``BadAddress``. Only plain addresses: no name, no comment, no quoted local part."""
    candidate = text.strip().strip("<>")
    local, at, domain = candidate.rpartition("@")
    if not at or not _LOCAL.match(local) or local.startswith(".") or ".." in local or local.endswith("."):
        raise BadAddress()
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadAddress() from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise BadAddress()
    found = f"{local}@{domain}"
    if len(found) > MAX_ADDRESS:
        raise BadAddress()
    return found


async def mailbox(uow: UnitOfWork, customer: Customer, purpose: str) -> str:
    """Where mail for ``purpose`` goes: its mailbox, else the account's main address."""
    alternative = await uow.session.scalar(
        select(CustomerEmail.email)
        .where(CustomerEmail.customer_id == customer.id, CustomerEmail.purpose == purpose)
        .order_by(CustomerEmail.id.desc())
        .limit(1)
    )
    return alternative or customer.email


async def mailboxes(uow: UnitOfWork, customers: Sequence[Customer], purpose: str) -> dict[int, str]:
    """``mailbox`` for many customers in one query, by customer id."""
    found = await uow.session.execute(
        select(CustomerEmail.customer_id, CustomerEmail.email)
        .where(CustomerEmail.customer_id.in_([c.id for c in customers]), CustomerEmail.purpose == purpose)
        .order_by(CustomerEmail.id)
    )
    latest = {customer_id: email for customer_id, email in found}
    return {c.id: latest.get(c.id) or c.email for c in customers}


async def listing(uow: UnitOfWork, customer_id: int) -> dict[str, str]:
    """The account's mailboxes by purpose (purposes without one are absent)."""
    rows = await uow.session.execute(
        select(CustomerEmail.purpose, CustomerEmail.email)
        .where(CustomerEmail.customer_id == customer_id)
        .order_by(CustomerEmail.id)
    )
    return {purpose: email for purpose, email in rows}


async def waiting(uow: UnitOfWork, customer_id: int) -> list[MailCode]:
    """Mailboxes asked for and not confirmed yet (their code still works)."""
    return await mail_codes.pending(uow, "mailbox", customer_id)


async def account_of(uow: UnitOfWork, email: str) -> tuple[Customer, str] | None:
    """The account an address belongs to and the role it gives: ``owner`` for the account's main
    address, ``member`` for one of its mailboxes (the oldest account first)."""
    wanted = email.lower()
    main = await uow.session.scalar(
        select(Customer).where(func.lower(Customer.email) == wanted).order_by(Customer.id).limit(1)
    )
    if main is not None:
        return main, "owner"
    other = await uow.session.scalar(
        select(Customer)
        .join(CustomerEmail, CustomerEmail.customer_id == Customer.id)
        .where(func.lower(CustomerEmail.email) == wanted)
        .order_by(Customer.id)
        .limit(1)
    )
    return (other, "member") if other is not None else None


async def request(
    uow: UnitOfWork,
    customer: Customer,
    ident: ChatIdentity,
    purpose: str,
    email: str,
    language: str,
    actor: Actor,
) -> MailCode:
    """Mail a code to ``email``; it becomes the mailbox for ``purpose`` once the code is typed in
    this chat (``confirm``). Commits."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    email = address(email)
    if (await listing(uow, customer.id)).get(purpose, "").lower() == email.lower():
        raise InvalidState(N_("{email} is already that mailbox."), email=email)
    row, code = await mail_codes.issue(
        uow, "mailbox", ident.id, email, customer_id=customer.id, purpose=purpose
    )
    await mail_outbox.add(
        uow,
        f"mailbox-code:{row.id}",
        "mailbox_code",
        email,
        {"code": code, "purpose": purpose},
        customer_id=customer.id,
        language=customer.language or language,
        secret=True,
        not_after=row.expires_at,
    )
    audit.record(uow, "mailbox.request", actor, f"mailbox:{purpose}", email=email)
    await uow.commit()
    return row


async def confirm(
    uow: UnitOfWork, customer: Customer, ident: ChatIdentity, code: str, actor: Actor
) -> MailCode:
    """The code mailed to a new mailbox, typed in the chat that asked: the mailbox replaces the
    purpose's previous one, and the main address is told. Commits."""
    row = await mail_codes.use(uow, "mailbox", ident.id, code, actor)
    if row.customer_id != customer.id:  # the chat was linked to another account meanwhile
        raise mail_codes.NoCode()
    await uow.session.execute(
        delete(CustomerEmail).where(
            CustomerEmail.customer_id == customer.id, CustomerEmail.purpose == row.purpose
        )
    )
    uow.session.add(CustomerEmail(customer_id=customer.id, purpose=row.purpose, email=row.email))
    await _tell_main_address(uow, customer, row.purpose, row.email)
    audit.record(uow, "mailbox.confirm", actor, f"mailbox:{row.purpose}", email=row.email)
    await uow.commit()
    return row


async def remove(uow: UnitOfWork, customer: Customer, purpose: str, actor: Actor) -> str:
    """The purpose's mail goes to the main address again; returns the address removed. Commits."""
    current = (await listing(uow, customer.id)).get(purpose)
    if current is None:
        raise InvalidState(N_("There is no mailbox for that; its mail goes to the main address."))
    result = await uow.session.execute(
        delete(CustomerEmail).where(
            CustomerEmail.customer_id == customer.id, CustomerEmail.purpose == purpose
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        await _tell_main_address(uow, customer, purpose, "")
    audit.record(uow, "mailbox.remove", actor, f"mailbox:{purpose}", email=current)
    await uow.commit()
    return current


async def _tell_main_address(uow: UnitOfWork, customer: Customer, purpose: str, email: str) -> None:
    """A change of mailbox (``email``; empty: removed) is told to the main address, which no chat
    can change."""
    await mail_outbox.add(
        uow,
        f"mailbox-changed:{secrets.token_hex(8)}",
        "mailbox_changed",
        customer.email,
        {"purpose": purpose, "email": email},
        customer_id=customer.id,
        language=customer.language or "",
    )

"""The permission matrix as the tests expect it, written out by hand (not read from
``bot.core.permissions``), and what each platform's test sends to try every cell."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from storage.models import AlertSettings, AuditEntry, ChatIdentity, Customer

DENIED = "does not allow"
ROLES = ("guest", "member", "admin", "owner")

# capability -> which roles have it (README, "Security")
EXPECTED: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "tickets": frozenset({"member", "admin", "owner"}),
    "language": frozenset({"member", "admin", "owner"}),
    "settings": frozenset({"admin", "owner"}),
    "money": frozenset({"admin", "owner"}),
    "destructive": frozenset({"admin", "owner"}),
    "servers": frozenset({"admin", "owner"}),
    "linking": frozenset({"owner"}),
}


@dataclass(frozen=True)
class Case:
    capability: str
    command: str  # the command's name, as the audit names a refusal
    line: str
    allowed: tuple[str, ...]  # an allowed answer contains one of these
    then: str | None = None  # what to send after an allowed answer (closing a form)


# In this order: the language changes last, so the answers before it are in English.
CASES = (
    Case("read", "balance", "balance", ("Your balance",)),
    Case("read", "invoices", "invoices", ("Unpaid invoices",)),
    Case("read", "alerts", "alerts", ("Alerts I send you",)),
    Case("tickets", "newticket", "newticket", ("Which department",), then="cancel"),
    Case("settings", "alerts", "alerts off renewal", ("Alerts I send you",)),
    Case("settings", "alerts", "alerts quiet 00:00 23:59", ("Quiet hours: 12:00\u202fAM",)),
    Case("settings", "alerts", "alerts threshold 999999", ("Warn me when the balance falls below",)),
    Case("money", "paybalance", "paybalance 3", ("from your balance",)),
    Case("servers", "reboot", "reboot web-1", ("Reboot web-1",)),
    Case("servers", "login", "login web-1", ("Login details of web-1", "no login details on file for web-1")),
    Case(
        "linking",
        "sharechannel",
        "share channel",
        ("now shares the account", "channel or group you want to share"),
    ),
    Case("language", "language", "language tr", ("Türkçe yanıt",)),
)
MATRIX_PLACES = [("guest", "group"), ("member", "group"), ("admin", "group"), ("owner", "group")]
MATRIX_PLACES += [("member", "direct"), ("admin", "direct")]


def expected_answer(role: str, case: Case, answer: str) -> bool:
    """Whether ``answer`` is what ``role`` should get for ``case``."""
    if role in EXPECTED[case.capability]:
        return DENIED not in answer and any(wanted in answer for wanted in case.allowed)
    return DENIED in answer


def denied_cases(role: str) -> list[Case]:
    return [case for case in CASES if role not in EXPECTED[case.capability]]


async def denials(dispatcher: Dispatcher) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
        )
        return list(rows.all())


async def account_state(dispatcher: Dispatcher, customer_id: int = 1) -> tuple[object, ...]:
    """What the matrix's writes would change on the account: alert settings and language."""
    async with dispatcher.db.uow() as uow:
        prefs = await uow.session.scalar(
            select(AlertSettings).where(AlertSettings.customer_id == customer_id)
        )
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        alerts = (
            (sorted(prefs.muted or []), prefs.quiet_start, prefs.quiet_end, prefs.low_balance_minor)
            if prefs is not None
            else None
        )
        return alerts, customer.language


async def own_language(dispatcher: Dispatcher, platform: str, user_id: str) -> str | None:
    async with dispatcher.db.uow() as uow:
        return await uow.session.scalar(
            select(ChatIdentity.language).where(
                ChatIdentity.platform == platform, ChatIdentity.user_id == user_id
            )
        )


async def count_denied(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        n = await uow.session.scalar(select(func.count()).where(AuditEntry.outcome == "denied"))
        return int(n or 0)

"""Bank statements in ISO 20022 camt.053 (versions 001.02 to 001.08), read into the credits they book.

Only what paying invoices needs is read: for each booked credit, the bank's id of the transaction,
the amount, the booking date, the payer's name and the remittance information (what the payer
wrote as the reference). Debits are not ours to apply and are left out; a credit that is not
booked yet, reverses an earlier one, or has no id to apply it once by is listed as skipped.

The XML is parsed with defusedxml (no DTDs, no entities: a statement is outside input).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from services.money import Money, UnknownCurrency, exponent

NAMESPACES = frozenset(f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{v:02d}" for v in range(2, 9))


class StatementError(ValueError):
    """The file is not a camt.053 statement this reader understands; the text says why."""


@dataclass(frozen=True)
class Transfer:
    """Money that came in. ``bank_ref`` names the bank transaction uniquely (the account, then the
    transaction's AcctSvcrRef, else the entry's AcctSvcrRef or NtryRef): it is what makes applying
    it twice impossible."""

    bank_ref: str
    amount: Money
    booked_on: dt.date | None
    payer: str
    reference: str


@dataclass(frozen=True)
class Skipped:
    """A credit that is not applied, and why (for the operator's report)."""

    ref: str
    reason: str


@dataclass(frozen=True)
class Statement:
    account: str
    transfers: tuple[Transfer, ...]
    skipped: tuple[Skipped, ...]


class _Reader:
    """Finds camt elements in one namespace: ``find(el, "Ntry/Amt")`` with the prefixes added."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"c": namespace}

    @staticmethod
    def _path(path: str) -> str:
        return "/".join(part if part in ("", ".") else f"c:{part}" for part in path.split("/"))

    def find(self, el: Element, path: str) -> Element | None:
        return el.find(self._path(path), self.ns)

    def all(self, el: Element, path: str) -> list[Element]:
        return el.findall(self._path(path), self.ns)

    def text(self, el: Element, *paths: str) -> str:
        """The stripped text of the first of ``paths`` that has some, else ``""``."""
        for path in paths:
            found = self.find(el, path)
            if found is not None and found.text and found.text.strip():
                return found.text.strip()
        return ""


def _money(el: Element | None) -> Money | None:
    """``<Amt Ccy="EUR">12.10</Amt>`` in minor units; None when missing or not an exact amount."""
    if el is None or not el.text:
        return None
    currency = (el.get("Ccy") or "").upper()
    try:
        value = Decimal(el.text.strip()).scaleb(exponent(currency))
    except (InvalidOperation, UnknownCurrency):
        return None
    if value != value.to_integral_value() or value <= 0:
        return None
    return Money(int(value), currency)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def parse(data: bytes) -> Statement:
    """The credits of a camt.053 document; ``StatementError`` for anything else."""
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException) as err:
        raise StatementError(f"not readable XML: {err}") from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in NAMESPACES or not root.tag.endswith("}Document"):
        raise StatementError(f"not a camt.053 statement (001.02 to 001.08): {root.tag}")
    r = _Reader(namespace)
    statements = r.all(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise StatementError("the document holds no statement (BkToCstmrStmt/Stmt)")
    accounts: set[str] = set()
    transfers: list[Transfer] = []
    skipped: list[Skipped] = []
    for stmt in statements:
        account = r.text(stmt, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        accounts.add(account)
        for entry in r.all(stmt, "Ntry"):
            if r.text(entry, "CdtDbtInd") != "CRDT":
                continue
            found, passed = _credits(r, entry, account)
            transfers += found
            skipped += passed
    if len(accounts) > 1:
        raise StatementError(f"one account per file, please; this one has {', '.join(sorted(accounts))}")
    return Statement(accounts.pop(), tuple(transfers), tuple(skipped))


def _credits(r: _Reader, entry: Element, account: str) -> tuple[list[Transfer], list[Skipped]]:
    """The transfers one credit entry books: one per transaction detail, or the entry itself."""
    entry_ref = r.text(entry, "AcctSvcrRef", "NtryRef")
    status = r.text(entry, "Sts/Cd", "Sts")
    if status != "BOOK":
        return [], [Skipped(entry_ref or "?", f"not booked ({status or 'no status'})")]
    if r.text(entry, "RvslInd").lower() == "true":
        return [], [Skipped(entry_ref or "?", "reverses an earlier entry")]
    booked = _date(r.text(entry, "BookgDt/Dt", "BookgDt/DtTm"))
    details = r.all(entry, "NtryDtls/TxDtls")
    transfers, skipped = [], []
    for i, tx in enumerate(details or [entry], start=1):
        own = r.text(tx, "Refs/AcctSvcrRef") if tx is not entry else ""
        ref = own or (entry_ref if len(details) <= 1 else (f"{entry_ref}/{i}" if entry_ref else ""))
        amount = _money(r.find(tx, "AmtDtls/TxAmt/Amt") if tx is not entry else None)
        if amount is None and tx is not entry:
            amount = _money(r.find(tx, "Amt"))
        if amount is None and len(details) <= 1:
            amount = _money(r.find(entry, "Amt"))
        if not ref:
            skipped.append(Skipped("?", "no bank transaction id (AcctSvcrRef or NtryRef)"))
            continue
        if amount is None:
            skipped.append(Skipped(ref, "no amount in a known currency"))
            continue
        remittance = [
            *(el.text.strip() for el in r.all(tx, "RmtInf/Ustrd") if el.text),
            r.text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
            r.text(tx, "AddtlTxInf"),
            r.text(entry, "AddtlNtryInf"),
        ]
        payer = r.text(tx, "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm", "RltdPties/UltmtDbtr/Nm")
        bank_ref = f"{account}/{ref}" if account else ref
        transfers.append(Transfer(bank_ref, amount, booked, payer, " ".join(t for t in remittance if t)))
    return transfers, skipped

"""Bank statements (camt.053 made by the tests): each credit pays the invoice its reference names, or
the one unpaid invoice of its amount and payer, once per bank transaction, whatever is imported
again or at the same moment; what cannot be matched is listed and changes nothing."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import records_parts
from bot.cli import cmd_payments_import
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import bank_statements, bank_transfers, invoices
from services.bank_statements import StatementError
from services.invoices import LineSpec
from services.money import Money
from storage.models import Alert, Customer, Invoice, LedgerEntry, Payment
from storage.uow import Database
from tests.fakes.notifier import LogNotifier
from tests.support.camt053 import IBAN, Entry, Tx, statement

VERSIONS = ["02", "04", "08"]


async def _invoice(db: Database, invoice_id: int) -> Invoice:
    async with db.uow() as uow:
        found = await uow.session.get(Invoice, invoice_id)
        assert found is not None
        return found


async def _balance(db: Database, customer_id: int) -> int:
    async with db.uow() as uow:
        return int(
            await uow.session.scalar(select(Customer.balance_minor).where(Customer.id == customer_id)) or 0
        )


async def _bank_payments(db: Database) -> int:
    async with db.uow() as uow:
        query = select(func.count()).select_from(Payment).where(Payment.external_id.like("bank:%"))
        return int(await uow.session.scalar(query) or 0)


async def _import(db: Database, data: bytes, notifier: LogNotifier) -> list[bank_transfers.Outcome]:
    parsed = bank_statements.parse(data)
    outcomes = []
    for transfer in parsed.transfers:
        async with db.uow() as uow:
            outcomes.append(await bank_transfers.record(uow, transfer, notifier))
    return outcomes


def _demo_statement(unpaid: Invoice, paid: Invoice, version: str = "02") -> bytes:
    """Alice pays her unpaid invoice by its number, and her paid one again; Jan de Vries pays his
    unpaid invoice (30.07) without a reference; a stranger sends money; a debit and a pending
    credit are on the statement too."""
    return statement(
        [
            Entry("24.85", payer="ATELIER LUMIERE", reference=f"Facture {unpaid.number}", ref="TX-1"),
            Entry("30.07", payer="J. de Vries / Jan de Vries", reference="hosting december", ref="TX-2"),
            Entry("19.90", payer="Atelier Lumière SARL", reference=f"{paid.number.lower()}", ref="TX-3"),
            Entry("50.00", payer="Someone Else", reference="thanks", ref="TX-4"),
            Entry("12.00", credit=False, ref="TX-5"),
            Entry("10.00", status="PDNG", ref="TX-6", reference=unpaid.number),
        ],
        version,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_reads_every_version(version: str) -> None:
    data = statement(
        [
            Entry("24.85", payer="Atelier Lumière", reference="HB2026-00003", ref="A-1"),
            Entry("1.00", credit=False, ref="A-2"),
            Entry("5.00", status="PDNG", ref="A-3"),
            Entry("7.00", reversal=True, ref="A-4"),
            Entry(
                "30.00",
                entry_ref="BATCH-9",
                batch=(Tx("10.00", "One", "HB2026-00010", ref="B-1"), Tx("20.00", "Two", "HB2026-00011")),
            ),
            Entry("3.00", payer="No id at all"),
        ],
        version,
    )
    parsed = bank_statements.parse(data)
    assert parsed.account == IBAN
    got = [(t.bank_ref, t.amount, t.payer, t.reference) for t in parsed.transfers]
    assert got == [
        (f"{IBAN}/A-1", Money(2485, "EUR"), "Atelier Lumière", "HB2026-00003"),
        (f"{IBAN}/B-1", Money(1000, "EUR"), "One", "HB2026-00010"),
        (f"{IBAN}/BATCH-9/2", Money(2000, "EUR"), "Two", "HB2026-00011"),
    ]
    assert (
        parsed.transfers[0].booked_on is not None
        and parsed.transfers[0].booked_on.isoformat() == "2026-12-01"
    )
    assert [(s.ref, s.reason.split(" (")[0]) for s in parsed.skipped] == [
        ("A-3", "not booked"),
        ("A-4", "reverses an earlier entry"),
        ("?", "no bank transaction id"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"not xml at all",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol2;</Document>',
    ],
    ids=["not-xml", "another-message", "entities"],
)
def test_refuses_what_is_not_a_statement(data: bytes) -> None:
    with pytest.raises(StatementError):
        bank_statements.parse(data)


def test_reference_may_be_glued_to_its_words() -> None:
    assert "HB2026-00014" in bank_transfers.numbers_in("INV.HB2026-00014 thanks", "INV.{number}")
    assert bank_transfers.numbers_in("Rechnung hb2026-00014.", "{number}") == ["HB2026-00014"]
    assert bank_transfers.same_payer("ATELIER LUMIERE SARL", "Atelier Lumière")
    assert not bank_transfers.same_payer("Atelier Soleil", "Atelier Lumière")


@pytest.mark.parametrize("version", VERSIONS)
async def test_pays_the_right_invoices_once(dispatcher: Dispatcher, version: str) -> None:
    db = dispatcher.db
    unpaid, paid, jans = await _invoice(db, 3), await _invoice(db, 2), await _invoice(db, 12)
    assert (unpaid.status, paid.status, jans.status) == ("unpaid", "paid", "unpaid")
    alice_before, jan_before = await _balance(db, 1), await _balance(db, 4)
    notifier = LogNotifier()
    data = _demo_statement(unpaid, paid, version)

    first = await _import(db, data, notifier)
    assert [(o.status, o.invoice) for o in first] == [
        ("paid", unpaid.number),
        ("paid", jans.number),
        ("credited", paid.number),
        ("unmatched", None),
    ]
    assert first[3].reason.startswith("no invoice number in the reference")
    assert (await _invoice(db, 3)).status == "paid" and (await _invoice(db, 12)).status == "paid"
    # Paying from the bank moves money in and out; the transfer the paid invoice could not take stays.
    assert await _balance(db, 1) == alice_before + paid.total_minor
    assert await _balance(db, 4) == jan_before
    assert [(n.invoice_id, n.paid) for n in notifier.sent] == [(3, True), (12, True), (2, False)]
    async with db.uow() as uow:
        methods = (await uow.session.scalars(select(Payment.method).where(Payment.invoice_id == 3))).all()
    assert methods == ["bank"]

    again = await _import(db, data, notifier)
    assert [o.status for o in again] == ["duplicate", "duplicate", "duplicate", "unmatched"]
    assert await _balance(db, 1) == alice_before + paid.total_minor
    assert await _bank_payments(db) == 3
    assert len(notifier.sent) == 3


async def test_the_customer_is_told_in_the_outbox(dispatcher: Dispatcher, settings: Settings) -> None:
    """Through the production notifier: one alert per payment, written with it."""
    db = dispatcher.db
    unpaid, paid = await _invoice(db, 3), await _invoice(db, 2)
    parsed = bank_statements.parse(_demo_statement(unpaid, paid))
    notifier = records_parts.outbox_notifier(settings)
    for transfer in parsed.transfers[:3]:
        async with db.uow() as uow:
            await bank_transfers.record(uow, transfer, notifier)
    async with db.uow() as uow:
        keys = (await uow.session.scalars(select(Alert.key).order_by(Alert.id))).all()
    assert keys == ["paid:3", "paid:12", f"credited:bank:{IBAN}/TX-3"]


async def test_ambiguous_and_foreign_currency_are_not_applied(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    async with db.uow() as uow:
        alice = await uow.session.get(Customer, 1)
        assert alice is not None
        twins = [
            await invoices.create(uow, alice, [LineSpec("Support hours", 1000)], dispatcher.seller, None)
            for _ in range(2)
        ]
        await uow.commit()
    ledger_before = await _ledger_rows(db)
    data = statement(
        [
            Entry(
                f"{twins[0].total_minor / 100:.2f}", payer="Atelier Lumière", reference="support", ref="AMB"
            ),
            Entry(
                "24.85", currency="USD", payer="Atelier Lumière", reference=f"{twins[0].number}", ref="USD"
            ),
            Entry("1.00", reference=f"{twins[0].number} {twins[1].number}", ref="TWO"),
        ]
    )
    outcomes = await _import(db, data, LogNotifier())
    assert [(o.status, o.reason) for o in outcomes] == [
        ("unmatched", "no invoice number in the reference; several unpaid invoices of that amount and name"),
        ("unmatched", "not in the customer's currency"),
        ("unmatched", "the reference names several invoices"),
    ]
    assert await _ledger_rows(db) == ledger_before
    assert await _bank_payments(db) == 0


async def _ledger_rows(db: Database) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def test_two_imports_at_once_apply_each_transfer_once(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    for round_ in range(3):
        async with db.uow() as uow:
            alice = await uow.session.get(Customer, 1)
            assert alice is not None
            fresh = [
                await invoices.create(
                    uow, alice, [LineSpec("Support hours", 500 * (i + 1))], dispatcher.seller, None
                )
                for i in range(4)
            ]
            await uow.commit()
        entries = [
            Entry(f"{inv.total_minor / 100:.2f}", reference=inv.number, ref=f"R{round_}-{i}")
            for i, inv in enumerate(fresh)
        ]
        # The same invoice paid twice in one statement: the second transfer goes to the balance.
        entries.append(Entry("1.23", reference=fresh[0].number, ref=f"R{round_}-extra"))
        data = statement(entries)
        before = await _balance(db, 1)
        payments_before = await _bank_payments(db)
        notifier = LogNotifier()
        results = await asyncio.gather(*(_import(db, data, notifier) for _ in range(2)))
        statuses = sorted(o.status for outcomes in results for o in outcomes)
        assert statuses == ["credited"] + ["duplicate"] * 5 + ["paid"] * 4
        for inv in fresh:
            assert (await _invoice(db, inv.id)).status == "paid"
        assert await _bank_payments(db) == payments_before + 5
        assert await _balance(db, 1) == before + 123
        assert len(notifier.sent) == 5


async def test_command_reports_what_it_did(
    dispatcher: Dispatcher, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = dispatcher.db
    unpaid, paid = await _invoice(db, 3), await _invoice(db, 2)
    path = tmp_path / "statement.xml"
    path.write_bytes(_demo_statement(unpaid, paid, "08"))
    args = argparse.Namespace(statement=str(path))
    assert await cmd_payments_import(settings, args) == 0
    out = capsys.readouterr().out
    assert f"paid      {unpaid.number}: {IBAN}/TX-1 2026-12-01 €24.85 from ATELIER LUMIERE" in out
    assert f"credited  to customer 1's balance ({paid.number}: invoice already paid)" in out
    assert (
        "not matched (1), nothing changed:\n  " in out and "Someone Else (thanks): no invoice number" in out
    )
    assert "skipped (1):\n  TX-6: not booked (PDNG)" in out

    assert await cmd_payments_import(settings, args) == 0
    out = capsys.readouterr().out
    assert out.count("already   applied before") == 3 and "paid  " not in out

    path.write_bytes(statement([Entry("1.00", ref="X")], iban="DE89370400440532013000"))
    assert await cmd_payments_import(settings, args) == 2
    assert "not of BANK_IBAN" in capsys.readouterr().err
    path.write_text("<html/>")
    assert await cmd_payments_import(settings, args) == 2
    assert "not a camt.053 statement" in capsys.readouterr().err

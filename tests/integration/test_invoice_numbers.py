"""Invoices named by the number the customer sees ("HB2026-00003"), in any case or with punctuation
around it, or by the short id; someone else's number answers like a missing one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from services import clock
from storage.models import AuditEntry, Invoice
from tests.support.chat import Chat

# Demo customer 1 (alice): invoices 1 and 2 paid, 3 unpaid (€24.85); customer 2 (budi) owns 4 to 6.
YEAR = clock.today().year
HB3 = f"HB{YEAR}-00003"
HB6 = f"HB{YEAR}-00006"


async def _denials(dispatcher: Dispatcher) -> list[str]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(AuditEntry.target).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
        )
        return list(rows.all())


@pytest.mark.parametrize(
    "ref",
    [HB3, HB3.lower(), f"#{HB3}", f"({HB3}).", f"`{HB3}`", "3", "#3", "3."],
)
async def test_invoice_by_number_or_short_id(alice: Chat, ref: str) -> None:
    reply = await alice.say(f"invoice {ref}")
    assert reply.text.startswith(f"Invoice {HB3} — unpaid"), reply.text
    assert "Subtotal" in reply.text and "#3" not in reply.text


async def test_pdf_pay_qr_and_pay_from_balance_by_number(dispatcher: Dispatcher, alice: Chat) -> None:
    pdf = await alice.say(f"invoice hb{YEAR}-00002 pdf")
    assert [a.filename for a in pdf.attachments] == [f"HB{YEAR}-00002.pdf"]
    unpaid = await alice.say(f"invoice {HB3} pdf")
    assert f"To pay it: /pay {HB3}" in unpaid.text and not unpaid.attachments
    link = await alice.say(f"pay {HB3.lower()}")
    assert f"Invoice {HB3}: €24.85 to pay" in link.text and "/pay/" in link.text
    qr = await alice.say(f"pay #{HB3} qr")
    assert [a.filename for a in qr.attachments] == [f"pay-{HB3}.png"]
    ask = await alice.say(f"paybalance {HB3}")
    assert f"Pay invoice {HB3} (€24.85) from your balance" in ask.text
    assert "is paid" in (await alice.press("Confirm", ask)).text
    async with dispatcher.db.uow() as uow:
        inv = await uow.session.get(Invoice, 3)
        assert inv is not None and inv.status == "paid"
    assert "not open for payment" in (await alice.say("paybalance 3")).text


async def test_plain_words_and_delete_by_number(alice: Chat) -> None:
    assert "no login needed" in (await alice.say(f"please pay invoice {HB3.lower()}")).text
    ask = await alice.say(f"delete invoice {HB3.lower()}")
    assert f"Delete invoice {HB3}?" in ask.text
    assert f"Invoice {HB3} is deleted." in (await alice.press("Delete", ask)).text


async def test_quote_by_its_number(alice: Chat) -> None:
    offer = await alice.say("quote 1")
    number = f"QHB{YEAR}-00001"
    assert offer.text.startswith(f"Quote {number} — quote")
    assert (await alice.say(f"invoice {number.lower()}")).text.startswith(f"Quote {number}")
    pdf = await alice.say(f"invoice #{number} pdf")
    assert [a.filename for a in pdf.attachments] == [f"{number}.pdf"]


async def test_someone_elses_number_answers_like_a_missing_one(dispatcher: Dispatcher, alice: Chat) -> None:
    missing = (await alice.say(f"invoice HB{YEAR}-99999")).text
    assert "Not found" in missing and await _denials(dispatcher) == []
    for line in (
        f"invoice {HB6}",
        f"invoice {HB6.lower()} pdf",
        f"pay #{HB6}",
        f"paybalance {HB6}",
        f"delete invoice {HB6}",
        "invoice 6",
    ):
        assert (await alice.say(line)).text == missing, line
    # Each attempt is audited as a denial, the same as by id.
    assert await _denials(dispatcher) == ["invoice:6"] * 6


async def test_other_customers_see_their_own_number(alice: Chat, budi: Chat) -> None:
    assert HB6 in (await budi.say(f"invoice {HB6.lower()}")).text.splitlines()[0]
    assert "Not found" in (await budi.say(f"invoice {HB3}")).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("invoice ²", "Usage: /invoice NUMBER"),
        ("invoice ١٢", "Usage: /invoice NUMBER"),
        ("pay -3", "Usage: /pay NUMBER"),
        ("invoice 99999999999999999999999999", "Not found"),
        ("invoice 2147483648", "Not found"),
        ("invoice 2147483647", "Not found"),
        ("invoice 0", "Not found"),
        ("paybalance 99999999999", "Not found"),
        ("order 99999999999", "Not found"),
        ("invoices ²", "Unpaid invoices (page 1 of 1)"),
    ],
)
async def test_odd_numbers_answer_cleanly(alice: Chat, line: str, expected: str) -> None:
    reply = await alice.say(line)
    assert expected in reply.text and "went wrong" not in reply.text


async def test_lists_lead_with_the_number(alice: Chat) -> None:
    listing = await alice.say("invoices all")
    rows = listing.text.splitlines()[1:]
    assert [r.split(" · ")[0] for r in rows] == [f"HB{YEAR}-{n:05d}" for n in (3, 2, 1)]
    assert rows[0] == f"{HB3} · due {rows[0].split('due ')[1].split(' ·')[0]} · €24.85 · unpaid"
    assert "#" not in listing.text
    opened = await alice.press(HB3, listing)
    assert opened.text.startswith(f"Invoice {HB3}")
    overview = await alice.say("overview")
    assert any(line.startswith(f"{HB3} · due ") for line in overview.text.splitlines())

"""Balance top-up from the chat: validation at each step, preview, confirmation, paid -> credited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from services import ledger, paying, topup
from services.audit import Actor
from services.money import Money
from storage.models import AlertSettings, Customer, Invoice
from tests.support.chat import Chat


async def _balance(dispatcher: Dispatcher, customer_id: int) -> Money:
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        return await ledger.balance(uow, customer)


async def _topups(dispatcher: Dispatcher) -> list[int]:
    """Top-up invoices of customer 1 made by the chat (the demo data has older ones, paid)."""
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(Invoice.id).where(
                Invoice.kind == "topup", Invoice.customer_id == 1, Invoice.status == "unpaid"
            )
        )
        return list(rows)


async def test_topup_form_preview_confirm_and_credit_when_paid(dispatcher: Dispatcher, alice: Chat) -> None:
    before = await _balance(dispatcher, 1)
    assert "How much" in (await alice.say("topup")).text
    assert "amount such as 1,500 or 49.90, more than zero" in (await alice.say("-5")).text
    assert "at most 2 decimals" in (await alice.say("12.345")).text
    assert "Please send 1,500 or 1.50" in (await alice.say("1.500")).text
    read = (await alice.say("50,50")).text
    assert "Top-up of €50.50." in read and "Business name" in read
    assert "Street" in (await alice.say("Atelier Lumière SAS")).text
    assert "Postal code" in (await alice.say("3 quai Voltaire")).text
    assert "at most 20" in (await alice.say("x" * 30)).text
    assert "City" in (await alice.say("75007")).text
    assert "Country" in (await alice.say("Paris")).text
    assert "two-letter code" in (await alice.say("Atlantis")).text
    assert "Tax id" in (await alice.say("France")).text
    assert "not valid for FR" in (await alice.say("FR00000000000")).text
    preview = await alice.say("40303265045")
    assert "€50.50" in preview.text and "FR40303265045" in preview.text and "France" in preview.text
    assert preview.private
    assert await _topups(dispatcher) == []
    done = await alice.press("Issue invoice", preview)
    assert "Top-up invoice issued" in done.text and "Total: €50.50" in done.text
    assert await _balance(dispatcher, 1) == before
    async with dispatcher.db.uow() as uow:
        (inv,) = [await uow.session.get_one(Invoice, i) for i in await _topups(dispatcher)]
        assert inv.total_minor == 5050 and inv.vat_minor == 0
        assert inv.buyer["address"] == "3 quai Voltaire" and inv.buyer["name"] == "Atelier Lumière SAS"
        assert inv.buyer["postal_code"] == "75007" and inv.buyer["vat_id"] == "FR40303265045"
        # The billing address is the invoice's only: the account keeps its own.
        customer = await uow.session.get(Customer, 1)
        assert customer is not None and (customer.name, customer.postal_code) == (
            "Atelier Lumière SARL",
            "75011",
        )
        await paying.mark_paid(uow, inv, "card", Actor(1))
        await uow.commit()
    assert await _balance(dispatcher, 1) == before + Money(5050, "EUR")
    assert "already handled" in (await alice.press("Issue invoice", preview)).text


async def test_indonesian_amount_with_thousands_dots(dispatcher: Dispatcher, budi: Chat) -> None:
    """500.000 from an Indonesian reader is five hundred thousand rupiah, not Rp500: the form says
    so at once, the preview repeats it, and the invoice is for 50_000_000 minor units (ISO: 2 decimals)."""
    budi.language = "id"
    shown = format_currency(Decimal(500_000), "IDR", locale="id")
    await budi.say("isi saldo")
    read = (await budi.say("500.000")).text
    assert f"Isi saldo sebesar {shown}." in read
    for answer in ("PT Maju Jaya Digital", "Jl. Sudirman No. 45", "10210", "Jakarta", "ID", "none"):
        preview = await budi.say(answer)
    assert shown in preview.text
    done = await budi.press("Terbitkan tagihan", preview)
    assert shown in done.text
    async with dispatcher.db.uow() as uow:
        topup_invoice = await uow.session.scalar(
            select(Invoice).where(
                Invoice.customer_id == 2, Invoice.kind == "topup", Invoice.status == "unpaid"
            )
        )
        assert topup_invoice is not None and topup_invoice.total_minor == 500_000_00


async def test_threshold_typed_in_french(dispatcher: Dispatcher, alice: Chat) -> None:
    alice.language = "fr"
    await alice.say("alertes seuil 1 000,50")
    async with dispatcher.db.uow() as uow:
        settings = await uow.session.scalar(select(AlertSettings).where(AlertSettings.customer_id == 1))
        assert settings is not None and settings.low_balance_minor == 1000_50
    assert "peut se lire de deux façons" in (await alice.say("alertes seuil 1,500")).text


async def test_topup_offers_what_is_on_file_and_cancels(alice: Chat) -> None:
    await alice.say("topup")
    reply = await alice.say("20")
    assert alice.button("Atelier Lumière SARL", reply)
    assert "Street" in (await alice.press("Atelier Lumière SARL")).text
    assert "Cancelled" in (await alice.say("cancel")).text


async def test_member_may_not_top_up(dispatcher: Dispatcher) -> None:
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    assert "role" in (await member.say("topup")).text


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("4540536920", "TR", "4540536920"),
        ("NL004495445B01", "NL", "NL004495445B01"),
        ("004495445B01", "NL", "NL004495445B01"),
        ("12-3456789", "US", "12-3456789"),
        ("", "FR", None),
    ],
)
def test_tax_ids(text: str, country: str, expected: str | None) -> None:
    assert topup.parse_tax_id(text, country) == expected


def test_bad_tax_id_for_a_country_with_a_validator() -> None:
    with pytest.raises(topup.InvalidTaxId):
        topup.parse_tax_id("1234567891", "TR")


def test_country_by_code_or_localised_name() -> None:
    assert topup.parse_country("de") == "DE"
    assert topup.parse_country("Allemagne", "fr") == "DE"
    assert topup.parse_country("Germany", "fr") == "DE"

"""Service rules on both databases: numbering, VAT, ledger, pay links."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from services import clock, invoices, ledger, paying, vat
from services.audit import Actor
from services.errors import InsufficientBalance, InvalidState
from services.invoices import LineSpec
from services.money import Money
from storage.models import Customer, Invoice, PayToken
from storage.uow import Database


async def _customer(db: Database, cid: int) -> Customer:
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, cid)
        assert customer is not None
        return customer


async def test_numbering_is_sequential_under_concurrency(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    customer = await _customer(db, 4)

    async def one() -> str:
        async with db.uow() as uow:
            inv = await invoices.create(uow, customer, [LineSpec("x", 100)], dispatcher.seller, None)
            await uow.commit()
            return inv.number

    numbers = await asyncio.gather(*(one() for _ in range(8)))
    async with db.uow() as uow:
        seqs = sorted((await uow.session.scalars(select(Invoice.seq).where(Invoice.kind != "quote"))).all())
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(set(numbers)) == 8


async def test_vat_consumer_and_reverse_charge(dispatcher: Dispatcher) -> None:
    db = dispatcher.db
    async with db.uow() as uow:
        nl = await invoices.create(
            uow, await _customer(db, 4), [LineSpec("x", 1000)], dispatcher.seller, None
        )
        fr = await invoices.create(
            uow, await _customer(db, 1), [LineSpec("x", 1000)], dispatcher.seller, None
        )
        indo = await invoices.create(
            uow, await _customer(db, 2), [LineSpec("x", 1000)], dispatcher.seller, None
        )
    assert (nl.vat_rate, nl.vat_minor, nl.total_minor, nl.reverse_charge) == (Decimal(21), 210, 1210, False)
    assert (fr.vat_minor, fr.reverse_charge) == (0, True)
    assert (indo.vat_rate, indo.reverse_charge) == (Decimal(0), False)
    assert fr.buyer["vat_id"] == "FR40303265045" and fr.seller["vat_id"] == dispatcher.seller.vat_id


@pytest.mark.parametrize(
    ("country", "day", "rate"),
    [
        ("EE", dt.date(2025, 6, 30), "22"),
        ("EE", dt.date(2025, 7, 1), "24"),
        ("FI", dt.date(2024, 8, 31), "24"),
        ("FI", dt.date(2024, 9, 1), "25.5"),
        ("RO", dt.date(2025, 7, 31), "19"),
        ("RO", dt.date(2025, 8, 1), "21"),
        ("SK", dt.date(2024, 12, 31), "20"),
        ("SK", dt.date(2025, 1, 1), "23"),
        ("US", dt.date(2025, 1, 1), "0"),
    ],
)
def test_dated_vat_rates(country: str, day: dt.date, rate: str) -> None:
    assert vat.standard_rate(country, day) == Decimal(rate)


def test_reverse_charge_needs_a_valid_foreign_eu_vat_id() -> None:
    day = dt.date(2026, 1, 1)
    assert vat.decide("DE", True, "DE136695976", "NL", day).reverse_charge
    assert not vat.decide("DE", True, "DE136695977", "NL", day).reverse_charge  # bad checksum
    assert not vat.decide("DE", True, "FR40303265045", "NL", day).reverse_charge  # another country's id
    assert not vat.decide("DE", False, "DE136695976", "NL", day).reverse_charge  # not a business
    assert not vat.decide("NL", True, "NL004495445B01", "NL", day).reverse_charge  # same country as seller


async def test_ledger_never_goes_below_overdraft(dispatcher: Dispatcher) -> None:
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        bal = await ledger.balance(uow, customer)
        with pytest.raises(InsufficientBalance):
            await ledger.post(uow, customer, Money(-bal.minor - 1, "EUR"), "charge", "", None)
        await ledger.post(uow, customer, Money(-bal.minor, "EUR"), "charge", "", None)
        assert (await ledger.balance(uow, customer)).minor == 0


async def test_pay_link_is_hashed_bound_and_dies_when_paid(dispatcher: Dispatcher) -> None:
    actor = Actor(1)
    async with dispatcher.db.uow() as uow:
        inv = await invoices.get(uow, 3, actor)
        link = await invoices.create_pay_link(uow, inv, "https://pay.example", 30)
        await uow.commit()
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 32  # 192 bits in URL-safe base64
    async with dispatcher.db.uow() as uow:
        stored = (await uow.session.scalars(select(PayToken.token_hash))).all()
        assert token not in stored and len(stored) == 1
        opened = await invoices.resolve_pay_token(uow, token)
        assert opened is not None and opened.id == 3
        tampered = token[:-1] + ("B" if token.endswith("A") else "A")
        assert await invoices.resolve_pay_token(uow, tampered) is None
        await paying.mark_paid(uow, opened, "bank", actor)
        await uow.commit()
    async with dispatcher.db.uow() as uow:
        assert await invoices.resolve_pay_token(uow, token) is None
        with pytest.raises(InvalidState):
            await paying.mark_paid(uow, await invoices.get(uow, 3, actor), "bank", actor)
    with clock.frozen(clock.now() + dt.timedelta(days=31)):
        async with dispatcher.db.uow() as uow:
            assert await invoices.resolve_pay_token(uow, token) is None


async def test_paying_an_order_renewal_extends_the_period(dispatcher: Dispatcher) -> None:
    from storage.models import Order

    async with dispatcher.db.uow() as uow:
        order = await uow.session.get(Order, 1)
        assert order is not None
        end = order.period_end
        inv = await invoices.get(uow, 3, Actor(1))
        await paying.mark_paid(uow, inv, "balance", Actor(1))
        await uow.commit()
    async with dispatcher.db.uow() as uow:
        order = await uow.session.get(Order, 1)
        assert order is not None and order.period_start == end and order.period_end > end


class _BrokenNotifier:
    async def notify(self, uow: object, notice: object) -> None:
        raise RuntimeError("outbox unavailable")


async def test_payment_and_its_chat_notice_commit_together(dispatcher: Dispatcher) -> None:
    """A notice that cannot be written undoes the payment (the provider resends the event); the
    redelivery then records both, once."""
    from services import payments
    from services.ports import PaymentEvent
    from tests.fakes.notifier import LogNotifier

    async with dispatcher.db.uow() as uow:
        inv = await invoices.get(uow, 3, Actor(1))
    event = PaymentEvent("evt_1", "succeeded", "cs_1", inv.id, inv.total_minor, inv.currency)
    async with dispatcher.db.uow() as uow:
        with pytest.raises(RuntimeError):
            await payments.apply_event(uow, event, "stripe", _BrokenNotifier())
    async with dispatcher.db.uow() as uow:
        assert (await invoices.get(uow, 3, Actor(1))).status == "unpaid"
    told = LogNotifier()
    for _ in range(2):
        async with dispatcher.db.uow() as uow:
            await payments.apply_event(uow, event, "stripe", told)
    async with dispatcher.db.uow() as uow:
        assert (await invoices.get(uow, 3, Actor(1))).status == "paid"
    assert [(n.invoice_id, n.paid) for n in told.sent] == [(inv.id, True)]

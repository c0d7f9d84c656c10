"""Tickets: filters, reading marks replies read, and the new-ticket form with cancel at any step."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from services import mail_outbox
from storage.models import Order, Ticket
from tests.support.chat import Chat


async def _tickets(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_filters_and_read_flag(alice: Chat) -> None:
    assert "web-1 slow" in (await alice.say("tickets")).text
    assert "Copy of last invoice" in (await alice.say("tickets closed")).text
    unread = await alice.say("tickets unread")
    assert "web-1 slow" in unread.text
    shown = await alice.say("ticket 1")
    assert "less busy host" in shown.text
    assert "no tickets with unread replies" in (await alice.say("tickets unread")).text


async def test_whole_new_ticket_conversation(dispatcher: Dispatcher, alice: Chat) -> None:
    before = await _tickets(dispatcher)
    step = await alice.say("open a ticket")
    assert "Which department" in step.text
    step = await alice.press("Financial")
    assert "How important" in step.text
    step = await alice.say("urgent")
    assert "Which order" in step.text
    step = await alice.say("#1")
    assert "Subject" in step.text
    step = await alice.say("Wrong VAT on my invoice")
    assert "Message" in step.text
    done = await alice.say("Invoice HB2026-00003 shows reverse charge, is that right?")
    assert f"Ticket #{before + 1} is open" in done.text
    assert "compta@atelier-lumiere.example" in done.text  # the billing mailbox gets financial tickets
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.get(Ticket, before + 1)
        assert ticket is not None
        assert (ticket.department, ticket.importance, ticket.order_id) == ("financial", "high", 1)
        assert ticket.subject == "Wrong VAT on my invoice"
        copy = await mail_outbox.by_key(uow, f"ticket:{ticket.id}")
        assert copy is not None and copy.state == "pending"
        assert (copy.to_addr, copy.params["subject"]) == ("compta@atelier-lumiere.example", ticket.subject)
    # The form is closed: plain text is a command again.
    assert "I don't know that command" in (await alice.say("hello there")).text


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 4])
async def test_cancel_at_any_step(dispatcher: Dispatcher, alice: Chat, steps: int) -> None:
    before = await _tickets(dispatcher)
    await alice.say("newticket")
    for answer in ["technical", "regular", "none", "Subject"][:steps]:
        await alice.say(answer)
    assert "Cancelled" in (await alice.press("Cancel")).text
    assert await _tickets(dispatcher) == before
    assert "I don't know that command" in (await alice.say("technical")).text


async def test_typed_cancel_in_french(alice: Chat, dispatcher: Dispatcher) -> None:
    await alice.say("langue fr")
    await alice.say("nouveau ticket")
    assert "Annul" in (await alice.say("annuler")).text


async def test_invalid_answers_are_asked_again(alice: Chat, budi: Chat) -> None:
    await alice.say("newticket")
    assert "Technical or Financial" in (await alice.say("marketing")).text
    await alice.say("technical")
    assert "Regular or High" in (await alice.say("whenever")).text
    await alice.say("regular")
    async with budi.dispatcher.db.uow() as uow:
        foreign_id = await uow.session.scalar(select(Order.id).where(Order.customer_id == 2).limit(1))
    foreign = await alice.say(str(foreign_id))
    assert "not one of your orders" in foreign.text
    assert "Subject" in (await alice.say("none")).text
    assert "too long" in (await alice.say("s" * 201)).text

"""Both sides of a ticket: the customer replies, closes and reopens in the chat; the staff reply,
assign and close through ``services.desk``; each side sees what the other has not read yet, and the
news travels through the alerts outbox (to the customer's chats, or to the support desk)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.alerts.dispatch import AlertSender
from bot.alerts.notifier import OutboxNotifier
from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming
from services import clock, desk, mail_outbox, mailboxes
from services.desk import Staff
from services.drivers.log_mail import LogMailer
from services.errors import InvalidState
from storage.models import Alert, AuditEntry, Customer, Ticket, TicketMessage
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat

STAFF = Staff("slack:USTAFF")


async def _messages(dispatcher: Dispatcher, ticket_id: int) -> list[tuple[str, str, bool]]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
        )
        return [(m.author, m.body, m.is_read) for m in rows.all()]


async def _status(dispatcher: Dispatcher, ticket_id: int) -> str:
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.status


async def _alerts(dispatcher: Dispatcher) -> list[tuple[str, str]]:
    async with dispatcher.db.uow() as uow:
        return [(a.key, a.kind) for a in (await uow.session.scalars(select(Alert).order_by(Alert.id))).all()]


def _events(dispatcher: Dispatcher) -> OutboxNotifier:
    events = dispatcher.ticket_events
    assert isinstance(events, OutboxNotifier)
    return events


async def _staff_reply(dispatcher: Dispatcher, ticket_id: int, body: str, mailer: LogMailer) -> int:
    async with dispatcher.db.uow() as uow:
        sent = await desk.reply(uow, ticket_id, body, STAFF, _events(dispatcher))
    assert sent is not None
    return sent.id


async def test_customer_reply_is_unread_for_the_staff(dispatcher: Dispatcher, alice: Chat) -> None:
    answer = await alice.say("reply 1 Still slow this morning.\nAround 9:00.")
    assert "Your message was added to ticket #1" in answer.text
    assert (await _messages(dispatcher, 1))[-1] == (
        "customer",
        "Still slow this morning.\nAround 9:00.",
        False,
    )
    async with dispatcher.db.uow() as uow:
        waiting = await desk.listing(uow, unread=True)
        assert [(t.id, t.unread) for t in waiting] == [(1, 1)]
        read = await desk.read(uow, 1, STAFF)
    assert read.unread == 0
    async with dispatcher.db.uow() as uow:
        assert await desk.listing(uow, unread=True) == []
    assert "Usage: /reply NUMBER TEXT" in (await alice.say("reply 1")).text


async def test_others_tickets_stay_out_of_reach(dispatcher: Dispatcher, budi: Chat) -> None:
    assert "Not found" in (await budi.say("reply 1 hello")).text
    assert "Not found" in (await budi.say("close 1")).text
    assert (await _messages(dispatcher, 1))[-1][0] == "staff"


async def test_close_confirmed_then_reopen_by_replying_within_the_window(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    question = await alice.say("close 1")
    assert "Close ticket #1 (web-1 slow since yesterday)?" in question.text
    assert "within 14 days" in question.text
    assert await _status(dispatcher, 1) == "open"
    assert "Ticket #1 is closed." in (await alice.press("Close ticket")).text
    assert await _status(dispatcher, 1) == "closed"
    assert "already handled" in (await alice.press("Close ticket", question)).text
    assert "already closed" in (await alice.say("close 1")).text
    reopened = await alice.say("reply 1 Sorry, it is slow again.")
    assert "Ticket #1 is open again" in reopened.text
    assert await _status(dispatcher, 1) == "open"
    await alice.say("close 1")
    await alice.press("Close ticket")
    with clock.frozen(clock.now() + dt.timedelta(days=15)):
        late = await alice.say("reply 1 And again.")
    assert "closed too long ago" in late.text
    assert await _status(dispatcher, 1) == "closed"
    async with dispatcher.db.uow() as uow:
        actions = (
            await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.target == "ticket:1"))
        ).all()
    assert actions.count("ticket.close") == 2 and "ticket.reopen" in actions


async def test_staff_reply_reaches_the_customer_unread_copied_by_mail(
    dispatcher: Dispatcher, alice: Chat, mailer: LogMailer
) -> None:
    await alice.say("ticket 1")  # the demo reply is read
    assert "no tickets with unread replies" in (await alice.say("tickets unread")).text
    message = await _staff_reply(dispatcher, 1, "Please try now, we added RAM.", mailer)
    assert "web-1 slow" in (await alice.say("tickets unread")).text
    async with dispatcher.db.uow() as uow:
        copy = await mail_outbox.by_key(uow, f"ticket_reply:{message}")
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        technical = await mailboxes.mailbox(uow, customer, "technical")
    assert copy is not None and copy.kind == "ticket_reply" and copy.to_addr == technical
    assert copy.params["body"] == "Please try now, we added RAM."  # committed with the reply
    assert (f"reply:1:{message}", "ticket") in await _alerts(dispatcher)
    async with dispatcher.db.uow() as uow:
        audit = await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "ticket.staff_reply"))
    assert audit is not None and audit.customer_id == 1 and audit.detail == {"staff": "slack:USTAFF"}
    sender = RecordingSender()
    await AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}).run_pass()
    [told] = sender.texts("alice")
    assert told.startswith("Support replied to ticket #1 (web-1 slow since yesterday):\nPlease try now")
    assert "reply 1" in told


async def test_answering_the_alert_message_adds_to_its_ticket(dispatcher: Dispatcher, alice: Chat) -> None:
    await _staff_reply(dispatcher, 1, "Is it better now?", LogMailer())
    sender = RecordingSender()
    await AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}).run_pass()
    message_id = sender.sent[-1].message_id
    [answer] = await dispatcher.handle(Incoming("test", "alice", text="Yes, thanks!", reply_to=message_id))
    assert "Your message was added to ticket #1" in answer.text
    assert (await _messages(dispatcher, 1))[-1] == ("customer", "Yes, thanks!", False)
    # An answer to any other message is an ordinary command.
    [other] = await dispatcher.handle(Incoming("test", "alice", text="tickets", reply_to="m-unknown"))
    assert other.text.startswith("Open tickets:")
    assert len(await _messages(dispatcher, 1)) == 4


async def test_same_platform_message_is_one_reply(dispatcher: Dispatcher, mailer: LogMailer) -> None:
    before = len(await _messages(dispatcher, 1))
    for _ in range(2):
        async with dispatcher.db.uow() as uow:
            await desk.reply(uow, 1, "Once.", STAFF, _events(dispatcher), external_id="slack:C1:1.5")
    assert len(await _messages(dispatcher, 1)) == before + 1
    with pytest.raises(InvalidState):
        async with dispatcher.db.uow() as uow:
            await desk.reply(uow, 1, "   ", STAFF, _events(dispatcher))


async def test_staff_close_is_told_and_the_customer_may_reopen(dispatcher: Dispatcher, alice: Chat) -> None:
    async with dispatcher.db.uow() as uow:
        assigned = await desk.assign(uow, 1, STAFF.ref, STAFF)
        assert assigned.assignee == "slack:USTAFF"
        closed = await desk.close(uow, 1, STAFF, _events(dispatcher))
    assert closed.status == "closed"
    with pytest.raises(InvalidState):
        async with dispatcher.db.uow() as uow:
            await desk.close(uow, 1, STAFF, _events(dispatcher))
    keys = [key for key, _kind in await _alerts(dispatcher)]
    assert len([k for k in keys if k.startswith("closed:1:")]) == 1
    sender = RecordingSender()
    await AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}).run_pass()
    [told] = [t for t in sender.texts("alice") if "closed" in t]
    assert told == (
        "Support closed ticket #1 (web-1 slow since yesterday).\n"
        "If you still need help, reply to it within 14 days to reopen it."
    )
    [answer] = await dispatcher.handle(
        Incoming("test", "alice", text="Not solved yet", reply_to=sender.sent[-1].message_id)
    )
    assert "Ticket #1 is open again" in answer.text


async def test_customer_news_goes_to_the_desk_when_there_is_one(dispatcher: Dispatcher, alice: Chat) -> None:
    dispatcher.ticket_events = OutboxNotifier(desk=True)
    await alice.say("reply 1 More details")
    await alice.say("close 1")
    await alice.press("Close ticket")
    kinds = await _alerts(dispatcher)
    assert next(k for k, kind in kinds if kind == "desk") == "desk:1:opened"
    assert any(k.startswith("desk:1:message:") for k, _ in kinds)
    assert any(k.startswith("desk:1:closed:") for k, _ in kinds)
    # Without a desk process, its alerts fail (and end as dead letters), the customer's do not.
    sender = RecordingSender()
    await AlertSender(dispatcher.db, dispatcher.settings, dispatcher.seller, {"test": sender}).run_pass()
    async with dispatcher.db.uow() as uow:
        states = {a.key: (a.state, a.last_error) for a in (await uow.session.scalars(select(Alert))).all()}
    assert states["desk:1:opened"][0] == "pending" and "no support desk" in states["desk:1:opened"][1]

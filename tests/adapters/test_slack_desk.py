"""The support desk in the provider's Slack channel, end to end: signed requests into the aiohttp app,
slack-bolt, the fake Slack Web API; the customer on Telegram through python-telegram-bot and the
fake Bot API; the news carried by the alerts outbox in between.

A ticket opened on Telegram is posted to the channel; a staff member's thread reply reaches the
customer's Telegram chat in the customer's language (French); the customer's answer to that
message lands in the thread; Assign to me and Close work for members of the channel only, and the
customer is told of the closing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY
from bot.adapters.slack_desk import escape, plain
from bot.adapters.telegram import TELEGRAM
from bot.bootstrap import App
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from services import chat_records, linking, mail_outbox
from services.drivers.log_mail import LogMailer
from storage.models import AlertDelivery, ChatIdentity, Customer, Ticket, TicketMessage
from tests.fakes.slack_api import Call, FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.slack_client import SECRET, TEAM, SlackUser
from tests.support.telegram_driver import Telegram, telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
CUSTOMER = 701  # the customer's Telegram user
SUPPORT = "CSUPPORT"
STAFF, OUTSIDER = "USTAFF", "UOUTSIDER"


@dataclass
class Desk:
    app: App
    web_app: web.Application
    slack: FakeSlackAPI
    telegram: Telegram
    client: TestClient
    mailer: LogMailer

    def user(self, uid: str) -> SlackUser:
        return SlackUser(self.client, self.web_app[SLACK_KEY], self.slack, uid)

    async def send_alerts(self) -> int:
        sender = bootstrap.alert_sender(self.app, bootstrap.served_senders(self.app, self.web_app))
        return await sender.run_pass()

    async def ticket(self, ticket_id: int) -> Ticket:
        async with self.app.db.uow() as uow:
            found = await uow.session.get(Ticket, ticket_id)
            assert found is not None
            return found

    def posted(self, since: int = 0) -> list[Call]:
        """Messages the bot posted to the support channel (headers and thread messages)."""
        return [c for c in self.slack.of("chat.postMessage")[since:] if c.args.get("channel") == SUPPORT]

    def notes(self, user: str) -> list[str]:
        """What the desk told ``user`` alone in the channel."""
        return [c.text for c in self.slack.of("chat.postEphemeral") if c.args.get("user") == user]


@pytest.fixture
async def desk(dispatcher: Dispatcher, settings: Settings, mailer: LogMailer) -> AsyncIterator[Desk]:
    slack = await FakeSlackAPI(members={SUPPORT: ["UOTHER1", "UOTHER2", STAFF]}, page_size=2).start()
    fake = FakeTelegramAPI()
    await fake.start()
    configured = telegram_settings(
        settings,
        fake.url,
        webhook=True,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_pace_per_channel="1000/second",
        slack_support_channel=SUPPORT,
    )
    dispatcher.settings = configured
    app = bootstrap.assemble(configured, dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        found = Desk(app, web_app, slack, Telegram(fake, web_app[TELEGRAM], client), client, mailer)
        async with app.db.uow() as uow:
            customer = await uow.session.get(Customer, 1)
            assert customer is not None
            customer.language = "fr"
            await uow.commit()
        await found.telegram.link(app.db, CUSTOMER)
        yield found
    await fake.close()
    await slack.stop()


async def _open_ticket_on_telegram(desk: Desk) -> int:
    for answer in [
        "/newticket",
        "technical",
        "high",
        "1",
        "Mail bounces",
        "Since this morning <all> mail bounces.",
    ]:
        await desk.telegram.say(CUSTOMER, answer, language="fr")
    async with desk.app.db.uow() as uow:
        newest = await uow.session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    assert newest is not None
    return newest


def _thread_reply(ts: str, thread: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": SUPPORT,
        "channel_type": "channel",
        "ts": ts,
        "thread_ts": thread,
        "text": text,
    }


async def test_ticket_reply_close_through_the_desk(desk: Desk) -> None:
    ticket_id = await _open_ticket_on_telegram(desk)
    assert await desk.send_alerts() == 1
    [header] = desk.posted()
    assert header.text == f"Ticket #{ticket_id}: Mail bounces — open"
    blocks = str(header.blocks())
    assert "Customer: Atelier Lumière SARL (#1, contact@atelier-lumiere.example)" in blocks
    assert "Department: Technical · Importance: High" in blocks and "Order: #1 " in blocks
    assert "Since this morning &lt;all&gt; mail bounces." in blocks  # shown as typed, not as Slack markup
    assert set(header.buttons()) == {"Assign to me", "Close ticket"}
    thread = (await desk.ticket(ticket_id)).desk_thread
    assert thread is not None

    # A staff member answers in the thread: the customer reads it on Telegram, in French.
    staff = desk.user(STAFF)
    mark = len(desk.telegram.fake.calls)
    reply = _thread_reply(
        "1700000100.000001", thread, "Fixed &amp; tested, see <https://status.example|status>"
    )
    assert (await staff.event(reply, event_id="EvReply")).status == 200
    assert desk.notes(STAFF) == ["Sent to the customer."]
    await staff.event(reply, event_id="EvReply", retry=1)  # Slack's retry: no second reply
    await staff.event(reply, event_id="EvReplyAgain")  # the same message under another event id
    assert await desk.send_alerts() == 1
    [told] = desk.telegram.fake.sent(CUSTOMER, since=mark)
    with use_locale("fr"):
        head = _("Support replied to ticket #{id} ({subject}):").format(id=ticket_id, subject="Mail bounces")
    assert head != f"Support replied to ticket #{ticket_id} (Mail bounces):"
    assert told.params["text"].startswith(f"{head}\nFixed & tested, see status (https://status.example)")
    async with desk.app.db.uow() as uow:
        staff_messages = (
            await uow.session.scalars(
                select(TicketMessage).where(
                    TicketMessage.ticket_id == ticket_id, TicketMessage.author == "staff"
                )
            )
        ).all()
    assert [(m.is_read, m.staff) for m in staff_messages] == [(False, f"slack:{STAFF}")]
    async with desk.app.db.uow() as uow:
        copy = await mail_outbox.by_key(uow, f"ticket_reply:{staff_messages[0].id}")
    assert copy is not None and copy.params["subject"] == "Mail bounces"  # the mail copy, committed with it

    # Someone outside the support channel answers nothing.
    await desk.user(OUTSIDER).event(_thread_reply("1700000101.000001", thread, "I am not staff"))
    assert desk.notes(OUTSIDER) == ["Only members of the support channel answer tickets."]
    assert await desk.send_alerts() == 0

    # The customer answers the bot's message on Telegram: it lands in the ticket's thread.
    update = desk.telegram.fake.message_update(CUSTOMER, "Merci, ça marche !", language="fr")
    update["message"]["reply_to_message"] = told.result
    answered = await desk.telegram.deliver(update)
    assert f"#{ticket_id}" in answered[-1].params["text"]
    before = len(desk.posted())
    assert await desk.send_alerts() == 1
    [news] = desk.posted(before)
    assert news.args["thread_ts"] == thread
    assert news.text == "The customer wrote:\nMerci, ça marche !"

    # Buttons: only members act; Assign to me, then Close, which tells the customer.
    header_call = desk.posted()[0]
    await desk.user(OUTSIDER).press(header_call.buttons()["Close ticket"], channel=SUPPORT, ts=thread)
    assert (await desk.ticket(ticket_id)).status == "open"
    assert desk.notes(OUTSIDER)[-1] == "Only members of the support channel answer tickets."
    await staff.press(header_call.buttons()["Assign to me"], channel=SUPPORT, ts=thread)
    assert (await desk.ticket(ticket_id)).assignee == f"slack:{STAFF}"
    assert f"Assigned to <@{STAFF}>" in str(desk.slack.of("chat.update")[-1].blocks())
    assert desk.posted()[-1].text == f"<@{STAFF}> took the ticket."
    mark = len(desk.telegram.fake.calls)
    await staff.press(header_call.buttons()["Close ticket"], channel=SUPPORT, ts=thread)
    assert (await desk.ticket(ticket_id)).status == "closed"
    redrawn = desk.slack.of("chat.update")[-1]
    assert redrawn.text.endswith("— closed") and set(redrawn.buttons()) == {"Assign to me"}
    await staff.press(header_call.buttons()["Close ticket"], channel=SUPPORT, ts=thread)
    assert "already closed" in desk.notes(STAFF)[-1]
    assert await desk.send_alerts() == 1
    [closing] = desk.telegram.fake.sent(CUSTOMER, since=mark)
    with use_locale("fr"):
        closed = _("Support closed ticket #{id} ({subject}).").format(id=ticket_id, subject="Mail bounces")
    assert closing.params["text"].startswith(closed) and closed.startswith("Le support")


async def test_customer_closing_is_said_in_the_thread(desk: Desk) -> None:
    ticket_id = await _open_ticket_on_telegram(desk)
    await desk.telegram.say(CUSTOMER, f"/close {ticket_id}", language="fr")
    [question] = desk.telegram.fake.sent(CUSTOMER)[-1:]
    with use_locale("fr"):
        label = _("Close ticket")
    await desk.telegram.press(CUSTOMER, question, label, language="fr")
    assert (await desk.ticket(ticket_id)).status == "closed"
    assert await desk.send_alerts() == 2  # the ticket, then its closing in the thread
    _header, closing = desk.posted()
    assert closing.args["thread_ts"] == (await desk.ticket(ticket_id)).desk_thread
    assert closing.text == "The customer closed the ticket."
    assert desk.slack.of("chat.update")[-1].text.endswith("— closed")


def test_text_between_slack_and_the_customer() -> None:
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert plain("see <https://x.example|the page> or <https://y.example> &lt;3") == (
        "see the page (https://x.example) or https://y.example <3"
    )
    assert plain("hi <@U123>") == "hi <@U123>"


async def test_customer_on_slack_answers_in_the_alert_thread(desk: Desk) -> None:
    """A customer linked on Slack gets the staff reply in a direct message and answers in its thread."""
    async with desk.app.db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, "UCUSTOMER")
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", "owner"))
    ticket_id = await _open_ticket_on_telegram(desk)
    await desk.send_alerts()
    thread = (await desk.ticket(ticket_id)).desk_thread
    assert thread is not None
    await desk.user(STAFF).event(_thread_reply("1700000200.000001", thread, "Can you send the bounce?"))
    await desk.send_alerts()
    [dm] = [c for c in desk.slack.of("chat.postMessage") if c.args.get("channel") == "UCUSTOMER"]
    assert "Can you send the bounce?" in dm.text
    async with desk.app.db.uow() as uow:
        [delivered] = (
            await uow.session.scalars(
                select(AlertDelivery.message_id)
                .join(ChatIdentity, ChatIdentity.id == AlertDelivery.identity_id)
                .where(ChatIdentity.user_id == "UCUSTOMER")
            )
        ).all()
    customer = desk.user("UCUSTOMER")
    await customer.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D_DM",
            "text": "Here it is",
            "thread_ts": delivered,
        }
    )
    async with desk.app.db.uow() as uow:
        last = await uow.session.scalar(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .order_by(TicketMessage.id.desc())
        )
    assert last is not None and (last.author, last.body) == ("customer", "Here it is")


async def test_the_customers_files_are_named_in_the_ticket_and_its_thread(desk: Desk) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"\x01" * 2000
    for answer in ["/newticket", "technical", "high", "none", "Panel error"]:
        await desk.telegram.say(CUSTOMER, answer, language="fr")
    await desk.telegram.deliver(
        desk.telegram.fake.file_update(CUSTOMER, photo, "See the screenshot", language="fr")
    )
    async with desk.app.db.uow() as uow:
        ticket_id = await uow.session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    assert await desk.send_alerts() == 1
    [header] = desk.posted()
    with use_locale("en"):
        size = formatting.data_size(len(photo))
    sections = [b["text"]["text"] for b in header.blocks() if b["type"] == "section"]
    assert f"See the screenshot\n📎 photo.jpg ({size}, image/jpeg)" in sections
    log = b"error: disk full\n"
    update = desk.telegram.fake.file_update(
        CUSTOMER, log, f"/reply {ticket_id}", name="php<error>.log", mime_type="text/plain", language="fr"
    )
    await desk.telegram.deliver(update)
    assert await desk.send_alerts() == 1
    with use_locale("en"):
        size = formatting.data_size(len(log))
    assert desk.posted()[-1].text == f"The customer wrote:\n\n📎 php&lt;error&gt;.log ({size}, text/plain)"

"""Linking a chat without the operator, on SQLite and PostgreSQL: ``link``, the account's address,
the 6-digit code read back from a real SMTP server, and what keeps the code from being guessed or
used by someone else (one chat, once, 15 minutes, a few tries, rate limits per chat and address)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot import bootstrap
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming
from services import clock
from services.ports import Mailer
from services.records import Database
from storage.models import ChatIdentity, Mail
from tests.support.chat import Chat
from tests.support.smtp import SmtpServer, by_subject, mail_settings, running, text_of

MAIN, BILLING = "contact@atelier-lumiere.example", "compta@atelier-lumiere.example"
SUBJECT = "Your code to link a chat to your hosting account"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running(SmtpServer()) as server:
        yield server


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer) -> Settings:
    return mail_settings(database_url, smtp)


@pytest.fixture
def mailer(settings: Settings) -> Mailer:
    return bootstrap.mail_driver(settings)


@pytest.fixture
async def app(dispatcher: Dispatcher, settings: Settings, db: Database) -> App:
    async with db.uow() as uow:  # the demo's invoices, taken as mailed
        await uow.session.execute(update(Mail).values(state="sent"))
        await uow.commit()
    return bootstrap.assemble(settings, db, dispatcher)


async def _code_for(app: App, smtp: SmtpServer, to: str) -> str:
    await bootstrap.mail_sender(app).run_pass()
    mail = [m for m in by_subject(smtp.received, SUBJECT) if m["To"] == to][-1]
    [code] = re.findall(r"^\d{6}$", text_of(mail), re.MULTILINE)
    return code


async def _identity(app: App, user_id: str) -> ChatIdentity:
    async with app.db.uow() as uow:
        found = await uow.session.scalar(select(ChatIdentity).where(ChatIdentity.user_id == user_id))
    assert found is not None
    return found


async def test_the_main_address_links_as_owner(app: App, smtp: SmtpServer) -> None:
    newcomer = Chat(app.dispatcher, "newcomer")
    assert "Send link to get a code by e-mail" in (await newcomer.say("balance")).text
    assert "What is the e-mail address of your hosting account?" in (await newcomer.say("link")).text
    sent = await newcomer.say("Contact@Atelier-Lumiere.example")
    assert "a 6-digit code is on its way" in sent.text and "Send the 6-digit code" in sent.text
    code = await _code_for(app, smtp, "Contact@atelier-lumiere.example")
    [mail] = by_subject(smtp.received, SUBJECT)
    assert "Atelier Lumière SARL" in text_of(mail) and mail["Auto-Submitted"] == "auto-generated"
    wrong = "000000" if code != "000000" else "111111"
    again = await newcomer.say(wrong)
    assert "not the one we sent" in again.text and "Send the 6-digit code" in again.text
    assert "not linked" not in again.text
    linked = await newcomer.say(code)
    assert "now linked to the account of Atelier Lumière SARL" in linked.text
    assert "Your balance" in (await newcomer.say("balance")).text
    ident = await _identity(app, "newcomer")
    assert (ident.customer_id, ident.role) == (1, "owner")
    await bootstrap.mail_sender(app).run_pass()
    [notice] = by_subject(smtp.received, "A chat was linked to your hosting account")
    assert notice["To"] == MAIN and "as owner" in text_of(notice)


async def test_a_mailbox_address_links_as_member(app: App, smtp: SmtpServer) -> None:
    clerk = Chat(app.dispatcher, "clerk")
    await clerk.say("link")
    await clerk.say(BILLING)
    linked = await clerk.say(await _code_for(app, smtp, BILLING))
    assert "now linked" in linked.text
    assert (await _identity(app, "clerk")).role == "member"
    assert "does not allow" in (await clerk.say("paybalance 3")).text


async def test_an_unknown_address_is_answered_the_same(app: App, smtp: SmtpServer) -> None:
    known, stranger = Chat(app.dispatcher, "known"), Chat(app.dispatcher, "stranger")
    await known.say("link")
    await stranger.say("link")
    told_known = (await known.say(MAIN)).text
    told_stranger = (await stranger.say("nobody@nowhere.example")).text
    assert told_known.replace(MAIN, "X") == told_stranger.replace("nobody@nowhere.example", "X")
    code = await _code_for(app, smtp, MAIN)
    assert [r.message["To"] for r in smtp.received] == [MAIN]  # nothing to the unknown address
    assert "not the one we sent" in (await stranger.say(code)).text


async def test_a_code_is_for_the_chat_that_asked_once_and_15_minutes(app: App, smtp: SmtpServer) -> None:
    first, second, late = (Chat(app.dispatcher, name) for name in ("first", "second", "late"))
    now = clock.now()
    with clock.frozen(now):
        for chat in (first, second, late):
            await chat.say("link")
            await chat.say(MAIN)
        await bootstrap.mail_sender(app).run_pass()
        codes = [
            re.findall(r"^\d{6}$", text_of(m), re.MULTILINE)[0] for m in by_subject(smtp.received, SUBJECT)
        ]
        assert len(codes) == 3
        if codes[0] != codes[1]:  # (one in a million they are equal)
            assert "not the one we sent" in (await second.say(codes[0])).text
        assert "now linked" in (await first.say(codes[0])).text
        assert "already linked" in (await first.say("link")).text
    with clock.frozen(now + dt.timedelta(minutes=16)):
        assert "no valid code" in (await late.say(codes[2])).text


async def test_tries_and_requests_are_limited(app: App, smtp: SmtpServer) -> None:
    guesser = Chat(app.dispatcher, "guesser")
    await guesser.say("link")
    await guesser.say(MAIN)
    code = await _code_for(app, smtp, MAIN)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert "not the one we sent" in (await guesser.say(wrong)).text
    assert "Too many link attempts" in (await guesser.say(code)).text
    # Asking for codes: three per chat, and three per address whatever the chat.
    asker = Chat(app.dispatcher, "asker")
    for _ in range(3):
        await asker.say("/link")  # with its slash, a command restarts the form
        assert "on its way" in (await asker.say("jan@devries.example")).text
    await asker.say("/link")
    assert "Too many link attempts" in (await asker.say("jan@devries.example")).text
    other = Chat(app.dispatcher, "other")
    await other.say("link")
    assert "Too many link attempts" in (await other.say("JAN@devries.example")).text
    assert "on its way" in (await other.say("admin@majujaya.example")).text


async def test_not_in_a_group_and_not_with_a_bad_address(app: App) -> None:
    [reply] = await app.dispatcher.handle(
        Incoming("test", "grouped", text="link", chat_id="team", is_group=True)
    )
    assert "private chat" in reply.text
    single = Chat(app.dispatcher, "single")
    await single.say("link")
    assert "not an e-mail address" in (await single.say("my address")).text
    assert "Cancelled" in (await single.say("cancel")).text

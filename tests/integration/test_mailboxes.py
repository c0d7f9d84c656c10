"""Alternative mailboxes from the chat, on SQLite and PostgreSQL, with the codes read back from a
real SMTP server: listing, adding (used only once the mailed code comes back from the chat that
asked), removing (admins), and where ticket copies, invoices and notices go."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from bot import bootstrap
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock, mail_outbox
from services.ports import Mailer
from services.records import Database
from storage.models import Mail
from tests.support.chat import Chat
from tests.support.smtp import SmtpServer, by_subject, mail_settings, running, text_of

MAIN, BILLING, TECH = (
    "contact@atelier-lumiere.example",
    "compta@atelier-lumiere.example",
    "tech@lumiere.example",
)


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


async def _code(app: App, smtp: SmtpServer, subject: str, to: str) -> str:
    """Send what is due; the code in the last mail with ``subject`` to ``to``."""
    await bootstrap.mail_sender(app).run_pass()
    mail = [m for m in by_subject(smtp.received, subject) if m["To"] == to][-1]
    [code] = re.findall(r"^\d{6}$", text_of(mail), re.MULTILINE)
    return code


async def _ticket_copy_to(app: App, chat: Chat, department: str) -> str:
    for answer in ["newticket", department, "regular", "none", "Question"]:
        await chat.say(answer)
    done = await chat.say("Details")
    ticket = int(done.text.split("#")[1].split()[0])
    async with app.db.uow() as uow:
        row = await mail_outbox.by_key(uow, f"ticket:{ticket}")
    assert row is not None
    return row.to_addr


async def test_a_new_mailbox_is_used_once_its_code_comes_back(
    app: App, alice: Chat, smtp: SmtpServer
) -> None:
    listing = await alice.say("mailboxes")
    assert f"Invoices and orders: {BILLING}" in listing.text
    assert f"Technical tickets: the main address {MAIN}" in listing.text and listing.private
    ask = await alice.say(f"mailboxes add technical {TECH.upper()}")
    assert "TECH@lumiere.example" in ask.text  # the domain is case-insensitive, the local part is not
    ask = await alice.say(f"mailboxes add technical {TECH}")
    sent = await alice.press("Send code")
    assert f"A 6-digit code was sent to {TECH}." in sent.text and "/mailboxes CODE" in sent.text
    assert f"Waiting for its code: {TECH} (Technical tickets)" in (await alice.say("mailboxes")).text
    code = await _code(app, smtp, "Confirm your new mailbox", TECH)
    assert await _ticket_copy_to(app, alice, "technical") == MAIN  # not used before its code
    wrong = "000000" if code != "000000" else "111111"
    assert "not the one we sent" in (await alice.say(f"mailboxes {wrong}")).text
    assert f"{TECH} is now the mailbox for: Technical tickets." in (await alice.say(f"mailboxes {code}")).text
    assert "no valid code" in (await alice.say(f"mailboxes confirm {code}")).text  # once
    assert await _ticket_copy_to(app, alice, "technical") == TECH
    assert await _ticket_copy_to(app, alice, "financial") == BILLING
    await bootstrap.mail_sender(app).run_pass()
    [told] = by_subject(smtp.received, "A mailbox of your hosting account was changed")
    assert told["To"] == MAIN and TECH in text_of(told)  # the main address hears of it


async def test_the_code_mail_is_in_the_accounts_language(app: App, alice: Chat, smtp: SmtpServer) -> None:
    await alice.say("language tr")
    await alice.say(f"mailboxes add general {TECH}")
    await alice.press("Kod gönder")
    await bootstrap.mail_sender(app).run_pass()
    [mail] = [r.message for r in smtp.received if r.message["To"] == TECH]
    assert mail["Subject"] == "Yeni e-posta adresinizi onaylayın" and mail["Content-Language"] == "tr"
    assert "Atelier Lumière SARL barındırma hesabının genel gönderileri almak" in text_of(mail)


async def test_only_admins_change_mailboxes(app: App, alice: Chat, smtp: SmtpServer) -> None:
    member = await Chat.linked(app.dispatcher, "mia", customer_id=1, role="member")
    assert "Where your e-mails go" in (await member.say("mailboxes")).text
    for line in ("mailboxes remove billing", f"mailboxes add general {TECH}", "mailboxes 123456"):
        assert "does not allow" in (await member.say(line)).text, line
    admin = await Chat.linked(app.dispatcher, "ada", customer_id=1, role="admin")
    asked = await admin.say("mailboxes remove billing")
    assert f"Remove {BILLING} as the mailbox for: Invoices and orders?" in asked.text
    assert f"That mail goes to {MAIN}" in (await admin.press("Remove")).text
    assert await _ticket_copy_to(app, alice, "financial") == MAIN
    assert "There is no mailbox for that" in (await admin.say("mailboxes remove billing")).text


async def test_a_code_works_in_the_asking_chat_only_and_not_for_long(
    app: App, alice: Chat, smtp: SmtpServer
) -> None:
    admin = await Chat.linked(app.dispatcher, "ada", customer_id=1, role="admin")
    now = clock.now()
    with clock.frozen(now):
        await alice.say(f"mailboxes add general {TECH}")
        await alice.press("Send code")
        code = await _code(app, smtp, "Confirm your new mailbox", TECH)
        assert "no valid code" in (await admin.say(f"mailboxes {code}")).text
    with clock.frozen(now + dt.timedelta(minutes=16)):
        assert "no valid code" in (await alice.say(f"mailboxes {code}")).text
    assert "General mailings: the main address" in (await alice.say("mailboxes")).text


async def test_five_wrong_tries_spend_the_code(app: App, alice: Chat, smtp: SmtpServer) -> None:
    await alice.say(f"mailboxes add general {TECH}")
    await alice.press("Send code")
    code = await _code(app, smtp, "Confirm your new mailbox", TECH)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [(await alice.say(f"mailboxes {wrong}")).text for _ in range(5)]
    assert all("not the one we sent" in a for a in answers)
    assert "Too many codes" in (await alice.say(f"mailboxes {code}")).text  # the chat's rate limit
    # Past the rate limit (another replica's memory while Redis is down), the code itself is spent.
    app.dispatcher.settings = app.settings.model_copy(update={"mail_code_attempts": "100/minute"})
    assert "no valid code" in (await alice.say(f"mailboxes {code}")).text


async def test_bad_addresses_are_refused(alice: Chat) -> None:
    for address in ("nobody", "a@b", "a,b@example.com", "x@-bad-.example", "a..b@example.com"):
        assert "not an e-mail address" in (await alice.say(f"mailboxes add general {address}")).text, address
    assert "Usage" in (await alice.say(f"mailboxes add newsletters {TECH}")).text
    assert "Usage" in (await alice.say("mailboxes add general")).text
    idn = await alice.say("mailboxes add general fatura@şirket.example")
    assert "fatura@xn--irket-idb.example" in idn.text  # an international domain in its ASCII form

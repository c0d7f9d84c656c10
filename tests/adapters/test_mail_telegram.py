"""Mail from Telegram end to end (python-telegram-bot against the fake Bot API, the mail to a real
SMTP server), on SQLite and PostgreSQL: a newcomer links with a code mailed to the account's
address, in their Telegram language; an owner adds a mailbox and confirms it with its code."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot import bootstrap
from bot.adapters.telegram import TELEGRAM
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services.ports import Mailer
from storage.models import Mail
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.smtp import SmtpServer, mail_settings, running, text_of
from tests.support.telegram_driver import Telegram, telegram_settings, texts

NEWCOMER, OWNER = 555, 111
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


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
async def served(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> AsyncIterator[tuple[App, Telegram]]:
    """``hostbot run`` with Telegram in polling mode, the demo's invoices taken as mailed."""
    async with dispatcher.db.uow() as uow:
        await uow.session.execute(update(Mail).values(state="sent"))
        await uow.commit()
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook=False), dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)):
        yield app, Telegram(fake, web_app[TELEGRAM], None)


async def _code(app: App, smtp: SmtpServer) -> str:
    await bootstrap.mail_sender(app).run_pass()
    [code] = re.findall(r"^\d{6}$", text_of(smtp.received[-1].message), re.MULTILINE)
    return code


async def test_a_newcomer_links_with_a_mailed_code_in_french(
    served: tuple[App, Telegram], smtp: SmtpServer
) -> None:
    app, tg = served
    assert "/link" in texts(await tg.say(NEWCOMER, "/solde", language="fr"))
    asked = texts(await tg.say(NEWCOMER, "/lier", language="fr"))
    assert "Quelle est l’adresse e-mail de votre compte d’hébergement\u00a0?" in asked
    sent = texts(await tg.say(NEWCOMER, "contact@atelier-lumiere.example", language="fr"))
    assert "un code à 6 chiffres vient d’y être envoyé" in sent
    code = await _code(app, smtp)
    mail = smtp.received[-1].message
    assert mail["Subject"] == "Votre code pour lier une conversation à votre compte d’hébergement"
    assert "une conversation Telegram" in text_of(mail) and mail["Content-Language"] == "fr"
    linked = texts(await tg.say(NEWCOMER, code, language="fr"))
    assert "Atelier Lumière SARL" in linked
    assert "Votre solde" in texts(await tg.say(NEWCOMER, "/solde", language="fr"))


async def test_an_owner_adds_a_mailbox(served: tuple[App, Telegram], smtp: SmtpServer) -> None:
    app, tg = served
    await tg.link(app.db, OWNER)
    [question] = await tg.say(OWNER, "/mailboxes add general news@lumiere.example")
    calls = await tg.press(OWNER, question, "Send code")
    assert "A 6-digit code was sent to news@lumiere.example." in texts(calls)
    code = await _code(app, smtp)
    assert smtp.received[-1].message["To"] == "news@lumiere.example"
    done = texts(await tg.say(OWNER, f"/mailboxes {code}"))
    assert "news@lumiere.example is now the mailbox for: General mailings." in done
    assert "General mailings: news@lumiere.example" in texts(await tg.say(OWNER, "/mailboxes"))

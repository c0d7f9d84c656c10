"""Settings and security through the Telegram adapter (python-telegram-bot against the fake Bot API,
webhook mode): the code word before a sensitive action and never in a group, the linked chats, a
currency change and a contact change by ticket; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import ledger, paying
from services.money import Money
from storage.models import ChatIdentity, Customer, Invoice, Ticket
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.telegram_driver import GROUP, Telegram, telegram_settings, texts

ALICE, BOB, JAN = 111, 222, 444
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def tg(dispatcher: Dispatcher, settings: Settings) -> AsyncIterator[Telegram]:
    fake = FakeTelegramAPI()
    await fake.start()
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook=True), dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield Telegram(fake, web_app[TELEGRAM], client)
    await fake.close()


async def _status(dispatcher: Dispatcher, invoice_id: int) -> str:
    async with dispatcher.db.uow() as uow:
        return (await uow.session.get_one(Invoice, invoice_id)).status


async def test_code_word_before_deleting_an_invoice(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    [preview] = await tg.say(ALICE, "/codeword set Blue heron 42")
    assert "is set" in texts(await tg.press(ALICE, preview, "Set code word"))
    [ask] = await tg.say(ALICE, "/deleteinvoice 3")
    asked = texts(await tg.press(ALICE, ask, "Delete"))
    assert "protected by your account's code word" in asked
    assert "not the code word" in texts(await tg.say(ALICE, "blue heron 24"))
    assert await _status(dispatcher, 3) == "unpaid"
    assert "is deleted" in texts(await tg.say(ALICE, "blue heron 42"))
    assert await _status(dispatcher, 3) == "cancelled"


async def test_never_in_a_group(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    assert "direct chat" in texts(await tg.say(ALICE, "/codeword set Blue heron 42", chat=GROUP))
    [preview] = await tg.say(ALICE, "/codeword set Blue heron 42")
    await tg.press(ALICE, preview, "Set code word")
    [ask] = await tg.say(ALICE, "/deleteinvoice 3", chat=GROUP)
    assert "Ask me again in a direct chat" in texts(await tg.press(ALICE, ask, "Delete"))
    assert await _status(dispatcher, 3) == "unpaid"


async def test_sessions_list_and_revoke(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    await tg.link(dispatcher.db, BOB, role="admin")
    async with dispatcher.db.uow() as uow:
        bob = await uow.session.scalar(select(ChatIdentity).where(ChatIdentity.user_id == str(BOB)))
        assert bob is not None
    [listing] = await tg.say(ALICE, "/sessions")
    text = listing.params["text"]
    assert f"Telegram user {ALICE} · owner" in text and "(this chat)" in text
    assert f"{bob.id} · Telegram user {BOB} · admin" in text
    [preview] = [c for c in await tg.press(ALICE, listing, f"Revoke {bob.id}") if c.method == "sendMessage"]
    assert "no longer linked" in texts(await tg.press(ALICE, preview, "Revoke"))
    assert "not linked" in texts(await tg.say(BOB, "/balance"))


async def test_currency_change(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, JAN, customer_id=4)
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get_one(Customer, 4)
        await paying.mark_paid(uow, await uow.session.get_one(Invoice, 12), "bank", None)
        left = await ledger.balance(uow, customer)
        await ledger.post(uow, customer, Money(-left.minor, "EUR"), "refund", "test", None, floor="none")
        await uow.commit()
    [preview] = await tg.say(JAN, "/currency IDR")
    assert "Bill the account in IDR from now on?" in preview.params["text"]
    assert "now billed in IDR" in texts(await tg.press(JAN, preview, "Change currency"))
    assert "IDR" in texts(await tg.say(JAN, "/balance"))


async def test_contact_change_by_ticket(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    [asked] = await tg.say(ALICE, "/changecontact")
    [prompt] = [c for c in await tg.press(ALICE, asked, "Main e-mail") if c.method == "sendMessage"]
    assert "new main e-mail" in prompt.params["text"]
    [preview] = await tg.say(ALICE, "hello@lumiere.example")
    assert "is open" in texts(await tg.press(ALICE, preview, "Open ticket"))
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket).where(Ticket.subject == "Change of contact data"))
        assert ticket is not None and ticket.department == "financial"
        assert (await uow.session.get_one(Customer, 1)).email == "contact@atelier-lumiere.example"

"""A payment lands (signed Stripe webhook) → an alert in the outbox → told in chat, in the customer's
language, on every linked chat: through python-telegram-bot to the fake Bot API, and the test sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.telegram import TELEGRAM
from bot.alerts.dispatch import AlertSender
from bot.alerts.senders import Sender
from bot.bootstrap import App
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from services.money import Money
from storage.models import Alert, Customer, Invoice
from tests.fakes import stripe_api as fake_stripe
from tests.fakes.alert_senders import RecordingSender
from tests.fakes.stripe_api import FakeStripe, event
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.chat import Chat
from tests.support.telegram_driver import Telegram, telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
USER = 601


@dataclass
class Site:
    app: App
    web_app: web.Application
    stripe: FakeStripe
    telegram: Telegram


@pytest.fixture
async def site(dispatcher: Dispatcher, settings: Settings) -> AsyncIterator[Site]:
    """``hostbot run``'s web app with Stripe and Telegram, its default (outbox) notifier."""
    async with FakeStripe() as stripe_api:
        fake = FakeTelegramAPI()
        await fake.start()
        configured = telegram_settings(
            settings,
            fake.url,
            webhook=True,
            stripe_api_key=fake_stripe.API_KEY,
            stripe_webhook_secret=fake_stripe.WEBHOOK_SECRET,
            stripe_api_base=stripe_api.base,
        )
        app = bootstrap.assemble(configured, dispatcher.db, dispatcher)
        web_app = bootstrap.web_app(app)
        async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
            stripe_api.webhook_url = str(client.make_url("/stripe/webhook"))
            yield Site(app, web_app, stripe_api, Telegram(fake, web_app[TELEGRAM], client))
        await fake.close()


async def _customer_speaks(app: App, customer_id: int, language: str | None) -> None:
    async with app.db.uow() as uow:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        customer.language = language
        await uow.commit()


async def _invoice(app: App, invoice_id: int) -> Invoice:
    async with app.db.uow() as uow:
        inv = await uow.session.get(Invoice, invoice_id)
        assert inv is not None
        return inv


async def _outbox(app: App) -> list[tuple[str, str, str]]:
    async with app.db.uow() as uow:
        rows = (await uow.session.scalars(select(Alert).order_by(Alert.id))).all()
    return [(a.key, a.kind, a.state) for a in rows]


async def _dispatch(site: Site, senders: dict[str, Sender]) -> int:
    app = site.app
    return await AlertSender(app.db, app.settings, app.seller, senders).run_pass()


async def test_paid_invoice_is_told_on_every_linked_chat_in_the_customer_language(site: Site) -> None:
    app = site.app
    await _customer_speaks(app, 1, "fr")
    await site.telegram.link(app.db, USER)
    await Chat.linked(app.dispatcher, "alice", customer_id=1)
    inv = await _invoice(app, 3)
    session = site.stripe.session(3, inv.total_minor, payment_status="paid", status="complete")
    completed = event("checkout.session.completed", session)
    assert (await site.stripe.send(completed))[0] == 200
    assert (await site.stripe.send(completed))[0] == 200  # redelivered: nothing more to tell
    assert await _outbox(app) == [("paid:3", "invoice_paid", "pending")]

    recording = RecordingSender()
    mark = len(site.telegram.fake.calls)
    senders = {**bootstrap.senders(site.web_app[TELEGRAM]), "test": recording}
    assert await _dispatch(site, senders) == 1
    assert await _outbox(app) == [("paid:3", "invoice_paid", "sent")]
    [message] = site.telegram.fake.sent(USER, since=mark)
    with use_locale("fr"):
        told = _("Invoice {number} is paid. Thank you!").format(number=inv.number)
    assert told in message.params["text"]
    assert f"Votre facture en PDF\xa0: /facture {inv.number} pdf" in message.params["text"]
    assert recording.texts("alice") == [message.params["text"]]
    assert await _dispatch(site, senders) == 0  # told once


async def test_money_an_invoice_cannot_take_is_told_as_a_credit(site: Site) -> None:
    """No language saved on the account: each chat reads it in its own (Indonesian here)."""
    app = site.app
    await _customer_speaks(app, 1, None)
    alice = await Chat.linked(app.dispatcher, "alice", customer_id=1)
    await alice.say("bahasa id")
    await _customer_speaks(app, 1, None)  # keep only the chat's language
    inv = await _invoice(app, 3)
    first = event(
        "checkout.session.completed", site.stripe.session(3, inv.total_minor, payment_status="paid")
    )
    second = event(
        "checkout.session.completed", site.stripe.session(3, inv.total_minor, payment_status="paid")
    )
    for payload in (first, second):
        assert (await site.stripe.send(payload))[0] == 200
    assert await _outbox(app) == [
        ("paid:3", "invoice_paid", "pending"),
        (f"credited:{second['id']}", "payment_credited", "pending"),
    ]
    recording = RecordingSender()
    assert await _dispatch(site, {"test": recording}) == 2
    with use_locale("id"):
        credited = _(
            "We received {amount} for invoice {number}, which could not take it; "
            "it was added to your balance."
        ).format(amount=formatting.money(Money(inv.total_minor, inv.currency)), number=inv.number)
        paid = _("Invoice {number} is paid. Thank you!").format(number=inv.number)
    texts = recording.texts("alice")
    # Sent concurrently: the two may arrive in either order.
    assert len(texts) == 2 and credited in texts and any(t.startswith(paid) for t in texts)

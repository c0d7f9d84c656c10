"""The hostbot web app with payments on a real socket, next to the fake Stripe (shared by the tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import bootstrap
from bot.core.dispatcher import Dispatcher
from services import invoices
from storage.models import Invoice
from tests.fakes import stripe_api as fake_stripe
from tests.fakes.notifier import LogNotifier
from tests.fakes.stripe_api import FakeStripe


@dataclass
class PaySite:
    client: TestClient[web.Request, web.Application]
    stripe: FakeStripe
    notifier: LogNotifier
    dispatcher: Dispatcher

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def link(self, invoice_id: int) -> str:
        """A fresh pay link for an invoice, as ``pay N`` would make it."""
        async with self.dispatcher.db.uow() as uow:
            inv = await uow.session.get(Invoice, invoice_id)
            assert inv is not None
            url = await invoices.create_pay_link(uow, inv, self.base, 30)
            await uow.commit()
        return url

    def path(self, url: str) -> str:
        return url.removeprefix(self.base)


@asynccontextmanager
async def pay_site(dispatcher: Dispatcher, with_stripe: bool = True) -> AsyncIterator[PaySite]:
    settings = dispatcher.settings
    async with FakeStripe() as stripe_api:
        if with_stripe:
            settings.stripe_api_key = fake_stripe.API_KEY
            settings.stripe_webhook_secret = fake_stripe.WEBHOOK_SECRET
            settings.stripe_api_base = stripe_api.base
        notifier = LogNotifier()
        web_app = bootstrap.web_app(bootstrap.assemble(settings, dispatcher.db, dispatcher), notifier)
        async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
            site = PaySite(client, stripe_api, notifier, dispatcher)
            settings.public_base_url = site.base
            dispatcher.pay_links = bootstrap.pay_links(settings)  # links now point to this site
            stripe_api.webhook_url = f"{site.base}/stripe/webhook"
            yield site

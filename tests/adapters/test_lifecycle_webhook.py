"""A suspended order paid by card: the Stripe webhook's answer comes after its server is back, over
HTTP with the real stripe SDK against the fake Stripe, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot import bootstrap, demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock, service_lifecycle
from services.drivers.log_mail import LogMailer
from storage.models import AuditEntry, Invoice, Order, PendingAction, Server
from storage.uow import Database
from tests.fakes.stripe_api import event
from tests.support.paysite import PaySite, pay_site

SEEDED = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
SUSPENDED = dt.datetime(2026, 3, 22, 10, 0, tzinfo=dt.UTC)  # order 1 was due on March 20


@pytest.fixture
async def site(db: Database, settings: Settings) -> AsyncIterator[PaySite]:
    dispatcher: Dispatcher = bootstrap.dispatcher(db, settings, mailer=LogMailer())
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            await demo.seed(uow, dispatcher.seller)
    async with pay_site(dispatcher) as running:
        yield running


async def _state(db: Database) -> tuple[str, str]:
    async with db.uow() as uow:
        order = await uow.session.get(Order, 1)
        server = await uow.session.get(Server, 1)
        assert order is not None and server is not None
        return order.status, server.power_state


async def test_paid_by_card_the_suspended_server_is_back_before_stripe_gets_its_answer(site: PaySite) -> None:
    db = site.dispatcher.db
    with clock.frozen(SUSPENDED):
        await service_lifecycle.run(db, site.dispatcher.settings)
        await site.dispatcher.actions.run_due()
        assert await _state(db) == ("suspended", "suspended")
        async with db.uow() as uow:
            renewal = await uow.session.get(Invoice, 3)
            assert renewal is not None and renewal.order_id == 1
        session = site.stripe.session(3, renewal.total_minor, payment_status="paid", status="complete")
        completed = event("checkout.session.completed", session)
        assert (await site.stripe.send(completed))[0] == 200
        assert await _state(db) == ("active", "running")
        assert (await site.stripe.send(completed))[0] == 200  # redelivered: nothing more
    async with db.uow() as uow:
        kinds = (
            await uow.session.scalars(
                select(PendingAction.kind)
                .where(PendingAction.target == "server:1")
                .order_by(PendingAction.id)
            )
        ).all()
        unsuspended = (
            await uow.session.scalars(select(AuditEntry.id).where(AuditEntry.action == "server.unsuspended"))
        ).all()
    assert list(kinds) == ["suspend", "unsuspend"] and len(unsuspended) == 1

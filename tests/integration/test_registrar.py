"""A paid domain renewal is carried out at the registrar after the commit, once, whichever way it was
paid; what the registry answers is recorded; failures are visible and retried. Under a frozen
clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from bot import bootstrap, demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock, ledger, paying, pending_actions, renewals
from services.drivers.inventory import InventoryRegistrar
from services.drivers.log_mail import LogMailer
from services.money import Money
from services.ports import DomainRef, RegistrarError
from storage.models import AuditEntry, Customer, Domain, Invoice, PendingAction
from storage.uow import Database
from tests.support.chat import Chat

SEEDED = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
NAME = "atelier-lumiere.example"  # expires on March 15, renewed by hand
AUTO = "atelier-lumiere-shop.example"  # expires on September 26, renewed automatically


class Registry(InventoryRegistrar):
    """A registry that remembers: what the inventory registrar answers, plus the expiry it holds,
    the renewals it carried out, and ``failures`` calls to refuse first (a registry down)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.held: dict[str, dt.date] = {}
        self.renewals: list[tuple[str, dt.date]] = []

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise RegistrarError("registry timed out")

    async def renew(self, domain: DomainRef, years: int) -> dt.date:
        self._maybe_fail()
        current = self.held.get(domain.name, domain.expires_on)
        self.held[domain.name] = await super().renew(DomainRef(domain.name, current), years)
        self.renewals.append((domain.name, domain.expires_on))
        return self.held[domain.name]

    async def expiry(self, domain: DomainRef) -> dt.date:
        self._maybe_fail()
        return self.held.get(domain.name, domain.expires_on)


def at(day: dt.datetime | dt.date, seconds: int = 0) -> dt.datetime:
    start = day if isinstance(day, dt.datetime) else dt.datetime.combine(day, dt.time(10), dt.UTC)
    return start + dt.timedelta(seconds=seconds)


async def seeded(db: Database, settings: Settings, registry: Registry) -> Dispatcher:
    dispatcher = bootstrap.dispatcher(db, settings, mailer=LogMailer(), registrar=registry)
    with clock.frozen(SEEDED):
        async with db.uow() as uow:
            await demo.seed(uow, dispatcher.seller)
        await Chat.linked(dispatcher, "alice", customer_id=1)
    return dispatcher


async def set_balance(db: Database, minor: int) -> None:
    async with db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        await ledger.post(
            uow, customer, Money(minor - customer.balance_minor, "EUR"), "adjustment", "test", None
        )
        await uow.commit()


async def domain(db: Database, name: str) -> Domain:
    async with db.uow() as uow:
        found = await uow.session.scalar(select(Domain).where(Domain.name == name))
        assert found is not None
        return found


async def actions(db: Database) -> list[PendingAction]:
    async with db.uow() as uow:
        return list((await uow.session.scalars(select(PendingAction).order_by(PendingAction.id))).all())


async def audited(db: Database, action: str) -> list[AuditEntry]:
    async with db.uow() as uow:
        return list((await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def renew_in_chat(dispatcher: Dispatcher, name: str) -> str:
    alice = Chat(dispatcher, "alice")
    question = await alice.say(f"renew {name}")
    return (await alice.press("Renew", question)).text


async def test_a_renewal_paid_from_the_balance_in_chat_is_renewed_at_the_registrar_at_once(
    db: Database, settings: Settings
) -> None:
    registry = Registry()
    dispatcher = await seeded(db, settings, registry)
    before = (await domain(db, NAME)).expires_on
    with clock.frozen(SEEDED):
        await set_balance(db, 10_000)
        assert "is renewed until" in await renew_in_chat(dispatcher, NAME)
        renewed = await domain(db, NAME)
        assert renewed.expires_on == renewed.registry_expires_on == before + relativedelta(years=1)
        assert registry.renewals == [(NAME, before)]  # before the answer, and once
        [action] = await actions(db)
        assert (action.kind, action.state, action.attempts) == ("renew_domain", "done", 1)
        assert action.result == {"expires_on": renewed.expires_on.isoformat()}
        assert await dispatcher.actions.run_due() == 0
    [entry] = await audited(db, "domain.registrar_renewed")
    assert (entry.customer_id, entry.target, entry.outcome) == (1, f"domain:{renewed.id}", "ok")


async def test_an_invoice_paid_later_renews_at_the_registrar_when_it_is_paid(
    db: Database, settings: Settings
) -> None:
    registry = Registry()
    dispatcher = await seeded(db, settings, registry)
    with clock.frozen(SEEDED):
        await set_balance(db, 0)
        assert "will be renewed as soon as it is paid" in await renew_in_chat(dispatcher, NAME)
        assert registry.renewals == [] and await actions(db) == []
        await set_balance(db, 10_000)
        async with db.uow() as uow:
            invoice = await uow.session.scalar(
                select(Invoice).where(Invoice.status == "unpaid").order_by(Invoice.id.desc())
            )
            assert invoice is not None and invoice.renewal_key and invoice.renewal_key.startswith("domain:")
        alice = Chat(dispatcher, "alice")
        question = await alice.say(f"paybalance {invoice.number}")
        await alice.press("Confirm", question)
    assert len(registry.renewals) == 1
    assert (await domain(db, NAME)).registry_expires_on == registry.held[NAME]


async def test_an_automatic_renewal_is_renewed_at_the_registrar_once_by_concurrent_workers(
    db: Database, settings: Settings
) -> None:
    registry = Registry()
    dispatcher = await seeded(db, settings, registry)
    expires = (await domain(db, AUTO)).expires_on
    await set_balance(db, 10_000_000)

    async def billing() -> None:
        async with db.uow() as uow:
            await renewals.run_due(uow, dispatcher.seller)

    with clock.frozen(at(expires)):
        await asyncio.gather(*(billing() for _ in range(3)))
        runners = [bootstrap.action_runner(db, settings, dispatcher.drivers) for _ in range(3)]
        await asyncio.gather(*(r.run_due() for r in runners))
        await asyncio.gather(*(r.run_due() for r in runners))
    assert [r for r in registry.renewals if r[0] == AUTO] == [(AUTO, expires)]
    assert (await domain(db, AUTO)).registry_expires_on == expires + relativedelta(years=1)
    auto = await domain(db, AUTO)
    assert [a.key for a in await actions(db) if a.target == f"domain:{auto.id}"] == [
        f"renew:domain:{auto.id}:{expires.isoformat()}"
    ]


async def test_a_registry_that_fails_is_retried_after_a_backoff_and_shown_until_it_answers(
    db: Database, settings: Settings
) -> None:
    registry = Registry(failures=1)
    dispatcher = await seeded(db, settings, registry)
    with clock.frozen(SEEDED):
        await set_balance(db, 10_000)
        assert "is renewed until" in await renew_in_chat(dispatcher, NAME)  # paid: the answer does not wait
        [action] = await actions(db)
        assert (action.state, action.attempts, action.last_error) == ("pending", 1, "registry timed out")
        assert action.not_before == SEEDED + dt.timedelta(seconds=settings.actions_backoff_seconds)
        async with db.uow() as uow:
            assert [a.id for a in await pending_actions.troubled(uow)] == [action.id]
        assert await dispatcher.actions.run_due() == 0  # not before the backoff ends
        assert (await domain(db, NAME)).registry_expires_on is None
    with clock.frozen(at(SEEDED, settings.actions_backoff_seconds)):
        assert await dispatcher.actions.run_due() == 1
    [action] = await actions(db)
    assert (action.state, action.attempts) == ("done", 2)
    assert (await domain(db, NAME)).registry_expires_on == registry.held[NAME]
    assert len(registry.renewals) == 1  # the registry was asked first: it had not renewed


async def test_after_the_last_attempt_an_action_is_failed_audited_and_can_be_put_back(
    db: Database, settings: Settings
) -> None:
    settings = settings.model_copy(update={"actions_max_attempts": 2})
    registry = Registry(failures=3)  # renew, then expiry (asked first on a retry), then renew again
    dispatcher = await seeded(db, settings, registry)
    with clock.frozen(SEEDED):
        await set_balance(db, 10_000)
        await renew_in_chat(dispatcher, NAME)
    with clock.frozen(at(SEEDED, 3600)):
        assert await dispatcher.actions.run_due() == 1
        [action] = await actions(db)
        assert (action.state, action.attempts) == ("failed", 2)
        [entry] = await audited(db, "action.renew_domain")
        assert (entry.outcome, entry.detail["error"]) == ("error", "registry timed out")
        assert await dispatcher.actions.run_due() == 0  # failed stays failed
        async with db.uow() as uow:
            assert await pending_actions.counts(uow) == {"pending": 0, "running": 0, "done": 0, "failed": 1}
        async with db.uow() as uow:
            assert await pending_actions.retry(uow, action.id)
        assert await dispatcher.actions.run_due() == 1  # attempts start afresh: renew, which fails
        assert await dispatcher.actions.run_due() == 0
    with clock.frozen(at(SEEDED, 7200)):
        assert await dispatcher.actions.run_due() == 1
    [action] = await actions(db)
    assert action.state == "done" and len(registry.renewals) == 1


@pytest.mark.parametrize("renewed_before", [True, False])
async def test_an_attempt_whose_outcome_is_unknown_asks_the_registry_before_renewing_again(
    db: Database, settings: Settings, renewed_before: bool
) -> None:
    """The worker died holding the action: maybe after the registry renewed, maybe before. The next
    worker asks the registry for the expiry and renews only if it did not."""
    registry = Registry()
    dispatcher = await seeded(db, settings, registry)
    before = (await domain(db, NAME)).expires_on
    with clock.frozen(SEEDED):
        await set_balance(db, 0)
        await renew_in_chat(dispatcher, NAME)  # invoiced: nothing decided yet
        await set_balance(db, 10_000)
        async with db.uow() as uow:
            invoice = await uow.session.scalar(
                select(Invoice).where(Invoice.status == "unpaid").order_by(Invoice.id.desc())
            )
            assert invoice is not None
            await paying.mark_paid(uow, invoice, "bank", None)
            await uow.commit()
        async with db.uow() as uow:
            [claimed] = await pending_actions.claim(uow, "died", 10, settings.actions_lease_seconds)
        assert claimed.kind == "renew_domain"
        if renewed_before:
            await registry.renew(DomainRef(NAME, before), 1)
    with clock.frozen(at(SEEDED, settings.actions_lease_seconds + 1)):
        assert await dispatcher.actions.run_due() == 1
    [action] = await actions(db)
    assert (action.state, action.attempts) == ("done", 2)
    assert action.result.get("renewed_before", False) is renewed_before
    assert registry.renewals == [(NAME, before)]
    assert (await domain(db, NAME)).registry_expires_on == before + relativedelta(years=1)

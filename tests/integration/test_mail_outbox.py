"""The mail outbox on SQLite and PostgreSQL, sending to a real SMTP server (aiosmtpd): what a ticket,
an invoice and a code look like when they arrive, retries after a refusal, dead letters and
requeue, two workers at once, and a worker that dies before or after the server took a mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from bot import bootstrap
from bot.bootstrap import App
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.mail.sender import MailSender
from services import clock, mail_outbox
from services.money import Money
from services.ports import Mailer, MailMessage, PaymentNotice
from services.records import Database
from storage.models import Invoice, Mail
from tests.support.chat import Chat
from tests.support.smtp import SmtpServer, by_subject, mail_settings, running, text_of


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running(SmtpServer()) as server:
        yield server


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer) -> Settings:
    return mail_settings(database_url, smtp, mail_max_attempts=3)


@pytest.fixture
def mailer(settings: Settings) -> Mailer:
    return bootstrap.mail_driver(settings)


@pytest.fixture
async def app(dispatcher: Dispatcher, settings: Settings, db: Database) -> App:
    """The process, with the demo's own mails (its invoices) taken as sent."""
    async with db.uow() as uow:
        await uow.session.execute(update(Mail).values(state="sent"))
        await uow.commit()
    return bootstrap.assemble(settings, db, dispatcher)


def sender(app: App, mailer: Mailer | None = None) -> MailSender:
    """Another worker (each has its own name on the claims)."""
    return MailSender(app.db, app.settings, mailer or app.dispatcher.drivers.mail, app.dispatcher.documents)


async def _ticket(alice: Chat, subject: str = "Serveur lent") -> int:
    for answer in ["newticket", "technical", "regular", "none", subject]:
        await alice.say(answer)
    done = await alice.say("Le serveur web-1 répond lentement depuis hier.")
    return int(done.text.split("#")[1].split()[0])


async def _mail(db: Database, key: str) -> Mail:
    async with db.uow() as uow:
        found = await mail_outbox.by_key(uow, key)
    assert found is not None
    return found


async def test_a_ticket_copy_arrives_in_the_customers_language(
    app: App, alice: Chat, smtp: SmtpServer
) -> None:
    await alice.say("langue fr")  # the owner's choice is the account's
    ticket = await _ticket(alice)
    row = await _mail(app.db, f"ticket:{ticket}")
    assert app.mail_wake.is_set()  # the process's sender was woken when the ticket committed
    assert await bootstrap.mail_sender(app).run_pass() == 1
    [mail] = by_subject(smtp.received, f"[#{ticket}]")
    assert mail["Subject"] == f"[#{ticket}] Serveur lent"
    assert mail["To"] == "contact@atelier-lumiere.example"  # technical: no mailbox of its own
    assert mail["Reply-To"] == app.settings.mail_support_address
    assert mail["Message-ID"] == f"<{row.message_id}@hostbot.example>"
    assert (mail["Content-Language"], mail["Auto-Submitted"]) == ("fr", "auto-generated")
    text = text_of(mail)
    assert f"Nous avons reçu votre ticket #{ticket}" in text
    assert "Le serveur web-1 répond lentement depuis hier." in text
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and 'lang="fr"' in html.get_content()  # type: ignore[attr-defined]
    assert (await _mail(app.db, f"ticket:{ticket}")).state == "sent"
    assert await bootstrap.mail_sender(app).run_pass() == 0  # nothing is sent twice


async def test_a_refused_mail_is_tried_again_after_a_delay(app: App, alice: Chat, smtp: SmtpServer) -> None:
    ticket = await _ticket(alice)
    smtp.refuse_next("451 4.3.0 Mailbox busy, try later")
    now = clock.now()
    with clock.frozen(now):
        await sender(app).run_pass()
    row = await _mail(app.db, f"ticket:{ticket}")
    assert (row.state, row.attempts, smtp.received) == ("pending", 1, [])
    assert "451" in row.last_error and row.not_before == now + dt.timedelta(seconds=60)
    with clock.frozen(now + dt.timedelta(seconds=59)):
        assert await sender(app).run_pass() == 0  # not due yet
    with clock.frozen(now + dt.timedelta(seconds=61)):
        assert await sender(app).run_pass() == 1
    assert len(by_subject(smtp.received, f"[#{ticket}]")) == 1
    assert (await _mail(app.db, f"ticket:{ticket}")).state == "sent"


async def test_dead_letters_and_requeue(app: App, alice: Chat, smtp: SmtpServer) -> None:
    busy = await _ticket(alice, "Busy")
    smtp.refuse_next(*["451 4.3.0 Try later"] * 3)
    now = clock.now()
    for minutes in (0, 2, 5):  # backoff 60 s, then 120 s: each attempt is due
        with clock.frozen(now + dt.timedelta(minutes=minutes)):
            await sender(app).run_pass()
    row = await _mail(app.db, f"ticket:{busy}")
    assert (row.state, row.attempts) == ("dead", 3)
    refused = await _ticket(alice, "Refused")
    smtp.refuse_next("554 5.7.1 Message rejected")
    await sender(app).run_pass()
    assert (await _mail(app.db, f"ticket:{refused}")).state == "dead"  # 5xx: no use trying again
    async with app.db.uow() as uow:
        assert (await mail_outbox.counts(uow))["dead"] == 2
        assert {m.id for m in await mail_outbox.dead_letters(uow)} == {row.id, row.id + 1}
        assert await mail_outbox.requeue(uow, [row.id]) == 1
    await sender(app).run_pass()
    assert len(by_subject(smtp.received, f"[#{busy}]")) == 1
    assert (await _mail(app.db, f"ticket:{refused}")).state == "dead"


class Crash(BaseException):
    """The process dying: nothing after it runs (not an ``Exception`` the sender would catch)."""


class DiesAfterSending:
    """The server takes the mail, then the worker dies before it could mark it sent."""

    def __init__(self, inner: Mailer) -> None:
        self.inner = inner

    async def send(self, message: MailMessage) -> None:
        await self.inner.send(message)
        raise Crash()


class DiesBeforeSending:
    async def send(self, message: MailMessage) -> None:
        raise Crash()


async def test_a_worker_dying_after_the_server_took_the_mail(app: App, alice: Chat, smtp: SmtpServer) -> None:
    """The one repeat SMTP cannot avoid: sent again after the lease, with the same Message-ID."""
    ticket = await _ticket(alice)
    now = clock.now()
    with clock.frozen(now), pytest.raises(Crash):
        await sender(app, DiesAfterSending(app.dispatcher.drivers.mail)).run_pass()
    assert (await _mail(app.db, f"ticket:{ticket}")).state == "sending"
    with clock.frozen(now + dt.timedelta(seconds=app.settings.mail_lease_seconds - 1)):
        assert await sender(app).run_pass() == 0  # the dead worker's lease still holds it
    with clock.frozen(now + dt.timedelta(seconds=app.settings.mail_lease_seconds + 1)):
        assert await sender(app).run_pass() == 1
        assert await sender(app).run_pass() == 0
    copies = by_subject(smtp.received, f"[#{ticket}]")
    assert len(copies) == 2 and copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert copies[0]["Date"] == copies[1]["Date"]


async def test_a_worker_dying_before_the_server_took_it(app: App, alice: Chat, smtp: SmtpServer) -> None:
    ticket = await _ticket(alice)
    now = clock.now()
    with clock.frozen(now), pytest.raises(Crash):
        await sender(app, DiesBeforeSending()).run_pass()
    with clock.frozen(now + dt.timedelta(seconds=app.settings.mail_lease_seconds + 1)):
        assert await sender(app).run_pass() == 1
    assert len(by_subject(smtp.received, f"[#{ticket}]")) == 1


async def test_two_workers_send_each_mail_once(app: App, smtp: SmtpServer) -> None:
    async with app.db.uow() as uow:
        for n in range(12):
            await mail_outbox.add(
                uow,
                f"ticket:{1000 + n}",
                "ticket",
                f"client{n}@example.com",
                {
                    "ticket": 1000 + n,
                    "department": "technical",
                    "importance": "high",
                    "subject": f"n{n}",
                    "body": "x",
                },
                customer_id=1,
            )
        await uow.commit()
    first, second = sender(app), sender(app)
    handled = [await first.run_pass(), await second.run_pass()]
    assert sum(handled) == 12
    ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 12 and len(set(ids)) == 12


async def test_codes_are_forgotten_and_never_sent_late(app: App, smtp: SmtpServer) -> None:
    now = clock.now()
    with clock.frozen(now):
        await _codes(app, "fresh", "late")
        await sender(app).run_pass()  # sends both while they are fresh...
        await _codes(app, "later")
    assert len(smtp.received) == 2 and "123456" in text_of(smtp.received[0].message)
    with clock.frozen(now + dt.timedelta(minutes=16)):
        await sender(app).run_pass()  # ...but not one whose code has expired meanwhile
    assert len(smtp.received) == 2
    for key, state in (("fresh", "sent"), ("late", "sent"), ("later", "expired")):
        row = await _mail(app.db, key)
        assert (row.state, row.params) == (state, {})  # the code is not kept once settled


async def _codes(app: App, *keys: str) -> None:
    """Link-code mails that are not worth sending after 15 minutes."""
    async with app.db.uow() as uow:
        for key in keys:
            await mail_outbox.add(
                uow,
                key,
                "link_code",
                "contact@atelier-lumiere.example",
                {"code": "123456", "platform": "telegram"},
                customer_id=1,
                secret=True,
                not_after=clock.now() + dt.timedelta(minutes=15),
            )
        await uow.commit()


async def test_a_rolled_back_transaction_mails_nothing(app: App) -> None:
    app.mail_wake.clear()
    async with app.db.uow() as uow:
        await mail_outbox.add(uow, "never", "ticket", "a@b.example", {}, customer_id=1)
        await uow.rollback()
        assert (
            await uow.session.scalar(select(func.count()).select_from(Mail).where(Mail.key == "never")) == 0
        )
    assert not app.mail_wake.is_set()


async def test_an_invoice_mail_has_its_pdf_and_a_pay_link(app: App, alice: Chat, smtp: SmtpServer) -> None:
    await alice.say("extend 3")
    await alice.press("Create invoice")
    async with app.db.uow() as uow:
        number = await uow.session.scalar(select(Invoice.number).order_by(Invoice.id.desc()).limit(1))
    await bootstrap.mail_sender(app).run_pass()
    [mail] = by_subject(smtp.received, f"Invoice {number}")
    assert mail["To"] == "compta@atelier-lumiere.example"  # the billing mailbox
    assert f"{app.settings.public_base_url}/pay/" in text_of(mail)
    [pdf] = list(mail.iter_attachments())
    assert pdf.get_filename() == f"{number}.pdf" and pdf.get_content().startswith(b"%PDF")


async def test_an_invoice_deleted_before_its_mail_is_not_mailed(
    app: App, alice: Chat, smtp: SmtpServer
) -> None:
    await alice.say("extend 3")
    await alice.press("Create invoice")
    async with app.db.uow() as uow:
        last = await uow.session.scalar(select(func.max(Invoice.id)))
    await alice.say(f"delete invoice {last}")
    await alice.press("Delete")
    await bootstrap.mail_sender(app).run_pass()
    assert by_subject(smtp.received, "Invoice") == []
    row = await _mail(app.db, f"invoice:{last}")
    assert (row.state, row.last_error) == ("expired", "no longer applies")


async def test_a_payment_is_receipted_to_the_billing_mailbox(app: App, smtp: SmtpServer) -> None:
    """The Stripe webhook's notice: told in the chat (the alerts outbox) and mailed as a receipt."""
    async with app.db.uow() as uow:
        invoice = await uow.session.scalar(
            select(Invoice).where(Invoice.customer_id == 1, Invoice.status == "unpaid")
        )
        assert invoice is not None
        notice = PaymentNotice(1, invoice.id, True, Money(invoice.total_minor, invoice.currency), "evt_1")
        await app.notifier.notify(uow, notice)
        await app.notifier.notify(uow, notice)  # Stripe sends the event again: one receipt
        await uow.commit()
    assert await bootstrap.mail_sender(app).run_pass() == 1
    [mail] = by_subject(smtp.received, "Payment received")
    assert mail["To"] == "compta@atelier-lumiere.example"
    assert f"for invoice {invoice.number}. Thank you!" in text_of(mail)

"""Contact data change only through a Financial ticket: the ``changecontact`` form, and the top-up,
whose billing address goes on its invoice alone; end to end through the chat, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from services import mail_outbox
from services.drivers.log_mail import LogMailer
from storage.models import AuditEntry, Customer, Invoice, Ticket
from tests.support.chat import Chat


async def _tickets(dispatcher: Dispatcher) -> list[Ticket]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(Ticket).where(Ticket.customer_id == 1, Ticket.subject == "Change of contact data")
        )
        return list(rows.all())


async def _customer(dispatcher: Dispatcher) -> Customer:
    async with dispatcher.db.uow() as uow:
        return await uow.session.get_one(Customer, 1)


async def test_contact_shows_what_the_account_has(alice: Chat) -> None:
    shown = (await alice.say("contact")).text
    assert "Main e-mail: contact@atelier-lumiere.example" in shown
    assert "Street and number: 12 rue des Lilas" in shown and "Country: France" in shown
    assert "Profile type: business" in shown and "VAT id: FR40303265045" in shown
    assert "Financial ticket" in shown


async def test_changing_the_main_email_opens_a_financial_ticket(
    dispatcher: Dispatcher, alice: Chat, mailer: LogMailer
) -> None:
    asked = await alice.say("change contact")
    assert "What should change?" in asked.text
    assert "The new main e-mail" in (await alice.press("Main e-mail", asked)).text
    assert "e-mail address such as" in (await alice.say("not an address")).text
    preview = await alice.say("hello@lumiere.example")
    assert "Main e-mail: contact@atelier-lumiere.example → hello@lumiere.example" in preview.text
    assert preview.private and await _tickets(dispatcher) == []
    done = await alice.press("Open ticket", preview)
    assert "is open" in done.text and "compta@atelier-lumiere.example" in done.text  # the billing mailbox
    [ticket] = await _tickets(dispatcher)
    assert ticket.department == "financial"
    assert "contact@atelier-lumiere.example → hello@lumiere.example" in ticket.messages[0].body
    assert (await _customer(dispatcher)).email == "contact@atelier-lumiere.example"  # unchanged
    async with dispatcher.db.uow() as uow:
        copy = await mail_outbox.by_key(uow, f"ticket:{ticket.id}")
    assert copy is not None and copy.to_addr == "compta@atelier-lumiere.example"
    async with dispatcher.db.uow() as uow:
        [entry] = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.request"))
        assert entry.detail == {"fields": ["email"]}


async def test_address_phone_country_and_profile(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("changecontact")
    await alice.say("address")
    await alice.say("3 quai Voltaire")
    await alice.say("75007")
    preview = await alice.say("Paris")
    assert "Street and number: 12 rue des Lilas → 3 quai Voltaire" in preview.text
    assert "Postal code: 75011 → 75007" in preview.text and "City: Paris → Paris" in preview.text
    await alice.press("Open ticket", preview)
    await alice.say("changecontact")
    await alice.say("phone")
    assert "country code" in (await alice.say("call me")).text
    preview = await alice.say("+33 1 23 45 67 89")
    assert "Phone: not on file → +33 1 23 45 67 89" in preview.text
    await alice.press("Open ticket", preview)
    await alice.say("changecontact")
    await alice.say("pays")
    preview = await alice.say("Belgium")
    assert "Country: France → Belgium" in preview.text
    await alice.say("changecontact")
    asked = await alice.say("profile")
    preview = await alice.press("Individual", asked)
    assert "Profile type: business → individual" in preview.text
    assert len(await _tickets(dispatcher)) == 2
    customer = await _customer(dispatcher)
    assert (customer.address_line, customer.country, customer.is_business) == ("12 rue des Lilas", "FR", True)


async def test_nothing_to_ask_and_who_may_ask(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("changecontact")
    await alice.say("country")
    assert "already what your account has" in (await alice.say("FR")).text
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    assert "Main e-mail" in (await member.say("contact")).text
    assert "does not allow" in (await member.say("changecontact")).text


async def test_top_up_address_is_the_invoices_and_the_account_change_is_offered(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    await alice.say("topup")
    for answer in ("20", "Atelier Lumière SAS", "3 quai Voltaire", "75007", "Paris", "FR"):
        await alice.say(answer)
    preview = await alice.say("40303265045")
    assert "printed on this invoice only" in preview.text
    done = await alice.press("Issue invoice", preview)
    assert "Ask us to change them too" in done.text
    assert "Name: Atelier Lumière SARL → Atelier Lumière SAS" in done.text
    assert "Postal code: 75011 → 75007" in done.text and "VAT id: " not in done.text
    async with dispatcher.db.uow() as uow:
        invoice = await uow.session.scalar(
            select(Invoice).where(
                Invoice.kind == "topup", Invoice.status == "unpaid", Invoice.customer_id == 1
            )
        )
        assert invoice is not None and invoice.buyer["name"] == "Atelier Lumière SAS"
    assert (await _customer(dispatcher)).name == "Atelier Lumière SARL"
    assert "is open" in (await alice.press("Ask to update my account", done)).text
    [ticket] = await _tickets(dispatcher)
    body = ticket.messages[0].body
    assert "Name: Atelier Lumière SARL → Atelier Lumière SAS" in body and "City: Paris → Paris" in body
    assert (await _customer(dispatcher)).name == "Atelier Lumière SARL"


async def test_same_address_offers_nothing(alice: Chat) -> None:
    await alice.say("topup")
    for answer in ("20", "Atelier Lumière SARL", "12 rue des Lilas", "75011", "Paris", "FR"):
        await alice.say(answer)
    done = await alice.press("Issue invoice", await alice.say("FR40303265045"))
    assert "Top-up invoice issued" in done.text and "Ask us" not in done.text
    assert [b.label for b in done.all_buttons()] == ["Pay"]

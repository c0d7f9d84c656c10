"""The Telegram adapter end to end: python-telegram-bot against the fake Bot API, in polling and in
webhook mode, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot import bootstrap
from bot.adapters.telegram import PacedLimiter, TelegramAdapter, split_text, utf16_len
from bot.config import Settings
from bot.core.dispatcher import Dispatcher, link_instructions
from bot.core.i18n import use_locale
from bot.core.types import Attachment, Button, Reply
from services import clock, invoices, linking
from services.invoices import LineSpec
from storage.models import (
    AuditEntry,
    ChatIdentity,
    Customer,
    Domain,
    Invoice,
    ProcessedUpdate,
    Server,
    Ticket,
)
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.roles import (
    CASES,
    DENIED,
    EXPECTED,
    MATRIX_PLACES,
    account_state,
    denials,
    denied_cases,
    expected_answer,
    own_language,
)
from tests.support.telegram_driver import GROUP, SECRET, Telegram, telegram_settings, texts

ALICE, BOB, CAROL, DEDE = 111, 222, 333, 444
# python-telegram-bot warns about its own RetryAfter constructor (int vs timedelta); not ours.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def _denials(dispatcher: Dispatcher, action: str) -> int:
    async with dispatcher.db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == action, AuditEntry.outcome == "denied")
        )
    return int(count or 0)


# -- linking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr", "id", "tr"])
async def test_unknown_user_is_told_how_to_link_in_their_language(tg: Telegram, language: str) -> None:
    [answer] = await tg.say(ALICE, "/balance", language=language)
    with use_locale(language):
        assert answer.params["text"] == link_instructions()


async def test_link_with_code_then_unlink(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    [balance] = await tg.say(ALICE, "/balance")
    assert "Your balance" in balance.params["text"]
    [bye] = await tg.say(ALICE, "/unlink")
    assert "no longer linked" in bye.params["text"]
    [again] = await tg.say(ALICE, "/balance")
    assert again.params["text"] == link_instructions()


async def test_expired_and_reused_link_codes_are_refused(tg: Telegram, dispatcher: Dispatcher) -> None:
    async with dispatcher.db.uow() as uow:
        old = await linking.issue_code(uow, 1, "telegram")
        fresh = await linking.issue_code(uow, 1, "telegram")
    with clock.frozen(clock.now() + dt.timedelta(minutes=16)):
        [expired] = await tg.say(ALICE, f"/start {old}")
    assert "not valid" in expired.params["text"]
    await tg.say(ALICE, f"/start {fresh}")
    [reused] = await tg.say(BOB, f"/start {fresh}")
    assert "not valid" in reused.params["text"]
    [still_unknown] = await tg.say(BOB, "/balance")
    assert still_unknown.params["text"] == link_instructions()
    assert await _denials(dispatcher, "link") == 2


async def test_relinking_to_another_account_asks_first(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    async with dispatcher.db.uow() as uow:
        other = await linking.issue_code(uow, 2, "telegram")
    [ask] = await tg.say(ALICE, f"/start {other}")
    assert "is linked to the account of Atelier Lumière SARL" in ask.params["text"]
    assert "Link it to the account of PT Maju Jaya" in ask.params["text"]
    calls = await tg.press(ALICE, ask, "Cancel")
    assert "Cancelled" in texts(calls)
    assert "€" in texts(await tg.say(ALICE, "/balance"))  # still the first account
    [ask] = await tg.say(ALICE, f"/start {other}")  # cancelling did not use the code up
    calls = await tg.press(ALICE, ask, "Switch account")
    assert "now linked to the account of PT Maju Jaya" in texts(calls)
    assert "IDR" in texts(await tg.say(ALICE, "/balance"))
    assert "not valid" in texts(await tg.say(BOB, f"/start {other}"))  # used once


async def test_link_attempts_are_rate_limited_per_user(tg: Telegram, dispatcher: Dispatcher) -> None:
    for _ in range(5):
        [wrong] = await tg.say(ALICE, "/start not-a-real-code")
        assert "not valid" in wrong.params["text"]
    async with dispatcher.db.uow() as uow:
        good = await linking.issue_code(uow, 1, "telegram")
    [refused] = await tg.say(ALICE, f"/start {good}")
    assert "Too many link attempts" in refused.params["text"]
    assert await _denials(dispatcher, "link") == 5  # the sixth code was not even tried
    [other_user] = await tg.say(BOB, f"/start {good}")
    assert "now linked" in other_user.params["text"]


async def test_link_code_command_prints_a_deep_link(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from bot.cli import cmd_link_code

    tg_settings = telegram_settings(settings, fake.url, webhook=False)
    args = argparse.Namespace(customer="1", platform="telegram", role="owner")
    assert await cmd_link_code(tg_settings, args) == 0
    out = capsys.readouterr().out
    link = next(w for w in out.split() if w.startswith("https://t.me/"))
    assert link.startswith("https://t.me/hostbot_test_bot?start=")
    assert fake.of("getMe")
    code = link.split("start=")[1]
    assert f"/start {code}" in out


# -- every command, conversations, confirmations, paging -------------------------------------------


async def test_every_command(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    expected = {
        "/help": "Here is what I can do",
        "/start": "Hello!",
        "/language": "Choose your language",
        "/balance": "Your balance",
        "/invoices": "Unpaid invoices",
        "/invoice 3": "Subtotal",
        "/pay 3": "no login needed",
        "/paybalance 3": "from your balance",
        f"/invoice HB{clock.today().year}-00003": "Subtotal",
        f"/pay hb{clock.today().year}-00003 qr": "scan the QR code",
        f"/paybalance #HB{clock.today().year}-00003": "from your balance",
        "/orders": "Your orders",
        "/order 1": "Server web-1",
        "/reboot web-1": "Reboot web-1",
        "/server web-1": "Configuration: 2 vCPUs",
        "/domains": "Your domains",
        "/tickets": "Open tickets",
        "/tickets closed": "Closed tickets",
        "/newticket": "Which department",
        "/cancel": "Cancelled",
        "show my unpaid invoices": "Unpaid invoices",
    }
    for line, wanted in expected.items():
        answers = await tg.say(ALICE, line)
        assert wanted in texts(answers), (line, texts(answers))
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 1).limit(1))
        domain = await uow.session.scalar(select(Domain.name).where(Domain.customer_id == 1).limit(1))
    assert "Department" in texts(await tg.say(ALICE, f"/ticket {ticket}"))
    assert "for one year" in texts(await tg.say(ALICE, f"/renew {domain}"))
    assert "Which server?" in texts(await tg.say(ALICE, "/reboot"))  # the account's servers as buttons
    assert "I don't know that command" in texts(await tg.say(ALICE, "/frobnicate"))


async def test_buttons_are_inline_keyboards_with_short_opaque_keys(
    tg: Telegram, dispatcher: Dispatcher
) -> None:
    await tg.link(dispatcher.db, ALICE)
    [pay] = await tg.say(ALICE, "/pay 3")
    page = pay.button("Open payment page")
    assert page["url"].startswith("http")
    key = pay.button("Pay from balance")["callback_data"]
    assert len(key.encode()) <= 64 and "paybalance" not in key


async def test_new_ticket_conversation(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    [department] = await tg.say(ALICE, "/newticket")
    calls = await tg.press(ALICE, department, "Technical")
    assert tg.fake.of("answerCallbackQuery") and any(c.method == "answerCallbackQuery" for c in calls)
    [importance] = tg.fake.sent(ALICE)[-1:]
    assert "How important" in importance.params["text"]
    await tg.press(ALICE, importance, "High")
    [order] = tg.fake.sent(ALICE)[-1:]
    await tg.press(ALICE, order, "No order")
    assert "Subject" in tg.fake.sent(ALICE)[-1].params["text"]
    [message] = await tg.say(ALICE, "The mail server refuses my password")
    assert "Message" in message.params["text"]
    [done] = await tg.say(ALICE, "Since this morning, every login fails.")
    assert "is open" in done.params["text"]
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
    assert ticket is not None
    assert (ticket.subject, ticket.department, ticket.importance) == (
        "The mail server refuses my password",
        "technical",
        "high",
    )


async def test_top_up_conversation_then_the_invoice(tg: Telegram, dispatcher: Dispatcher) -> None:
    """``/topup`` on Telegram, which has no dialogs: asked step by step in the chat (a wrong answer
    asked again, the account's details offered as buttons), a preview, then one invoice on the press."""
    await tg.link(dispatcher.db, ALICE)
    before = await _top_ups(dispatcher)
    [amount] = await tg.say(ALICE, "/topup")
    assert "How much, in EUR?" in amount.params["text"]
    assert "How much" in texts(await tg.say(ALICE, "a lot"))  # refused, asked again
    read = texts(await tg.say(ALICE, "100"))
    assert "Top-up of €100.00." in read and "Business name" in read
    [address] = await tg.say(ALICE, "Atelier Lumière SAS")
    assert "Street and number?" in address.params["text"]
    for answer, following in (("3 quai Voltaire", "Postal code?"), ("75007", "City?"), ("Paris", "Country?")):
        assert following in texts(await tg.say(ALICE, answer))
    [tax_id] = await tg.say(ALICE, "FR")
    assert "Tax id" in tax_id.params["text"] and tax_id.button("No tax id")
    [preview] = await tg.say(ALICE, "40303265045")
    assert preview.chat_id == ALICE
    assert "€100.00" in preview.params["text"] and "FR40303265045" in preview.params["text"]
    calls = await tg.press(ALICE, preview, "Issue invoice")
    assert "Top-up invoice issued" in texts(calls)
    again = await tg.press(ALICE, preview, "Issue invoice")
    assert "already handled" in texts(again)
    issued = [i for i in await _top_ups(dispatcher) if i.id not in {b.id for b in before}]
    assert [(i.status, i.total_minor, i.currency) for i in issued] == [("unpaid", 10000, "EUR")]


async def _top_ups(dispatcher: Dispatcher) -> list[Invoice]:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalars(
            select(Invoice).where(Invoice.customer_id == 1, Invoice.kind == "topup")
        )
        return list(found.all())


async def test_reboot_with_confirmation_edits_in_place_and_runs_once(
    tg: Telegram, dispatcher: Dispatcher
) -> None:
    await tg.link(dispatcher.db, ALICE)
    [ask] = await tg.say(ALICE, "/reboot web-1")
    calls = await tg.press(ALICE, ask, "Reboot")
    [edit] = [c for c in calls if c.method == "editMessageText"]
    assert int(edit.params["message_id"]) == ask.result["message_id"]
    assert "web-1 was rebooted" in edit.params["text"]
    assert [c.method for c in calls].count("answerCallbackQuery") == 1
    again = await tg.press(ALICE, ask, "Reboot")
    assert "already handled" in texts(again)
    async with dispatcher.db.uow() as uow:
        server = await uow.session.scalar(
            select(Server).where(Server.hostname == "web-1", Server.customer_id == 1)
        )
    assert server is not None and server.last_boot_at is not None


async def test_renew_with_confirmation(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    async with dispatcher.db.uow() as uow:
        domain = await uow.session.scalar(
            select(Domain).where(Domain.customer_id == 1).order_by(Domain.expires_on)
        )
    assert domain is not None
    [ask] = await tg.say(ALICE, f"/renew {domain.name}")
    assert "paid from your balance" in ask.params["text"]
    calls = await tg.press(ALICE, ask, "Renew")
    assert "is renewed until" in texts(calls)
    async with dispatcher.db.uow() as uow:
        renewed = await uow.session.get(Domain, domain.id)
    assert renewed is not None and renewed.expires_on == domain.expires_on.replace(
        year=domain.expires_on.year + 1
    )


async def test_invoice_paging_and_filters_edit_the_message(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    async with dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, 1)
        assert customer is not None
        for i in range(4):
            await invoices.create(uow, customer, [LineSpec(f"Extra {i}", 500)], dispatcher.seller, None)
        await uow.commit()
    [listing] = await tg.say(ALICE, "/invoices all")
    assert "(page 1 of 2)" in listing.params["text"]
    calls = await tg.press(ALICE, listing, "Next ▶")
    [page2] = [c for c in calls if c.method == "editMessageText"]
    assert int(page2.params["message_id"]) == listing.result["message_id"]
    assert "(page 2 of 2)" in page2.params["text"]
    calls = await tg.press(ALICE, page2, "Paid")
    [paid] = [c for c in calls if c.method == "editMessageText"]
    assert (
        "Paid invoices" in paid.params["text"]
        and int(paid.params["message_id"]) == page2.result["message_id"]
    )
    calls = await tg.press(ALICE, paid, "Unpaid")
    [unpaid] = [c for c in calls if c.method == "editMessageText"]
    assert "Unpaid invoices" in unpaid.params["text"]
    assert not [c for c in calls if c.method == "sendMessage"]


# -- negative cases ----------------------------------------------------------------------------


async def test_forged_callback_key_is_not_found_and_audited(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    [listing] = await tg.say(ALICE, "/invoices")
    forged = tg.fake.callback_update(ALICE, "A" * 64, listing.result)
    calls = await tg.deliver(forged)
    assert "Not found" in texts(calls)
    assert [c.method for c in calls].count("answerCallbackQuery") == 1
    assert await _denials(dispatcher, "button") == 1


async def test_the_same_update_twice_is_processed_once(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    update = tg.fake.message_update(ALICE, "/balance")
    first = await tg.deliver(update)
    again = await tg.deliver(update)
    assert len([c for c in first if c.method == "sendMessage"]) == 1
    assert again == []


async def test_flood_control_is_waited_out_and_the_reply_sent_once(
    tg: Telegram, dispatcher: Dispatcher
) -> None:
    await tg.link(dispatcher.db, ALICE)
    tg.fake.fail_next("sendMessage", retry_after=0.5)
    calls = await tg.deliver(tg.fake.message_update(ALICE, "/balance"))
    refused, delivered = [c for c in calls if c.method == "sendMessage"]
    assert refused.status == 429 and delivered.status == 200
    assert delivered.at - refused.at >= 0.5
    assert "Your balance" in delivered.params["text"]


# -- groups ------------------------------------------------------------------------------------


async def test_group_answers_only_linked_users(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    assert await tg.say(CAROL, "/balance", chat=GROUP) == []
    [answer] = await tg.say(ALICE, "/balance", chat=GROUP)
    assert answer.chat_id == GROUP and "Your balance" in answer.params["text"]
    assert await tg.say(ALICE, "/balance@some_other_bot", chat=GROUP) == []
    assert await tg.say(ALICE, "/balance@hostbot_test_bot", chat=GROUP)


async def test_only_the_asker_can_confirm_in_a_group(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    await tg.link(dispatcher.db, BOB)
    [ask] = await tg.say(ALICE, "/reboot web-1", chat=GROUP)
    calls = await tg.press(BOB, ask, "Reboot")
    assert not [c for c in calls if c.method in ("sendMessage", "editMessageText")]
    [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
    assert "Not found" in answer.params["text"] and answer.params["show_alert"] in (True, "true")
    assert await _denials(dispatcher, "button") == 1
    async with dispatcher.db.uow() as uow:
        server = await uow.session.scalar(
            select(Server).where(Server.hostname == "web-1", Server.customer_id == 1)
        )
    assert server is not None and server.last_boot_at is None
    calls = await tg.press(ALICE, ask, "Reboot")
    assert "web-1 was rebooted" in texts(calls)


async def test_pay_links_go_to_the_private_chat_never_the_group(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    calls = await tg.say(ALICE, "/pay 3", chat=GROUP)
    private = [c for c in calls if c.chat_id == ALICE]
    group = [c for c in calls if c.chat_id == GROUP]
    assert "no login needed" in texts(private)
    assert "private message" in texts(group) and "http" not in texts(group)
    tg.fake.no_private_chat.add(ALICE)
    calls = await tg.say(ALICE, "/pay 3", chat=GROUP)
    group = [c for c in calls if c.chat_id == GROUP and c.status == 200]
    assert "press Start" in texts(group) and "http" not in texts(group)


async def test_login_details_and_a_new_password_reach_the_private_chat_only(
    tg: Telegram, dispatcher: Dispatcher
) -> None:
    """Asked in a group, what opens a server (the password a reinstall sets, the login, a console
    link) goes to the asker's private chat; the group reads only where to look."""
    await tg.link(dispatcher.db, ALICE)
    await tg.say(ALICE, "/reinstall web-1 debian-12", chat=GROUP)
    calls = await tg.say(ALICE, "web-1", chat=GROUP)
    private = texts([c for c in calls if c.chat_id == ALICE])
    group = texts([c for c in calls if c.chat_id == GROUP])
    assert "reinstalled with Debian 12" in private and "password: " in private
    password = private.split("password: ")[1].split()[0]
    assert "private message" in group and password not in group
    for line in ("/login web-1", "/console web-1"):
        calls = await tg.say(ALICE, line, chat=GROUP)
        group = texts([c for c in calls if c.chat_id == GROUP])
        assert "private message" in group and password not in group and "http" not in group, line
        assert texts([c for c in calls if c.chat_id == ALICE]), line
    assert password in texts(await tg.say(ALICE, "/login web-1"))


# -- who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "place"), MATRIX_PLACES)
async def test_permission_matrix(tg: Telegram, dispatcher: Dispatcher, role: str, place: str) -> None:
    """Every capability for every role: a stranger in a group the owner shared (guest), or someone
    linked with a member, admin or owner code, there or in their private chat. Each refusal is
    answered, audited and changes nothing."""
    await tg.link(dispatcher.db, ALICE)
    assert "now shares the account" in texts(await tg.say(ALICE, "/share channel", chat=GROUP))
    actor = CAROL
    if role != "guest":
        await tg.link(dispatcher.db, BOB, role=role)
        actor = BOB
    chat = GROUP if place == "group" else None
    before = await account_state(dispatcher)
    for case in CASES:
        answer = texts(await tg.say(actor, f"/{case.line}", chat=chat))
        assert expected_answer(role, case, answer), (case.line, answer)
        if case.then and DENIED not in answer:
            await tg.say(actor, f"/{case.then}", chat=chat)
        if case.line == "alerts":  # its buttons change settings: pressing is checked like typing
            [shown] = tg.fake.sent()[-1:]
            pressed = texts(await tg.press(actor, shown, "Turn off: Overdue invoices"))
            assert (DENIED in pressed) == (role not in EXPECTED["settings"]), pressed
    refused = [e.action for e in await denials(dispatcher)]
    expected = [f"command.{c.command}" for c in denied_cases(role)]
    if role not in EXPECTED["settings"]:
        expected.append("command.alerts")  # the button, pressed after the overview
    assert sorted(refused) == sorted(expected)
    after = await account_state(dispatcher)
    if role not in EXPECTED["settings"]:
        assert after == before  # no alert settings, the account's language as it was
        assert "Your balance" in texts(await tg.say(ALICE, "/balance"))
    else:
        assert after[1] == "tr"  # an admin's or owner's language is also the account's
    personal = role in EXPECTED["language"]
    assert (await own_language(dispatcher, "telegram", str(actor)) == "tr") == personal


async def test_confirmations_and_form_answers_are_checked_too(tg: Telegram, dispatcher: Dispatcher) -> None:
    """A confirmation pressed after the role was lowered, and a form opened for one's own account
    then answered in a group shared by another account, are refused like the commands."""
    await tg.link(dispatcher.db, ALICE)
    await tg.say(ALICE, "/share channel", chat=GROUP)
    await tg.link(dispatcher.db, BOB, role="admin")
    [ask] = await tg.say(BOB, "/reboot web-1")
    async with dispatcher.db.uow() as uow:
        bob = await uow.session.scalar(select(ChatIdentity).where(ChatIdentity.user_id == str(BOB)))
        assert bob is not None
        bob.role = "member"
        await uow.commit()
    assert "does not allow" in texts(await tg.press(BOB, ask, "Reboot"))
    await tg.link(dispatcher.db, DEDE, customer_id=2)  # owner of another account
    await tg.say(DEDE, "/newticket")
    for answer in ("technical", "high", "none", "Subject", "Message"):
        assert "does not allow" in texts(await tg.say(DEDE, answer, chat=GROUP))
    async with dispatcher.db.uow() as uow:
        server = await uow.session.scalar(
            select(Server).where(Server.hostname == "web-1", Server.customer_id == 1)
        )
        tickets = await uow.session.scalar(select(func.count()).select_from(Ticket))
    assert server is not None and server.last_boot_at is None
    assert [e.action for e in await denials(dispatcher)] == ["confirm.reboot"] + ["form.newticket"] * 5
    [department] = texts(await tg.say(DEDE, "technical")).splitlines()[:1]
    assert "How important" in department  # the form, still open, goes on in Dede's own chat
    async with dispatcher.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Ticket)) == tickets


async def test_documents_go_to_the_private_chat_never_the_group(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    await tg.say(ALICE, "/share channel", chat=GROUP)
    for asker, line in ((ALICE, "/invoice 2 pdf"), (ALICE, "/pay 3 qr"), (CAROL, "/invoice 2 pdf")):
        calls = await tg.say(asker, line, chat=GROUP)
        documents = [c for c in calls if c.method in ("sendDocument", "sendPhoto")]
        assert documents and {c.chat_id for c in documents} == {asker}, line
        group = [c for c in calls if c.chat_id == GROUP]
        assert [c.method for c in group] == ["sendMessage"] and "private message" in texts(group)


# -- startup -----------------------------------------------------------------------------------


async def test_command_menu_in_four_languages(tg: Telegram, dispatcher: Dispatcher) -> None:
    menus = {c.params.get("language_code"): c.params["commands"] for c in tg.fake.of("setMyCommands")}
    assert set(menus) == {None, "en", "fr", "id", "tr"}
    names = {lang: {c["command"] for c in cmds} for lang, cmds in menus.items()}
    assert {"balance", "invoices", "reboot"} <= names["en"]
    assert {"solde", "factures"} <= names["fr"]
    assert {"saldo", "tagihan"} <= names["id"]
    assert {"bakiye", "faturalar"} <= names["tr"]
    assert all(c["description"] for cmds in menus.values() for c in cmds)
    everything = len(dispatcher.registry.visible())
    assert {len(cmds) for cmds in menus.values()} == {everything}  # none left out
    assert {"support_package", "delete_invoice"} <= names["en"] and "destek_paketi" in names["tr"]
    for name in ("support_package", "destek_paketi", "supprimer_facture"):
        found = dispatcher.registry.match(f"/{name}@hostbot")
        assert found is not None and found[0].name in {"supportpackage", "deleteinvoice"}


async def test_webhook_is_registered_with_the_secret(fake: FakeTelegramAPI, tg: Telegram) -> None:
    if tg.mode == "webhook":
        [hook] = fake.of("setWebhook")
        assert hook.params["url"] == "https://bot.example/telegram/webhook"
        assert hook.params["secret_token"]
    else:
        await fake.wait_for(lambda: bool(fake.of("getUpdates")))
        assert fake.of("deleteWebhook") and not fake.of("setWebhook")


async def test_webhook_refuses_a_wrong_or_missing_secret(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook=True), dispatcher.db, dispatcher)
    async with TestClient(TestServer(bootstrap.web_app(app), host="127.0.0.1", port=0)) as client:
        update = fake.message_update(ALICE, "/help")
        mark = len(fake.calls)
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = await client.post("/telegram/webhook", json=update, headers=headers)
            assert response.status == 401
        assert fake.calls[mark:] == []
        async with dispatcher.db.uow() as uow:
            assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0


async def test_webhook_refuses_garbage_and_oversized_bodies(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook=True), dispatcher.db, dispatcher)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with TestClient(TestServer(bootstrap.web_app(app), host="127.0.0.1", port=0)) as client:
        mark = len(fake.calls)
        for body in (b"not json", b"[1, 2]", b'{"update_id": "x", "message": 7}'):
            response = await client.post("/telegram/webhook", data=body, headers=headers)
            assert response.status == 400, body
        huge = await client.post("/telegram/webhook", data=b"{" + b" " * (2 * 1024 * 1024), headers=headers)
        assert huge.status == 413
        assert fake.calls[mark:] == []


async def test_webhook_mode_needs_a_secret(dispatcher: Dispatcher, settings: Settings) -> None:
    bad = telegram_settings(settings, "http://127.0.0.1:9", webhook=True, telegram_webhook_secret="")
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        bootstrap.telegram_adapter(bootstrap.assemble(bad, dispatcher.db, dispatcher))


# -- rendering and the outbound API -------------------------------------------------------------


@pytest.fixture
async def adapter(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> AsyncIterator[TelegramAdapter]:
    """A started adapter in webhook mode, for sending messages the bot starts itself."""
    configured = telegram_settings(settings, fake.url, webhook=True, telegram_chat_rate="2/second")
    bot = bootstrap.telegram_adapter(bootstrap.assemble(configured, dispatcher.db, dispatcher))
    await bot.start()
    yield bot
    await bot.stop()


def test_split_text_keeps_every_character_within_the_limit() -> None:
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    text = "\n".join(lines)
    chunks = split_text(text, limit=1000)
    assert all(utf16_len(c) <= 1000 for c in chunks)
    assert "\n".join(chunks) == text
    emoji = "😀" * 3000  # two UTF-16 units each
    pieces = split_text(emoji)
    assert [utf16_len(p) for p in pieces] == [4096, 1904]
    assert "".join(pieces) == emoji
    assert split_text("short") == ["short"]


async def test_long_replies_are_split_and_attachments_sent(
    adapter: TelegramAdapter, fake: FakeTelegramAPI
) -> None:
    text = "\n".join(f"{i:05d} " + "y" * 90 for i in range(60))  # about 5800 characters
    reply = Reply(
        text,
        buttons=[[Button("Open", url="https://example.com/pay"), Button("Next", key="k" * 16)]],
        attachments=[
            Attachment("invoice.pdf", "application/pdf", b"%PDF-1.7 fake"),
            Attachment("graph.png", "image/png", b"\x89PNG fake"),
        ],
    )
    message_id = await adapter.send(ALICE, reply)
    first, second, document, photo = fake.sent(ALICE)
    assert first.params["text"] + "\n" + second.params["text"] == text
    assert "reply_markup" not in first.params and second.button("Next")["callback_data"] == "k" * 16
    assert message_id == second.result["message_id"]
    assert document.method == "sendDocument" and document.files["document"] == b"%PDF-1.7 fake"
    assert photo.method == "sendPhoto" and photo.files["photo"] == b"\x89PNG fake"


async def test_outbound_messages_are_paced_per_chat(adapter: TelegramAdapter, fake: FakeTelegramAPI) -> None:
    assert isinstance(adapter.bot.rate_limiter, PacedLimiter)
    await asyncio.gather(*(adapter.send(chat, Reply(f"n{i}")) for i in range(5) for chat in (ALICE, BOB)))
    assert len(fake.sent()) == 10
    for chat in (ALICE, BOB):
        arrived = sorted(call.at for call in fake.sent() if call.chat_id == chat)
        assert len(arrived) == 5
        # At most two in any second as the platform counts them: when each request arrived.
        assert all(later - earlier >= 1.0 for earlier, later in zip(arrived, arrived[2:], strict=False))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_replicas_process_an_update_once(
    fake: FakeTelegramAPI, dispatcher: Dispatcher, settings: Settings
) -> None:
    tg_settings = telegram_settings(settings, fake.url, webhook=True)
    replicas = [
        bootstrap.web_app(bootstrap.assemble(tg_settings, dispatcher.db, dispatcher)) for _ in range(2)
    ]
    async with (
        TestClient(TestServer(replicas[0], host="127.0.0.1", port=0)) as one,
        TestClient(TestServer(replicas[1], host="127.0.0.1", port=0)) as two,
    ):
        update = fake.message_update(ALICE, "/help")
        headers = {"X-Telegram-Bot-Api-Secret-Token": tg_settings.telegram_webhook_secret}
        responses = await asyncio.gather(
            one.post("/telegram/webhook", json=update, headers=headers),
            two.post("/telegram/webhook", json=update, headers=headers),
        )
        assert [r.status for r in responses] == [200, 200]
    # The help is long enough to be sent in two messages: each of them once.
    texts = [c.params["text"] for c in fake.sent(ALICE)]
    assert texts and len(texts) == len(set(texts)) and texts[0].startswith("Here is what I can do:")

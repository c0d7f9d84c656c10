"""Slack end to end: signed requests into the aiohttp app, slack-bolt, the dispatcher, and a fake
Slack Web API on 127.0.0.1 that records every call."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.types import Button, Reply
from services import chat_records, clock, linking
from storage.models import AuditEntry, ChannelBinding, Invoice, ProcessedUpdate, Ticket
from storage.uow import Database
from tests.fakes.slack_api import Call, FakeSlackAPI
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
from tests.support.slack_client import TEAM, SlackUser, signed


@pytest.fixture
async def api() -> AsyncIterator[FakeSlackAPI]:
    fake = await FakeSlackAPI(locales={"UFR": "fr-FR"}).start()
    yield fake
    await fake.stop()


def user(web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, uid: str) -> SlackUser:
    return SlackUser(web[0], web[1], api, uid)


async def link(dispatcher: Dispatcher, uid: str, customer_id: int = 1, role: str = "owner") -> str:
    async with dispatcher.db.uow() as uow:
        return await linking.issue_code(uow, customer_id, "slack", role)


async def linked(
    dispatcher: Dispatcher,
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,
    uid: str,
    role: str = "owner",
) -> SlackUser:
    async with dispatcher.db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, uid)
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", role))
    return user(web, api, uid)


def last(api: FakeSlackAPI, *methods: str) -> Call:
    found = api.of(*methods)
    assert found, [c.method for c in api.calls]
    return found[-1]


def hooks(api: FakeSlackAPI) -> list[Call]:
    return [c for c in api.calls if c.method.startswith("hook:")]


async def test_bad_signature_and_stale_timestamp_are_refused(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    client, adapter = web
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM,
            "event_id": "EvX",
            "event": {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "help"},
        }
    )
    bad = await client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **signed(body, "wrong")}
    )
    stale = await client.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/json", **signed(body, at=int(time.time()) - 6 * 60)},
    )
    await adapter.drain()
    assert (bad.status, stale.status) == (401, 401)
    assert api.calls == []
    async with dispatcher.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0


async def test_link_by_slash_command_then_commands_by_slash_and_dm(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = user(web, api, "UANA")
    response = await ana.command("balance")
    assert response.status == 200
    assert "not linked" in hooks(api)[-1].args["text"]
    text = hooks(api)[-1].args["text"]
    assert "send /hosting start CODE" in text and "/hosting link" in text  # Slack's words, not Telegram's
    code = await link(dispatcher, "UANA")
    await ana.command(f"start {code}")
    assert "now linked to the account of Atelier Lumière SARL" in hooks(api)[-1].args["text"]
    assert hooks(api)[-1].args["response_type"] == "ephemeral"
    commands = [
        "help",
        "balance",
        "invoices",
        "invoices paid",
        "invoice 1",
        "pay 3",
        "paybalance 3",
        "orders",
        "order 1",
        "domains",
        "tickets",
        "ticket 1",
        "overview",
        "language",
        "reboot web-1",
        "topup",
        "newticket",
    ]
    for text in commands:
        await ana.command(text)
        answer = hooks(api)[-1].args["text"]
        assert "don't know" not in answer and "went wrong" not in answer and "Usage" not in answer, (
            text,
            answer,
        )
        await ana.dm(text)
        answer = last(api, "chat.postMessage").text
        assert "don't know" not in answer and "went wrong" not in answer and "Usage" not in answer, (
            text,
            answer,
        )
    await ana.dm("cancel")
    assert "Cancelled" in last(api, "chat.postMessage").text
    assert len(hooks(api)) == len(commands) + 2
    assert len(api.of("chat.postMessage")) == len(commands) + 1
    assert len(api.of("users.info")) == 1  # the locale is cached


async def test_invoices_by_the_number_on_them(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    number = f"HB{clock.today().year}-00003"
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.command(f"invoice {number.lower()}")
    assert hooks(api)[-1].args["text"].startswith(f"Invoice {number} — unpaid")
    await ana.dm(f"pay #{number}")
    assert f"Invoice {number}: €24.85 to pay" in last(api, "chat.postMessage").text


async def test_buttons_edit_in_place_or_answer_and_confirm_with_a_dialog(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.dm("invoices")
    listing = last(api, "chat.postMessage")
    assert any(b["type"] == "section" for b in listing.blocks())
    paid = listing.buttons()["Paid"]
    assert paid["action_id"].startswith("key:") and paid["value"] == paid["action_id"][4:]
    await ana.press(paid, ts=listing.args["channel"] and "1700000000.000001")
    edited = last(api, "chat.update")
    assert edited.args["ts"] == "1700000000.000001" and "Paid invoices" in edited.text
    await ana.dm("reboot web-1")
    offer = last(api, "chat.postMessage")
    reboot = offer.buttons()["Reboot"]
    assert reboot["confirm"]["confirm"]["text"] == "Reboot" and "web-1" in reboot["confirm"]["text"]["text"]
    await ana.press(reboot, ts="1700000000.000009")
    assert "was rebooted" in last(api, "chat.update").text
    await ana.press(reboot, ts="1700000000.000009")
    assert "already handled" in last(api, "chat.postMessage").text
    await ana.dm("invoice 3")
    await ana.press(last(api, "chat.postMessage").buttons()["Pay"])
    pay_link = last(api, "chat.postMessage")
    assert "/pay/" in pay_link.text and "url" in pay_link.buttons()["Open payment page"]


async def test_someone_elses_button_is_refused_and_audited(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.dm("invoices")
    button = last(api, "chat.postMessage").buttons()["Paid"]
    eve = user(web, api, "UEVE")
    await eve.press(button, channel="D_EVE")
    assert "Not found" in last(api, "chat.postMessage").text
    async with dispatcher.db.uow() as uow:
        denied = await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "button"))
        assert denied is not None and denied.outcome == "denied"


async def test_retried_event_is_processed_once(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    assert (await ana.dm("balance", event_id="Ev42")).status == 200
    assert (await ana.dm("balance", event_id="Ev42", retry=1)).status == 200
    assert (await ana.dm("balance", event_id="Ev42", retry=2)).status == 200
    assert len(api.of("chat.postMessage")) == 1


async def test_web_api_429_is_retried_after_retry_after(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    api.throttle("chat.postMessage", retry_after=0)
    await ana.dm("balance")
    posts = [c for c in api.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [429, 200]
    assert "Your balance" in posts[1].text


async def test_language_from_the_slack_locale_then_the_saved_choice(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    async with dispatcher.db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, "UFR")
        await linking.redeem(uow, ident, await linking.issue_code(uow, 4, "slack"))
    jan = user(web, api, "UFR")
    await jan.dm("balance")
    amount = re.search(r"(-?[\d\u202f\xa0.,]+)\xa0€", last(api, "chat.postMessage").text)
    assert amount is not None  # French amounts: "72,24 €"
    french = amount.group(0)
    await jan.dm("language en")
    await jan.dm("balance")
    english = "€" + french.replace("\xa0€", "").replace(",", ".")
    assert english in last(api, "chat.postMessage").text
    assert len(api.of("users.info")) == 1


async def test_labels_drawn_by_the_adapter_use_the_language_the_dispatcher_answered_in(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    """The confirm dialog, the private-message notice and the modal are in the sender's language,
    and each update looks its sender up once (the adapter asks the database nothing more)."""
    jan = await linked(dispatcher, web, api, "UFR")
    await jan.dm("language fr")
    await jan.mention("share channel", "CTEAM")
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        # A read of the identities: FROM them, or joined to the update's claim (one statement).
        if "chat_identities" in statement and statement.lstrip().startswith(("SELECT", "WITH")):
            lookups.append(statement)

    engine = dispatcher.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await jan.dm("reboot web-1")
        [dialog] = [b["confirm"] for b in last(api, "chat.postMessage").buttons().values() if "confirm" in b]
        assert (dialog["title"]["text"], dialog["deny"]["text"]) == ("Veuillez confirmer", "Annuler")
        assert len(lookups) == 1
        await jan.command("invoice 2 pdf", channel="CTEAM")
        assert "en message privé" in hooks(api)[-1].args["text"]
        assert len(lookups) == 2
        await jan.command("newticket", trigger=True)
        assert last(api, "views.open").view()["submit"]["text"] == "Envoyer"
        assert len(lookups) == 3
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_new_ticket_modal_field_errors_then_created(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.command("newticket", trigger=True)
    opened = last(api, "views.open")
    view = opened.view()
    assert view["callback_id"] == "form:newticket" and opened.args["trigger_id"]
    assert [b["block_id"] for b in view["blocks"]] == [
        "department",
        "importance",
        "order",
        "subject",
        "message",
    ]
    values = {
        "department": "technical",
        "importance": "high",
        "order": "",
        "subject": "Mail down",
        "message": "Since 9am.",
    }
    response = await ana.submit(view, {**values, "subject": "x" * 500})
    assert (await response.json())["errors"].keys() == {"subject"}
    response = await ana.submit(view, {**values, "order": "424242"})
    assert (await response.json()) == {
        "response_action": "errors",
        "errors": {"order": "That is not one of your orders."},
    }
    async with dispatcher.db.uow() as uow:
        assert (
            await uow.session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.subject == "Mail down")
            )
            == 0
        )
    response = await ana.submit(view, values)
    assert response.status == 200 and await response.text() == ""
    done = last(api, "chat.postMessage")
    assert done.args["channel"] == "UANA" and "is open" in done.text
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket).where(Ticket.subject == "Mail down"))
        assert ticket is not None and ticket.department == "technical" and ticket.importance == "high"
    await ana.dm("hello there")  # no form left open: plain text is a command again
    assert "don't know" in last(api, "chat.postMessage").text


async def test_top_up_modal_preview_and_confirmation(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.command("topup", trigger=True)
    view = last(api, "views.open").view()
    values = {
        "amount": "100",
        "name": "Atelier Lumière SAS",
        "address": "3 quai Voltaire",
        "postal_code": "75007",
        "city": "Paris",
        "country": "FR",
        "tax_id": "40303265045",
    }
    response = await ana.submit(view, {**values, "amount": "abc"})
    assert (await response.json())["errors"].keys() == {"amount"}
    response = await ana.submit(view, {**values, "country": "Atlantis"})
    assert (await response.json())["errors"].keys() == {"country"}
    response = await ana.submit(view, {**values, "tax_id": "FR00000000000"})
    assert (await response.json())["errors"].keys() == {"tax_id"}
    await ana.submit(view, values)
    preview = last(api, "chat.postMessage")
    assert "€100.00" in preview.text and "FR40303265045" in preview.text
    issue = preview.buttons()["Issue invoice"]
    assert issue["confirm"]["title"]["text"] == "Please confirm"
    await ana.press(issue, channel="DUANA")
    assert "Top-up invoice issued" in last(api, "chat.update").text
    async with dispatcher.db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.kind == "topup", Invoice.status == "unpaid")
        )
        assert count == 1


async def test_contact_change_modal_asks_only_what_applies(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    """Steps asked only for some answers are optional fields: the e-mail alone is enough."""
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.command("changecontact", trigger=True)
    view = last(api, "views.open").view()
    optional = {b["block_id"]: b["optional"] for b in view["blocks"] if b["type"] == "input"}
    assert optional["what"] is False and optional["email"] is True and optional["city"] is True
    response = await ana.submit(view, {"what": "email", "email": "not-an-address"})
    assert (await response.json())["errors"].keys() == {"email"}
    await ana.submit(view, {"what": "email", "email": "hello@lumiere.example"})
    preview = last(api, "chat.postMessage")
    assert "Main e-mail: contact@atelier-lumiere.example → hello@lumiere.example" in preview.text
    await ana.press(preview.buttons()["Open ticket"], channel="DUANA")
    assert "is open" in last(api, "chat.update").text


async def test_member_may_not_open_the_top_up_modal(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    mia = await linked(dispatcher, web, api, "UMIA", role="member")
    await mia.command("topup", trigger=True)
    assert api.of("views.open") == []
    assert "role" in hooks(api)[-1].args["text"]


async def test_app_home_shows_the_account_and_the_modal_buttons(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    stranger = user(web, api, "UNEW")
    await stranger.event({"type": "app_home_opened", "tab": "home"})
    assert "not linked" in json.dumps(last(api, "views.publish").view())
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.dm("newticket")  # a form open in the DM survives a look at the Home tab
    await ana.event({"type": "app_home_opened", "tab": "home"})
    home = last(api, "views.publish")
    assert home.args["user_id"] == "UANA" and home.view()["type"] == "home"
    text = json.dumps(home.view(), ensure_ascii=False)
    assert "Balance" in text and "Unpaid" in text and "Renewals" in text
    assert {"New ticket", "Top up"} <= set(home.buttons())
    await ana.dm("technical")
    assert "How important" in last(api, "chat.postMessage").text
    await ana.interact(
        {
            "type": "block_actions",
            "trigger_id": "trig-home",
            "container": {"type": "view", "view_id": "V0001"},
            "actions": [{"type": "button", "action_id": "modal:topup", "value": "topup"}],
        }
    )
    assert last(api, "views.open").view()["callback_id"] == "form:topup"


async def test_channel_binding_roles_and_private_answers(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    bob = user(web, api, "UBOB")  # in the channel, never linked himself
    await bob.mention("balance", "CTEAM")
    assert "not linked" in last(api, "chat.postMessage").text
    await ana.mention("share channel", "CTEAM")
    assert "now shares the account" in last(api, "chat.postMessage").text
    async with dispatcher.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ChannelBinding)) == 1
    await bob.mention("balance", "CTEAM")
    assert "Your balance" in last(api, "chat.postMessage").text
    await bob.mention("reboot web-1", "CTEAM")
    assert "does not allow" in last(api, "chat.postMessage").text
    await ana.mention("reboot web-1", "CTEAM")
    reboot = last(api, "chat.postMessage").buttons()["Reboot"]
    await bob.press(reboot, channel="CTEAM")
    assert "Not found" in last(api, "chat.postMessage").text
    async with dispatcher.db.uow() as uow:
        denials = (
            await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.outcome == "denied"))
        ).all()
    assert "command.reboot" in denials and "button" in denials
    await ana.mention("pay 3", "CTEAM")
    private = last(api, "chat.postMessage")
    assert private.args["channel"] == "DUANA" and "/pay/" in private.text
    notice = last(api, "chat.postEphemeral")
    assert notice.args["user"] == "UANA" and "private message" in notice.text
    await bob.mention("balance", "COTHER")
    assert "not linked" in last(api, "chat.postMessage").text
    await ana.mention("unshare channel", "CTEAM")
    await bob.mention("balance", "CTEAM")
    assert "not linked" in last(api, "chat.postMessage").text


async def _answer(api: FakeSlackAPI, someone: SlackUser, line: str, place: str) -> tuple[str, list[Call]]:
    """What ``someone`` is answered for ``line``: mentioned in the shared channel, typed as the
    slash command there, or in a direct message."""
    mark = len(api.calls)
    if place == "group":
        await someone.mention(line, "CTEAM")
    elif place == "slash":
        await someone.command(line, channel="CTEAM")
    else:
        await someone.dm(line)
    calls = api.calls[mark:]
    return "\n".join(c.text for c in calls), calls


@pytest.mark.parametrize(("role", "place"), [*MATRIX_PLACES, ("guest", "slash"), ("member", "slash")])
async def test_permission_matrix(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher, role: str, place: str
) -> None:
    """Every capability for every role, as in Telegram's test: a guest is someone in the channel the
    owner shared who is not linked to that account."""
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.mention("share channel", "CTEAM")
    assert "now shares the account" in last(api, "chat.postMessage").text
    bob = user(web, api, "UBOB") if role == "guest" else await linked(dispatcher, web, api, "UBOB", role)
    before = await account_state(dispatcher)
    for case in CASES:
        answer, calls = await _answer(api, bob, case.line, place)
        assert expected_answer(role, case, answer), (case.line, answer)
        if case.then and DENIED not in answer:
            await _answer(api, bob, case.then, place)
        if case.line == "alerts":  # its buttons change settings: pressing is checked like typing
            [shown] = [c for c in calls if c.buttons()]
            mark = len(api.calls)
            channel = "D_DM" if place == "direct" else "CTEAM"
            await bob.press(
                shown.buttons()["Turn off: Overdue invoices"], channel, ephemeral=place == "slash"
            )
            pressed = "\n".join(c.text for c in api.calls[mark:])
            assert (DENIED in pressed) == (role not in EXPECTED["settings"]), pressed
    expected = [f"command.{c.command}" for c in denied_cases(role)]
    if role not in EXPECTED["settings"]:
        expected.append("command.alerts")
    assert sorted(e.action for e in await denials(dispatcher)) == sorted(expected)
    after = await account_state(dispatcher)
    if role not in EXPECTED["settings"]:
        assert after == before
        await ana.dm("balance")
        assert "Your balance" in last(api, "chat.postMessage").text  # the owner's language stayed
    else:
        assert after[1] == "tr"
    assert (await own_language(dispatcher, "slack", "UBOB") == "tr") == (role in EXPECTED["language"])


async def test_guest_may_not_open_a_form_in_the_shared_channel(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.mention("share channel", "CTEAM")
    bob = user(web, api, "UBOB")
    await bob.command("newticket", channel="CTEAM", trigger=True)
    assert api.of("views.open") == [] and DENIED in hooks(api)[-1].args["text"]
    await bob.command("topup", channel="CTEAM", trigger=True)
    assert api.of("views.open") == [] and DENIED in hooks(api)[-1].args["text"]
    mia = await linked(dispatcher, web, api, "UMIA", role="member")
    await mia.command("newticket", channel="CTEAM", trigger=True)
    assert last(api, "views.open").view()["callback_id"] == "form:newticket"
    assert [e.action for e in await denials(dispatcher)] == ["command.newticket", "command.topup"]


async def test_documents_and_pay_links_go_to_direct_messages(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    """A PDF, a QR code or a pay link asked for in a channel (slash command or mention) goes to the
    requester's direct messages with the app; the channel only tells the requester, ephemerally."""
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.mention("share channel", "CTEAM")
    await ana.command("invoice 2 pdf", channel="CTEAM")
    [(channel, pdf)] = api.uploads()
    assert channel == "DUANA" and pdf.startswith(b"%PDF-")
    assert (
        "as a PDF" in last(api, "chat.postMessage").text
        and last(api, "chat.postMessage").args["channel"] == "DUANA"
    )
    assert (
        "private message" in hooks(api)[-1].args["text"]
        and hooks(api)[-1].args["response_type"] == "ephemeral"
    )
    await ana.mention("pay 3 qr", "CTEAM")
    assert [c for c, _ in api.uploads()] == ["DUANA", "DUANA"] and api.uploads()[1][1].startswith(b"\x89PNG")
    assert (
        "/pay/" in last(api, "chat.postMessage").text
        and last(api, "chat.postMessage").args["channel"] == "DUANA"
    )
    bob = user(web, api, "UBOB")  # a guest may read, and what is private still goes to him only
    await bob.mention("invoice 2 pdf", "CTEAM")
    assert api.uploads()[-1][0] == "DUBOB"
    public = [c for c in api.of("chat.postMessage", "chat.update") if c.args.get("channel") == "CTEAM"]
    assert not [c for c in public if "/pay/" in c.text or "PDF" in c.text]
    await ana.dm("invoice 2 pdf")
    assert api.uploads()[-1][0] == "D_DM"


async def test_link_code_command_prints_the_slack_instruction(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,
    dispatcher: Dispatcher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from bot.cli import cmd_link_code

    args = argparse.Namespace(customer="1", platform="slack", role="member")
    assert await cmd_link_code(dispatcher.settings, args) == 0
    out = capsys.readouterr().out
    code = out.splitlines()[0].rsplit(" ", 1)[1]
    assert f"/hosting start {code}" in out and f"/start {code}" not in out.replace("/hosting start", "")
    await user(web, api, "UNEW").command(f"start {code}")  # what it says works
    assert "now linked" in hooks(api)[-1].args["text"]


async def test_relinking_to_another_account_asks_first(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    other = await link(dispatcher, "UANA", customer_id=2)
    await ana.dm(f"start {other}")
    ask = last(api, "chat.postMessage")
    assert "Link it to the account of PT Maju Jaya" in ask.text
    await ana.dm("balance")
    assert "€" in last(api, "chat.postMessage").text
    await ana.press(ask.buttons()["Switch account"], ts="1.2")
    assert "now linked to the account of PT Maju Jaya" in last(api, "chat.update").text
    await ana.dm("balance")
    assert "IDR" in last(api, "chat.postMessage").text


async def test_send_speaks_first_and_returns_the_ts(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI
) -> None:
    adapter = web[1]
    ts = await adapter.send(
        Reply("Invoice 3 is due tomorrow.", buttons=[[Button("Pay", url="https://pay.example/x")]]), "CTEAM"
    )
    assert ts == last(api, "chat.postMessage").args.get("ts", ts)
    assert last(api, "chat.postMessage").buttons()["Pay"]["url"] == "https://pay.example/x"
    assert await adapter.send(Reply("Only you", private=True), "CTEAM", user="UANA")
    assert last(api, "chat.postEphemeral").args["user"] == "UANA"


async def test_socket_mode_receives_a_slash_command_and_acks_it(
    db: Database, settings: Settings, dispatcher: Dispatcher, api: FakeSlackAPI
) -> None:
    socket_settings = settings.model_copy(
        update={"slack_bot_token": "xoxb-test", "slack_app_token": "xapp-test", "slack_api_url": api.api_url}
    )
    web_app = bootstrap.web_app(bootstrap.assemble(socket_settings, db, dispatcher))
    async with TestClient(TestServer(web_app)) as client:
        assert (await client.post("/slack/events", data="{}")).status in (404, 405)
        adapter = web_app[SLACK_KEY]
        await api.wait_for("socket:connected")
        assert last(api, "apps.connections.open").args.get("app_token", "xapp-test")
        payload = {
            "command": "/hosting",
            "text": "help",
            "user_id": "USOCK",
            "team_id": TEAM,
            "channel_id": "DSOCK",
            "response_url": api.hook("socket"),
        }
        await api.push(
            {
                "envelope_id": "E1",
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
            }
        )
        acks = await api.wait_for("socket:ack")
        assert acks[0].args["envelope_id"] == "E1"
        await api.wait_for("hook:socket")
        await adapter.drain()
        assert "Here is what I can do" in last(api, "hook:socket").args["text"]

"""Issue #19, items 3 and 4: input that used to raise, Slack bodies parsed before their signature
was checked, replayed Slack requests, user text unescaped in Slack's fallback text.

Each test also checks that the dispatcher's safety net was not what answered: it logs an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

import bot.core.dispatcher
from bot import bootstrap
from bot.adapters.slack import SlackAdapter
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming
from storage.models import ProcessedUpdate, Ticket
from tests.adapters.test_slack import api, linked  # noqa: F401  (fixtures; `web` is in conftest)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.chat import Chat
from tests.support.cli import ROOT, env, shell
from tests.support.slack_client import SECRET, TEAM, SlackUser, signed
from tests.support.telegram_driver import Telegram, telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def tickets(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Ticket)) or 0)


# -- the dispatcher ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("reboot ²", "Not found"),
        ("reboot ١٢", "Not found"),
        ("reboot 2147483648", "Not found"),
        ("reboot 99999999999999999999999999", "Not found"),
        ("mail add ²", "Usage: /mail"),
    ],
)
async def test_digits_that_are_no_id_are_answered_not_raised(
    alice: Chat, caplog: pytest.LogCaptureFixture, line: str, expected: str
) -> None:
    reply = await alice.say(line)
    assert expected in reply.text
    assert errors(caplog) == []


@pytest.mark.parametrize("bad", ["Mail\x00down", "Mail \ud800down"])
async def test_a_form_answer_the_database_cannot_store_is_refused_and_the_form_goes_on(
    dispatcher: Dispatcher, alice: Chat, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    before = await tickets(dispatcher)
    for answer in ("newticket", "technical", "regular", "none"):
        await alice.say(answer)
    assert "not text" in (await alice.say(bad)).text
    assert "Message" in (await alice.say("Mail down")).text
    assert "not text" in (await alice.say(bad)).text
    assert "is open" in (await alice.say("Since 9am.")).text
    assert await tickets(dispatcher) == before + 1
    assert errors(caplog) == []


async def test_a_button_key_that_is_no_key_is_expired(alice: Chat, caplog: pytest.LogCaptureFixture) -> None:
    assert "expired" in (await alice.press_key("\x00\ud800")).text
    assert errors(caplog) == []


async def test_a_sender_whose_ids_cannot_be_stored_is_dropped(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    for incoming in (
        Incoming("test", "x" * 65, text="help"),
        Incoming("test", "a\x00b", text="help"),
        Incoming("test", "", text="help"),
        Incoming("test", "ok", text="help", update_id="\ud800"),
    ):
        assert await dispatcher.handle(incoming) == []
    assert errors(caplog) == []


async def test_the_safety_net_answers_a_failure_outside_the_handler_once_in_one_log_line(
    dispatcher: Dispatcher, alice: Chat, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await alice.say("language fr")

    def broken(*args: object) -> None:
        raise RuntimeError("secret-link-code")

    monkeypatch.setattr(bot.core.dispatcher, "seal", broken)
    first = await dispatcher.handle(Incoming("test", "alice", text="newticket", update_id="u1"))
    again = await dispatcher.handle(Incoming("test", "alice", text="newticket", update_id="u1"))
    assert "Un problème est survenu" in first[0].text and again == []
    [line] = errors(caplog)
    assert line.startswith("update failed: RuntimeError at test_hardening.py:")
    assert "secret" not in caplog.text and "Traceback" not in caplog.text
    monkeypatch.undo()
    assert "nouveau ticket" in (await alice.say("newticket")).text.lower()  # nothing was left open


# -- the shell -----------------------------------------------------------------------------------


def test_the_shell_reads_a_superscript_digit_as_text(tmp_path: Path) -> None:
    out = shell(tmp_path, "²\nbalance\n")
    assert "I don't know that command" in out and "Your balance" in out


def test_the_shell_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell"],
        input=b"\xff\xfe help\nbalance\n",
        capture_output=True,
        cwd=ROOT,
        env=env(tmp_path, PYTHONIOENCODING="utf-8:strict"),  # a terminal that is not lenient
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and b"Your balance" in done.stdout


# -- Telegram ------------------------------------------------------------------------------------


@pytest.fixture
async def telegram_webhook(
    dispatcher: Dispatcher, settings: Settings
) -> AsyncIterator[tuple[Telegram, FakeTelegramAPI]]:
    fake = FakeTelegramAPI()
    await fake.start()
    app = bootstrap.assemble(telegram_settings(settings, fake.url, webhook=True), dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield Telegram(fake, web_app[TELEGRAM], client), fake
    await fake.close()


async def test_telegram_form_answer_with_a_nul_character(
    telegram_webhook: tuple[Telegram, FakeTelegramAPI],
    dispatcher: Dispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, _fake = telegram_webhook
    await tg.link(dispatcher.db, 111)
    for answer in ("/newticket", "technical", "regular", "none"):
        await tg.say(111, answer)
    [refused] = await tg.say(111, "Mail\x00down")
    assert "not text" in refused.params["text"]
    await tg.say(111, "Mail down")
    [done] = await tg.say(111, "Since 9am.")
    assert "is open" in done.params["text"]
    assert errors(caplog) == []


# -- Slack ---------------------------------------------------------------------------------------


async def test_slack_checks_the_signature_before_parsing_the_body(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, adapter = web

    async def post(body: bytes, headers: dict[str, str]) -> int:
        response = await client.post(
            "/slack/events", data=body, headers={"Content-Type": "application/json", **headers}
        )
        await adapter.drain()
        return response.status

    def sign(body: bytes) -> dict[str, str]:
        return signed(body.decode("latin-1")) if body.isascii() else _signed_bytes(body)

    not_utf8, not_json, a_list = b'{"type": "\xff\xfe"}', b"{not json", b"[1, 2]"
    assert await post(not_utf8, {}) == 401
    assert await post(not_json, {}) == 401
    assert await post(not_json, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}) == 401
    assert await post(not_json, {**sign(not_json), "X-Slack-Request-Timestamp": "１２３"}) == 401
    assert await post(not_utf8, sign(not_utf8)) == 400
    assert await post(not_json, sign(not_json)) == 400
    assert await post(a_list, sign(a_list)) == 400
    assert api.calls == []
    assert errors(caplog) == []


def _signed_bytes(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


async def test_a_replayed_modal_submission_creates_one_ticket(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,  # noqa: F811
    dispatcher: Dispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, adapter = web
    ana = await linked(dispatcher, web, api, "UANA")
    await ana.command("newticket", trigger=True)
    view = api.of("views.open")[-1].view()
    state = {
        "department": {"value": {"type": "static_select", "selected_option": {"value": "technical"}}},
        "importance": {"value": {"type": "static_select", "selected_option": {"value": "regular"}}},
        "order": {"value": {"type": "plain_text_input", "value": None}},
        "subject": {"value": {"type": "plain_text_input", "value": "Replayed"}},
        "message": {"value": {"type": "plain_text_input", "value": "Three times."}},
    }
    payload = {
        "type": "view_submission",
        "user": {"id": "UANA", "team_id": TEAM},
        "team": {"id": TEAM},
        "view": {**view, "id": "V0001", "state": {"values": state}},
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    before = await tickets(dispatcher)
    statuses = []
    for _ in range(3):
        statuses.append((await client.post("/slack/events", data=body, headers=headers)).status)
        await adapter.drain()
    assert statuses == [200, 200, 200]
    assert await tickets(dispatcher) == before + 1
    assert len([c for c in api.of("chat.postMessage") if "is open" in c.text]) == 1
    async with dispatcher.db.uow() as uow:
        remembered = await uow.session.scalar(
            select(func.count()).select_from(ProcessedUpdate).where(ProcessedUpdate.source == "slack-request")
        )
    assert remembered == 2  # the slash command and the submission
    assert errors(caplog) == []


async def test_a_replayed_slash_command_is_answered_once(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,  # noqa: F811
    dispatcher: Dispatcher,
) -> None:
    client, adapter = web
    await linked(dispatcher, web, api, "UANA")
    form = {
        "command": "/hosting",
        "text": "balance",
        "user_id": "UANA",
        "team_id": TEAM,
        "channel_id": "D_DM",
        "response_url": api.hook("once"),
    }
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    for _ in range(3):
        assert (await client.post("/slack/events", data=body, headers=headers)).status == 200
        await adapter.drain()
    assert len(api.of("hook:once")) == 1


async def test_user_text_is_escaped_in_the_fallback_text_too(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,  # noqa: F811
    dispatcher: Dispatcher,
) -> None:
    ana: SlackUser = await linked(dispatcher, web, api, "UANA")
    for answer in (
        "newticket",
        "technical",
        "regular",
        "none",
        "<!channel> & <https://x.example|here>",
        "hi",
    ):
        await ana.dm(answer)
    number = await tickets(dispatcher)
    await ana.dm(f"ticket {number}")
    shown = api.of("chat.postMessage")[-1]
    assert "&lt;!channel&gt; &amp; &lt;https://x.example|here&gt;" in shown.text
    assert "<!channel>" not in shown.text and "<!channel>" not in json.dumps(shown.blocks())

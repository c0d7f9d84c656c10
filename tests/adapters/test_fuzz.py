"""Seeded fuzzing (Hypothesis, derandomized): 10,000 inputs in all, every one answered with a reply
or a 4xx, none reaching the dispatcher's safety net or any other error log, no half-written rows.

Most inputs go in-process (the chat driver, the shell adapter, python-telegram-bot's
``process_update``, slack-bolt's dispatch of signed requests); a smaller share goes over real HTTP
to the web app (the Telegram webhook, ``/slack/events``), malformed bodies included. Inputs come in
batches (one Hypothesis example each) so that the per-example overhead stays small.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import text
from telegram import Update

from bot import bootstrap
from bot.adapters.shell import Shell
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.adapters.telegram import SECRET_HEADER, TELEGRAM, WEBHOOK_PATH, TelegramAdapter
from bot.core.dispatcher import Dispatcher
from bot.core.limiting import Limiter
from bot.core.pacing import Pacer
from bot.core.types import Incoming, Reply
from services import chat_records, linking
from storage.uow import Database
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.chat import Chat
from tests.support.slack_client import SECRET as SLACK_SECRET
from tests.support.slack_client import TEAM
from tests.support.telegram_driver import SECRET as TELEGRAM_SECRET
from tests.support.telegram_driver import telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

BATCH = 25  # inputs per Hypothesis example


def fuzz(examples: int) -> Any:
    """``examples`` batches, the same ones on every run."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: batches share a database
        suppress_health_check=list(HealthCheck),
    )


# -- what is typed -------------------------------------------------------------------------------

# Unlinking or linking again would leave the rest of a batch talking to a stranger.
ALIASES = sorted(
    {
        alias
        for command in bootstrap.all_commands().commands.values()
        if command.name not in ("unlink", "start")
        for names in command.aliases.values()
        for alias in names
    }
)
TRICKY = [
    "²",
    "١٢",
    "𝟙",
    "½",
    "0",
    "-1",
    "#1",
    "1",
    "2",
    "3",
    "12",
    "2147483647",
    "2147483648",
    "9" * 26,
    "\x00",
    "a\x00b",
    "\ud800",
    "<!channel>",
    "&amp;",
    "<https://x.example|x>",
    "pdf",
    "qr",
    "on",
    "off",
    "monthly",
    "yearly",
    "2026-13-45",
    "2026-12-31",
    "fr",
    "tr",
    "all",
    "unpaid",
    "paid",
    "open",
    "unread",
    "upgrade",
    "add",
    "downgrade",
    "quiet",
    "threshold",
    "22:00",
    "7h",
    "²:00",
    "50.00",
    "1e309",
    "nan",
    "-",
    "none",
    "technical",
    "high",
    "cancel",
    "web-1",
    "atelier-lumiere.example",
    "FR",
    "Atlantis",
    "x" * 300,
    "y" * 5000,
]
# What looks like a number but is none (or none the database can hold): typed where ids go.
NUMBERS = ["²", "١٢", "𝟙", "0", "-1", "#1", "1", "2", "3", "12", "2147483648", "#99999999999", "9" * 26]
WORD = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(TRICKY), st.text(max_size=12))
# A command, mostly with its slash: a line without one answers the form left open, if any.
COMMAND = st.builds(
    lambda slash, head, args: slash + " ".join([head, *args]),
    st.sampled_from(["/", "/", "/", ""]),
    st.sampled_from(ALIASES),
    st.lists(WORD, max_size=3),
)
LINE = st.one_of(COMMAND, COMMAND, COMMAND, COMMAND, WORD, st.text(max_size=60))
# A line, then maybe a press of one of the buttons of its answer (by position).
STEP = st.tuples(LINE, st.one_of(st.none(), st.integers(min_value=0, max_value=20)))
STEPS = st.lists(STEP, min_size=BATCH, max_size=BATCH)


def pick(reply: Reply | None, choice: int | None) -> str | None:
    keys = [b.key for b in reply.all_buttons() if b.key] if reply is not None else []
    return keys[choice % len(keys)] if keys and choice is not None else None


# -- what must hold ------------------------------------------------------------------------------


class Errors(logging.Handler):
    """Every error logged anywhere (the safety net, an adapter's task, aiohttp, Bolt, PTB)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def logged_errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


# Rows that exist only together: a failed transaction that wrote half would leave one alone.
HALF_WRITTEN = {
    "ticket without a message": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
    "(SELECT 1 FROM ticket_messages m WHERE m.ticket_id = t.id)",
    "invoice without lines": "SELECT count(*) FROM invoices i WHERE NOT EXISTS "
    "(SELECT 1 FROM invoice_lines l WHERE l.invoice_id = i.id)",
    "invoice whose total is not subtotal + VAT": "SELECT count(*) FROM invoices "
    "WHERE total_minor <> subtotal_minor + vat_minor",
    "paid invoice without a payment date": "SELECT count(*) FROM invoices WHERE status = 'paid' AND paid_at IS NULL",
    "payment of an invoice that is not paid": "SELECT count(*) FROM payments p JOIN invoices i "
    "ON i.id = p.invoice_id WHERE i.status <> 'paid'",
}


async def consistent(db: Database) -> None:
    async with db.uow() as uow:
        for what, query in HALF_WRITTEN.items():
            assert await uow.session.scalar(text(query)) == 0, what


def quiet(errors: Errors, about: object) -> None:
    assert errors.seen == [], f"{errors.seen} after {about!r}"


@pytest.fixture
async def fast(dispatcher: Dispatcher) -> Dispatcher:
    """The demo data, and a flood guard that lets a fuzzing user through (thousands a minute)."""
    return bootstrap.dispatcher(
        dispatcher.db, dispatcher.settings.model_copy(update={"rate_limit": "1000000/minute"})
    )


async def link(dispatcher: Dispatcher, platform: str, workspace: str, user: str) -> None:
    async with dispatcher.db.uow() as uow:
        ident = await chat_records.identity(uow, platform, workspace, user)
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, platform, "owner"))


# -- the dispatcher, as every adapter calls it (both databases): 2 x 70 x 25 = 3,500 --------------


@fuzz(70)
@given(steps=STEPS)
async def test_chat_lines_and_presses(fast: Dispatcher, logged_errors: Errors, steps: list[Any]) -> None:
    chat = await Chat.linked(fast, "fuzzer", customer_id=1)
    await chat.say("cancel")  # the form the last batch left open
    for line, choice in steps:
        reply = await chat.say(line)
        assert reply.text and len(reply.text) < 20_000
        quiet(logged_errors, line)
        key = pick(reply, choice)
        if key is not None:
            await chat.press_key(key)
            quiet(logged_errors, (line, "pressed"))
    await consistent(fast.db)


# -- the shell adapter (SQLite, as `hostbot shell` runs): 60 x 25 = 1,500 -------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@fuzz(60)
@given(steps=STEPS)
async def test_shell_lines(fast: Dispatcher, logged_errors: Errors, steps: list[Any]) -> None:
    await link(fast, "shell", "", "local-1")
    out = io.StringIO()
    shell = Shell(fast, "local-1", None, out)
    for line, choice in steps:
        for typed in (line.replace("\n", " ") + "\n", f"{(choice or 0) + 1}\n"):
            mark = out.tell()
            await shell.send(typed)
            assert out.getvalue()[mark:].strip() or typed.strip() == "", typed
            quiet(logged_errors, typed)
    await consistent(fast.db)


# -- Telegram: python-telegram-bot against the fake Bot API ---------------------------------------

USERS = (111, 222)  # linked, a stranger
GROUP = -1001
LANGUAGES = st.sampled_from(["en", "fr", "id", "tr", "pt-BR", "", "x" * 40, "\x00", None])


@dataclass(repr=False)  # Hypothesis prints the fixtures of a failing example
class TelegramBot:
    fake: FakeTelegramAPI
    adapter: TelegramAdapter
    client: TestClient
    ids: Iterator[int]


@pytest.fixture
async def telegram(fast: Dispatcher) -> AsyncIterator[TelegramBot]:
    fake = FakeTelegramAPI()
    await fake.start()
    app = bootstrap.assemble(telegram_settings(fast.settings, fake.url, webhook=True), fast.db, fast)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        await link(fast, "telegram", "", str(USERS[0]))
        yield TelegramBot(fake, web_app[TELEGRAM], client, itertools.count(1))
    await fake.close()


def message_update(bot: TelegramBot, user: int, chat: int, text: str, language: str | None) -> dict[str, Any]:
    update = bot.fake.message_update(user, text, chat, language)
    update["update_id"] = next(bot.ids)
    return update


def press_update(bot: TelegramBot, user: int, data: str, language: str | None) -> dict[str, Any]:
    sent = [c for c in bot.fake.sent() if c.result is not None]
    message = (
        sent[-1].result if sent else {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}}
    )
    update = bot.fake.callback_update(user, data, message, language)
    update["update_id"] = next(bot.ids)
    return update


TELEGRAM_STEP = st.tuples(
    st.sampled_from(USERS),
    st.booleans(),  # in the group
    LINE,
    LANGUAGES,
    st.one_of(st.none(), st.integers(min_value=0, max_value=20), st.text(max_size=64)),
)


def latest_key(bot: TelegramBot, choice: int | str | None) -> str | None:
    """A button of the bot's last message (by position), or made-up callback data."""
    if choice is None or isinstance(choice, str):
        return choice
    buttons = [b for c in bot.fake.sent()[-3:] for b in c.buttons if "callback_data" in b]
    return str(buttons[choice % len(buttons)]["callback_data"]) if buttons else None


# In-process (PostgreSQL, where NUL characters and int32 ids used to fail): 80 x 25 = 2,000


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@fuzz(80)
@given(steps=st.lists(TELEGRAM_STEP, min_size=BATCH, max_size=BATCH))
async def test_telegram_updates(telegram: TelegramBot, logged_errors: Errors, steps: list[Any]) -> None:
    application = telegram.adapter.application
    for user, in_group, line, language, choice in steps:
        chat = GROUP if in_group else user
        mark = len(telegram.fake.calls)
        await application.process_update(
            Update.de_json(message_update(telegram, user, chat, line, language), telegram.adapter.bot)
        )
        quiet(logged_errors, line)
        answered = [c for c in telegram.fake.calls[mark:] if c.method != "getUpdates"]
        assert (
            answered
            or (in_group and user != USERS[0])
            or telegram.adapter._for_another_bot(Incoming("telegram", str(user), text=line))
        ), line
        data = latest_key(telegram, choice)
        if data is not None:
            update = press_update(telegram, user, data, language)
            await application.process_update(Update.de_json(update, telegram.adapter.bot))
            quiet(logged_errors, (data, "pressed"))
    await consistent(telegram.adapter.dispatcher.db)


# Over HTTP to the webhook, bodies that are no update included (SQLite): 20 x 25 = 500

JUNK = st.one_of(
    st.binary(max_size=40),
    st.just(b"{not json"),
    st.just(b"[1, 2]"),
    st.just(b'{"update_id": "x", "message": 5}'),
    st.just(b'{"update_id": 1, "message": {"text": "hi"}}'),
    st.builds(
        lambda d: json.dumps(d).encode(), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3)
    ),
)
WEBHOOK_STEP = st.one_of(
    st.tuples(st.just("update"), TELEGRAM_STEP),
    st.tuples(st.just("junk"), JUNK),
    st.tuples(st.just("stranger"), JUNK),  # without the secret
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@fuzz(20)
@given(steps=st.lists(WEBHOOK_STEP, min_size=BATCH, max_size=BATCH))
async def test_telegram_webhook_bodies(
    telegram: TelegramBot, logged_errors: Errors, steps: list[Any]
) -> None:
    for kind, value in steps:
        headers = {"Content-Type": "application/json", SECRET_HEADER: TELEGRAM_SECRET}
        if kind == "update":
            user, in_group, line, language, _choice = value
            body = json.dumps(message_update(telegram, user, GROUP if in_group else user, line, language))
            response = await telegram.client.post(
                WEBHOOK_PATH, data=body.encode(errors="surrogatepass"), headers=headers
            )
        else:
            if kind == "stranger":
                headers[SECRET_HEADER] = "guess"
            response = await telegram.client.post(WEBHOOK_PATH, data=value, headers=headers)
        expected = {"update": {200}, "junk": {200, 400}, "stranger": {401}}[kind]
        assert response.status in expected, (kind, value, response.status)
        quiet(logged_errors, value)
    await consistent(telegram.adapter.dispatcher.db)


# -- Slack: slack-bolt with signed requests, the fake Web API ------------------------------------


@dataclass(repr=False)
class SlackApp:
    api: FakeSlackAPI
    adapter: SlackAdapter
    client: TestClient
    ids: Iterator[int]


@pytest.fixture
async def slack(fast: Dispatcher) -> AsyncIterator[SlackApp]:
    api = await FakeSlackAPI().start()
    slack_settings = fast.settings.model_copy(
        update={
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SLACK_SECRET,
            "slack_api_url": api.api_url,
            "slack_pace_per_channel": "1000000/second",
        }
    )
    fast.settings = slack_settings
    web_app = bootstrap.web_app(bootstrap.assemble(slack_settings, fast.db, fast))
    async with TestClient(TestServer(web_app)) as client:
        await link(fast, "slack", TEAM, "UFUZZ")
        adapter = web_app[SLACK_KEY]
        adapter.pacer = Pacer(
            "slack", Limiter("async+memory://"), overall="1000000/second", per_chat="1000000/second"
        )  # 25/s by default
        yield SlackApp(api, adapter, client, itertools.count(1))
    await api.stop()


def sign(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


SLACK_USERS = st.sampled_from(["UFUZZ", "USTRANGER"])
CHANNELS = st.sampled_from(["D_DM", "C_TEAM", "G_PRIVATE"])
MODAL_ANSWERS = st.fixed_dictionaries(
    {
        name: st.one_of(st.sampled_from(TRICKY), st.text(max_size=30))
        for name in ("department", "importance", "order", "subject", "message")
    }
)


def slack_body(app: SlackApp, kind: str, user: str, channel: str, line: str, value: Any) -> tuple[bytes, str]:
    """A request as Slack sends it: its body and content type."""
    n = next(app.ids)
    if kind == "command":
        form = {
            "command": "/hosting",
            "text": line,
            "user_id": user,
            "team_id": TEAM,
            "channel_id": channel,
            "response_url": app.api.hook(f"c{n}"),
        }
        if value:
            form["trigger_id"] = f"trigger{n}"
        return urlencode(form, errors="surrogatepass").encode(), "application/x-www-form-urlencoded"
    if kind in ("dm", "mention"):
        event: dict[str, Any] = {"type": "message", "channel_type": "im", "channel": "D_DM", "text": line}
        if kind == "mention":
            event = {"type": "app_mention", "channel": channel, "text": f"<@UBOT> {line}"}
        envelope = {
            "type": "event_callback",
            "team_id": TEAM,
            "event_id": f"Ev{n}",
            "event": {"user": user, **event},
        }
        return json.dumps(envelope).encode(), "application/json"
    if kind == "press":
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "trigger_id": f"trigger{n}",
            "container": {"type": "message", "message_ts": "1.1", "channel_id": channel},
            "channel": {"id": channel},
            "actions": [{"type": "button", "action_id": f"key:{value}", "value": value, "block_id": "b"}],
        }
    else:
        form_name = "newticket" if n % 2 else "topup"
        blocks = [{"type": "input", "block_id": name} for name in value]
        state = {
            name: {"value": {"type": "plain_text_input", "value": answer}} for name, answer in value.items()
        }
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": f"form:{form_name}",
                "private_metadata": line,
                "blocks": blocks,
                "state": {"values": state},
            },
        }
    body = urlencode({"payload": json.dumps(payload)})
    return body.encode(), "application/x-www-form-urlencoded"


def slack_key(app: SlackApp, choice: int | str) -> str:
    """A button of the app's last messages (by position), or a made-up value."""
    if isinstance(choice, str):
        return choice
    values = [
        b["value"]
        for c in app.api.calls[-5:]
        if c.status == 200
        for b in c.buttons().values()
        if "value" in b
    ]
    return str(values[choice % len(values)]) if values else "none"


SLACK_STEP = st.one_of(
    st.tuples(st.sampled_from(["command", "dm", "mention"]), SLACK_USERS, CHANNELS, LINE, st.booleans()),
    st.tuples(
        st.just("press"),
        SLACK_USERS,
        CHANNELS,
        st.just(""),
        st.one_of(st.integers(0, 20), st.text(max_size=40)),
    ),
    st.tuples(st.just("submit"), SLACK_USERS, CHANNELS, st.text(max_size=20), MODAL_ANSWERS),
)


# In-process, Bolt's dispatch of signed requests (PostgreSQL): 80 x 25 = 2,000


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@fuzz(80)
@given(steps=st.lists(SLACK_STEP, min_size=BATCH, max_size=BATCH))
async def test_slack_payloads(slack: SlackApp, logged_errors: Errors, steps: list[Any]) -> None:
    for kind, user, channel, line, value in steps:
        if kind == "press":
            value = slack_key(slack, value)
        raw, content_type = slack_body(slack, kind, user, channel, line, value)
        request = AsyncBoltRequest(
            body=raw.decode(errors="surrogatepass"), headers={"Content-Type": content_type, **sign(raw)}
        )
        response = await slack.adapter.bolt.async_dispatch(request)
        await slack.adapter.drain()
        assert response.status < 500, (kind, line, value, response.status, response.body)
        quiet(logged_errors, (kind, line, value))
    await consistent(slack.adapter.dispatcher.db)


# Over HTTP to /slack/events, unsigned, stale and malformed bodies included (SQLite): 20 x 25 = 500

HTTP_STEP = st.one_of(
    st.tuples(st.just("signed"), SLACK_STEP),
    st.tuples(st.sampled_from(["junk", "unsigned", "stamp"]), JUNK),
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@fuzz(20)
@given(
    steps=st.lists(HTTP_STEP, min_size=BATCH, max_size=BATCH),
    stamp=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
)
async def test_slack_http_requests(
    slack: SlackApp, logged_errors: Errors, steps: list[Any], stamp: str
) -> None:
    for kind, value in steps:
        if kind == "signed":
            step_kind, user, channel, line, extra = value
            if step_kind == "press":
                extra = slack_key(slack, extra)
            raw, content_type = slack_body(slack, step_kind, user, channel, line, extra)
            headers = {"Content-Type": content_type, **sign(raw)}
        else:
            raw, headers = value, {"Content-Type": "application/json", **sign(value)}
            if kind == "unsigned":
                headers["X-Slack-Signature"] = "v0=" + "0" * 64
            if kind == "stamp":
                headers["X-Slack-Request-Timestamp"] = stamp
        response = await slack.client.post("/slack/events", data=raw, headers=headers)
        await slack.adapter.drain()
        assert response.status < 500, (kind, value, response.status)
        if kind == "unsigned":
            assert response.status == 401
        quiet(logged_errors, (kind, value))
    await consistent(slack.adapter.dispatcher.db)

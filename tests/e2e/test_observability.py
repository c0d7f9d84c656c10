"""Seen from outside, through the real processes: what ``hostbot run`` and ``hostbot worker --once``
write to their logs (no secret, at DEBUG too; JSON lines naming the update and account) and what
``/metrics`` shows. The platforms are the fake Bot API and the fake Slack Web API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.core.logs import MASK, Redactor, secrets_of
from bot.core.metrics import Metrics
from storage.db import make_engine
from storage.uow import Database
from tests.conftest import PG_ADMIN, _pg_url
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import BOT_ID, FakeTelegramAPI
from tests.support.cli import ROOT

# Distinctive values: none of them may appear in any log line.
SECRETS = {
    "TELEGRAM_BOT_TOKEN": f"{BOT_ID}:AAHtgTokenZq81mQvX3",
    "TELEGRAM_WEBHOOK_SECRET": "hookSecret5Kq2Wz7Lp",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-slackBotQx9Vb",
    "SLACK_SIGNING_SECRET": "signingSecretMv4Tn8Rd",
    "STRIPE_API_KEY": "sk_test_stripeKeyHy6Pc2",
    "STRIPE_WEBHOOK_SECRET": "whsec_stripeHookJw3Ks9",
    "METRICS_TOKEN": "metricsTokenBf5Gx1",
}
DB_PASSWORD = "dbPasswordNc7Ye4"
PAY_TOKEN = re.compile(r"/pay/([A-Za-z0-9_-]{20,64})")
USER = 7001
SLACK_USER = "U0LOGS"
HANG = 60


def _run(*args: str, env: dict[str, str]) -> str:
    """A short ``hostbot`` command; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


async def hostbot(*args: str, env: dict[str, str]) -> str:
    return await asyncio.to_thread(_run, *args, env=env)


@dataclass
class Web:
    """A running ``hostbot run``: its address and the file its stderr goes to."""

    url: str
    log: Path
    process: asyncio.subprocess.Process


@asynccontextmanager
async def running(env: dict[str, str], log: Path) -> AsyncIterator[Web]:
    port = _free_port()
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=sink,
            stderr=sink,
        )
    web = Web(f"http://127.0.0.1:{port}", log, proc)
    try:
        async with asyncio.timeout(HANG), aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{web.url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    if proc.returncode is not None:
                        pytest.fail(await asyncio.to_thread(log.read_text))
                await asyncio.sleep(0.2)  # polling a starting process
        yield web
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def slack_posts(web: Web, body: str, content_type: str) -> None:
    """A request to /slack/events signed as Slack signs it."""
    stamp = str(int(time.time()))
    secret = SECRETS["SLACK_SIGNING_SECRET"].encode()
    digest = hmac.new(secret, f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{web.url}/slack/events", data=body, headers=headers) as response,
    ):
        assert response.status == 200


async def slack_command(web: Web, slack: FakeSlackAPI, text: str, hook: str) -> dict[str, Any]:
    """``/hosting text``; what the app sent back to its response_url."""
    form = {
        "command": "/hosting",
        "text": text,
        "user_id": SLACK_USER,
        "team_id": slack.team,
        "channel_id": "D_LOGS",
        "response_url": slack.hook(hook),
    }
    await slack_posts(web, urlencode(form), "application/x-www-form-urlencoded")
    return (await slack.wait_for(f"hook:{hook}", within=HANG))[0].args


async def link_slack(web: Web, slack: FakeSlackAPI, env: dict[str, str], customer: str) -> None:
    out = await hostbot("link-code", customer, "--platform", "slack", env=env)
    code = re.search(r"/hosting start (\S+)", out)
    assert code is not None, out
    await slack_command(web, slack, f"start {code.group(1)}", "link")


@asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeTelegramAPI, FakeSlackAPI]]:
    telegram, slack = FakeTelegramAPI(), FakeSlackAPI()
    await telegram.start()
    await slack.start()
    try:
        yield telegram, slack
    finally:
        await telegram.close()
        await slack.stop()


@asynccontextmanager
async def pg_with_password() -> AsyncIterator[str]:
    """A throw-away PostgreSQL database, addressed with a password in DATABASE_URL (the server
    trusts local connections, so any password works)."""
    name = f"hostbot_logs_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield _pg_url(name).replace("://postgres@", f"://postgres:{DB_PASSWORD}@")
    finally:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def base_env(
    database_url: str, telegram: FakeTelegramAPI, slack: FakeSlackAPI, **extra: str
) -> dict[str, str]:
    return {
        **os.environ,
        "LANG": "C",
        "DATABASE_URL": database_url,
        "TELEGRAM_API_URL": telegram.url,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram/webhook",
        "SLACK_API_URL": slack.api_url,
        "PUBLIC_BASE_URL": "https://bot.example",
        **SECRETS,
        **extra,
    }


async def link_telegram(web: Web, telegram: FakeTelegramAPI, env: dict[str, str], customer: str) -> None:
    out = await hostbot("link-code", customer, "--platform", "telegram", env=env)
    code = re.search(r"/start (\S+)", out)
    assert code is not None, out
    await telegram_says(web, telegram, f"/start {code.group(1)}")


async def telegram_says(web: Web, telegram: FakeTelegramAPI, text: str) -> dict[str, Any]:
    """POST one update to the webhook as Telegram does; wait for the bot's answer."""
    update = telegram.message_update(USER, text)
    before = len(telegram.sent(USER))
    async with aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_WEBHOOK_SECRET"]}
        async with http.post(f"{web.url}/telegram/webhook", json=update, headers=headers) as response:
            assert response.status == 200
    await telegram.wait_for(lambda: len(telegram.sent(USER)) > before)
    return update


def assert_no_secret(written: str, *pay_tokens: str) -> None:
    for name, value in SECRETS.items():
        assert value not in written, name
    assert SECRETS["TELEGRAM_BOT_TOKEN"].split(":", 1)[1] not in written
    assert DB_PASSWORD not in written
    for token in pay_tokens:
        assert token not in written


@pytest.mark.postgres
async def test_run_and_worker_at_debug_write_no_secret(tmp_path: Path) -> None:
    """Every credential the processes hold or handle is used at DEBUG (Bot API calls, setWebhook,
    messages with pay links, a Slack response_url, the pay page) and none is written."""
    async with fakes() as (telegram, slack), pg_with_password() as database_url:
        env = base_env(database_url, telegram, slack, LOG_LEVEL="DEBUG", ALERTS_IN_RUN="false")
        await hostbot("migrate", "--demo", env=env)
        async with running(env, tmp_path / "run.log") as web:
            await link_telegram(web, telegram, env, "1")
            await telegram_says(web, telegram, "/pay 3")
            found = PAY_TOKEN.search(json.dumps([c.params for c in telegram.sent(USER)]))
            assert found is not None, "the bot sent no pay link"
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{web.url}/pay/{found.group(1)}") as page,
            ):
                assert page.status == 200
            # Slack: a slash command answered through its response_url.
            await link_slack(web, slack, env, "1")
            assert PAY_TOKEN.search(json.dumps(await slack_command(web, slack, "pay 3", "pay")))
            headers = {"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{web.url}/metrics", headers=headers) as response,
            ):
                assert response.status == 200
        worker = await hostbot("worker", "--once", env=env)
        (tmp_path / "worker.log").write_text(worker)  # kept for reading when this test fails
    assert telegram.of("setWebhook"), "the webhook was not registered"
    sent = json.dumps([c.params for c in telegram.calls] + [c.args for c in slack.calls])
    tokens = set(PAY_TOKEN.findall(sent))
    assert len(tokens) >= 2, "the answers on both platforms carry pay links"
    run_log = (tmp_path / "run.log").read_text()
    assert_no_secret(run_log + worker, *tokens)
    # The lines that used to carry them are still written, redacted.
    assert "GET /pay/[redacted]" in run_log
    assert "setWebhook" in run_log
    assert "sendMessage" in worker
    assert "Bot API URL: http://127.0.0.1" in worker


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_and_json_logs_of_the_web_process(tmp_path: Path) -> None:
    """Updates and commands by platform and outcome, reply latency, pacing waits and 429s, the
    outbox (with dead letters from a worker that has no Telegram sender) and the database pool;
    the log is JSON lines, those of one update naming it and its account."""
    async with fakes() as (telegram, slack):
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hostbot.db'}"
        env = base_env(
            database_url, telegram, slack, LOG_LEVEL="DEBUG", LOG_FORMAT="json", ALERTS_IN_RUN="false"
        )
        await hostbot("migrate", "--demo", env=env)
        async with running(env, tmp_path / "run.log") as web:
            async with aiohttp.ClientSession() as http, http.get(f"{web.url}/metrics") as response:
                assert response.status == 401  # METRICS_TOKEN is set
            await link_telegram(web, telegram, env, "1")
            telegram.fail_next("sendMessage", retry_after=1)
            balance = await telegram_says(web, telegram, "/balance")
            await telegram_says(web, telegram, "/nosuchcommand")
            await link_slack(web, slack, env, "1")
            await slack_command(web, slack, "pay 999", "refused")
            # Two direct messages answered in one channel within a second: the pacer holds the
            # second answer back; Slack answers the first with 429, the client waits and resends.
            slack.throttle("chat.postMessage", retry_after=1)
            for n in (1, 2):
                event = {"type": "message", "channel_type": "im", "channel": "D_LOGS", "user": SLACK_USER}
                body = {"type": "event_callback", "team_id": slack.team, "event_id": f"Ev{n}"}
                await slack_posts(
                    web, json.dumps({**body, "event": {**event, "text": "balance"}}), "application/json"
                )
            await slack.wait_for("chat.postMessage", count=2, within=HANG)
            # Alerts for the linked chat, by a worker that cannot send to Telegram: dead letters.
            no_telegram = {k: v for k, v in env.items() if k != "TELEGRAM_BOT_TOKEN"}
            await hostbot("worker", "--once", env={**no_telegram, "ALERTS_MAX_ATTEMPTS": "1"})
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}
                async with http.get(f"{web.url}/metrics", headers=headers) as response:
                    assert response.status == 200
                    assert response.content_type == "text/plain"
                    found = samples(await response.text())
    assert value(found, "hostbot_updates_total", platform="telegram", outcome="ok") == 3
    assert value(found, "hostbot_commands_total", platform="telegram", command="balance", outcome="ok") == 1
    assert value(found, "hostbot_commands_total", platform="telegram", command="start", outcome="ok") == 1
    assert value(found, "hostbot_reply_seconds_count", platform="telegram") == 3
    assert value(found, "hostbot_reply_seconds_bucket", platform="telegram", le="+Inf") == 3
    assert value(found, "hostbot_rate_limited_total", platform="telegram") == 1
    assert value(found, "hostbot_pacing_waits_total", platform="telegram") >= 1
    assert value(found, "hostbot_pacing_wait_seconds_total", platform="telegram") > 0
    assert value(found, "hostbot_updates_total", platform="slack", outcome="ok") == 3
    assert value(found, "hostbot_updates_total", platform="slack", outcome="refused") == 1
    assert value(found, "hostbot_commands_total", platform="slack", command="pay", outcome="refused") == 1
    assert value(found, "hostbot_commands_total", platform="slack", command="balance", outcome="ok") == 2
    assert value(found, "hostbot_rate_limited_total", platform="slack") == 1
    assert value(found, "hostbot_pacing_waits_total", platform="slack") >= 1
    dead = value(found, "hostbot_outbox_dead_letters")
    assert dead > 0
    assert value(found, "hostbot_outbox_alerts", state="dead") == dead
    assert ("hostbot_outbox_oldest_pending_seconds", frozenset()) in found
    assert value(found, "hostbot_db_pool_connections", state="size") >= 1
    assert ("hostbot_db_pool_connections", frozenset({("state", "checked_out")})) in found

    lines = [json.loads(line) for line in (tmp_path / "run.log").read_text().splitlines()]
    assert {"ts", "level", "logger", "message", "update_id", "account"} <= set(lines[0])
    of_balance = [line for line in lines if line["update_id"] == str(balance["update_id"])]
    assert any("sendMessage" in line["message"] for line in of_balance)
    assert any(line["logger"].startswith("telegram") for line in of_balance)
    assert {line["account"] for line in of_balance} == {1}
    of_dm = [line for line in lines if line["update_id"] == "Ev1"]
    assert any("chat.postMessage" in line["message"] for line in of_dm)
    assert {line["account"] for line in of_dm} == {1}
    assert_no_secret(json.dumps(lines))


@pytest.mark.parametrize(
    "line",
    [
        "POST https://hooks.slack.com/commands/T0001/1234/AbCdEfGh12 answered 404",
        "response_url='https:\\/\\/hooks.slack.com\\/actions\\/T0001\\/99\\/Zyx987'",
        "app token xapp-1-A0001-1234-abcdef, user token xoxp-12-34-abc",
        "stripe rk_live_51Restricted and whsec_abc123",
        '{"url": "https:\\/\\/bot.example\\/pay\\/Qm9vZm9vYmFyYmF6cXV4MTIzNDU2"}',
        "Referer: https://bot.example/pay%2FQm9vZm9vYmFyYmF6cXV4MTIzNDU2",
        "GET https://api.telegram.org/bot123456:AAE-xyz_0123456789abcdef/getMe",
        "Authorization: Bearer hbt_Zd6upymEpjXzI3-rP7hnkdM_V_dWtsMSOfO1ZmTPngY",
    ],
)
def test_credential_shapes_are_redacted_whatever_configured(line: str) -> None:
    redacted = Redactor().redact(line)
    assert MASK in redacted
    for shape in ("AbCdEfGh12", "Zyx987", "abcdef", "abc123", "Restricted", "Qm9vZm9v", "AAE-xyz", "Zd6upym"):
        assert shape not in redacted


def test_a_traceback_is_redacted_with_its_message() -> None:
    """Secrets in an exception's text (a URL in a connection error) and in the arguments."""
    settings = Settings(
        telegram_bot_token="1:tokenValueXy", database_url="postgresql+asyncpg://u:pw-Secret9@db/x"
    )
    assert secrets_of(settings) == ["1:tokenValueXy", "pw-Secret9"]
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s", ("pw-Secret9",), None)
    try:
        raise ConnectionError("cannot reach https://api.example/bot1:tokenValueXy/getMe")
    except ConnectionError:
        record.exc_info = sys.exc_info()
    Redactor(secrets_of(settings)).filter(record)
    written = logging.Formatter().format(record)
    assert "tokenValueXy" not in written
    assert "pw-Secret9" not in written
    assert "ConnectionError: cannot reach https://api.example/bot[redacted]/getMe" in written


def test_an_exception_that_ends_the_process_is_redacted_too() -> None:
    """Uncaught, it is written through the logging handler (and its redaction), not around it."""
    script = (
        "from bot.config import Settings\n"
        "from bot.core import logs\n"
        "logs.setup(Settings(telegram_bot_token='1:tokenValueXy'))\n"
        "raise ConnectionError('cannot reach https://api.example/bot1:tokenValueXy/getMe')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "CRITICAL hostbot: stopped by an uncaught exception" in done.stderr
    assert "ConnectionError: cannot reach https://api.example/bot[redacted]/getMe" in done.stderr
    assert "tokenValueXy" not in done.stderr


async def test_metrics_are_served_while_the_database_is_down() -> None:
    """The counters are what one needs during an outage: a failed outbox read must not fail the scrape."""
    metrics = Metrics()
    metrics.updates.labels("telegram", "error").inc()
    db = Database(make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/none"))
    try:
        await metrics.refresh(db)
    finally:
        await db.close()
    found = samples(metrics.exposition().decode())
    assert value(found, "hostbot_updates_total", platform="telegram", outcome="error") == 1
    assert value(found, "hostbot_outbox_read_errors_total") == 1
    assert value(found, "hostbot_db_pool_connections", state="checked_out") == 0

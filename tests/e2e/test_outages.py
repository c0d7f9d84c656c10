"""One outage never takes the rest down: ``hostbot run`` and ``hostbot shell`` as real processes
with Telegram, Slack and Redis pointed at closed ports on 127.0.0.1, and PostgreSQL dropping
every connection under a running process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from limits import parse

from bot import bootstrap
from bot.adapters.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.config import Settings
from bot.core import limiting
from bot.core.dispatcher import Dispatcher
from tests.conftest import PG_ADMIN
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.support.cli import hostbot
from tests.support.processes import Hostbot, free_port
from tests.support.telegram_driver import SECRET, telegram_settings


async def test_run_serves_while_telegram_slack_and_redis_are_unreachable(tmp_path: Path) -> None:
    telegram_port, slack_port = free_port(), free_port()
    bot = Hostbot(
        tmp_path,
        "run",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=f"http://127.0.0.1:{telegram_port}",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL=f"http://127.0.0.1:{slack_port}/api/",
        RATE_LIMIT_STORAGE=f"async+redis://127.0.0.1:{free_port()}",
        STRIPE_API_KEY="sk_test_x",
        STRIPE_WEBHOOK_SECRET="whsec_test",
    )
    telegram, slack = FakeTelegramAPI(), FakeSlackAPI()
    try:
        await bot.start()
        await bot.wait_for_log("listening on")
        report = await bot.health()
        assert report["status"] == "degraded"
        components = report["components"]
        assert components["database"] == {"state": "up"}
        assert components["telegram"]["state"] == "retrying"
        assert components["slack"]["state"] == "retrying"
        assert components["rate_limit_storage"]["state"] == "fallback"

        # The pay pages and the Stripe webhook are served all the same.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{bot.url}/pay/{secrets.token_urlsafe(24)}") as page:
                assert page.status == 404
                assert "Payment link not found" in await page.text()
            async with http.post(f"{bot.url}/stripe/webhook", data=b"{}") as hook:
                assert hook.status == 400  # reached, and refused for its missing signature

        # The platforms come back: each connects on its own next attempt.
        await telegram.start(telegram_port)
        await slack.start(slack_port)
        await bot.until_healthy("telegram", "up")
        await bot.until_healthy("slack", "up")
        assert telegram.of("getUpdates")
        assert slack.of("socket:connected")
        mark = len(bot.lines())
        assert await bot.stop(signal.SIGTERM) == 0
        # (The access log line of the last /healthz above may land after the mark.)
        after = [line for line in bot.lines(since=mark) if "aiohttp.access" not in line]
        assert [line.split(": ", 1)[1] for line in after] == ["hostbot run stopped (SIGTERM)"]
        assert "Traceback" not in "\n".join(bot.lines())  # an outage is logged, not a crash
    finally:
        await bot.kill()
        await telegram.close()
        await slack.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_webhook_update_before_the_bot_is_up_is_refused_for_redelivery(
    dispatcher: Dispatcher, settings: Settings
) -> None:
    """Webhook mode, Bot API unreachable: an update Telegram still sends (a webhook set by an
    earlier run) gets a 503, so Telegram keeps it and delivers it again once the bot is up."""
    app = bootstrap.assemble(
        telegram_settings(settings, f"http://127.0.0.1:{free_port()}", webhook=True),
        dispatcher.db,
        dispatcher,
    )
    async with TestClient(TestServer(bootstrap.web_app(app), host="127.0.0.1", port=0)) as client:
        update = FakeTelegramAPI().message_update(1, "/help")
        response = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
        assert response.status == 503
        health = await client.get("/healthz")
        assert health.status == 200
        assert (await health.json())["components"]["telegram"]["state"] == "retrying"


def test_worker_runs_while_telegram_is_unreachable(tmp_path: Path) -> None:
    """The hourly jobs and the alerts pass run; Telegram's alerts wait for their next attempt."""
    done = hostbot(
        tmp_path,
        "worker",
        "--once",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "telegram unavailable (attempt 1" in done.stderr
    assert "housekeeping removed" in done.stderr and "alerts: " in done.stderr


def test_shell_keeps_limiting_in_memory_when_redis_is_down(tmp_path: Path) -> None:
    """Redis unreachable: the flood guard falls back to this process's memory (documented), so
    the chat keeps answering, and still refuses the message over the limit."""
    done = hostbot(
        tmp_path,
        "shell",
        stdin="balance\nbalance\nbalance\n",
        RATE_LIMIT="2/minute",
        RATE_LIMIT_STORAGE=f"async+redis://127.0.0.1:{free_port()}",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.count("Your balance") == 2
    assert "You are sending messages too fast" in done.stdout


@pytest.mark.postgres
async def test_run_reconnects_after_postgresql_drops_its_connections(
    tmp_path: Path, pg_database: str
) -> None:
    """Every backend of the process terminated (as a PostgreSQL restart does): the next requests
    are answered normally on fresh connections, not with a 500 or a 503."""
    bot = Hostbot(tmp_path, "run", DATABASE_URL=pg_database)
    dead_link = f"/pay/{secrets.token_urlsafe(24)}"
    try:
        await bot.start()
        await bot.wait_for_log("listening on")
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                async with http.get(f"{bot.url}{dead_link}") as page:
                    assert page.status == 404
                assert (await bot.health())["components"]["database"] == {"state": "up"}
                admin = await asyncpg.connect(PG_ADMIN)
                try:
                    terminated = await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid()",
                        pg_database.rsplit("/", 1)[1],
                    )
                finally:
                    await admin.close()
                assert terminated >= 1
        assert await bot.stop(signal.SIGTERM) == 0
    finally:
        await bot.kill()


class _RedisProxy:
    """A TCP relay to the test Redis that can be cut and restored: Redis going away and back."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


async def test_limits_move_to_memory_while_redis_is_away_and_back_after(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(limiting, "RETRY_SECONDS", 0.0)
    proxy = _RedisProxy()
    await proxy.start()
    shared = f"async+redis://127.0.0.1:{proxy.port}"
    one, two = limiting.Limiter(shared), limiting.Limiter(shared)  # two replicas
    item, key = parse("2/minute"), secrets.token_hex(8)
    assert await one.hit(item, key) and await two.hit(item, key)
    assert not await one.hit(item, key)  # the window is shared: the third is refused
    await proxy.cut()
    with caplog.at_level(logging.INFO, "hostbot.limits"):
        assert await one.hit(item, key)  # the connection dropped mid-call: in memory, from zero
        assert await one.hit(item, key)
        assert not await one.hit(item, key)  # still limited, per process
        assert (await limiting.storage_state(shared))["state"] == "fallback"
        await proxy.start()
        assert not await two.hit(item, key)  # Redis is back, with the window it kept
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "unreachable" in m]) == 1
    assert any("reachable again" in m for m in messages)
    await proxy.cut()

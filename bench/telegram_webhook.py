"""Benchmark: recorded Telegram updates posted to the webhook, through the whole pipeline.

    .venv/bin/python -m bench.telegram_webhook [--users 100] [--concurrency 40] [--database-url URL]

Each update (``/balance``, ``/invoices``, a press on the invoice list's "Paid" filter) goes
through aiohttp, the secret check, python-telegram-bot, the dispatcher, the database and the reply
to a fake Bot API on 127.0.0.1 (the webhook answers once the reply is sent). The same bodies are
then posted, with the same concurrency, to a bare aiohttp endpoint in the same process, and the
ratio of the two rates is reported. Outbound pacing is raised out of the way: it is a deliberate
limit (25 messages/s by default), not a cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bot.adapters.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.app import open_app
from bot.config import Settings
from bot.web import make_web_app
from services import chat_state, linking
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

SECRET = "bench-secret"
FIRST_USER = 10_000


async def bare(request: web.Request) -> web.Response:
    """The floor: read the body and answer, as a handler that does nothing would."""
    await request.read()
    return web.Response()


async def link_users(app: Any, users: int) -> None:
    async with app.db.uow() as uow:
        for n in range(users):
            ident = await chat_state.identity(uow, "telegram", "", str(FIRST_USER + n))
            code = await linking.issue_code(uow, 1 + n % 4, "telegram")
            await linking.redeem(uow, ident, code)


async def record(session: ClientSession, base: str, fake: FakeTelegramAPI, users: int) -> list[bytes]:
    """The updates to replay: per user a /balance, an /invoices and a press on "Paid"."""
    updates: list[dict[str, Any]] = []
    for n in range(users):
        user = FIRST_USER + n
        await post(session, base + WEBHOOK_PATH, json.dumps(fake.message_update(user, "/invoices")).encode())
        listing = fake.sent(user)[-1]
        paid = next(b for b in listing.buttons if "callback_data" in b and b["text"] != "#3")
        updates += [
            fake.message_update(user, "/balance"),
            fake.message_update(user, "/invoices"),
            fake.callback_update(user, paid["callback_data"], listing.result),
        ]
    return [json.dumps(u).encode() for u in updates]


async def post(session: ClientSession, url: str, body: bytes) -> float:
    started = time.perf_counter()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


async def run(session: ClientSession, url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    queue = list(reversed(bodies))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            latencies.append(await post(session, url, queue.pop()))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "updates": len(bodies),
        "per_second": len(bodies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeTelegramAPI()
    await fake.start()
    database_url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        rate_limit="1000000/minute",
        telegram_bot_token=TOKEN,
        telegram_api_url=fake.url,
        telegram_webhook_url="https://bench.example" + WEBHOOK_PATH,
        telegram_webhook_secret=SECRET,
        telegram_rate="1000000/second",
        telegram_chat_rate="1000000/second",
    )
    app = await open_app(settings, seed_demo=True)
    await link_users(app, args.users)
    web_app = make_web_app(app)
    web_app.router.add_post("/bare", bare)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        async with ClientSession() as session:
            bodies = await record(session, base, fake, args.users)
            pipeline = await run(session, base + WEBHOOK_PATH, bodies, args.concurrency)
            floor = await run(session, base + "/bare", bodies, args.concurrency)
    finally:
        await runner.cleanup()
        await app.close()
        await fake.close()
    return {
        "database": database_url.split(":", 1)[0],
        "concurrency": args.concurrency,
        "pipeline": pipeline,
        "bare_aiohttp": floor,
        "ratio": pipeline["per_second"] / floor["per_second"],
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="linked Telegram users (3 updates each)")
    parser.add_argument("--concurrency", type=int, default=40, help="parallel webhook deliveries")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    result = asyncio.run(main(parser.parse_args()))
    for name in ("pipeline", "bare_aiohttp"):
        r = result[name]
        print(
            f"{name:13} {r['updates']:5d} updates  {r['per_second']:8.1f}/s  "
            f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
        )
    print(f"ratio pipeline / bare aiohttp: {result['ratio']:.3f} (database: {result['database']})")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "telegram_webhook.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()

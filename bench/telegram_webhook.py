"""Benchmark: recorded Telegram updates posted to the webhook, through the whole pipeline.

    .venv/bin/python -m bench.telegram_webhook [--users 100] [--concurrency 40] [--database-url URL]
                                               [--rounds N] [--profile FILE]

Three processes, so that the bot is measured alone: the bot (the project's aiohttp app), the fake
Bot API on 127.0.0.1 (``tests/fakes/telegram_api.py``), and this one, which records the updates
(per user a ``/balance``, an ``/invoices`` and a press on the list's "Paid" filter) and posts them
with the secret header, ``--concurrency`` at a time, to eight endpoints of the bot's server in turn:

- ``bare``: an aiohttp handler that reads the body and answers (the floor);
- ``ptb``: python-telegram-bot's own path, ``Update.de_json`` then ``Application.process_update``
  into a handler that does nothing (the issue's reference point);
- ``ptb_reply_httpx``: the same, but the handler makes the Bot API calls the pipeline makes (a
  message, or an edit and the callback answer) with a fixed text, on PTB's default httpx transport;
- ``ptb_reply``: the same on the transport the bot uses (``bot/adapters/telegram_http.py``);
- ``floor``: the least the issue asks of any implementation, with the cheapest parts there are:
  PTB's routing, the update's unique row and the sender's account in one database round trip
  through the raw driver, one ``sendMessage`` posted with a raw aiohttp client. No dispatcher, no
  ORM, no rendering, no pacing: an upper bound for what the pipeline can reach on this machine;
- ``floor_kept``: ``floor`` with the promises the pipeline keeps, on the same raw drivers (one
  transaction holding the claim, one read of what the reply shows, the pipeline's Bot API calls,
  the buttons' keys, the commit): what answering once and keeping the buttons cost at the least;
- ``floor_kept_sa``: ``floor_kept``'s statements through SQLAlchemy Core on the pipeline's own
  engine: what the promises cost at the least on the database layer the project is built on;
- ``pipeline``: the real webhook (secret check, python-telegram-bot, dispatcher, database, reply
  to the fake API; answered once the reply is sent).

Each is reported with its rate, p50, p99, the bot process's CPU time per update, and its ratio to
``bare``; then the pipeline's, ``floor_kept``'s and ``floor_kept_sa``'s bot CPU per update
divided by ``floor``'s, the pipeline's beside its goal (at most twice ``floor``). With
``--rounds N`` every row runs N times, in turn, on fresh update ids, and each figure is the median
of its rounds (a ratio the median of the rounds' ratios, printed with their range): one run on a
busy machine drifts by more than the rows differ. Outbound pacing
is raised out of the way: it is a deliberate limit (25 messages/s by default), not a cost. A
PostgreSQL ``--database-url`` names the server and a database to connect to: the run creates a
throw-away database there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import multiprocessing
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from aiohttp import ClientSession, TCPConnector, web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bench.databases import throwaway
from bot import bootstrap
from bot.adapters.telegram import CONNECTIONS, SECRET_HEADER, WEBHOOK_PATH
from bot.adapters.telegram_http import AiohttpRequest
from bot.bootstrap import open_app
from bot.config import Settings
from bot.lifecycle import started
from services import chat_records, linking
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

SECRET = "bench-secret"
FIRST_USER = 10_000
GOAL = 2.0  # the pipeline's bot CPU per update, at most this many times the floor's
TARGETS = ("bare", "ptb", "ptb_reply_httpx", "ptb_reply", "floor", "floor_kept", "floor_kept_sa", "pipeline")
FLOORS_KEPT = ("floor_kept", "floor_kept_sa")  # the promises' cost, compared with ``floor``'s too
SETUP = (
    "three processes on {cores} cores: the bot (measured), the fake Bot API, the load generator; "
    "{concurrency} requests in flight"
)


# -- the bot process ------------------------------------------------------------------------------


async def bare(request: web.Request) -> web.Response:
    """The floor: read the body and answer, as a handler that does nothing would."""
    await request.read()
    return web.Response()


async def do_nothing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The reference handler of the issue."""


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Bot API calls the pipeline makes for the same update, with a fixed text."""
    query = update.callback_query
    if query is not None and query.message is not None:
        await context.bot.edit_message_text("ok", query.message.chat.id, query.message.message_id)
        await query.answer()
    elif update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, "ok")


# The claim of an update (as ``source``) and the sender's row (``columns``), for ``Floor``,
# ``KeptFloor`` and ``SQLAlchemyFloor``: in one statement on PostgreSQL, in two on SQLite. The
# parameters are the driver's placeholders (``$1``, ``?``) or SQLAlchemy's (``:update_id``).
_CLAIM_AND_SENDER_PG = (
    "WITH claim AS (INSERT INTO processed_updates (source, update_id, processed_at) "
    "VALUES ('{source}', {update_id}, now()) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT {columns} FROM chat_identities WHERE platform = 'telegram' AND workspace = '' "
    "AND user_id = {user_id} AND EXISTS (SELECT 1 FROM claim)"
)
_CLAIM_SQLITE = (
    "INSERT INTO processed_updates (source, update_id, processed_at) "
    "VALUES ('{source}', {update_id}, datetime('now')) ON CONFLICT DO NOTHING"
)
_SENDER_SQLITE = (
    "SELECT {columns} FROM chat_identities WHERE platform = 'telegram' AND workspace = '' "
    "AND user_id = {user_id}"
)
# ``KeptFloor``'s read (an invoice page with its count) and its buttons' keys.
_PAGE = (
    "SELECT number, status, total_minor, currency, issue_date, count(*) OVER () FROM invoices "
    "WHERE customer_id = {customer_id} ORDER BY issue_date DESC, id DESC LIMIT 5"
)
_KEYS = (
    "INSERT INTO action_keys (key, identity_id, kind, payload, expires_at) "
    "VALUES ({key}, {identity_id}, {kind}, {payload}, {expires_at})"
)
_KEY_FIELDS = ("key", "identity_id", "kind", "payload", "expires_at")


class Floor:
    """The floor's handler: claim and account in one statement, then one raw ``sendMessage``."""

    CLAIM_PG = _CLAIM_AND_SENDER_PG.format(
        source="floor", columns="customer_id", update_id="$1", user_id="$2"
    )
    CLAIM_SQLITE = _CLAIM_SQLITE.format(source="floor", update_id="?")
    ACCOUNT_SQLITE = _SENDER_SQLITE.format(columns="customer_id", user_id="?")

    def __init__(self, database_url: str, api_url: str) -> None:
        self.database_url, self.send_url = database_url, f"{api_url}/bot{TOKEN}/sendMessage"
        self.pool: asyncpg.Pool | None = None
        self.sqlite: aiosqlite.Connection | None = None
        self.http = ClientSession(connector=TCPConnector(limit=16))

    async def open(self) -> None:
        if self.database_url.startswith("postgresql"):
            self.pool = await asyncpg.create_pool(
                self.database_url.replace("postgresql+asyncpg://", "postgresql://"),
                min_size=5,
                max_size=10,
                reset=_kept_as_is,
            )
        else:
            # One connection for every update in flight: their statements may share a
            # transaction (a claim is committed by whichever commit comes next, and nothing is
            # ever rolled back), the cheapest way to do the floor's work on SQLite.
            self.sqlite = await aiosqlite.connect(self.database_url.split(":///", 1)[1])

    async def close(self) -> None:
        await self.http.close()
        if self.pool is not None:
            await self.pool.close()
        if self.sqlite is not None:
            await self.sqlite.close()

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        if self.pool is not None:
            await self.pool.fetchval(self.CLAIM_PG, str(update.update_id), str(user.id))
        elif self.sqlite is not None:
            await self.sqlite.execute(self.CLAIM_SQLITE, (str(update.update_id),))
            await (await self.sqlite.execute(self.ACCOUNT_SQLITE, (str(user.id),))).fetchone()
            await self.sqlite.commit()
        async with self.http.post(self.send_url, data={"chat_id": str(chat.id), "text": "ok"}) as response:
            await response.read()
            assert response.status == 200, response.status


async def _kept_as_is(connection: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is: the floor's statements leave no session state
    (no ``SET``, ``LISTEN`` or locks), so asyncpg's reset query would be a round trip for nothing."""


class KeptFloor(Floor):
    """``floor`` with the promises the pipeline keeps, still on the raw drivers: one transaction
    per update (on SQLite the claim in a commit of its own, as the pipeline does there) holding
    the claim with who wrote, one read of what the reply shows (an invoice page with its count),
    the Bot API calls the pipeline makes (a message; or an edit and the callback's answer), then
    the reply's buttons' keys inserted, and the commit. No dispatcher, ORM, rendering or pacing:
    the least a pipeline that answers once, reads its data and keeps its buttons can cost."""

    SOURCE = "kept"  # the source of its claims (what the benchmark's test counts)
    WHO_PG = _CLAIM_AND_SENDER_PG.format(
        source=SOURCE, columns="id, customer_id", update_id="$1", user_id="$2"
    )
    WHO_SQLITE = _SENDER_SQLITE.format(columns="id, customer_id", user_id="?")
    CLAIM_KEPT_SQLITE = _CLAIM_SQLITE.format(source=SOURCE, update_id="?")
    PAGE_PG, PAGE_SQLITE = _PAGE.format(customer_id="$1"), _PAGE.format(customer_id="?")
    KEYS_PG = _KEYS.format(**{field: f"${n}" for n, field in enumerate(_KEY_FIELDS, 1)})
    KEYS_SQLITE = _KEYS.format(**dict.fromkeys(_KEY_FIELDS, "?"))
    KEYS_PER_REPLY = 6
    KIND = "bench"  # the kind of its keys
    SQLITE_CONNECTIONS = 5  # as many as SQLAlchemy's pool keeps open

    def __init__(self, database_url: str, api_url: str) -> None:
        super().__init__(database_url, api_url)
        self.lent: asyncio.Queue[aiosqlite.Connection] | None = None

    async def open(self) -> None:
        if self.database_url.startswith("postgresql"):
            return await super().open()
        # A connection per update in flight, as the pipeline's pool lends them: each update's
        # statements are its own transaction.
        self.lent = asyncio.Queue()
        for _ in range(self.SQLITE_CONNECTIONS):
            db = await aiosqlite.connect(self.database_url.split(":///", 1)[1], timeout=30)
            await db.execute("PRAGMA synchronous=NORMAL")  # as the pipeline's connections
            self.lent.put_nowait(db)

    async def close(self) -> None:
        await super().close()
        while self.lent is not None and not self.lent.empty():
            await self.lent.get_nowait().close()

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        assert user is not None
        if self.pool is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(self.WHO_PG, str(update.update_id), str(user.id))
                if row is not None:
                    await conn.fetch(self.PAGE_PG, row["customer_id"])
                    keys = self.keys(row["id"])
                    await self.reply(update, keys)
                    await conn.executemany(self.KEYS_PG, keys)
        elif self.lent is not None:
            db = await self.lent.get()
            try:
                await self.on_sqlite(db, update, user.id)
            finally:
                self.lent.put_nowait(db)

    async def on_sqlite(self, db: aiosqlite.Connection, update: Update, user_id: int) -> None:
        """Read first, then the claim in its own commit (one writer per file), as the pipeline."""
        who = await (await db.execute(self.WHO_SQLITE, (str(user_id),))).fetchone()
        claimed = await db.execute(self.CLAIM_KEPT_SQLITE, (str(update.update_id),))
        await db.commit()
        if claimed.rowcount == 1 and who is not None:
            await (await db.execute(self.PAGE_SQLITE, (who[1],))).fetchall()
            keys = self.keys(who[0], text=True)
            await self.reply(update, keys)
            await db.executemany(self.KEYS_SQLITE, keys)
            await db.commit()

    def keys(self, identity_id: int, text: bool = False) -> list[tuple[Any, ...]]:
        expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
        when: Any = expires.isoformat(" ") if text else expires
        return [
            (secrets.token_urlsafe(12), identity_id, self.KIND, '{"line": "invoices paid"}', when)
            for _ in range(self.KEYS_PER_REPLY)
        ]

    async def reply(self, update: Update, keys: list[tuple[Any, ...]]) -> None:
        """The text with a button per key, as a message, or for a press as an edit of the pressed
        message and the callback's answer."""
        query, chat = update.callback_query, update.effective_chat
        assert chat is not None
        buttons = [[{"text": str(n), "callback_data": key[0]}] for n, key in enumerate(keys)]
        message = {
            "chat_id": str(chat.id),
            "text": "ok",
            "reply_markup": json.dumps({"inline_keyboard": buttons}),
        }
        calls: list[tuple[str, dict[str, str]]] = [("sendMessage", message)]
        if query is not None and query.message is not None:
            message["message_id"] = str(query.message.message_id)
            calls = [("editMessageText", message), ("answerCallbackQuery", {"callback_query_id": query.id})]
        for method, fields in calls:
            async with self.http.post(self.send_url.replace("sendMessage", method), data=fields) as response:
                await response.read()
                assert response.status == 200, response.status


class SQLAlchemyFloor(KeptFloor):
    """``floor_kept`` through SQLAlchemy Core: the same statements (``text``, compiled once) on the
    pipeline's own engine and pool (on SQLite the project's driver adapter), an
    ``AsyncConnection`` per update, no ORM session, no code of the project's. What it costs over
    ``floor_kept`` is SQLAlchemy's async engine (the greenlet bridge, the execution context, the
    result) on the statements the promises need: the least a pipeline built on SQLAlchemy, the
    project's database layer, can cost."""

    SOURCE, KIND = "kept_sa", "bench_sa"
    WHO_AND_CLAIM_PG = text(
        _CLAIM_AND_SENDER_PG.format(
            source=SOURCE, columns="id, customer_id", update_id=":update_id", user_id=":user_id"
        )
    )
    WHO_SQLITE_SA = text(_SENDER_SQLITE.format(columns="id, customer_id", user_id=":user_id"))
    CLAIM_SQLITE_SA = text(_CLAIM_SQLITE.format(source=SOURCE, update_id=":update_id"))
    PAGE_SA = text(_PAGE.format(customer_id=":customer_id"))
    KEYS_SA = text(_KEYS.format(**{field: f":{field}" for field in _KEY_FIELDS}))

    def __init__(self, database_url: str, api_url: str, engine: AsyncEngine) -> None:
        super().__init__(database_url, api_url)
        self.engine = engine
        self.on_postgresql = engine.dialect.name == "postgresql"

    async def open(self) -> None:
        """Nothing to open: the engine is the pipeline's."""

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        assert user is not None
        sent = {"update_id": str(update.update_id), "user_id": str(user.id)}
        async with self.engine.connect() as conn:
            if self.on_postgresql:
                who = (await conn.execute(self.WHO_AND_CLAIM_PG, sent)).first()
                fresh = who is not None
            else:  # read first, then the claim in its own commit, as the pipeline on SQLite
                who = (await conn.execute(self.WHO_SQLITE_SA, sent)).first()
                claimed = await conn.execute(self.CLAIM_SQLITE_SA, sent)
                fresh = claimed.rowcount == 1
                await conn.commit()
            if fresh and who is not None:
                (await conn.execute(self.PAGE_SA, {"customer_id": who[1]})).all()
                keys = self.keys(who[0], text=not self.on_postgresql)
                await self.reply(update, keys)
                await conn.execute(self.KEYS_SA, [dict(zip(_KEY_FIELDS, key, strict=True)) for key in keys])
                await conn.commit()


async def reference(
    api_url: str, handler: Any, transport: str = "httpx"
) -> tuple[Any, Callable[[web.Request], Awaitable[web.Response]]]:
    """A python-telegram-bot application without updater, and its webhook route."""
    builder = Application.builder().token(TOKEN).base_url(api_url + "/bot").updater(None)
    if transport == "aiohttp":
        builder = builder.request(AiohttpRequest(CONNECTIONS))
    application = builder.build()
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, handler))
    application.add_handler(CallbackQueryHandler(handler))
    failures: list[object] = []

    async def failed(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        failures.append(context.error)

    # PTB hands a handler's exception to the error handlers: counted, it fails the request, so a
    # broken reference row fails the run instead of being timed.
    application.add_error_handler(failed)
    await application.initialize()

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != SECRET:
            return web.Response(status=401)
        before = len(failures)
        await application.process_update(Update.de_json(await request.json(), application.bot))
        return web.Response(status=500 if len(failures) > before else 200)

    return application, webhook


async def link_users(app: Any, users: int) -> None:
    async with app.db.uow() as uow:
        for n in range(users):
            ident = await chat_records.identity(uow, "telegram", "", str(FIRST_USER + n))
            code = await linking.issue_code(uow, 1 + n % 4, "telegram")
            await linking.redeem(uow, ident, code)


async def serve_bot(conn: Connection, database_url: str, api_url: str, users: int) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        rate_limit="1000000/minute",
        telegram_bot_token=TOKEN,
        telegram_api_url=api_url,
        telegram_webhook_url="https://bench.example" + WEBHOOK_PATH,
        telegram_webhook_secret=SECRET,
        telegram_rate="1000000/second",
        telegram_chat_rate="1000000/second",
    )
    app = await open_app(settings, seed_demo=True)
    await link_users(app, users)
    web_app = bootstrap.web_app(app)
    web_app.router.add_post("/bare", bare)
    floors = (
        Floor(database_url, api_url),
        KeptFloor(database_url, api_url),
        SQLAlchemyFloor(database_url, api_url, app.db.engine),
    )
    for floor in floors:
        await floor.open()
    references = []
    for name, handler, transport in (
        ("ptb", do_nothing, "httpx"),
        ("ptb_reply_httpx", answer, "httpx"),
        ("ptb_reply", answer, "aiohttp"),
        ("floor", floors[0].handle, "aiohttp"),
        ("floor_kept", floors[1].handle, "aiohttp"),
        ("floor_kept_sa", floors[2].handle, "aiohttp"),
    ):
        application, route = await reference(api_url, handler, transport)
        references.append(application)
        web_app.router.add_post("/" + name, route)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    started()  # as ``hostbot run`` does once it serves
    conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    profiler: cProfile.Profile | None = None
    try:
        while True:
            command, arg = await asyncio.to_thread(conn.recv)
            if command == "cpu":
                conn.send(time.process_time())
            elif command == "profile":
                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
                conn.send(None)
            elif command == "unprofile" and profiler is not None:
                profiler.disable()
                profiler.dump_stats(arg)
                conn.send(None)
            elif command == "stop":
                break
    finally:
        for application in references:
            await application.shutdown()
        for floor in floors:
            await floor.close()
        await runner.cleanup()
        await app.close()


def bot_process(conn: Connection, database_url: str, api_url: str, users: int) -> None:
    asyncio.run(serve_bot(conn, database_url, api_url, users))


# -- the fake Bot API process -----------------------------------------------------------------------


async def serve_fake(conn: Connection) -> None:
    fake = FakeTelegramAPI()
    conn.send(await fake.start())
    try:
        while True:
            command, arg = await asyncio.to_thread(conn.recv)
            if command == "cpu":
                conn.send(time.process_time())
            elif command == "last":  # the last message sent to a chat: its buttons and the result
                call = fake.sent(arg)[-1]
                conn.send((call.buttons, call.result))
            elif command == "updates":  # updates for users, made by the fake as Telegram would
                conn.send([fake.message_update(user, text) for user, text in arg])
            elif command == "press":
                user, data, message = arg
                conn.send(fake.callback_update(user, data, message))
            elif command == "stop":
                break
    finally:
        await fake.close()


def fake_process(conn: Connection) -> None:
    asyncio.run(serve_fake(conn))


# -- the load generator (this process) -------------------------------------------------------------


def ask(conn: Connection, command: str, arg: Any = None) -> Any:
    conn.send((command, arg))
    return conn.recv()


async def post(session: ClientSession, url: str, body: bytes) -> float:
    started = time.perf_counter()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


async def record(session: ClientSession, base: str, fake: Connection, users: int) -> list[bytes]:
    """The updates to replay: per user a /balance, an /invoices and a press on "Paid"."""
    bodies: list[bytes] = []
    for n in range(users):
        user = FIRST_USER + n
        [listing] = ask(fake, "updates", [(user, "/invoices")])
        await post(session, base + WEBHOOK_PATH, json.dumps(listing).encode())
        buttons, message = ask(fake, "last", user)
        # The list's filter by its label (the users write in English): an invoice's own button is
        # labelled with its number now, which the former test ("#3") no longer told apart.
        paid = next(b for b in buttons if b["text"] == "Paid")
        updates = ask(fake, "updates", [(user, "/balance"), (user, "/invoices")])
        updates.append(ask(fake, "press", (user, paid["callback_data"], message)))
        bodies += [json.dumps(u).encode() for u in updates]
    return bodies


def renumbered(bodies: list[bytes], shift: int) -> list[bytes]:
    """The same updates under other ids (``shift`` × 10⁹ added), so that a warm-up or a later
    round claims fresh ones: the warm-up takes shift 1, round ``n`` shift ``n + 1`` (round 0 posts
    the recorded ids)."""
    updates = [json.loads(b) for b in bodies]
    return [json.dumps({**u, "update_id": u["update_id"] + shift * 10**9}).encode() for u in updates]


async def run(
    session: ClientSession, url: str, bodies: list[bytes], concurrency: int, bot: Connection, fake: Connection
) -> dict[str, float]:
    queue = list(reversed(bodies))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            latencies.append(await post(session, url, queue.pop()))

    cpu, fake_cpu, own_cpu = ask(bot, "cpu"), ask(fake, "cpu"), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu, fake_cpu, own_cpu = ask(bot, "cpu") - cpu, ask(fake, "cpu") - fake_cpu, time.process_time() - own_cpu
    latencies.sort()
    return {
        "updates": len(bodies),
        "per_second": len(bodies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "bot_cpu_ms_per_update": cpu / len(bodies) * 1000,
        "fake_api_cpu_ms_per_update": fake_cpu / len(bodies) * 1000,
        "load_cpu_ms_per_update": own_cpu / len(bodies) * 1000,
    }


async def measure(args: argparse.Namespace, database_url: str) -> list[dict[str, Any]]:
    """The rows' figures, one dict per round: every row is run once per round, in turn, so that
    the machine's drift over a run weighs on every row alike."""
    spawn = multiprocessing.get_context("spawn")
    fake, fake_end = spawn.Pipe()
    bot, bot_end = spawn.Pipe()
    fake_proc = spawn.Process(target=fake_process, args=(fake_end,), daemon=True)
    fake_proc.start()
    api_url = fake.recv()
    bot_proc = spawn.Process(
        target=bot_process, args=(bot_end, database_url, api_url, args.users), daemon=True
    )
    bot_proc.start()
    base = f"http://127.0.0.1:{bot.recv()}"
    rounds: list[dict[str, Any]] = []
    try:
        async with ClientSession(connector=TCPConnector(limit=args.concurrency)) as session:
            bodies = await record(session, base, fake, args.users)
            for n in range(args.rounds):
                rows: dict[str, Any] = {}
                for target in TARGETS:
                    url = base + (WEBHOOK_PATH if target == "pipeline" else "/" + target)
                    profiled = target == "pipeline" and args.profile and n == 0
                    if target != "pipeline" and n == 0:  # the pipeline was warmed by the recording
                        await run(session, url, renumbered(bodies[:100], 1), args.concurrency, bot, fake)
                    elif profiled:
                        ask(bot, "profile")
                    posted = renumbered(bodies, n + 1) if n else bodies
                    rows[target] = await run(session, url, posted, args.concurrency, bot, fake)
                    if profiled:
                        ask(bot, "unprofile", args.profile)
                rounds.append(rows)
    finally:
        for conn, proc in ((bot, bot_proc), (fake, fake_proc)):
            conn.send(("stop", None))
            proc.join(30)
    return rounds


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with throwaway(args.database_url, tempfile.mkdtemp()) as database_url:
        return summary(args, database_url, await measure(args, database_url))


def summary(args: argparse.Namespace, database_url: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows with what is compared, as medians over the rounds: each figure of a row, its
    rate's ratio to ``bare``'s, and the bot CPU per update of the pipeline (beside its goal) and
    of ``FLOORS_KEPT`` divided by ``floor``'s of the same round, with the rounds' range."""

    def cpu(row: dict[str, Any], target: str) -> float:
        return float(row[target]["bot_cpu_ms_per_update"])

    over = {
        t: [cpu(row, t) / max(cpu(row, "floor"), 1e-9) for row in rounds] for t in (*FLOORS_KEPT, "pipeline")
    }
    return {
        "database": database_url.split(":", 1)[0],
        "setup": SETUP.format(cores=multiprocessing.cpu_count(), concurrency=args.concurrency),
        "profiled": bool(args.profile),
        "rounds": len(rounds),
        **{t: {k: statistics.median(row[t][k] for row in rounds) for k in rounds[0][t]} for t in TARGETS},
        "ratios": {
            t: statistics.median(row[t]["per_second"] / row["bare"]["per_second"] for row in rounds)
            for t in TARGETS
            if t != "bare"
        },
        "cpu_over_floor": {t: statistics.median(values) for t, values in over.items()},
        "cpu_over_floor_range": {t: [min(values), max(values)] for t, values in over.items()},
        "per_round": rounds,
        "goal_pipeline_cpu_over_floor": GOAL,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="linked Telegram users (3 updates each)")
    parser.add_argument("--concurrency", type=int, default=40, help="parallel webhook deliveries")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every row this many times, in turn; report medians"
    )
    parser.add_argument(
        "--profile", help="write a cProfile (CPU time) of the bot process during the pipeline run"
    )
    args = parser.parse_args()
    if args.profile:  # the bot process runs elsewhere: give it an absolute path
        args.profile = str(Path(args.profile).resolve())
    result = asyncio.run(main(args))
    print(f"setup: {result['setup']}; database: {result['database']}")
    for name in TARGETS:
        r = result[name]
        ratio = f"ratio {result['ratios'][name]:.3f}" if name in result["ratios"] else ""
        print(
            f"{name:15} {int(r['updates']):5d} updates {r['per_second']:8.1f}/s  p50 {r['p50_ms']:7.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms  CPU ms/update: bot {r['bot_cpu_ms_per_update']:5.2f} "
            f"fake API {r['fake_api_cpu_ms_per_update']:5.2f} load {r['load_cpu_ms_per_update']:5.2f}  {ratio}"
        )
    over, spread = result["cpu_over_floor"], result["cpu_over_floor_range"]

    def over_floor(name: str) -> str:
        low, high = spread[name]
        return f"{over[name]:.2f}" + (f" ({low:.2f}–{high:.2f})" if result["rounds"] > 1 else "")

    medians = f" (medians of {result['rounds']} rounds)" if result["rounds"] > 1 else ""
    print(
        f"bot CPU per update ÷ floor's{medians}: "
        f"pipeline {over_floor('pipeline')} (goal <= {GOAL:g}: {'met' if over['pipeline'] <= GOAL else 'NOT met'}); "
        + "; ".join(f"{name} {over_floor(name)}" for name in FLOORS_KEPT)
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"telegram_webhook_{result['database'].split('+')[0]}.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    cli()

"""Benchmark: alerts to many Telegram chats at the configured rate, through the real sender, and
how long a reply waits in a chat that has alerts queued.

    .venv/bin/python -m bench.alerts [--alerts 300] [--chats 300] [--rate 25] [--throttle 5] [--queued 20]

N customers each get one linked Telegram chat and an invoice; N "invoice paid" alerts are written
to the outbox the way the payment webhook writes them, and one dispatch pass sends them through
``TelegramSender`` → ``TelegramAdapter.send`` → python-telegram-bot → the fake Bot API on
127.0.0.1, paced by ``bot.core.pacing`` (``--rate`` per second overall, one per second per chat).
The fake runs in a process of its own, so that the arrival times it records are not skewed by
the bot's event loop (as the platform's would not be).
While they go out the fake answers ``--throttle`` of the messages, spread over the run, with 429
and ``retry_after``. Reported, from what the fake received: the achieved rate against the limit,
the most requests in any one-second window, the smallest gap between two requests to one chat,
and how many alerts were lost or duplicated.

Interactive first: one more customer's chat (the busy one) has ``--queued`` alerts waiting for it
behind a first one, and another's (the idle one) has none. Once the first alert reached the busy
chat, both users send ``/balance`` at the same moment, through python-telegram-bot and the
dispatcher, while everything else is being sent. Reported: each reply's latency (from the update
to its arrival at the fake) and how many of the busy chat's alerts arrived after its reply. The
reply budget of an idle chat is its measured latency plus one per-chat gap (what any chat may
wait when its previous message has just left, under the platform's one message per second); the
busy chat's reply must stay within it (alerts queued first would make it wait ``--queued`` gaps).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import Update

from bench.databases import throwaway
from bot import bootstrap
from bot.adapters.telegram import TelegramAdapter
from bot.alerts.senders import Sender, TelegramSender
from bot.bootstrap import App, open_app
from bot.config import Settings
from bot.core.dispatcher import Deliver
from bot.core.pacing import HEADROOM
from bot.core.types import Incoming, Reply
from services import invoices
from services.invoices import LineSpec
from services.money import Money
from services.ports import PaymentNotice
from storage.models import Alert, ChannelBinding, ChatIdentity, Customer
from tests.fakes.telegram_api import TOKEN, Call, FakeTelegramAPI

FIRST_CHAT = 50_000
BUSY_CHAT, IDLE_CHAT = 40_001, 40_002  # the reply latency's two chats
REPLY_MARK = "Your balance"  # how the answer to /balance starts: told apart from the alerts


async def prepare(app: App, alerts: int, chats: int, queued: int) -> None:
    """``chats`` customers with one Telegram chat each; ``alerts`` paid invoices spread over them.
    First (so that they are claimed first), ``queued`` + 1 paid invoices of the busy chat's
    customer; the idle chat's customer has none."""
    async with app.db.uow() as uow:
        customers = []
        for n in range(chats + 2):
            customer = Customer(
                name=f"Bench {n}", email=f"bench{n}@example.com", country="NL", currency="EUR"
            )
            uow.session.add(customer)
            customers.append(customer)
        await uow.flush()
        busy, idle, customers = customers[0], customers[1], customers[2:]
        for chat, customer in ((BUSY_CHAT, busy), (IDLE_CHAT, idle)):
            uow.session.add(ChatIdentity(platform="telegram", user_id=str(chat), customer_id=customer.id))
        for n, customer in enumerate(customers):
            uow.session.add(
                ChatIdentity(platform="telegram", user_id=str(FIRST_CHAT + n), customer_id=customer.id)
            )
        for customer in [busy] * (queued + 1) + [customers[n % chats] for n in range(alerts)]:
            inv = await invoices.create(uow, customer, [LineSpec("Bench", 1000)], app.seller, None)
            await app.notifier.notify(
                uow, PaymentNotice(customer.id, inv.id, True, Money(inv.total_minor, "EUR"), "")
            )
        await uow.commit()


class Watched:
    """The Telegram sender, telling when the busy chat's first alert has been accepted."""

    def __init__(self, sender: TelegramSender) -> None:
        self.sender = sender
        self.busy = asyncio.Event()

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        message_id = await self.sender.send(identity, reply)
        if identity.user_id == str(BUSY_CHAT):
            self.busy.set()
        return message_id

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        return await self.sender.send_shared(chat, reply)


def balance_update(chat: int, update_id: int) -> dict[str, Any]:
    """``/balance`` typed by the user of a private chat, as Telegram delivers it."""
    user = {"id": chat, "is_bot": False, "first_name": f"User{chat}", "language_code": "en"}
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": user["first_name"]},
        "from": user,
        "text": "/balance",
    }
    return {"update_id": update_id, "message": message}


@dataclass
class Typed:
    """When each chat's update was handed to python-telegram-bot, and when the dispatcher had its
    reply ready (monotonic clock, which the fake's process shares)."""

    at: dict[int, float] = field(default_factory=dict)
    handled: dict[int, float] = field(default_factory=dict)


async def type_balance(adapter: TelegramAdapter, busy: asyncio.Event) -> Typed:
    """Once the busy chat had its first alert, both users type ``/balance`` at once."""
    typed = Typed()
    handle = adapter.dispatcher.handle

    async def timed(incoming: Incoming, deliver: Deliver | None = None) -> list[Reply]:
        async def stamped(replies: list[Reply]) -> None:
            typed.handled[int(incoming.chat_id)] = time.monotonic()
            if deliver is not None:
                await deliver(replies)

        replies = await handle(incoming, stamped)
        return replies

    adapter.dispatcher.handle = timed  # type: ignore[method-assign]  # the bench's stopwatch
    await busy.wait()

    async def type_(chat: int, update_id: int) -> None:
        update = Update.de_json(balance_update(chat, update_id), adapter.bot)
        typed.at[chat] = time.monotonic()
        await adapter.application.process_update(update)

    await asyncio.gather(type_(BUSY_CHAT, 1), type_(IDLE_CHAT, 2))
    return typed


async def throttle(fake: FakeTelegramAPI, alerts: int, times: int, retry_after: int) -> None:
    """One 429 after every ``alerts / (times + 1)`` accepted messages."""
    for k in range(1, times + 1):
        mark = k * alerts // (times + 1)
        await fake.wait_for(lambda mark=mark: len(fake.sent()) >= mark)  # type: ignore[misc]
        fake.fail_next("sendMessage", retry_after)


def busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window (each window starting at a request)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def replies(calls: list[Call], typed: Typed, queued: int, chat_rate: float) -> dict[str, Any]:
    """Each reply's latency (handling, then sending), how many alerts of the busy chat came after
    its reply, and whether the busy chat's reply stayed within the reply budget of an idle chat:
    the time to handle it, plus one chat gap (what any chat's reply may wait for its slot, when the
    chat's previous message has just left: the platform allows one message a second)."""
    answers = {
        c.chat_id: c
        for c in calls
        if c.method == "sendMessage"
        and c.status == 200
        and str(c.params.get("text", "")).startswith(REPLY_MARK)
    }
    latency = {chat: answers[chat].at - at for chat, at in typed.at.items() if chat in answers}
    handling = {chat: typed.handled[chat] - at for chat, at in typed.at.items() if chat in typed.handled}
    behind = [
        c
        for c in calls
        if c.method == "sendMessage"
        and c.status == 200
        and c.chat_id == BUSY_CHAT
        and BUSY_CHAT in answers
        and c.at > answers[BUSY_CHAT].at
    ]
    idle, busy = latency.get(IDLE_CHAT), latency.get(BUSY_CHAT)
    gap = 1 / (chat_rate * HEADROOM)
    budget = handling[BUSY_CHAT] + gap if BUSY_CHAT in handling else None
    return {
        "queued": queued,
        "reply_latency_idle_s": idle,
        "reply_latency_busy_s": busy,
        "handling_idle_s": handling.get(IDLE_CHAT),
        "handling_busy_s": handling.get(BUSY_CHAT),
        "alerts_after_busy_reply": len(behind),
        "chat_gap_s": gap,
        "reply_budget_s": budget,
        "within_budget": busy is not None and budget is not None and busy <= budget,
    }


def measure(
    calls: list[Call], alerts: int, chats: int, queued: int, rate: float, elapsed: float
) -> dict[str, Any]:
    """The alerts' figures. The replies (``REPLY_MARK``) count towards the busiest second and the
    gaps, which the platform applies to every message; the rate is taken over the many chats."""
    sends = sorted((c for c in calls if c.method == "sendMessage"), key=lambda c: c.at)
    accepted = [c for c in sends if c.status == 200]
    per_chat: dict[int, list[float]] = defaultdict(list)
    for c in sends:
        per_chat[c.chat_id or 0].append(c.at)
    gaps = [b - a for times in per_chat.values() for a, b in itertools.pairwise(times)]
    received = Counter(
        c.chat_id for c in accepted if not str(c.params.get("text", "")).startswith(REPLY_MARK)
    )
    expected = {FIRST_CHAT + n: len(range(n, alerts, chats)) for n in range(chats)}
    expected[BUSY_CHAT] = queued + 1
    # The rate is that of the alerts to the many chats: the busy chat's queue drains at one per
    # second, long after them.
    flow = [c for c in sends if c.chat_id not in (BUSY_CHAT, IDLE_CHAT)]
    flow_accepted = [c for c in flow if c.status == 200]
    span = flow_accepted[-1].at - flow_accepted[0].at if len(flow_accepted) > 1 else 0.0
    achieved = (len(flow) - 1) / (flow[-1].at - flow[0].at) if len(flow) > 1 else 0.0
    return {
        "alerts": alerts + queued + 1,
        "chats": chats + 1,
        "limit_per_second": rate,
        "requests": len(sends),
        "throttled": len(sends) - len(accepted),
        "achieved_per_second": achieved,
        "achieved_ratio": achieved / rate,
        "accepted_per_second": (len(flow_accepted) - 1) / span if span else 0.0,
        "max_in_one_second": busiest_second([c.at for c in sends]),
        "min_gap_per_chat_s": min(gaps) if gaps else None,
        "lost": sum(max(n - received.get(chat, 0), 0) for chat, n in expected.items()),
        "duplicated": sum(max(received.get(chat, 0) - n, 0) for chat, n in expected.items()),
        "elapsed_s": elapsed,
    }


async def serve_fake(conn: Connection, alerts: int, throttles: int, retry_after: int) -> None:
    """The fake Bot API with its 429 plan; sends back every call it recorded when told to stop."""
    fake = FakeTelegramAPI()
    conn.send(await fake.start())
    injector = asyncio.create_task(throttle(fake, alerts, throttles, retry_after))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    injector.cancel()
    conn.send(fake.calls)
    await fake.close()


def fake_process(conn: Connection, alerts: int, throttles: int, retry_after: int) -> None:
    asyncio.run(serve_fake(conn, alerts, throttles, retry_after))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    fake, fake_end = spawn.Pipe()
    fake_proc = spawn.Process(
        target=fake_process, args=(fake_end, args.alerts, args.throttle, args.retry_after), daemon=True
    )
    fake_proc.start()
    api_url = fake.recv()
    async with throwaway(args.database_url, tempfile.mkdtemp()) as database_url:
        return await run(args, database_url, api_url, fake, fake_proc)


async def run(
    args: argparse.Namespace, database_url: str, api_url: str, fake: Connection, fake_proc: Any
) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        telegram_bot_token=TOKEN,
        telegram_api_url=api_url,
        telegram_rate=f"{args.rate}/second",
        telegram_chat_rate="1/second",
        alerts_concurrency=args.concurrency,
        alerts_batch_size=args.concurrency,
    )
    app = await open_app(settings)
    try:
        await prepare(app, args.alerts, args.chats, args.queued)
        async with bootstrap.connected_senders(app) as senders:
            telegram = senders["telegram"]
            assert isinstance(telegram, TelegramSender)
            watched = Watched(telegram)
            through: dict[str, Sender] = {**senders, "telegram": watched}
            started = time.perf_counter()
            sending = asyncio.create_task(bootstrap.alert_sender(app, through).run_pass())
            typed = await type_balance(telegram.adapter, watched.busy)
            await sending
            elapsed = time.perf_counter() - started
        async with app.db.uow() as uow:
            states = Counter((await uow.session.scalars(select(Alert.state))).all())
    finally:
        await app.close()
        fake.send("stop")
        calls: list[Call] = fake.recv()
        fake_proc.join(timeout=30)
    result = measure(calls, args.alerts, args.chats, args.queued, args.rate, elapsed)
    result["replies"] = replies(calls, typed, args.queued, 1.0)
    result["outbox"] = dict(states)
    result["database"] = database_url.split(":", 1)[0]
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=300, help="alerts to send")
    parser.add_argument("--chats", type=int, default=300, help="chats they go to (round robin)")
    parser.add_argument("--rate", type=int, default=25, help="TELEGRAM_RATE, messages per second")
    parser.add_argument("--throttle", type=int, default=5, help="429 answers injected by the fake")
    parser.add_argument("--retry-after", type=int, default=2, help="their retry_after, in seconds")
    parser.add_argument("--concurrency", type=int, default=32, help="ALERTS_CONCURRENCY")
    parser.add_argument("--queued", type=int, default=20, help="alerts queued for the busy chat")
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file; PostgreSQL: a throw-away database on that server",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "alerts.json")
    args = parser.parse_args()
    r = asyncio.run(main(args))
    gap = "n/a" if r["min_gap_per_chat_s"] is None else f"{r['min_gap_per_chat_s']:.3f} s"
    print(
        f"{r['alerts']} alerts to {r['chats']} chats ({r['database']}), {r['throttled']} answered 429\n"
        f"achieved {r['achieved_per_second']:.2f}/s against {r['limit_per_second']}/s: "
        f"ratio {r['achieved_ratio']:.3f} (goal >= 0.95: {'met' if r['achieved_ratio'] >= 0.95 else 'NOT MET'})\n"
        f"most requests in any one-second window at the receiver (sliding, by arrival): "
        f"{r['max_in_one_second']} (limit {r['limit_per_second']}: "
        f"{'held' if r['max_in_one_second'] <= r['limit_per_second'] else 'EXCEEDED'})\n"
        f"smallest gap between two requests to one chat: {gap}\n"
        f"lost {r['lost']}, duplicated {r['duplicated']}; outbox {r['outbox']}"
    )
    q = r["replies"]
    if q["reply_latency_busy_s"] is None or q["reply_latency_idle_s"] is None:
        print("reply latency: a reply did not arrive")
    else:
        print(
            f"reply latency, idle chat: {q['reply_latency_idle_s']:.3f} s (handled in "
            f"{q['handling_idle_s']:.3f} s)\n"
            f"reply latency, chat with {q['queued']} alerts queued: {q['reply_latency_busy_s']:.3f} s "
            f"(handled in {q['handling_busy_s']:.3f} s; {q['alerts_after_busy_reply']} alerts arrived "
            f"after it)\n"
            f"reply budget of an idle chat (handling + one chat gap of {q['chat_gap_s']:.3f} s): "
            f"{q['reply_budget_s']:.3f} s, {'kept' if q['within_budget'] else 'EXCEEDED'}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    cli()

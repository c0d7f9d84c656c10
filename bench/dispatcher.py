"""Benchmark: the chat dispatcher alone, in-process, one update at a time.

    .venv/bin/python -m bench.dispatcher [--users 200] [--rounds 400] [--database-url URL]

The same updates as ``bench.telegram_webhook`` (per user a ``/balance``, an ``/invoices`` and a
press on the list's "Paid" filter), handed straight to ``Dispatcher.handle`` with a ``deliver``
that keeps the reply: no HTTP, no python-telegram-bot, no other process on the event loop. What
is left is the update's bookkeeping (claim, sender, keys, commit), the handler and the database
driver, so a change there shows in a figure that moves far less between runs than the webhook
benchmark's. Printed: CPU and wall time per update, statements per update (SQLAlchemy's
``before_cursor_execute``) and, on SQLite, trips to aiosqlite's thread per update. With a
PostgreSQL ``--database-url`` the run creates a throw-away database there and drops it afterwards.
The figures go to ``bench/results/dispatcher_<database>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import aiosqlite
from sqlalchemy import event

from bench.databases import throwaway
from bench.telegram_webhook import FIRST_USER, link_users
from bot.bootstrap import open_app
from bot.config import Settings
from bot.core.types import Incoming, Reply
from bot.lifecycle import started


async def measure(database_url: str, users: int, rounds: int) -> dict[str, Any]:
    app = await open_app(Settings(_env_file=None, database_url=database_url), seed_demo=True)
    try:
        await link_users(app, users)
        dispatcher, last = app.dispatcher, list[Reply]()
        update_ids = iter(range(1, 10**9))

        async def deliver(replies: list[Reply]) -> None:
            last[:] = replies

        async def send(user: int, text: str | None = None, key: str | None = None) -> Reply:
            incoming = Incoming(
                platform="telegram",
                user_id=str(user),
                chat_id=str(user),
                text=text,
                action_key=key,
                update_id=str(next(update_ids)),
                language="en",
            )
            await dispatcher.handle(incoming, deliver)
            return last[0]

        paid: dict[int, str | None] = {}
        for n in range(users):  # also warms every cache the measured run uses
            listing = await send(FIRST_USER + n, "/invoices")
            paid[n] = next(b.key for b in listing.all_buttons() if b.label == "Paid")
        started()  # as ``hostbot run`` does once it serves
        with _counting(app.db.engine.sync_engine) as counts:
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(rounds):
                user = i % users
                await send(FIRST_USER + user, "/balance")
                await send(FIRST_USER + user, "/invoices")
                await send(FIRST_USER + user, key=paid[user])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await app.close()
    updates = 3 * rounds
    return {
        "database": database_url.split(":", 1)[0],
        "updates": updates,
        "cpu_ms_per_update": cpu / updates * 1000,
        "wall_ms_per_update": wall / updates * 1000,
        "statements_per_update": counts["statements"] / updates,
        "thread_trips_per_update": counts["trips"] / updates if database_url.startswith("sqlite") else None,
    }


@contextmanager
def _counting(engine: Any) -> Iterator[dict[str, int]]:
    """Count the statements sent and the calls run on aiosqlite's thread inside the block."""
    counts = {"statements": 0, "trips": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    original = cast(Callable[..., Awaitable[Any]], aiosqlite.Connection._execute)

    async def trip(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        counts["trips"] += 1
        return await original(self, fn, *args, **kwargs)

    event.listen(engine, "before_cursor_execute", statement)
    aiosqlite.Connection._execute = trip  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", statement)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with throwaway(args.database_url, tempfile.mkdtemp()) as database_url:
        return await measure(database_url, args.users, args.rounds)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="linked Telegram users")
    parser.add_argument("--rounds", type=int, default=400, help="rounds of three updates")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    r = asyncio.run(main(args))
    trips = (
        "" if r["thread_trips_per_update"] is None else f", {r['thread_trips_per_update']:.1f} thread trips"
    )
    print(
        f"{r['database']}: {r['updates']} updates, CPU {r['cpu_ms_per_update']:.3f} ms/update, "
        f"wall {r['wall_ms_per_update']:.3f} ms/update, {r['statements_per_update']:.2f} statements{trips}"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"dispatcher_{r['database'].split('+')[0]}.json").write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    cli()

"""Three worker processes share one batch on PostgreSQL; one is SIGKILLed mid-batch.

Every alert is delivered, none twice: the killed worker's claimed rows come back when its lease
runs out, and the chats it had already reached are recorded, so they are not sent again.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.config import Settings
from services.alerts import finders
from services.invoices import Seller
from storage.db import make_engine
from storage.models import Alert, AlertDelivery, Base, ChatIdentity, Customer, Ticket, TicketMessage
from storage.uow import Database

ROOT = Path(__file__).resolve().parents[2]
CHATS = 40

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[Database]:
    db = Database(make_engine(pg_database))
    yield db
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await db.close()


async def _customers_with_a_reply(db: Database, n: int) -> None:
    """N customers, each with one linked chat and one unread support reply: N alerts to N chats."""
    async with db.uow() as uow:
        for i in range(n):
            customer = Customer(name=f"C{i}", email=f"c{i}@example.com", country="NL", currency="EUR")
            uow.session.add(customer)
            await uow.flush()
            uow.session.add(ChatIdentity(platform="test", user_id=f"u{i}", customer_id=customer.id))
            uow.session.add(
                Ticket(
                    customer_id=customer.id,
                    department="technical",
                    importance="regular",
                    subject="Disk",
                    messages=[TicketMessage(author="staff", body="Done.")],
                )
            )
        await uow.commit()


async def _worker(url: str, out: Path, hang_after: int | None = None) -> asyncio.subprocess.Process:
    args = [url, str(out)] + ([str(hang_after)] if hang_after is not None else [])
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.alert_worker", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )


async def _read_until(proc: asyncio.subprocess.Process, word: bytes) -> None:
    assert proc.stdout is not None
    while not (line := await proc.stdout.readline()).startswith(word):
        assert line, "worker ended early"


async def test_three_workers_one_killed_mid_batch(pg: Database, pg_database: str, tmp_path: Path) -> None:
    await _customers_with_a_reply(pg, CHATS)
    settings = Settings(database_url=pg_database, _env_file=None)  # type: ignore[call-arg]
    seller = Seller("P", "A", "NL", "NL004495445B01")
    assert await finders.scan(pg, settings, seller) == CHATS

    outs = [tmp_path / f"worker{i}.txt" for i in range(3)]
    victim = await _worker(pg_database, outs[0], hang_after=2)
    await _read_until(victim, b"sent")  # it has claimed its first batch of four and is sending
    others = [await _worker(pg_database, out) for out in outs[1:]]
    await asyncio.wait_for(_read_until(victim, b"hanging"), 60)  # two sent, the third in flight
    victim.kill()
    assert await victim.wait() == -9
    for proc in others:
        assert await asyncio.wait_for(proc.wait(), 120) == 0

    received = Counter(line for out in outs if out.exists() for line in out.read_text().split())
    assert sorted(received) == sorted(f"u{i}" for i in range(CHATS))  # everyone got it...
    assert set(received.values()) == {1}  # ...once
    assert outs[0].read_text().split() and len(outs[0].read_text().split()) == 2
    async with pg.uow() as uow:
        states = dict(
            (await uow.session.execute(select(Alert.state, func.count()).group_by(Alert.state))).all()
        )
        deliveries = await uow.session.scalar(select(func.count()).select_from(AlertDelivery))
    assert states == {"sent": CHATS}
    assert deliveries == CHATS

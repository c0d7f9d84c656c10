"""A worker process for the crash test: drains the outbox, writing each accepted message to a file.

``python -m tests.support.alert_worker DATABASE_URL OUT_FILE [HANG_AFTER]``: after HANG_AFTER messages the
next send never returns (a platform call in flight), so the test can SIGKILL the process there.
"""

from __future__ import annotations

import asyncio
import os
import sys

from bot import records_parts
from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.core.types import Reply
from services.alerts import outbox
from storage.db import make_engine
from storage.models import ChannelBinding, ChatIdentity
from storage.uow import Database


class FileSender:
    def __init__(self, path: str, hang_after: int | None) -> None:
        self.path = path
        self.hang_after = hang_after
        self.count = 0

    async def send(self, identity: ChatIdentity, reply: Reply) -> str:
        if self.hang_after is not None and self.count >= self.hang_after:
            print("hanging", flush=True)
            await asyncio.Event().wait()
        await asyncio.sleep(0.02)  # the platform's latency
        self.count += 1
        _append(self.path, identity.user_id)
        print("sent", identity.user_id, flush=True)
        return f"{os.getpid()}-{self.count}"

    async def send_shared(self, chat: ChannelBinding, reply: Reply) -> str:
        raise NotImplementedError("the crash test shares no chat")


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{line}\n")
        fh.flush()
        os.fsync(fh.fileno())


async def main(url: str, out: str, hang_after: int | None) -> None:
    settings = Settings(
        database_url=url,
        alerts_lease_seconds=2,
        alerts_batch_size=4,
        alerts_concurrency=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    db = Database(make_engine(url))
    dispatcher = AlertSender(
        db, settings, records_parts.seller(settings), {"test": FileSender(out, hang_after)}
    )
    try:
        while True:
            await dispatcher.run_pass()
            async with db.uow() as uow:
                if await outbox.outstanding(uow) == 0:
                    return
            await asyncio.sleep(0.1)  # others hold leases: look again shortly
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))

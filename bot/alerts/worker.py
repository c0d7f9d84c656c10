"""Scan and dispatch, once (``hostbot worker --once``) or every ``alerts_interval_seconds``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bot.alerts import finders
from bot.alerts.dispatch import Dispatcher
from bot.alerts.senders import Sender
from bot.config import Settings
from services.invoices import Seller
from storage.uow import Database

log = logging.getLogger("hostbot.alerts")


async def run_once(
    db: Database, settings: Settings, seller: Seller, senders: Mapping[str, Sender]
) -> tuple[int, int]:
    """One scan and one dispatch pass; returns (new alerts, alerts handled)."""
    found = await finders.scan(db, settings, seller)
    handled = await Dispatcher(db, settings, seller, senders).run_pass()
    log.info("alerts: %d new, %d handled", found, handled)
    return found, handled


async def run_forever(
    db: Database,
    settings: Settings,
    seller: Seller,
    senders: Mapping[str, Sender],
    wake: asyncio.Event | None = None,
) -> None:
    """Keep scanning and sending; an error in one round is logged and the next round goes on.
    Setting ``wake`` (a payment notice written in this process) starts the next round at once."""
    dispatcher = Dispatcher(db, settings, seller, senders)
    wake = wake or asyncio.Event()
    while True:
        wake.clear()
        try:
            await finders.scan(db, settings, seller)
            await dispatcher.run_pass()
        except Exception:
            log.exception("alerts round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), settings.alerts_interval_seconds)

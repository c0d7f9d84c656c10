"""Scan and dispatch, once (``hostbot worker --once``) or every ``alerts_interval_seconds``."""

from __future__ import annotations

import asyncio
import logging

from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.lifecycle import Stop
from services.alerts import finders
from services.invoices import Seller
from services.records import Database, again_if_dropped

log = logging.getLogger("hostbot.alerts")


async def run_once(
    db: Database,
    settings: Settings,
    seller: Seller,
    alerts: AlertSender,
    stop: Stop | None = None,
) -> tuple[int, int]:
    """One scan and one dispatch pass; returns (new alerts, alerts handled)."""
    found = await finders.scan(db, settings, seller)
    handled = await alerts.run_pass(stop)
    log.info("alerts: %d new, %d handled", found, handled)
    return found, handled


async def run_forever(
    db: Database,
    settings: Settings,
    seller: Seller,
    alerts: AlertSender,
    wake: asyncio.Event | None = None,
    stop: Stop | None = None,
) -> None:
    """Keep scanning and sending until ``stop``; an error in one round is logged and the next
    round goes on (a round cut by a dropped database connection is run again at once).
    Setting ``wake`` (a payment notice written in this process) starts the next round at once."""
    wake = wake or asyncio.Event()
    stop = stop or Stop()

    async def round_() -> None:
        await finders.scan(db, settings, seller)
        await alerts.run_pass(stop)

    while not stop.is_set():
        wake.clear()
        try:
            await again_if_dropped(round_)
        except Exception:
            log.exception("alerts round failed")
        await stop.first(wake.wait(), within=settings.alerts_interval_seconds)

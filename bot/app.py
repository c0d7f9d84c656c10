"""Wiring: settings -> database (migrated, demo data if asked) -> dispatcher with all handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.registry import Registry
from handlers import ROUTERS
from storage.db import make_engine, migrate
from storage.models import Customer
from storage.uow import Database

log = logging.getLogger("hostbot")


@dataclass
class App:
    settings: Settings
    db: Database
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.db.close()


async def open_app(settings: Settings, seed_demo: bool = False) -> App:
    """Create and migrate the database on first use; seed demo data into an empty one if asked."""
    db = Database(make_engine(settings.database_url))
    await migrate(db.engine)
    dispatcher = Dispatcher(db, settings, commands=Registry.from_routers(*ROUTERS))
    if seed_demo:
        async with db.uow() as uow:
            if await uow.session.scalar(Customer.__table__.select().limit(1)) is None:
                await demo.seed(uow, dispatcher.seller)
                log.info("demo data created")
    return App(settings, db, dispatcher)

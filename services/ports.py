"""Interfaces to outside systems, each with a default driver that needs no configuration."""

from __future__ import annotations

import logging
from typing import Protocol

from storage.models import Server

log = logging.getLogger("hostbot.mail")


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class LogMailer:
    """Default mail driver: writes the message to the log instead of an SMTP server."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))
        log.info("mail to %s: %s", to, subject)


class ServerDriver(Protocol):
    async def power_cycle(self, server: Server) -> None: ...


class InventoryDriver:
    """Default server driver: the provider's own inventory in the database is the machine."""

    async def power_cycle(self, server: Server) -> None:
        server.power_state = "running"

"""A payment notifier for tests: keeps what it was told, once the payment is committed."""

from __future__ import annotations

from services.ports import PaymentNotice
from storage.uow import UnitOfWork


class LogNotifier:
    def __init__(self) -> None:
        self.sent: list[PaymentNotice] = []

    async def notify(self, uow: UnitOfWork, notice: PaymentNotice) -> None:
        uow.after_commit(lambda: self.sent.append(notice))

"""Sending the outbox: claim, compose in each chat's language, send through the platform's sender.

Per alert: drop it if the customer turned its kind off, there is no linked chat any more, or it no
longer applies; hold it until the customer's quiet hours end; otherwise seal its buttons for each
chat and send it to every linked chat that has not had it yet, recording each platform message id
at once. ``RetryAfter`` is waited out and the same message sent again (not a failure); any other
error makes the attempt fail: the alert goes back to pending with exponential backoff, and to the
``dead`` state after ``alerts_max_attempts``.

The one duplicate no outbox can prevent: the platform accepted a message and the process died
before the delivery row was committed; the next worker sends it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping

from bot.alerts import messages
from bot.alerts.senders import RetryAfter, Sender
from bot.config import Settings
from bot.core.dispatcher import seal
from bot.core.i18n import choose, use_locale
from bot.core.types import Reply
from bot.lifecycle import Stop
from services import alert_prefs, clock, renewals
from services.alerts import outbox
from services.invoices import Seller
from services.records import ChatIdentity, Database

log = logging.getLogger("hostbot.alerts")

Sleep = Callable[[float], Awaitable[None]]
MAX_BACKOFF = dt.timedelta(hours=6)
MAX_RETRY_AFTER = 20  # 429s in a row for one message before the attempt counts as failed


class AlertSender:
    """Sends the outbox: one worker's sending side (the chat ``Dispatcher`` answers messages; this
    one speaks first). ``worker`` is the lease owner name written on claimed rows."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        seller: Seller,
        senders: Mapping[str, Sender],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.db = db
        self.settings = settings
        self.seller = seller
        self.senders = senders
        self.sleep = sleep
        self.worker = outbox.worker_id()

    async def run_pass(self, stop: Stop | None = None) -> int:
        """Claim and handle alerts until none is due now; returns how many were handled.

        Up to ``alerts_concurrency`` alerts are in flight; a free slot is refilled at once, so one
        alert waiting out a long ``retry_after`` holds its own slot, not the whole batch. Once
        ``stop`` is set nothing more is claimed, the alerts in flight get ``stop_grace_seconds``
        to finish, and the rest are cancelled and handed back (due at once for another worker)."""
        stop = stop or Stop()
        handled = 0
        limit = max(self.settings.alerts_concurrency, 1)
        running: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            room = limit - len(running)
            ids: list[int] = []
            if room > 0:
                async with self.db.uow() as uow:
                    ids = await outbox.claim(
                        uow,
                        self.worker,
                        min(room, self.settings.alerts_batch_size),
                        self.settings.alerts_lease_seconds,
                    )
            running |= {asyncio.create_task(self.handle(i)) for i in ids}
            handled += len(ids)
            if not running:
                return handled
            if ids and len(running) < limit:
                continue  # more may be due: fill the free slots first
            await stop.first(asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED))
            running = {task for task in running if not task.done()}
        await self._hand_back(running)
        return handled

    async def _hand_back(self, running: set[asyncio.Task[None]]) -> None:
        if running:
            _done, late = await asyncio.wait(running, timeout=self.settings.stop_grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        async with self.db.uow() as uow:
            released = await outbox.release(uow, self.worker)
        log.debug("stopping: %d alerts handed back", released)

    async def handle(self, alert_id: int) -> None:
        try:
            await self._deliver(alert_id)
        except Exception as err:
            log.exception("alert %s failed", alert_id)
            await self._failed(alert_id, repr(err))

    async def _deliver(self, alert_id: int) -> None:
        async with self.db.uow() as uow:
            alert = await outbox.held(uow, alert_id, self.worker)
            customer = await outbox.addressee(uow, alert) if alert else None
            if alert is None or customer is None:
                return
            prefs = await alert_prefs.get(uow, customer.id)
            if alert.kind in (prefs.muted or []):
                await self._finish(alert_id, state="dropped", last_error="turned off by the customer")
                return
            held = alert_prefs.quiet_until(prefs, customer.timezone, clock.now())
            if held is not None:
                await self._finish(alert_id, state="pending", not_before=held)
                return
            chats = await outbox.recipients(uow, customer.id)
            if not chats:
                await self._finish(alert_id, state="dropped", last_error="no linked chat")
                return
            draft = await messages.compose(uow, alert, customer, self.settings, self.seller)
            if draft is None:
                await self._finish(alert_id, state="dropped", last_error="no longer applies")
                return
            notice = alert.params.get("notice")
            done = await outbox.delivered_to(uow, alert_id)
            todo: list[tuple[ChatIdentity, Reply]] = []
            for chat in chats:
                if chat.id in done:
                    continue
                lang = choose(
                    chat.language, customer.language, chat.platform_language, self.settings.default_language
                )
                with use_locale(lang):
                    reply = draft()
                seal(uow, chat.id, reply, self.settings)
                todo.append((chat, reply))
            await uow.commit()  # the button keys and pay link exist before anyone can press them
        errors = []
        for chat, reply in todo:
            try:
                message_id = await self._send(alert_id, chat, reply)
            except _LostClaim:
                return
            except Exception as err:
                log.warning("alert %s to %s:%s failed: %r", alert_id, chat.platform, chat.user_id, err)
                errors.append(f"{chat.platform}: {err!r}")
                continue
            async with self.db.uow() as uow:
                await outbox.record_delivery(uow, alert_id, chat.id, message_id)
        if errors:
            await self._failed(alert_id, "; ".join(errors))
            return
        await self._finish(alert_id, state="sent", sent_at=clock.now(), last_error="")
        if notice is not None:
            async with self.db.uow() as uow:
                await renewals.notice_delivered(uow, notice)

    async def _send(self, alert_id: int, chat: ChatIdentity, reply: Reply) -> str:
        sender = self.senders.get(chat.platform)
        if sender is None:
            raise LookupError(f"no sender for platform {chat.platform!r}")
        for _attempt in range(MAX_RETRY_AFTER):
            async with self.db.uow() as uow:
                if not await outbox.extend(uow, alert_id, self.worker, self.settings.alerts_lease_seconds):
                    raise _LostClaim()
            try:
                return await sender.send(chat, reply)
            except RetryAfter as wait:
                log.info("alert %s: %s asks to wait %.1f s", alert_id, chat.platform, wait.seconds)
                await self.sleep(wait.seconds)
        raise RuntimeError(f"still rate-limited after {MAX_RETRY_AFTER} waits")

    async def _finish(self, alert_id: int, **values: object) -> None:
        async with self.db.uow() as uow:
            await outbox.finish(uow, alert_id, self.worker, **values)

    async def _failed(self, alert_id: int, error: str) -> None:
        """Count a failed attempt: back to pending after a growing delay, or dead after the last one."""
        async with self.db.uow() as uow:
            alert = await outbox.held(uow, alert_id, self.worker)
            if alert is None:
                return
            attempts = alert.attempts + 1
        if attempts >= self.settings.alerts_max_attempts:
            await self._finish(alert_id, state="dead", attempts=attempts, last_error=error[:300])
            log.error("alert %s is dead after %d attempts: %s", alert_id, attempts, error)
            return
        delay = min(
            dt.timedelta(seconds=self.settings.alerts_backoff_seconds * 2 ** (attempts - 1)), MAX_BACKOFF
        )
        await self._finish(
            alert_id,
            state="pending",
            attempts=attempts,
            not_before=clock.now() + delay,
            last_error=error[:300],
        )


class _LostClaim(Exception):
    """Our lease ran out and another worker took the alert over: stop touching it."""

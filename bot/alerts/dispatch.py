"""Sending the outbox: claim, compose in each chat's language, send through the platform's sender.

Per alert: drop it if nobody is to get it any more (the customer turned its kind off and no shared
chat takes it, no linked chat is left) or it no longer applies; hold it until the customer's quiet
hours end; otherwise seal its buttons for each linked person's chat and send it to every chat that
has not had it yet, recording each platform message id at once. The group chats the account is
shared with get the kinds chosen there (``alerts here``), in the shared wording (no pay link, no
button, nothing private: ``bot.alerts.messages``) and in the language chosen there, else the
account's. ``RetryAfter`` is waited out and the same message sent again (not a failure); any other
error makes the attempt fail: the alert goes back to pending with exponential backoff, and to the
``dead`` state after ``alerts_max_attempts``.

``desk`` alerts (a customer's ticket news, for the provider's support desk) go to the ``Desk``
instead of the customer's chats, in the order the desk needs: a ticket's message waits, without
counting an attempt, until the ticket itself is on the desk.

The one duplicate no outbox can prevent: the platform accepted a message and the process died
before the delivery row was committed; the next worker sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from bot.alerts import messages
from bot.alerts.senders import Desk, RetryAfter, Sender
from bot.config import Settings
from bot.core.dispatcher import seal
from bot.core.i18n import choose, use_locale
from bot.core.types import Reply
from bot.lifecycle import Stop
from services import alert_prefs, channel_alerts, clock, renewals
from services import desk as support
from services.alerts import outbox
from services.desk import DeskTicket
from services.errors import NotFound
from services.invoices import Seller
from services.records import Alert, ChannelBinding, ChatIdentity, Customer, Database, UnitOfWork

log = logging.getLogger("hostbot.alerts")

Sleep = Callable[[float], Awaitable[None]]
MAX_BACKOFF = dt.timedelta(hours=6)
MAX_RETRY_AFTER = 20  # 429s in a row for one message before the attempt counts as failed
# Where one alert goes: a linked person's chat, or a group chat the account is shared with.
Destination: TypeAlias = ChatIdentity | ChannelBinding


class AlertSender:
    """Sends the outbox: one worker's sending side (the chat ``Dispatcher`` answers messages; this
    one speaks first). ``worker`` is the lease owner name written on claimed rows; ``desk`` takes
    the ``desk`` alerts (None: no support desk in this process, they fail)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        seller: Seller,
        senders: Mapping[str, Sender],
        sleep: Sleep = asyncio.sleep,
        desk: Desk | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.seller = seller
        self.senders = senders
        self.sleep = sleep
        self.desk = desk
        self._headers: dict[int, asyncio.Event] = {}
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
                self._headers.clear()  # nothing waits on them any more
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
            if alert.kind == "desk":
                desk_news: dict[str, Any] | None = dict(alert.params)
            else:
                desk_news, todo = None, await self._compose(uow, alert, customer)
                notice = alert.params.get("notice")
        if desk_news is not None:
            await self._to_desk(alert_id, desk_news)
        elif todo is not None:
            await self._send_all(alert_id, todo, notice)

    async def _compose(
        self, uow: UnitOfWork, alert: Alert, customer: Customer
    ) -> list[tuple[Destination, Reply]] | None:
        """The alert for each chat that has not had it yet, the buttons of the personal ones sealed
        and committed; None when it was settled here (dropped, or held until the customer's quiet
        hours end)."""
        alert_id = alert.id
        prefs = await alert_prefs.get(uow, customer.id)
        muted = alert.kind in (prefs.muted or [])
        chats = [] if muted else await outbox.recipients(uow, customer.id)
        teams = await channel_alerts.takers(uow, customer.id, alert.kind)
        if not chats and not teams:
            why = "turned off by the customer" if muted else "no linked chat"
            await self._finish(alert_id, state="dropped", last_error=why)
            return None
        held = alert_prefs.quiet_until(prefs, customer.timezone, clock.now())
        if held is not None:
            await self._finish(alert_id, state="pending", not_before=held)
            return None
        done = await outbox.delivered_to(uow, alert_id)
        posted = await outbox.shared_delivered_to(uow, alert_id)
        chats = [chat for chat in chats if chat.id not in done]
        teams = [team for team in teams if team.id not in posted]
        draft = await messages.compose(uow, alert, customer, self.settings, self.seller, personal=bool(chats))
        if draft is None:
            await self._finish(alert_id, state="dropped", last_error="no longer applies")
            return None
        todo: list[tuple[Destination, Reply]] = []
        default = self.settings.default_language
        for chat in chats:
            with use_locale(choose(chat.language, customer.language, chat.platform_language, default)):
                reply = draft.personal()
            seal(uow, chat.id, reply, self.settings)
            todo.append((chat, reply))
        for team in teams:
            with use_locale(choose(team.language, customer.language, None, default)):
                todo.append((team, Reply(draft.shared())))
        await uow.commit()  # the button keys and pay link exist before anyone can press them
        return todo

    async def _send_all(self, alert_id: int, todo: list[tuple[Destination, Reply]], notice: Any) -> None:
        """Send to each chat, recording each delivery at once; settle the alert."""
        errors = []
        for where, reply in todo:
            try:
                message_id = await self._send(alert_id, where, reply)
            except _LostClaim:
                return
            except Exception as err:
                who = where.user_id if isinstance(where, ChatIdentity) else where.chat_id
                log.warning("alert %s to %s:%s failed: %r", alert_id, where.platform, who, err)
                errors.append(f"{where.platform}: {err!r}")
                continue
            async with self.db.uow() as uow:
                if isinstance(where, ChatIdentity):
                    await outbox.record_delivery(uow, alert_id, where.id, message_id)
                else:
                    await outbox.record_shared_delivery(uow, alert_id, where.id, message_id)
        if errors:
            await self._failed(alert_id, "; ".join(errors))
            return
        await self._finish(alert_id, state="sent", sent_at=clock.now(), last_error="")
        if notice is not None:
            async with self.db.uow() as uow:
                await renewals.notice_delivered(uow, notice)

    def _header(self, ticket_id: int) -> asyncio.Event:
        """Set once this sender has tried to post the ticket (``desk:N:opened``) in this pass."""
        return self._headers.setdefault(ticket_id, asyncio.Event())

    async def _desk_view(
        self, alert_id: int, ticket_id: int
    ) -> tuple[DeskTicket | None, tuple[str, str | None] | None]:
        """The ticket as the desk shows it and the state of its ``opened`` alert; the lease renewed.
        The state is read first: the post's thread is committed before its alert is marked sent,
        and the two reads need not share a snapshot (SQLite), so a ``sent`` read first guarantees
        that the ticket read after it carries the thread."""
        async with self.db.uow() as uow:
            opened = await outbox.state_of(uow, f"desk:{ticket_id}:opened")
            try:
                ticket: DeskTicket | None = await support.view(uow, ticket_id)
            except NotFound:
                ticket = None
            if not await outbox.extend(uow, alert_id, self.worker, self.settings.alerts_lease_seconds):
                raise _LostClaim()
        return ticket, opened

    async def _to_desk(self, alert_id: int, params: dict[str, Any]) -> None:
        """Post a customer's ticket news to the support desk, the ticket itself first: news of a
        ticket not posted yet waits for this sender's post of it, or (posted elsewhere, or not
        claimed yet) goes back to pending without counting an attempt; after the post failed for
        good, it fails too."""
        if self.desk is None:
            raise LookupError("no support desk in this process (SLACK_SUPPORT_CHANNEL)")
        event, ticket_id = str(params["event"]), int(params["ticket"])
        try:
            ticket, opened = await self._desk_view(alert_id, ticket_id)
            if (
                ticket is not None
                and ticket.thread is None
                and event != "opened"
                and opened == ("sending", self.worker)
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._header(ticket_id).wait(), self.settings.alerts_lease_seconds)
                ticket, opened = await self._desk_view(alert_id, ticket_id)
        except _LostClaim:
            return
        if ticket is None:
            await self._finish(alert_id, state="dropped", last_error="no longer applies")
            return
        if event == "opened":
            try:
                if ticket.thread is None:
                    thread = await self.desk.post_ticket(ticket)
                    async with self.db.uow() as uow:
                        await support.attach_thread(uow, ticket.id, thread)
            finally:
                self._header(ticket_id).set()
        elif ticket.thread is None and opened is not None and opened[0] in ("pending", "sending"):
            later = clock.now() + dt.timedelta(seconds=self.settings.alerts_backoff_seconds)
            await self._finish(alert_id, state="pending", not_before=later)
            return
        elif ticket.thread is None:
            state = opened[0] if opened else "never posted"
            raise RuntimeError(f"ticket {ticket.id} is not on the desk ({state})")
        else:
            message = params.get("message")
            news = ticket.message(message if isinstance(message, int) else None)
            await self.desk.post_event(ticket, event, news)
        await self._finish(alert_id, state="sent", sent_at=clock.now(), last_error="")

    async def _send(self, alert_id: int, where: Destination, reply: Reply) -> str:
        sender = self.senders.get(where.platform)
        if sender is None:
            raise LookupError(f"no sender for platform {where.platform!r}")
        for _attempt in range(MAX_RETRY_AFTER):
            async with self.db.uow() as uow:
                if not await outbox.extend(uow, alert_id, self.worker, self.settings.alerts_lease_seconds):
                    raise _LostClaim()
            try:
                if isinstance(where, ChatIdentity):
                    return await sender.send(where, reply)
                return await sender.send_shared(where, reply)
            except RetryAfter as wait:
                log.info("alert %s: %s asks to wait %.1f s", alert_id, where.platform, wait.seconds)
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

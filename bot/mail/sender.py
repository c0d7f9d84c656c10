"""Sending the mail outbox: claim, compose in the reader's language, send through the mail port.

Per mail: expired (a code past its 15 minutes) or no longer relevant (an invoice deleted) settles
it without sending; otherwise the lease is pushed forward and the message handed to the driver,
bounded to half the lease so that no other worker can take the mail over while it is being sent.
A refusal for good (a 5xx answer) makes it a dead letter at once; any other failure sends it back
to pending after an exponential backoff, and to ``dead`` after ``MAIL_MAX_ATTEMPTS``.

The one duplicate no outbox can prevent: the server accepted the message and the process died (or
lost its connection to the server while waiting for the answer to the end of the data) before
the row was marked sent; the mail is sent again when its lease runs out, with the same
``Message-ID``, which lets mail programs and many servers recognise the repeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from bot.config import Settings
from bot.core.documents import DocumentRenderer
from bot.lifecycle import Stop
from bot.mail.compose import compose
from services import clock, mail_outbox
from services.ports import Mailer, MailError, MailMessage
from services.records import Database

log = logging.getLogger("hostbot.mail")

MAX_BACKOFF = dt.timedelta(hours=6)


class MailSender:
    """One worker's sending side of the mail outbox; ``worker`` names its claims."""

    def __init__(self, db: Database, settings: Settings, mailer: Mailer, documents: DocumentRenderer) -> None:
        self.db = db
        self.settings = settings
        self.mailer = mailer
        self.documents = documents
        self.worker = mail_outbox.worker_id()

    async def run_pass(self, stop: Stop | None = None) -> int:
        """Claim and send mails one after the other until none is due; returns how many were
        handled. A pass tries each mail once (one due again at once waits for the next pass).
        Once ``stop`` is set the mail in hand is finished and the rest handed back."""
        stop = stop or Stop()
        tried: set[int] = set()
        while not stop.is_set():
            async with self.db.uow() as uow:
                ids = await mail_outbox.claim(
                    uow, self.worker, self.settings.mail_batch_size, self.settings.mail_lease_seconds
                )
            fresh = [mail_id for mail_id in ids if mail_id not in tried]
            if not fresh:
                break
            for mail_id in fresh:
                if stop.is_set():
                    break
                tried.add(mail_id)
                await self.handle(mail_id)
        async with self.db.uow() as uow:
            await mail_outbox.release(uow, self.worker)  # what was claimed and not tried
        return len(tried)

    async def handle(self, mail_id: int) -> None:
        try:
            await self._deliver(mail_id)
        except Exception as err:
            log.exception("mail %s failed", mail_id)
            await self._failed(mail_id, repr(err), permanent=False)

    async def _deliver(self, mail_id: int) -> None:
        async with self.db.uow() as uow:
            mail = await mail_outbox.held(uow, mail_id, self.worker)
            if mail is None:
                return
            secret = mail.secret
            if mail.not_after is not None and mail.not_after <= clock.now():
                await self._finish(mail_id, "expired", secret, last_error="expired before it could be sent")
                return
            message = await compose(uow, mail, self.settings, self.documents)
            await uow.commit()  # what composing saved (a pay link) exists before the mail is read
        if message is None:
            await self._finish(mail_id, "expired", secret, last_error="no longer applies")
            return
        async with self.db.uow() as uow:
            if not await mail_outbox.extend(uow, mail_id, self.worker, self.settings.mail_lease_seconds):
                return  # our lease ran out and another worker has it
        try:
            await asyncio.wait_for(self.mailer.send(message), self._bound())
        except MailError as err:
            log.warning("mail %s to %s refused: %s", mail_id, _domain(message), err.reason)
            await self._failed(mail_id, err.reason, err.permanent)
            return
        except TimeoutError:
            await self._failed(mail_id, "timed out", permanent=False)
            return
        await self._finish(mail_id, "sent", secret, sent_at=clock.now(), last_error="")
        log.info("mail %s (%s) sent to %s", mail_id, message.message_id, _domain(message))

    def _bound(self) -> float:
        """A send may take half the lease at most: the lease is never outlived by a send."""
        return max(self.settings.mail_lease_seconds / 2, 1.0)

    async def _finish(self, mail_id: int, state: str, secret: bool, **values: object) -> None:
        async with self.db.uow() as uow:
            await mail_outbox.finish(uow, mail_id, self.worker, state, secret, **values)

    async def _failed(self, mail_id: int, error: str, permanent: bool) -> None:
        """Count a failed attempt: pending again after a growing delay, dead after the last one
        (at once when the server refused the mail for good)."""
        async with self.db.uow() as uow:
            mail = await mail_outbox.held(uow, mail_id, self.worker)
            if mail is None:
                return
            attempts, secret = mail.attempts + 1, mail.secret
        if permanent or attempts >= self.settings.mail_max_attempts:
            await self._finish(mail_id, "dead", secret, attempts=attempts, last_error=error[:300])
            log.error("mail %s is a dead letter after %d attempts: %s", mail_id, attempts, error)
            return
        delay = min(
            dt.timedelta(seconds=self.settings.mail_backoff_seconds * 2 ** (attempts - 1)), MAX_BACKOFF
        )
        await self._finish(
            mail_id,
            "pending",
            secret,
            attempts=attempts,
            not_before=clock.now() + delay,
            last_error=error[:300],
        )


def _domain(message: MailMessage) -> str:
    """Where a mail went, for the log: the recipient's domain, not the person."""
    return "@" + message.to.rpartition("@")[2]


async def run_forever(sender: MailSender, wake: asyncio.Event, stop: Stop, interval: float) -> None:
    """Send what is due, then wait for ``wake`` (a mail written in this process was committed)
    or ``interval`` seconds; until ``stop``. A failed pass is logged and the next one goes on."""
    while not stop.is_set():
        wake.clear()
        try:
            await sender.run_pass(stop)
        except Exception:
            log.exception("mail pass failed")
        await stop.first(wake.wait(), within=interval)

"""The default mail driver (``MAIL_DRIVER=log``): the message goes to the log, not to an SMTP server."""

from __future__ import annotations

import logging

from services.ports import MailMessage

log = logging.getLogger("hostbot.mail")


class LogMailer:
    """Keeps what it was given (``sent``) and logs the recipient and subject, never the text."""

    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.sent.append(message)
        log.info("mail to %s: %s", message.to, message.subject)

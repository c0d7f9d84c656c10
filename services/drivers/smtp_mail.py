"""The SMTP mail driver (``MAIL_DRIVER=smtp``, ``SMTP_URL``) through aiosmtplib.

``smtp://user:password@host:587`` submits with STARTTLS (required when a user is given: a password
never crosses the network in clear; without one, used when the server offers it);
``smtps://user:password@host:465`` uses implicit TLS. The server's certificate is checked against
the system's authorities, or ``SMTP_CA_FILE``. Each network step waits at most ``timeout`` seconds.

The message is MIME as mail programs expect it: ``multipart/alternative`` with the text and its
HTML form (``multipart/mixed`` around it when files are attached), UTF-8 bodies, non-ASCII headers
encoded (RFC 2047), and ``Message-ID``, ``Date``, ``Content-Language``, ``Reply-To`` and
``Auto-Submitted`` as the outbox fixed them. A 5xx answer is a permanent refusal (``MailError``
with ``permanent``); a 4xx answer, a dropped connection or a timeout may pass later.
"""

from __future__ import annotations

import email.policy
import email.utils
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from services.ports import MailError, MailMessage

PORTS = {"smtp": 587, "smtps": 465}


def mime(message: MailMessage, sender: str) -> EmailMessage:
    """The message as it goes on the wire, from ``sender`` (``Name <address>`` or an address)."""
    mail = EmailMessage(policy=email.policy.SMTP)
    name, addr = email.utils.parseaddr(sender)
    local, _at, domain = addr.partition("@")
    mail["From"] = Address(name, local, domain) if name else addr
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.format_datetime(message.date) if message.date else email.utils.formatdate()
    mail["Message-ID"] = message.message_id or email.utils.make_msgid(domain=domain or None)
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    if message.automatic:
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
        mail["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange
    mail.set_content(message.text, charset="utf-8")
    if message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    for file in message.attachments:
        maintype, _slash, subtype = file.content_type.partition("/")
        mail.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    if message.language:  # last: building the parts moves the Content- headers set before
        mail["Content-Language"] = message.language
    return mail


class SmtpMailer:
    def __init__(self, url: str, sender: str, timeout: float = 30, ca_file: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme not in PORTS or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
        self.host = parts.hostname
        self.port = parts.port or PORTS[parts.scheme]
        self.implicit_tls = parts.scheme == "smtps"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout
        self.tls = ssl.create_default_context(cafile=ca_file or None)

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port})"

    async def send(self, message: MailMessage) -> None:
        try:
            await aiosmtplib.send(
                mime(message, self.sender),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.implicit_tls,
                start_tls=None if self.implicit_tls or not self.username else True,
                tls_context=self.tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [refused.code for refused in err.recipients]
            raise MailError(_reason(err), permanent=all(500 <= c < 600 for c in codes)) from None
        except aiosmtplib.SMTPResponseException as err:
            permanent = 500 <= err.code < 600 and not isinstance(err, aiosmtplib.SMTPAuthenticationError)
            raise MailError(_reason(err), permanent=permanent) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise MailError(_reason(err)) from None


def _reason(err: Exception) -> str:
    """What the server said, for the dead letters; never the message or the credentials."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {r.message}" for r in err.recipients)[:300]
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return f"{err.code} {err.message}"[:300]
    return f"{type(err).__name__}: {err}"[:300]

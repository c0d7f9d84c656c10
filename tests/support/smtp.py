"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd's ``Controller``, in a thread of its own,
so that a test blocked on a subprocess does not block it): STARTTLS or implicit TLS with a
certificate made for the test, optional login, and scripted refusals. What it accepted is parsed
back into ``email`` messages."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.config import Settings
from tests.support.processes import free_port

USER, PASSWORD = "hostbot", "s3cret pass/word"


@dataclass
class Received:
    """One message the server accepted: the envelope and the bytes as they came."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[assignment]
        return parsed


@dataclass
class Handler:
    """What the server does with each message: refuse it with the next scripted answer, if any."""

    received: list[Received] = field(default_factory=list)
    data_answers: list[str] = field(default_factory=list)  # e.g. "451 4.3.0 Try again later"
    refused_recipients: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Message accepted for delivery"


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost: the server's, and the client's CA."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(folder: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostbot test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_path, key_path)


class SmtpServer:
    """``mode``: ``plain`` (no TLS offered), ``starttls`` (offered, and required before a login)
    or ``implicit`` (TLS from the first byte). ``login``: a user and password are required."""

    def __init__(
        self, certificate: Certificate | None = None, mode: str = "plain", login: bool = False
    ) -> None:
        self.handler = Handler()
        self.port = free_port()
        self.mode = mode
        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            assert certificate is not None
            kwargs["tls_context"] = certificate.server_context()
        if mode == "implicit":
            assert certificate is not None
            kwargs["ssl_context"] = certificate.server_context()
        if login:
            # With implicit TLS aiosmtpd does not know the channel is encrypted (it only tracks
            # STARTTLS), so it would refuse any login: there the whole session is TLS anyway.
            tls_first = mode != "implicit"
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=tls_first)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        self.handler.logins.append(f"{mechanism}:{'ok' if ok else 'refused'}")
        return AuthResult(success=ok)

    def url(self, login: bool = False) -> str:
        scheme = "smtps" if self.mode == "implicit" else "smtp"
        who = "hostbot:s3cret%20pass%2Fword@" if login else ""
        return f"{scheme}://{who}127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def refuse_next(self, *answers: str) -> None:
        """Answer the next messages' data with these replies (``451 ...``: try later)."""
        self.handler.data_answers.extend(answers)

    async def wait_for(self, count: int, within: float = 60) -> list[Received]:
        """Until the server has accepted ``count`` messages (a process sends them meanwhile)."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} mails arrived"
            await asyncio.sleep(0.05)  # polling a server running in another thread
        return self.received


@contextmanager
def running(server: SmtpServer) -> Iterator[SmtpServer]:
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


def mail_settings(database_url: str, server: SmtpServer, **extra: Any) -> Settings:
    """Test settings that send mail to ``server`` (no login, no TLS: a relay on the machine)."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        rate_limit="1000/minute",
        mail_driver="smtp",
        smtp_url=server.url(),
        smtp_timeout_seconds=10,
        _env_file=None,
        **extra,
    )


def by_subject(received: list[Received], start: str) -> list[EmailMessage]:
    return [r.message for r in received if str(r.message["Subject"]).startswith(start)]


def text_of(message: EmailMessage) -> str:
    """The plain-text body as a mail program shows it."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]

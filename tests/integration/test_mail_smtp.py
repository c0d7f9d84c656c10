"""The SMTP driver against a real SMTP server (aiosmtpd on 127.0.0.1): STARTTLS with a login,
implicit TLS, the MIME a mail program reads back (headers, both bodies, attachments, non-ASCII
text), and which refusals are worth trying again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.drivers.smtp_mail import SmtpMailer
from services.ports import MailAttachment, MailError, MailMessage
from tests.support.processes import free_port
from tests.support.smtp import Certificate, SmtpServer, make_certificate, running

SENDER = "Hostbot Hosting B.V. <noreply@hostbot.example>"
TEXTS = {
    "fr": (
        "Votre facture HB2026-00014 : 24,85\u202f€ à payer",
        "Échéance le 6\u00a0déc. 2026 — merci\u00a0!",
    ),
    "tr": (
        "Faturanız HB2026-00014: ödenecek ₺1.250,00",
        "Son ödeme günü 6 Ara 2026; İyi günler, Çağrı Şükrü.",
    ),
    "id": (
        "Tagihan HB2026-00014: Rp\u00a0900.000 belum lunas",
        "Jatuh tempo 6 Des 2026. Terima kasih, Budi.",
    ),
}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls(certificate: Certificate) -> Iterator[SmtpServer]:
    with running(SmtpServer(certificate, "starttls", login=True)) as server:
        yield server


def _message(lang: str, **extra: object) -> MailMessage:
    subject, text = TEXTS[lang]
    return MailMessage(
        to="compta@atelier-lumiere.example",
        subject=subject,
        text=text,
        html=f"<p>{text}</p>",
        language=lang,
        message_id="<0f1e2d3c@hostbot.example>",
        date=dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
        **extra,  # type: ignore[arg-type]
    )


def _parts(message: EmailMessage) -> dict[str, str]:
    """Each body part's text, with the line ends a program reads (the wire has CRLF)."""
    return {
        part.get_content_type(): part.get_content().replace("\r\n", "\n").rstrip("\n")
        for part in message.walk()
        if not part.is_multipart()
    }


@pytest.mark.parametrize("lang", ["fr", "tr", "id"])
async def test_starttls_login_and_mime_read_back(
    starttls: SmtpServer, certificate: Certificate, lang: str
) -> None:
    mailer = SmtpMailer(starttls.url(login=True), SENDER, timeout=10, ca_file=str(certificate.cert))
    await mailer.send(_message(lang, reply_to="support@hostbot.example"))
    [got] = starttls.received
    assert starttls.handler.logins == ["PLAIN:ok"] or starttls.handler.logins == ["LOGIN:ok"]
    assert got.sender == "noreply@hostbot.example" and got.recipients == ["compta@atelier-lumiere.example"]
    header_block = got.raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()  # every non-ASCII header is an encoded word
    mail = got.message
    subject, text = TEXTS[lang]
    assert mail["Subject"] == subject
    assert ("=?utf-8?" in header_block.decode()) is not subject.isascii()
    assert mail["From"].addresses[0].display_name == "Hostbot Hosting B.V."
    assert mail["Message-ID"] == "<0f1e2d3c@hostbot.example>"
    assert mail["Date"].datetime == dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    assert (mail["Auto-Submitted"], mail["Content-Language"]) == ("auto-generated", lang)
    assert mail["Reply-To"] == "support@hostbot.example"
    assert mail.get_content_type() == "multipart/alternative"
    parts = _parts(mail)
    assert parts == {"text/plain": text, "text/html": f"<p>{text}</p>"}
    assert all(p.get_content_charset() == "utf-8" for p in mail.walk() if not p.is_multipart())


async def test_an_attachment_makes_it_mixed(starttls: SmtpServer, certificate: Certificate) -> None:
    mailer = SmtpMailer(starttls.url(login=True), SENDER, timeout=10, ca_file=str(certificate.cert))
    pdf = MailAttachment("HB2026-00014.pdf", "application/pdf", b"%PDF-1.7 test")
    await mailer.send(_message("fr", attachments=(pdf,)))
    mail = starttls.received[0].message
    assert mail.get_content_type() == "multipart/mixed"
    [file] = list(mail.iter_attachments())
    assert (file.get_filename(), file.get_content()) == ("HB2026-00014.pdf", b"%PDF-1.7 test")
    assert "Reply-To" not in mail


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # see SmtpServer
async def test_implicit_tls(certificate: Certificate) -> None:
    with running(SmtpServer(certificate, "implicit", login=True)) as server:
        mailer = SmtpMailer(server.url(login=True), SENDER, timeout=10, ca_file=str(certificate.cert))
        await mailer.send(_message("tr"))
        assert server.received[0].message["Subject"] == TEXTS["tr"][0]


async def test_an_unknown_certificate_is_refused(certificate: Certificate) -> None:
    with running(SmtpServer(certificate, "starttls", login=True)) as server:
        with pytest.raises(MailError) as refused:
            await SmtpMailer(server.url(login=True), SENDER, timeout=10).send(_message("fr"))
        assert not refused.value.permanent and server.received == [] and server.handler.logins == []


async def test_a_password_never_goes_in_clear() -> None:
    """smtp:// with a login to a server that offers no STARTTLS: nothing is sent, not even the login."""
    with running(SmtpServer(mode="plain")) as server:
        with pytest.raises(MailError):
            await SmtpMailer(server.url(login=True), SENDER, timeout=10).send(_message("fr"))
        assert server.received == [] and server.handler.logins == []
        await SmtpMailer(server.url(), SENDER, timeout=10).send(_message("fr"))  # no login: a local relay
        assert len(server.received) == 1


async def test_refusals_say_whether_to_try_again() -> None:
    with running(SmtpServer(mode="plain")) as server:
        mailer = SmtpMailer(server.url(), SENDER, timeout=10)
        server.refuse_next("451 4.3.0 Mailbox busy, try later")
        with pytest.raises(MailError) as later:
            await mailer.send(_message("fr"))
        assert not later.value.permanent and "451" in later.value.reason
        server.refuse_next("554 5.7.1 Message rejected")
        with pytest.raises(MailError) as never:
            await mailer.send(_message("fr"))
        assert never.value.permanent and "554" in never.value.reason
        server.handler.refused_recipients.add("compta@atelier-lumiere.example")
        with pytest.raises(MailError) as nobody:
            await mailer.send(_message("fr"))
        assert nobody.value.permanent and "550" in nobody.value.reason
        assert server.received == []


async def test_no_server_is_worth_trying_again() -> None:
    with pytest.raises(MailError) as down:
        await SmtpMailer(f"smtp://127.0.0.1:{free_port()}", SENDER, timeout=5).send(_message("id"))
    assert not down.value.permanent


def test_the_url_says_how_to_connect(tmp_path: Path) -> None:
    mailer = SmtpMailer("smtp://me%40example.com:p%3Ass@mail.example.com", SENDER)
    assert (mailer.host, mailer.port, mailer.implicit_tls) == ("mail.example.com", 587, False)
    assert (mailer.username, mailer.password) == ("me@example.com", "p:ss")
    assert "p:ss" not in repr(mailer)
    assert SmtpMailer("smtps://mail.example.com", SENDER).port == 465
    with pytest.raises(ValueError):
        SmtpMailer("http://mail.example.com", SENDER)

"""What keeps a server's secrets: sealed login details, signed one-time console tokens, and the
log redaction of console links, Proxmox passwords and API tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.logs import MASK, Redactor
from services import consoles, sealing

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_sealed_password_opens_only_with_its_key() -> None:
    sealed = sealing.seal("key-one", "s3cret-Password")
    assert "s3cret" not in sealed
    assert sealing.unseal("key-one", sealed) == "s3cret-Password"
    with pytest.raises(sealing.Unreadable):
        sealing.unseal("key-two", sealed)
    with pytest.raises(sealing.NoSecret):
        sealing.seal("", "anything")


def test_console_and_login_keys_differ() -> None:
    assert sealing.derive("k", sealing.CONSOLE_LINKS) != sealing.derive("k", sealing.LOGIN_DETAILS)


def test_a_console_token_is_signed_and_expires() -> None:
    token = consoles.issue("key-one", 7, NOW + dt.timedelta(minutes=2))
    claims = consoles.verify("key-one", token, NOW)
    assert claims.server_id == 7 and claims.expires_at == NOW + dt.timedelta(minutes=2)
    assert (
        consoles.verify("key-one", consoles.issue("key-one", 7, NOW + dt.timedelta(minutes=2)), NOW).nonce
        != claims.nonce
    )
    for bad, key, at in (
        (token, "key-two", NOW),
        (token, "key-one", NOW + dt.timedelta(minutes=2)),
        ("x" + token, "key-one", NOW),
        ("not-a-token", "key-one", NOW),
        (token, "", NOW),
    ):
        with pytest.raises(consoles.BadToken):
            consoles.verify(key, bad, at)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('GET /console/eyJzIjoxLCJlIjoxNzk2MDkzOTEzfQ.2mLXyDVW1Bk0MxAbNdv5 HTTP/1.1" 200', "2mLXyDVW1Bk0"),
        ("vnc.html?path=websockify%3Ftoken%3DeyJzIjoxLCJlIjoxNzk2MDkzOTEzfQ.2mLXyDVW", "2mLXyDVW"),
        (
            "POST https://pve:8006/api2/json/nodes/pve1/qemu/110/config {'cipassword': 'Zq8-w1Lk3'}",
            "Zq8-w1Lk3",
        ),
        ("?vncticket=PVEVNC%3A6745A1B2%3A%3AabcdefghijklmnopqrstuvwxyzAB", "abcdefghijklmnop"),
        ("Authorization: PVEAPIToken=hostbot@pve!bot=0b6b1e3c-5f0c-4b1e-9d1b", "0b6b1e3c"),
    ],
)
def test_console_links_and_proxmox_credentials_are_redacted(line: str, secret: str) -> None:
    redacted = Redactor().redact(line)
    assert MASK in redacted and secret not in redacted

"""One-time console links for machines whose manager has no API of its own (``SERVER_DRIVER=inventory``).

The link carries a token: the server's id, an expiry and a random id, signed with HMAC-SHA256 under a
key derived from ``SECRET_KEY``. The provider's console page (noVNC) hands the token to its
websockify, whose stock ``JSONTokenApi`` plugin asks the bot (``GET /console/<token>``) where to
connect. The bot answers once per token, before it expires, with the machine's VNC or IP-KVM address
(``INVENTORY_CONSOLE_TARGET``); a second ask, a forged or an expired token gets nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from services import chat_records, sealing
from services.records import Server, UnitOfWork

CLAIMS = "console"  # the processed-updates source that remembers used tokens


class BadToken(Exception):
    """Not a token this bot signed, or no longer valid; ``reason`` is for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    server_id: int
    expires_at: dt.datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(secret: str, server_id: int, expires_at: dt.datetime) -> str:
    """A signed token for one console session on ``server_id`` until ``expires_at``."""
    body = json.dumps(
        {"s": server_id, "e": int(expires_at.timestamp()), "n": secrets.token_urlsafe(12)},
        separators=(",", ":"),
    ).encode()
    key = sealing.derive(secret, sealing.CONSOLE_LINKS)
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest())}"


def verify(secret: str, token: str, now: dt.datetime) -> Claims:
    """The token's claims if this bot signed it and it has not expired; else ``BadToken``."""
    body_part, _, signature = token.partition(".")
    try:
        body, mac = _unb64(body_part), _unb64(signature)
    except (ValueError, TypeError):
        raise BadToken("not base64") from None
    try:
        key = sealing.derive(secret, sealing.CONSOLE_LINKS)
    except sealing.NoSecret:
        raise BadToken("SECRET_KEY is not set") from None
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise BadToken("bad signature")
    try:
        data = json.loads(body)
        claims = Claims(int(data["s"]), dt.datetime.fromtimestamp(int(data["e"]), dt.UTC), str(data["n"]))
    except (ValueError, KeyError, TypeError):
        raise BadToken("malformed") from None
    if claims.expires_at <= now:
        raise BadToken("expired")
    return claims


async def redeem(uow: UnitOfWork, secret: str, token: str, now: dt.datetime) -> Claims:
    """The claims of a valid token, the first time only (the caller commits); ``BadToken`` after."""
    claims = verify(secret, token, now)
    if not await chat_records.insert_claim(uow, CLAIMS, claims.nonce):
        raise BadToken("used")
    return claims


async def target(uow: UnitOfWork, claims: Claims, pattern: str) -> tuple[str, int]:
    """Where the console of the token's server is: ``pattern`` (``INVENTORY_CONSOLE_TARGET``, such
    as ``{ip}:5900`` or ``kvm-{hostname}.example.net:443``) filled from its record."""
    server = await uow.session.get(Server, claims.server_id)
    if server is None:
        raise BadToken("no such server")
    try:
        address = pattern.format(
            ip=server.ip, hostname=server.hostname, node=server.node, vm_id=server.vm_id or ""
        )
    except (KeyError, IndexError, ValueError):
        raise BadToken(f"INVENTORY_CONSOLE_TARGET has an unknown placeholder: {pattern!r}") from None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BadToken(f"INVENTORY_CONSOLE_TARGET gives no host:port ({address!r})")
    return host, int(port)

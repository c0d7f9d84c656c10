"""Secrets the bot keeps (a server's login password, a Slack workspace's bot token) and links it signs
(consoles), each with its own key derived from the one ``SECRET_KEY``: a leaked console key opens no
password, a leaked password key no Slack workspace.

Passwords are sealed with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``); the keys
come from HKDF-SHA256 over the secret with a label per use. Nothing here logs what it seals.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

LOGIN_DETAILS = b"hostbot login details"
CONSOLE_LINKS = b"hostbot console links"
SLACK_TOKENS = b"hostbot slack tokens"


class NoSecret(Exception):
    """No ``SECRET_KEY`` is configured: nothing can be sealed or signed."""


class Unreadable(Exception):
    """A sealed value that this key did not seal (the key changed, or the value was altered)."""


def derive(secret: str, label: bytes) -> bytes:
    """32 bytes for one use (``label``) of the secret."""
    if not secret:
        raise NoSecret()
    # cryptography is imported on first use: it takes about a tenth of a second, which every start
    # and every one-shot command would pay, most of them never sealing anything.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())


def _fernet(secret: str, label: bytes) -> Fernet:
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(derive(secret, label)))


def seal(secret: str, text: str, label: bytes = LOGIN_DETAILS) -> str:
    """``text`` encrypted and authenticated under the secret's key for ``label`` (login details by default)."""
    return _fernet(secret, label).encrypt(text.encode()).decode()


def unseal(secret: str, token: str, label: bytes = LOGIN_DETAILS) -> str:
    """What ``seal`` sealed for ``label``; ``Unreadable`` when another key sealed it or it was altered."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret, label).decrypt(token.encode()).decode()
    except InvalidToken:
        raise Unreadable() from None

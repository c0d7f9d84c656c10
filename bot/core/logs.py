"""Logging for every process: secrets redacted on every line, optionally one JSON object per line.

``setup`` configures the root logger and puts two filters on its handler, so that the records of
every library (aiohttp's access log, python-telegram-bot, slack_sdk, SQLAlchemy ...) pass through
them, not only the project's own loggers:

- ``Redactor`` formats each record (message with its arguments, traceback, stack) and replaces the
  configured secrets and anything shaped like a credential: pay links' tokens, Telegram bot tokens
  in Bot API URLs, Slack and Stripe keys, Slack ``response_url`` hooks.
- ``Scope`` stamps each record with the update being handled and its account (ids, never a
  secret), which the adapters and the dispatcher set for the duration of one update.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Final
from urllib.parse import unquote, urlsplit

from bot.config import Settings

MASK: Final = "[redacted]"
MIN_SECRET = 6  # shorter values (an empty or placeholder setting) would blank ordinary words

# Shapes of credentials, whatever their origin. "/" may reach a log escaped (JSON "\/", a form's %2F).
_SLASH = r"(?:/|\\/|%2[Ff])"
PATTERNS: Final = (
    # A pay link opens and pays an invoice for weeks: the token is the credential.
    (re.compile(rf"(pay{_SLASH})[A-Za-z0-9_-]{{20,64}}"), rf"\g<1>{MASK}"),
    # Telegram's bot token in Bot API URLs: https://api.telegram.org/bot<id>:<secret>/getMe
    (re.compile(r"(bot\d+:)[A-Za-z0-9_-]+"), rf"\g<1>{MASK}"),
    # Slack tokens (bot, user, app-level, configuration, refresh).
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+"), MASK),
    # Stripe secret and restricted keys, webhook signing secrets.
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+"), MASK),
    # A console link opens a server's screen until it is used; Proxmox VNC tickets and passwords.
    (re.compile(rf"(console{_SLASH})[A-Za-z0-9_.-]{{20,}}"), rf"\g<1>{MASK}"),
    (re.compile(r"((?:token|vncticket)(?:=|%3[Dd]))[A-Za-z0-9_.%:/+=-]{20,}"), rf"\g<1>{MASK}"),
    (re.compile(r"(cipassword['\"]?\s*[:=]\s*['\"]?)[^'\"\s,&}]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(PVEAPIToken=[^=\s]+=)[^\s'\",]+"), rf"\g<1>{MASK}"),
    # Admin API bearer tokens (hostbot admin token create).
    (re.compile(r"\bhbt_[A-Za-z0-9_-]+"), MASK),
    # A Slack response_url lets anyone post to the conversation for half an hour.
    (re.compile(rf"(hooks\.slack\.com{_SLASH})[^\s'\",}}]+"), rf"\g<1>{MASK}"),
)


def secrets_of(settings: Settings) -> list[str]:
    """The configured values that must never appear in a log."""
    found = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.slack_client_secret,
        settings.stripe_api_key,
        settings.stripe_webhook_secret,
        settings.metrics_token,
        settings.secret_key,
        settings.proxmox_token_secret,
    ]
    with suppress(ValueError):  # the database URL's password, as the driver receives it
        found.append(unquote(urlsplit(settings.database_url).password or ""))
    return [value for value in found if len(value) >= MIN_SECRET]


class Redactor(logging.Filter):
    """Rewrites a record into its redacted final text: message, traceback and stack."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # a later formatter must use the redacted text
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


@dataclass
class UpdateScope:
    """The update being handled; ``account`` is filled in once the dispatcher knows it."""

    update_id: str | None
    platform: str
    account: int | None = None


_scope: contextvars.ContextVar[UpdateScope | None] = contextvars.ContextVar("update_scope", default=None)


@contextmanager
def update_scope(platform: str, update_id: str | None) -> Iterator[UpdateScope]:
    """Every line logged inside (by this task and the tasks it starts) names this update. An
    adapter opens it when the update arrives; the dispatcher then reuses the same scope."""
    current = _scope.get()
    if current is not None and current.update_id == update_id and current.platform == platform:
        yield current
        return
    scope = UpdateScope(update_id, platform)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


class Scope(logging.Filter):
    """Copies the current update's ids onto the record (``update_id``, ``account``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _scope.get()
        record.update_id = scope.update_id if scope else None
        record.account = scope.account if scope else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the update and account (or null),
    and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "update_id": getattr(record, "update_id", None),
            "account": getattr(record, "account", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(settings: Settings, default_level: str = "INFO") -> None:
    """Configure the root logger (``LOG_LEVEL``, ``LOG_FORMAT``) with redaction on its handler."""
    logging.basicConfig(level=(settings.log_level or default_level).upper(), format=TEXT_FORMAT, force=True)
    redactor = Redactor(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(Scope())
        handler.addFilter(redactor)
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter())
    # Warnings and an exception that ends the process go through the same handler, not around it.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("hostbot").critical("stopped by an uncaught exception", exc_info=(kind, error, tb))

"""The parts built from the settings that a command working on records alone needs besides the
database (``hostbot meter``, ``hostbot payments import``): the provider as printed on invoices and
where payment notices go. The composition root (``bot.bootstrap``) builds the chat's process from
these same functions; a one-shot command imports them without the dispatcher, the handlers and
the drivers."""

from __future__ import annotations

from bot.alerts.notifier import OutboxNotifier
from bot.config import Settings
from services.invoices import Seller


def seller(settings: Settings) -> Seller:
    """The provider as printed on invoices."""
    return Seller(
        settings.seller_name,
        settings.seller_address,
        settings.seller_country,
        settings.seller_vat_id,
        settings.invoice_series,
        settings.invoice_due_days,
        settings.default_language,
    )


def outbox_notifier(settings: Settings) -> OutboxNotifier:
    """Payment notices and ticket events into the alerts outbox; the customer's ticket news goes to
    the support desk when one is configured (``SLACK_SUPPORT_CHANNEL`` with ``SLACK_BOT_TOKEN``)."""
    desk = bool(settings.slack_support_channel and settings.slack_bot_token)
    return OutboxNotifier(desk=desk, replies=settings.alerts_ticket_replies)

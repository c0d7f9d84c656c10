"""Settings from the environment (and an optional ``.env``), one place for every knob."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///hostbot.db"
    port: int = 8080
    public_base_url: str = "http://localhost:8080"
    default_language: str = "en"
    # Empty: INFO (WARNING for the shell). "json": one JSON object per line (see bot/core/logs.py).
    log_level: str = ""
    log_format: Literal["text", "json"] = "text"
    # When set, GET /metrics needs "Authorization: Bearer <this>".
    metrics_token: str = ""

    # Inbound flood guard per chat user, in `limits` notation.
    rate_limit: str = "30/minute"
    rate_limit_storage: str = "async+memory://"

    confirm_ttl_seconds: int = 300
    button_ttl_seconds: int = 7 * 24 * 3600
    conversation_ttl_seconds: int = 1800
    pay_link_ttl_days: int = 30
    max_text_length: int = 4000

    # The provider, as printed on invoices.
    seller_name: str = "Hostbot Hosting B.V."
    seller_address: str = "Keizersgracht 100, 1015 AA Amsterdam"
    seller_country: str = "NL"
    seller_vat_id: str = "NL004495445B01"
    invoice_series: str = "HB"
    invoice_due_days: int = 14

    # Drivers behind the ports, by name (see bot/bootstrap.py); the defaults need no configuration.
    mail_driver: str = "log"
    server_driver: str = "inventory"
    dns_driver: str = "inventory"
    registrar_driver: str = "inventory"

    # Mail (see README "Mail"): MAIL_DRIVER=smtp sends through SMTP_URL, smtp://user:password@host:587
    # (STARTTLS) or smtps://user:password@host:465 (implicit TLS). Every mail goes through the outbox.
    mail_from: str = "Hostbot Hosting B.V. <noreply@hostbot.example>"
    mail_support_address: str = "support@hostbot.example"  # Reply-To of ticket copies
    smtp_url: str = ""
    smtp_timeout_seconds: float = 30
    smtp_ca_file: str = ""  # a CA bundle for a server whose certificate no public authority signs
    mail_interval_seconds: int = 60
    mail_batch_size: int = 20
    mail_lease_seconds: int = 300
    mail_max_attempts: int = 8
    mail_backoff_seconds: int = 60
    # Codes mailed to link a chat or confirm a mailbox: asked and tried, per chat and per address.
    mail_code_requests: str = "3/15 minutes"
    mail_code_attempts: str = "5/15 minutes"

    # Payments: the pay page offers bank transfer always and Stripe Checkout when a key is set.
    pay_page_rate_limit: str = "30/minute"
    bank_account_holder: str = "Hostbot Hosting B.V."
    bank_iban: str = "NL91ABNA0417164300"
    bank_bic: str = "ABNANL2A"
    bank_name: str = "ABN AMRO"
    # What the customer writes as the transfer's reference; {number} is the invoice number.
    bank_reference: str = "{number}"
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: str = ""

    # Telegram (see README "Telegram"): polling unless a webhook URL is set.
    telegram_bot_token: str = ""
    telegram_bot_username: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_rate: str = "25/second"
    telegram_chat_rate: str = "1/second"
    telegram_link_attempts: str = "5/15 minutes"

    # Slack: HTTP events at /slack/events with a bot token and signing secret; Socket Mode when an
    # app-level token is set. The API URL is only changed to point at a test double or a proxy.
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    slack_command: str = "/hosting"
    slack_pace_per_channel: str = "1/second"
    slack_locale_cache_seconds: int = 3600

    # Proactive alerts (bot/alerts). Each rule is off when its list is empty or its horizon is 0.
    alerts_in_run: bool = True
    alerts_interval_seconds: int = 60
    alerts_renewal_days: list[int] = [30, 14, 7, 3, 1]
    alerts_overdue_days: list[int] = [1, 3, 7]
    alerts_forecast_days: int = 7
    alerts_autorenew_short: bool = True
    alerts_ticket_replies: bool = True
    alerts_batch_size: int = 20
    alerts_concurrency: int = 8
    alerts_lease_seconds: int = 300
    alerts_max_attempts: int = 5
    alerts_backoff_seconds: int = 60

    # On SIGTERM/SIGINT: how long work in hand (alerts being sent, HTTP requests) may take to finish.
    stop_grace_seconds: int = 10


@lru_cache
def get_settings() -> Settings:
    return Settings()

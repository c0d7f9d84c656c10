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

    # Secrets kept by the bot (servers' login details, console links) are sealed with keys derived
    # from SECRET_KEY: the same on every replica. Empty: a random key is created once in
    # SECRET_KEY_FILE and read from there afterwards (one machine, the demo).
    secret_key: str = ""
    secret_key_file: str = "hostbot.secret"

    # Servers (README "Servers and DNS"). A console link works once, for this long.
    console_ttl_seconds: int = 120
    # SERVER_DRIVER=inventory: the provider's noVNC page ({token}: the one-time token its websockify
    # redeems at PUBLIC_BASE_URL/console/<token>) and the VNC or IP-KVM address it connects to.
    inventory_console_url: str = (
        "https://console.example.net/vnc.html?autoconnect=true&path=websockify%3Ftoken%3D{token}"
    )
    inventory_console_target: str = "{ip}:5900"
    # SERVER_DRIVER=proxmox: the API with a token (Datacenter > Permissions > API Tokens).
    proxmox_url: str = ""
    proxmox_token_id: str = ""  # user@realm!tokenname
    proxmox_token_secret: str = ""
    # "true", "false" (a self-signed certificate, not recommended), or the path of a CA bundle.
    proxmox_verify_tls: str = "true"
    proxmox_task_timeout_seconds: int = 600
    proxmox_poll_seconds: float = 1.0
    # The console page that opens Proxmox's vncwebsocket with the ticket vncproxy returns.
    proxmox_console_url: str = (
        "{url}/?console=kvm&novnc=1&node={node}&vmid={vmid}&port={port}&vncticket={ticket}"
    )

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
    # Comma-separated networks of the reverse proxies in front of the web app: only a request from
    # one of them has its client address read from X-Forwarded-For (allowed networks, rate limits).
    trusted_proxies: str = ""

    # The account's code word (see README "Settings and security"): wrong answers in a row that
    # lock what it protects, and for how long.
    code_word_attempts: int = 5
    code_word_lock_minutes: int = 15

    # Reverse DNS (DNS_DRIVER=powerdns): a PowerDNS Authoritative server's HTTP API (README, "Reverse DNS").
    powerdns_api_url: str = ""
    powerdns_api_key: str = ""
    powerdns_server_id: str = "localhost"
    # Where the forward confirmation of a PTR is looked up: empty for the system's resolver,
    # "host" or "host:port" for one server, "none" to not check.
    dns_resolver: str = ""

    # Telegram (see README "Telegram"): polling unless a webhook URL is set.
    telegram_bot_token: str = ""
    telegram_bot_username: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_rate: str = "25/second"
    telegram_chat_rate: str = "1/second"
    # A group chat's own limit (Telegram allows 20 messages a minute in a group).
    telegram_group_rate: str = "20/minute"
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
    # The support desk (README "Support desk in Slack"): the id of the provider's own channel where
    # each new ticket is posted and staff answer in its thread (empty: no desk).
    slack_support_channel: str = ""
    # Installable by any workspace (README "Install in a customer's workspace"): the app's OAuth
    # credentials (Basic Information > App Credentials) turn on /slack/install and
    # /slack/oauth_redirect; each workspace's bot token is kept in the database, sealed with a key
    # from SECRET_KEY. SLACK_BOT_TOKEN, when set too, serves the provider's own workspace.
    slack_client_id: str = ""
    slack_client_secret: str = ""
    # The bot scopes asked at install, comma-separated (those of slack/manifest.yml).
    slack_scopes: str = (
        "app_mentions:read,channels:history,channels:read,chat:write,commands,files:read,files:write,"
        "im:history,im:read,im:write,users:read"
    )
    # How long an install link stays good between /slack/install and Slack's redirect back.
    slack_install_ttl_seconds: int = 600

    # A customer may reopen a closed ticket by replying to it for this many days after it was closed.
    ticket_reopen_days: int = 14
    # Files customers attach to tickets (README "Support"): kept in this folder under random names,
    # never served by the web app; at most this many bytes each, of these media types (PNG, JPEG,
    # GIF, WebP, PDF, plain text such as logs), checked on the content itself.
    attachments_dir: str = "hostbot-attachments"
    attachment_max_bytes: int = 10_000_000
    attachment_types: list[str] = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
    ]

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

    # Service lifecycle (services/service_lifecycle.py): an order whose renewal is unpaid is suspended
    # this many days after its due date (the end of its paid period), terminated this many days after
    # it, and told so on each of the listed days before each step.
    lifecycle_suspend_days: int = 2
    lifecycle_terminate_days: int = 14
    lifecycle_suspend_notice_days: list[int] = [2]
    lifecycle_terminate_notice_days: list[int] = [7, 1]

    # Calls to outside systems decided by a commit (services/pending_actions.py): retried by the
    # worker every interval, with backoff doubling from the first delay (at most 6 hours), until the
    # last attempt; a claim lasts the lease.
    actions_interval_seconds: int = 60
    actions_max_attempts: int = 8
    actions_backoff_seconds: int = 60
    actions_lease_seconds: int = 900
    # How often ``hostbot worker`` asks the server driver for traffic samples (services/traffic).
    traffic_interval_seconds: int = 300

    # On SIGTERM/SIGINT: how long work in hand (alerts being sent, HTTP requests) may take to finish.
    stop_grace_seconds: int = 10


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""The composition root: the one place that builds a process from its settings.

settings -> database (migrated; demo data if asked) -> a driver for every port, picked by name in
the settings (``MAIL_DRIVER``, ``SERVER_DRIVER``, ``DNS_DRIVER``, ``REGISTRAR_DRIVER``; Stripe when ``STRIPE_API_KEY`` is set) -> the
commands -> the chat dispatcher -> the adapters -> the web app, the alerts worker or the shell.

Nothing else constructs a driver, a port implementation, a limiter, a pacer, an adapter or a
dispatcher: the pieces receive what they use. A new driver is one class in ``services/drivers``
and one line in the table of its port below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from limits import parse

from bot.alerts.notifier import OutboxNotifier
from bot.alerts.senders import Desk, LogSender, Sender
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.limiting import Limiter
from bot.core.metrics import Metrics
from bot.core.pacing import Pacer
from bot.core.registry import Registry
from bot.documents import Renderer
from bot.lifecycle import Health, supervised
from bot.records_parts import outbox_notifier, seller
from handlers import ROUTERS
from handlers.vocabulary import OBJECTS, PHRASES
from services import mail_outbox, networks
from services.action_runner import ActionRunner
from services.drivers.folder_files import FolderFiles
from services.drivers.forward import ForwardResolver
from services.drivers.inventory import InventoryDns, InventoryDriver, InventoryRegistrar
from services.drivers.log_mail import LogMailer
from services.invoices import Seller
from services.paying import PayLinks
from services.ports import (
    CardCheckout,
    DnsDriver,
    Drivers,
    FileStore,
    Mailer,
    Notifier,
    Registrar,
    ServerDriver,
)
from storage.db import open_database
from storage.uow import Database

# What only some processes or settings need is imported where it is built (a one-shot command
# such as ``hostbot link-code`` starts in a fraction of the time): the platforms' libraries, the
# admin API and the web app, the optional drivers.
if TYPE_CHECKING:
    from aiohttp import web

    from bot.adapters.shell import Shell
    from bot.adapters.slack import SlackAdapter
    from bot.adapters.slack_desk import SlackDesk
    from bot.adapters.telegram import TelegramAdapter
    from bot.admin.app import Admin
    from bot.alerts.dispatch import AlertSender, Sleep
    from bot.mail.sender import MailSender

log = logging.getLogger("hostbot")
T = TypeVar("T")


# The drivers of each port by the name its setting gives; the first is the default.
def _smtp(s: Settings) -> Mailer:
    from services.drivers.smtp_mail import SmtpMailer

    return SmtpMailer(s.smtp_url, s.mail_from, s.smtp_timeout_seconds, s.smtp_ca_file)


def _proxmox(settings: Settings) -> ServerDriver:
    from services.drivers.proxmox import ProxmoxDriver, tls_verify

    return ProxmoxDriver(
        settings.proxmox_url,
        settings.proxmox_token_id,
        settings.proxmox_token_secret,
        tls_verify(settings.proxmox_verify_tls),
        task_timeout=settings.proxmox_task_timeout_seconds,
        poll_seconds=settings.proxmox_poll_seconds,
        console_url=settings.proxmox_console_url,
        console_ttl=settings.console_ttl_seconds,
    )


def _powerdns(settings: Settings) -> DnsDriver:
    from services.drivers.powerdns import PowerDns

    return PowerDns(
        settings.powerdns_api_url,
        settings.powerdns_api_key,
        ForwardResolver(settings.dns_resolver),
        settings.powerdns_server_id,
    )


MAILERS: dict[str, Callable[[Settings], Mailer]] = {
    "log": lambda settings: LogMailer(),
    "smtp": _smtp,
}
SERVER_DRIVERS: dict[str, Callable[[Settings], ServerDriver]] = {
    "inventory": lambda settings: InventoryDriver(
        settings.secret_key, settings.inventory_console_url, settings.console_ttl_seconds
    ),
    "proxmox": _proxmox,
}
DNS_DRIVERS: dict[str, Callable[[Settings], DnsDriver]] = {
    "inventory": lambda settings: InventoryDns(ForwardResolver(settings.dns_resolver)),
    "powerdns": _powerdns,
}
REGISTRARS: dict[str, Callable[[Settings], Registrar]] = {
    "inventory": lambda settings: InventoryRegistrar(),
}


def _pick(setting: str, name: str, drivers: Mapping[str, Callable[[Settings], T]], settings: Settings) -> T:
    """The driver ``name`` built from the settings; an unknown name stops the start-up."""
    if name not in drivers:
        raise ValueError(f"{setting}={name!r} is not a driver; known: {', '.join(drivers)}")
    return drivers[name](settings)


def mail_driver(settings: Settings) -> Mailer:
    return _pick("MAIL_DRIVER", settings.mail_driver, MAILERS, settings)


def server_driver(settings: Settings) -> ServerDriver:
    return _pick("SERVER_DRIVER", settings.server_driver, SERVER_DRIVERS, settings)


def dns_driver(settings: Settings) -> DnsDriver:
    return _pick("DNS_DRIVER", settings.dns_driver, DNS_DRIVERS, settings)


def registrar_driver(settings: Settings) -> Registrar:
    return _pick("REGISTRAR_DRIVER", settings.registrar_driver, REGISTRARS, settings)


def drivers(
    settings: Settings,
    *,
    mail: Mailer | None = None,
    servers: ServerDriver | None = None,
    dns: DnsDriver | None = None,
    registrar: Registrar | None = None,
    files: FileStore | None = None,
) -> Drivers:
    """A driver for every port, as the settings pick them; tests pass fakes for any of them."""
    return Drivers(
        mail=mail if mail is not None else mail_driver(settings),
        servers=servers if servers is not None else server_driver(settings),
        dns=dns if dns is not None else dns_driver(settings),
        registrar=registrar if registrar is not None else registrar_driver(settings),
        files=files if files is not None else file_store(settings),
    )


def file_store(settings: Settings) -> FileStore:
    """Where ticket attachments are kept: the folder ``ATTACHMENTS_DIR``."""
    return FolderFiles(settings.attachments_dir)


def card_checkout(settings: Settings) -> CardCheckout | None:
    """Stripe Checkout when a key is set; without one the pay page offers bank transfer only."""
    if not settings.stripe_api_key:
        return None
    from services.drivers.stripe_checkout import StripeCheckout

    return StripeCheckout(settings.stripe_api_key, settings.stripe_webhook_secret, settings.stripe_api_base)


def pay_links(settings: Settings) -> PayLinks:
    """Where an invoice's pay page is and how long a link stays open."""
    return PayLinks(settings.public_base_url, settings.pay_link_ttl_days)


def all_commands() -> Registry:
    """Every command, button, confirmation and form: the routers of ``handlers``, checked together
    (a confirmation without its command, a misspelt name, fail here, at start-up)."""
    return Registry.from_routers(*ROUTERS, phrases=PHRASES, objects=OBJECTS)


def limiter(settings: Settings) -> Limiter:
    return Limiter(settings.rate_limit_storage)


def action_runner(db: Database, settings: Settings, drivers_: Drivers) -> ActionRunner:
    """What carries out the outside calls a commit decided, with this process's drivers."""
    return ActionRunner(db, drivers_, settings)


def dispatcher(
    db: Database,
    settings: Settings,
    *,
    mailer: Mailer | None = None,
    servers: ServerDriver | None = None,
    dns: DnsDriver | None = None,
    registrar: Registrar | None = None,
    commands: Registry | None = None,
    metrics: Metrics | None = None,
) -> Dispatcher:
    """The chat dispatcher with the drivers the settings pick; tests pass fakes for any of them."""
    picked = drivers(settings, mail=mailer, servers=servers, dns=dns, registrar=registrar)
    return Dispatcher(
        db,
        settings,
        commands=commands if commands is not None else all_commands(),
        seller=seller(settings),
        drivers=picked,
        limiter=limiter(settings),
        metrics=metrics if metrics is not None else Metrics(),
        documents=Renderer(),
        pay_links=pay_links(settings),
        actions=action_runner(db, settings, picked),
        ticket_events=outbox_notifier(settings),
    )


@dataclass
class App:
    """One process's parts; ``settings`` are those of the process (the adapters read theirs from
    it). ``notifier`` writes payment notices into the outbox and wakes this process's sender;
    ``mail_wake`` is set whenever a transaction of this process that wrote a mail commits."""

    settings: Settings
    db: Database
    dispatcher: Dispatcher
    notifier: OutboxNotifier
    limiter: Limiter
    mail_wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def metrics(self) -> Metrics:
        return self.dispatcher.metrics

    @property
    def seller(self) -> Seller:
        return self.dispatcher.seller

    @property
    def actions(self) -> ActionRunner:
        """The process's runner of pending actions (the dispatcher's, with the same drivers)."""
        return self.dispatcher.actions

    async def close(self) -> None:
        await self.db.close()


def assemble(settings: Settings, db: Database, chat: Dispatcher) -> App:
    """The process around a dispatcher: one outbox notifier for its payment notices and its ticket
    events (the dispatcher's too), which wakes this process's alert sender; and the dispatcher's
    limiter, shared by the pay pages, the link-code attempts and the adapters' pacing (their keys
    differ), so a process holds one connection pool to the rate-limit storage and one view of its
    outages. A mail written by this process wakes its mail sender once committed."""
    notifier = outbox_notifier(settings)
    chat.ticket_events = notifier
    app = App(settings, db, chat, notifier, chat.limiter)
    mail_outbox.wake_on_commit(db, app.mail_wake.set)
    return app


def with_secret(settings: Settings) -> Settings:
    """The settings with a ``SECRET_KEY``: the configured one, else the one kept in
    ``SECRET_KEY_FILE``, created (random, readable by this user only) the first time."""
    if settings.secret_key:
        return settings
    path = Path(settings.secret_key_file)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(32))
            log.warning("SECRET_KEY is not set: created %s (set SECRET_KEY, the same on every replica)", path)
    return settings.model_copy(update={"secret_key": path.read_text().strip()})


async def open_app(settings: Settings, seed_demo: bool = False) -> App:
    """Create and migrate the database on first use; seed demo data into an empty one if asked."""
    settings = with_secret(settings)
    db = await open_database(settings.database_url)
    chat = dispatcher(db, settings)
    if seed_demo:
        from bot import demo
        from storage.models import Customer

        async with db.uow() as uow:
            if await uow.session.scalar(Customer.__table__.select().limit(1)) is None:
                await demo.seed(uow, chat.seller, settings.secret_key)
                log.info("demo data created")
    return assemble(settings, db, chat)


# -- adapters -----------------------------------------------------------------------------------


def telegram_adapter(app: App, poll_timeout: int = 10) -> TelegramAdapter:
    from bot.adapters.telegram import TelegramAdapter

    settings = app.settings
    pacer = Pacer(
        "telegram",
        app.limiter,
        settings.telegram_rate,
        settings.telegram_chat_rate,
        app.metrics,
        per_group=settings.telegram_group_rate,
    )
    return TelegramAdapter(app.dispatcher, settings, pacer, app.limiter, app.metrics, poll_timeout)


def slack_wanted(settings: Settings) -> bool:
    """Slack is served with a bot token (the provider's own workspace), or with the app's OAuth
    credentials (any workspace that installs it), or both."""
    if settings.slack_client_id and not settings.slack_client_secret:
        raise ValueError("SLACK_CLIENT_SECRET is required with SLACK_CLIENT_ID")
    return bool(settings.slack_bot_token or settings.slack_client_id)


def slack_adapter(app: App) -> SlackAdapter:
    from bot.adapters.slack import SlackAdapter

    settings = app.settings
    pacer = Pacer("slack", app.limiter, per_chat=settings.slack_pace_per_channel, metrics=app.metrics)
    return SlackAdapter(app.dispatcher, settings, pacer, app.metrics)


def support_desk(settings: Settings, slack: SlackAdapter | None) -> SlackDesk | None:
    """The support desk in the provider's Slack channel, when one is configured (in the provider's
    own workspace, whose bot token is ``SLACK_BOT_TOKEN``)."""
    if slack is None or not settings.slack_support_channel or not settings.slack_bot_token:
        return None
    from bot.adapters.slack_desk import SlackDesk

    return SlackDesk(slack, settings.slack_support_channel, settings.default_language)


def shell(app: App, user_id: str, language: str | None) -> Shell:
    from bot.adapters.shell import Shell

    return Shell(app.dispatcher, user_id, language)


def web_app(app: App, notifier: Notifier | None = None) -> web.Application:
    """The web app of ``hostbot run``: pay pages with the card driver the settings pick, the admin
    API, and each platform whose token is set. Payment notices go to ``notifier`` (by default the app's)."""
    from bot.payments_web import Payments
    from bot.web import Site, make_web_app

    settings = app.settings
    if slack_wanted(settings) and not settings.slack_app_token and not settings.slack_signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required to receive Slack events over HTTP")
    payments = Payments(
        settings,
        app.db,
        card_checkout(settings),
        notifier or app.notifier,
        app.limiter,
        parse(settings.pay_page_rate_limit),
        app.actions,
        networks.networks_of(settings.trusted_proxies),
    )
    slack = slack_adapter(app) if slack_wanted(settings) else None
    desk = support_desk(settings, slack)
    if desk is not None:  # staff answer in the support channel's threads
        desk.listen(app.db, app.notifier)
    return make_web_app(
        Site(settings, app.db, app.metrics),
        payments,
        telegram_adapter(app) if settings.telegram_bot_token else None,
        slack,
        admin_api(app),
    )


def admin_api(app: App) -> Admin:
    """The admin API's routes (``bot.admin.ROUTES``) on the app's database and seller; payment
    notices and staff replies go through the app's outbox notifier, like the desk's and the pay pages'."""
    from bot import admin
    from bot.admin.app import Admin

    return Admin(
        app.db,
        app.seller,
        admin.ROUTES,
        app.notifier,
        app.notifier,
        app.settings.bank_reference,
        app.actions,
        app.dispatcher.drivers.files,
    )


# -- alerts -------------------------------------------------------------------------------------


def senders(telegram: TelegramAdapter | None = None, slack: SlackAdapter | None = None) -> dict[str, Sender]:
    """Senders by platform name: the shell's log, and each platform whose adapter is running.
    Identities on a platform without a sender fail (and end as dead letters)."""
    from bot.alerts.senders import SlackSender, TelegramSender

    found: dict[str, Sender] = {"shell": LogSender()}
    if telegram is not None:
        found["telegram"] = TelegramSender(telegram)
    if slack is not None:
        found["slack"] = SlackSender(slack)
    return found


def served_senders(app: App, served: web.Application) -> dict[str, Sender]:
    """Alerts through the adapters serving the chats of ``hostbot run``, sharing their pacing
    (only the configured platforms' adapters are looked up: the others are never imported)."""
    telegram: TelegramAdapter | None = None
    slack: SlackAdapter | None = None
    if app.settings.telegram_bot_token:
        from bot.adapters.telegram import TELEGRAM

        telegram = served.get(TELEGRAM)
    if slack_wanted(app.settings):
        from bot.adapters.slack import SLACK_KEY

        slack = served.get(SLACK_KEY)
    return senders(telegram, slack)


@asynccontextmanager
async def connected_senders(app: App) -> AsyncIterator[dict[str, Sender]]:
    """The senders of every configured platform (``TELEGRAM_BOT_TOKEN``, ``SLACK_BOT_TOKEN`` or
    ``SLACK_CLIENT_ID``) for a process that does not serve the platforms (``hostbot worker``):
    Telegram's bot is connected (getMe) but does not poll, so it never takes updates from
    ``hostbot run``. While the Bot API
    cannot be reached the worker runs anyway: Telegram alerts fail and are retried with backoff
    while the bot keeps trying to connect."""
    settings = app.settings
    telegram = telegram_adapter(app) if settings.telegram_bot_token else None
    slack = slack_adapter(app) if slack_wanted(settings) else None
    async with contextlib.AsyncExitStack() as stack:
        if telegram is not None:
            await stack.enter_async_context(
                supervised("telegram", telegram.application.initialize, telegram.stop, Health())
            )
        yield senders(telegram, slack)


def alert_sender(app: App, through: Mapping[str, Sender], sleep: Sleep = asyncio.sleep) -> AlertSender:
    """The outbox's sender for this process; the support desk posts through the Slack sender's
    adapter (the one that serves Slack in ``hostbot run``)."""
    from bot.alerts.dispatch import AlertSender
    from bot.alerts.senders import SlackSender

    slack = through.get("slack")
    desk: Desk | None = support_desk(app.settings, slack.adapter) if isinstance(slack, SlackSender) else None
    return AlertSender(app.db, app.settings, app.seller, through, sleep, desk=desk)


# -- mail ---------------------------------------------------------------------------------------


def mail_sender(app: App) -> MailSender:
    """The mail outbox's sender for this process, through the mail driver the settings pick."""
    from bot.mail.sender import MailSender

    return MailSender(app.db, app.settings, app.dispatcher.drivers.mail, app.dispatcher.documents)

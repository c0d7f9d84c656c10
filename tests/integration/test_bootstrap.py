"""The composition root: drivers picked by settings, plugged in by one line, and built nowhere else."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import bootstrap, demo
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.payments_web import PAYMENTS_KEY
from services.drivers.inventory import InventoryDriver
from services.drivers.log_mail import LogMailer
from services.drivers.stripe_checkout import StripeCheckout
from services.ports import ServerRef
from storage.uow import Database
from tests.support.chat import Chat

ROOT = Path(__file__).resolve().parents[2]
# What only the composition root may construct (besides every driver in services/drivers).
BUILT_AT_THE_ROOT = {
    "ActionRunner",
    "Admin",
    "AlertSender",
    "Dispatcher",
    "Limiter",
    "LogSender",
    "MailSender",
    "Metrics",
    "OutboxNotifier",
    "Pacer",
    "PayLinks",
    "Payments",
    "Renderer",
    "Seller",
    "Shell",
    "Site",
    "SlackAdapter",
    "SlackDesk",
    "SlackSender",
    "TelegramAdapter",
    "TelegramSender",
}


class RecordingServers(InventoryDriver):
    """A server driver that remembers what it was asked to cycle."""

    def __init__(self) -> None:
        self.cycled: list[ServerRef] = []

    async def reboot(self, server: ServerRef) -> str:
        self.cycled.append(server)
        return "running"


def test_the_defaults_need_no_configuration() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(bootstrap.mail_driver(settings), LogMailer)
    assert isinstance(bootstrap.server_driver(settings), InventoryDriver)
    assert bootstrap.card_checkout(settings) is None  # bank transfer only


async def test_stripe_when_a_key_is_set() -> None:
    settings = Settings(stripe_api_key="sk_test_x", stripe_webhook_secret="whsec_x", _env_file=None)  # type: ignore[call-arg]
    card = bootstrap.card_checkout(settings)
    assert isinstance(card, StripeCheckout)
    await card.close()


@pytest.mark.parametrize(
    ("setting", "pick"),
    [
        ("MAIL_DRIVER", bootstrap.mail_driver),
        ("SERVER_DRIVER", bootstrap.server_driver),
        ("DNS_DRIVER", bootstrap.dns_driver),
        ("REGISTRAR_DRIVER", bootstrap.registrar_driver),
    ],
)
def test_an_unknown_driver_stops_the_start(setting: str, pick: Callable[[Settings], object]) -> None:
    settings = Settings(_env_file=None, **{setting.lower(): "nosuch"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"{setting}='nosuch' is not a driver"):
        pick(settings)


async def test_a_new_driver_is_one_line_in_its_table(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registered under a name and picked by the setting: the dispatcher's handlers use it."""
    outbox = LogMailer()
    monkeypatch.setitem(bootstrap.MAILERS, "smtp", lambda settings: outbox)
    dispatcher = bootstrap.dispatcher(db, settings.model_copy(update={"mail_driver": "smtp"}))
    assert dispatcher.drivers.mail is outbox


async def test_a_server_driver_gets_a_plain_reference_not_a_row(
    db: Database, settings: Settings, mailer: LogMailer
) -> None:
    servers = RecordingServers()
    dispatcher = bootstrap.dispatcher(db, settings, mailer=mailer, servers=servers)
    async with db.uow() as uow:
        await demo.seed(uow, dispatcher.seller)
    alice = await Chat.linked(dispatcher, "alice", customer_id=1)
    reply = await alice.say("reboot web-1")
    assert "rebooted" in (await alice.press("Reboot", reply)).text
    [server] = servers.cycled
    assert type(server) is ServerRef and server.hostname == "web-1"


async def test_the_web_app_uses_the_card_driver_the_settings_pick(
    db: Database, settings: Settings, dispatcher: Dispatcher
) -> None:
    configured = settings.model_copy(
        update={"stripe_api_key": "sk_test_x", "stripe_webhook_secret": "whsec_x"}
    )
    card = bootstrap.web_app(bootstrap.assemble(configured, db, dispatcher))[PAYMENTS_KEY].card
    assert isinstance(card, StripeCheckout)
    await card.close()
    assert bootstrap.web_app(bootstrap.assemble(settings, db, dispatcher))[PAYMENTS_KEY].card is None


def _constructed(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func
            name = (
                callee.id
                if isinstance(callee, ast.Name)
                else callee.attr
                if isinstance(callee, ast.Attribute)
                else ""
            )
            if name in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(")
    return found


def _driver_classes() -> set[str]:
    names = set()
    for path in (ROOT / "services" / "drivers").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    return names


def test_nothing_but_bootstrap_builds_a_driver_or_a_part() -> None:
    names = BUILT_AT_THE_ROOT | _driver_classes()
    assert {"LogMailer", "SmtpMailer", "InventoryDriver", "StripeCheckout"} <= names
    sources = [
        p for folder in ("bot", "handlers", "services", "storage") for p in (ROOT / folder).rglob("*.py")
    ]
    # The composition root: bootstrap.py, and records_parts.py for the commands on records alone.
    root = {"bootstrap.py", "records_parts.py"}
    outside = [hit for path in sources if path.name not in root for hit in _constructed(path, names)]
    assert outside == []


def test_without_a_secret_key_one_is_created_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(secret_key_file=str(tmp_path / "hostbot.secret"), _env_file=None)  # type: ignore[call-arg]
    first = bootstrap.with_secret(settings)
    assert len(first.secret_key) >= 32
    assert (tmp_path / "hostbot.secret").stat().st_mode & 0o777 == 0o600
    assert bootstrap.with_secret(settings).secret_key == first.secret_key
    configured = settings.model_copy(update={"secret_key": "from-the-environment"})
    assert bootstrap.with_secret(configured).secret_key == "from-the-environment"

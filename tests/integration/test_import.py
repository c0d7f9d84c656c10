"""``hostbot import`` / ``export`` as services, on SQLite and PostgreSQL: the example file into an
empty database gives customers who can be linked and chat; a file is applied all or nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency
from sqlalchemy import func, select

from bot import bootstrap
from bot.config import Settings
from services.backoffice import bundle
from services.backoffice.bundle import Bundle
from storage.models import AuditEntry, Customer, Order, Server
from storage.uow import Database
from tests.support.chat import Chat

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "import.json"


def example() -> Bundle:
    return Bundle.model_validate_json(EXAMPLE.read_text(encoding="utf-8"))


async def _count(db: Database, model: type) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_example_gives_customers_who_chat(db: Database, settings: Settings) -> None:
    async with db.uow() as uow:
        report = await bundle.apply(uow, example())
    assert report.refused == [] and report.count("created") == len(report.lines) == 16
    async with db.uow() as uow:
        brasserie = await uow.session.scalar(
            select(Customer).where(Customer.external_id == "whmcs-client-1042")
        )
        assert brasserie is not None and brasserie.balance_minor == 2500
        server = await uow.session.scalar(select(Server).where(Server.external_id == "whmcs-server-7001"))
        assert server is not None and (server.node, server.vm_id) == ("pve-ams-1", 142)

    chat = await Chat.linked(bootstrap.dispatcher(db, settings), "gerant", brasserie.id)
    # The customer chose French: the bot answers in it.
    balance = (await chat.say("solde")).text
    assert format_currency(Decimal("25.00"), "EUR", locale="fr") in balance
    assert "Opening balance carried over from WHMCS" in balance
    orders = (await chat.say("commandes")).text
    # Product names as the file gives them in French; VPS M has none, so its one name is shown.
    assert "VPS M" in orders and "Support standard" in orders and "Standard support" not in orders
    assert "brasserie-du-port.example" in (await chat.say("domaines")).text


async def test_importing_twice_changes_nothing(db: Database) -> None:
    async with db.uow() as uow:
        await bundle.apply(uow, example())
    audit_rows = await _count(db, AuditEntry)
    async with db.uow() as uow:
        again = await bundle.apply(uow, example())
    assert {line.status for line in again.lines} == {"unchanged"}
    assert await _count(db, AuditEntry) == audit_rows
    async with db.uow() as uow:
        exported = await bundle.export(uow)
    async with db.uow() as uow:
        round_trip = await bundle.apply(uow, Bundle.model_validate(exported))
    assert {line.status for line in round_trip.lines} == {"unchanged"}
    async with db.uow() as uow:
        assert (await bundle.export(uow)) == exported


async def test_a_file_is_applied_all_or_nothing(db: Database) -> None:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["orders"][2]["plan"] = "vps-xl"
    document["domains"][1]["customer"] = {"external_id": "whmcs-client-9999"}
    async with db.uow() as uow:
        report = await bundle.apply(uow, Bundle.model_validate(document))
    refused = [(line.section, line.name, line.why) for line in report.refused]
    assert refused == [
        ("orders", "whmcs-service-5003", "plan: there is no plan 'vps-xl' priced in USD"),
        # The server of that order is refused too: its order is not there.
        ("servers", "whmcs-server-7002", "order: there is no order with external_id 'whmcs-service-5003'"),
        (
            "domains",
            "whmcs-domain-9002",
            "customer: there is no customer with external_id 'whmcs-client-9999'",
        ),
    ]
    assert report.count("created") == 13
    assert await _count(db, Customer) == await _count(db, Order) == 0


async def test_an_existing_record_is_updated_by_the_file(db: Database) -> None:
    async with db.uow() as uow:
        await bundle.apply(uow, example())
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["customers"][1]["name"] = "Maya Cohen Design LLC"
    async with db.uow() as uow:
        report = await bundle.apply(uow, Bundle.model_validate(document))
    changed = [(line.section, line.name) for line in report.lines if line.status != "unchanged"]
    assert changed == [("customers", "whmcs-client-1043")]
    assert report.lines[6].status == "updated"


async def test_a_dry_run_writes_nothing(db: Database) -> None:
    async with db.uow() as uow:
        report = await bundle.apply(uow, example(), commit=False)
    assert report.count("created") == 16 and report.refused == []
    assert await _count(db, Customer) == 0


async def test_names_per_language_round_trip(db: Database) -> None:
    """What the file says per language comes back out of the export as it went in."""
    async with db.uow() as uow:
        await bundle.apply(uow, example())
    async with db.uow() as uow:
        exported = await bundle.export(uow)
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section in ("plans", "addons", "metered_products"):
        given = {i["code"]: (i.get("names", {}), i.get("descriptions", {})) for i in document[section]}
        back = {i["code"]: (i["names"], i["descriptions"]) for i in exported[section]}
        assert back == given, section
    support = next(p for p in exported["plans"] if p["code"] == "support-standard")
    assert support["names"]["tr"] == "Standart destek" and support["descriptions"]["fr"].startswith("Réponse")

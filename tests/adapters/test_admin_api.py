"""The admin API over HTTP, on SQLite and PostgreSQL, starting from an empty database as a provider
does: a whole customer is created through it, then that customer talks to the bot; a staff reply
through the API reaches the customer's Telegram chat (the fake Bot API); a bank transfer pays an
invoice once."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_currency
from sqlalchemy import func, select

from bot import admin, bootstrap
from bot.adapters.shell import Shell
from bot.adapters.telegram import TELEGRAM
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from services import clock, linking, mail_outbox, paying
from services.backoffice import tokens
from storage.models import (
    Alert,
    ApiToken,
    AuditEntry,
    Customer,
    Invoice,
    LedgerEntry,
    MeteredResource,
    Payment,
    TicketMessage,
)
from storage.uow import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.admin_api import AdminApi, admin_api
from tests.support.chat import Chat
from tests.support.telegram_driver import Telegram, telegram_settings

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def empty(db: Database, settings: Settings) -> Dispatcher:
    """The bot on an empty database: no demo data."""
    return bootstrap.dispatcher(db, settings)


@pytest.fixture
async def api(empty: Dispatcher) -> AsyncIterator[AdminApi]:
    async with admin_api(empty) as running:
        yield running


@pytest.fixture
async def writer(api: AdminApi) -> str:
    return await api.token("sync", "read", "write")


@pytest.fixture
async def cashier(api: AdminApi) -> str:
    return await api.token("cashier", "read", "money")


TODAY = clock.today()
PLAN = {
    "code": "vps-m",
    "name": "VPS M",
    "kind": "server",
    "rank": 2,
    "prices": [{"currency": "EUR", "monthly_minor": 1990, "yearly_minor": 19900}],
}
ADDON = {"code": "backup", "name": "Daily backups", "prices": [{"currency": "EUR", "monthly_minor": 300}]}
CUSTOMER = {
    "name": "Boulangerie Martin",
    "email": "contact@boulangerie-martin.example",
    "emails": [{"purpose": "billing", "email": "compta@boulangerie-martin.example"}],
    "language": "en",
    "currency": "EUR",
    "country": "FR",
    "is_business": True,
    "vat_id": "FR40303265045",
    "address": {"line": "3 rue du Four", "postal_code": "69002", "city": "Lyon"},
    "timezone": "Europe/Paris",
}


def order(customer: str = "c-1") -> dict[str, Any]:
    return {
        "customer": {"external_id": customer},
        "plan": "vps-m",
        "billing_cycle": "monthly",
        "period_start": (TODAY - dt.timedelta(days=5)).isoformat(),
        "period_end": (TODAY + dt.timedelta(days=25)).isoformat(),
        "auto_renew": True,
        "addons": [{"code": "backup", "quantity": 2}],
    }


SERVER = {
    "customer": {"external_id": "c-1"},
    "order": {"external_id": "o-1"},
    "hostname": "Bakery-Web",
    "os": "Debian 12",
    "ip": "198.51.100.7",
    "netmask": "255.255.255.0",
    "gateway": "198.51.100.1",
    "mac": "52:54:00:AB:CD:EF",
    "node": "pve-1",
    "vm_id": 4242,
}


def domain(expires: dt.date) -> dict[str, Any]:
    return {
        "customer": {"external_id": "c-1"},
        "name": "boulangerie-martin.example",
        "expires_on": expires.isoformat(),
        "renewal_minor": 1200,
    }


async def _whole_customer(api: AdminApi, token: str) -> int:
    assert (await api.call("PUT", "/plans/vps-m", token, PLAN)).status == 201
    assert (await api.call("PUT", "/addons/backup", token, ADDON)).status == 201
    made = await api.call("PUT", "/customers/external/c-1", token, CUSTOMER)
    assert made.status == 201, made.body
    assert made.headers["Location"] == f"/admin/api/v1/customers/{made.body['id']}"
    assert (await api.call("PUT", "/orders/external/o-1", token, order())).status == 201
    server = await api.call("PUT", "/servers/external/s-1", token, SERVER)
    assert server.status == 201, server.body
    assert (server.body["hostname"], server.body["mac"]) == ("bakery-web", "52:54:00:ab:cd:ef")
    assert (server.body["node"], server.body["vm_id"]) == ("pve-1", 4242)
    expires = TODAY + dt.timedelta(days=40)
    assert (await api.call("PUT", "/domains/external/d-1", token, domain(expires))).status == 201
    return int(made.body["id"])


async def test_a_whole_customer_then_chat(api: AdminApi, writer: str, empty: Dispatcher) -> None:
    customer_id = await _whole_customer(api, writer)
    got = (await api.call("GET", f"/customers/{customer_id}", writer)).body
    assert got["external_id"] == "c-1" and got["balance_minor"] == 0
    assert got["emails"] == CUSTOMER["emails"] and got["address"] == CUSTOMER["address"]
    orders = (await api.call("GET", "/orders", writer, params={"customer": str(customer_id)})).body
    [one] = orders["items"]
    assert (one["price_minor"], one["currency"], one["addons"]) == (
        1990,
        "EUR",
        [{"code": "backup", "quantity": 2}],
    )
    assert one["customer"] == {"id": customer_id, "external_id": "c-1"}

    # The customer links a terminal with a code (as `hostbot link-code` gives one) and talks in the shell.
    async with empty.db.uow() as uow:
        code = await linking.issue_code(uow, customer_id, "shell")
    screen = io.StringIO()
    shell = Shell(empty, "lea", "en", out=screen)
    for line in (f"start {code}", "orders", f"order {one['id']}", "domains", "balance"):
        await shell.send(line)
    said = screen.getvalue()
    assert "now linked" in said and "VPS M" in said
    assert "bakery-web" in said and "198.51.100.7" in said
    assert "boulangerie-martin.example" in said
    assert format_currency(Decimal(0), "EUR", locale="en") in said


async def test_put_the_same_document_twice_changes_nothing(
    api: AdminApi, writer: str, empty: Dispatcher
) -> None:
    await _whole_customer(api, writer)
    again = {
        "/plans/vps-m": PLAN,
        "/addons/backup": ADDON,
        "/customers/external/c-1": CUSTOMER,
        "/orders/external/o-1": order(),
        "/servers/external/s-1": SERVER,
        "/domains/external/d-1": domain(TODAY + dt.timedelta(days=40)),
    }
    before = await _audit(empty.db)
    for path, document in again.items():
        first = await api.call("GET", path, writer)
        second = await api.call("PUT", path, writer, document)
        assert second.status == 200, (path, second.body)
        assert second.body == first.body, path
    after = await _audit(empty.db)
    written = [a for a in after[len(before) :] if not a.action.startswith("api.")]
    assert written == []  # no record changed, so no "*.updated" row
    calls = [a for a in after[len(before) :] if a.action.startswith("api.put")]
    assert [c.detail["change"] for c in calls] == ["unchanged"] * len(again)
    # A changed document is an update, of that record only.
    moved = domain(TODAY + dt.timedelta(days=400))
    changed = await api.call("PUT", "/domains/external/d-1", writer, moved)
    assert changed.status == 200 and changed.body["expires_on"] == moved["expires_on"]
    assert (await _audit(empty.db))[-2].action == "domain.updated"


async def test_a_token_without_money_cannot_adjust_a_balance(
    api: AdminApi, writer: str, cashier: str
) -> None:
    customer_id = await _whole_customer(api, writer)
    adjustment = {
        "customer": {"id": customer_id},
        "amount_minor": 5000,
        "currency": "EUR",
        "reason": "Goodwill after the outage",
    }
    refused = await api.call("POST", "/balance-adjustments", writer, adjustment)
    assert refused.status == 403
    assert refused.problem["required_scope"] == "money"
    assert (await api.call("GET", f"/customers/{customer_id}", writer)).body["balance_minor"] == 0

    no_reason = await api.call("POST", "/balance-adjustments", cashier, {**adjustment, "reason": ""})
    assert no_reason.status == 422
    assert [e["field"] for e in no_reason.problem["errors"]] == ["reason"]

    done = await api.call("PUT", "/balance-adjustments/external/goodwill-1", cashier, adjustment)
    assert done.status == 201 and done.body["balance_minor"] == 5000
    again = await api.call("PUT", "/balance-adjustments/external/goodwill-1", cashier, adjustment)
    assert again.status == 200 and again.body["balance_minor"] == 5000
    other = await api.call(
        "PUT", "/balance-adjustments/external/goodwill-1", cashier, {**adjustment, "amount_minor": 1}
    )
    assert other.status == 409
    entries = await _ledger(api)
    assert [(e.kind, e.amount_minor, e.memo) for e in entries] == [
        ("adjustment", 5000, "Goodwill after the outage")
    ]


async def test_every_call_is_in_the_audit_log(
    api: AdminApi, writer: str, cashier: str, empty: Dispatcher
) -> None:
    await _whole_customer(api, writer)
    await api.call("GET", "/customers", None)
    await api.call("GET", "/customers/999", writer)
    await api.call("POST", "/balance-adjustments", writer, {})
    await api.call("GET", "/nothing-here", writer)
    await api.call("POST", "/customers", writer, {"name": ""})
    await api.call("GET", "/customers/external/" + "x" * 100 + "/" + "y" * 100, writer)
    made = api.calls
    rows = [a for a in await _audit(empty.db) if a.action.startswith("api.")]
    assert len(rows) == made
    seen = [(r.detail["method"], r.detail["path"][:40], r.detail["status"], r.outcome) for r in rows[-6:]]
    assert seen == [
        ("GET", "/admin/api/v1/customers", 401, "denied"),
        ("GET", "/admin/api/v1/customers/999", 404, "missing"),
        ("POST", "/admin/api/v1/balance-adjustments", 403, "denied"),
        ("GET", "/admin/api/v1/nothing-here", 404, "missing"),
        ("POST", "/admin/api/v1/customers", 422, "refused"),
        ("GET", "/admin/api/v1/customers/external/xxxxxxx", 404, "missing"),
    ]
    assert {r.detail.get("staff") for r in rows[:-6]} == {"token:sync"}
    put_customer = next(r for r in rows if r.action == "api.put_customer_by_external_id")
    assert put_customer.customer_id is not None and put_customer.detail["change"] == "created"
    # The API reads the same log: every call so far (its own row is written after it answers).
    listed = await api.call("GET", "/audit", writer, params={"action": "api.", "limit": "500"})
    assert len(listed.body["items"]) == made


async def test_problem_details(api: AdminApi, writer: str, empty: Dispatcher) -> None:
    customer_id = await _whole_customer(api, writer)
    none = await api.call("GET", "/customers", None)
    assert none.status == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    assert none.problem["type"] == "about:blank" and none.problem["title"] == "Unauthorized"
    assert (await api.call("GET", "/customers", "hbt_" + "x" * 43)).problem["status"] == 401
    assert (await api.call("GET", "/customers", None, headers={"Authorization": "Basic eDp5"})).status == 401

    missing = await api.call("GET", "/customers/424242", writer)
    assert missing.status == 404 and "424242" in missing.problem["detail"]
    assert (await api.call("GET", "/customers/external/nobody", writer)).problem["status"] == 404
    assert (await api.call("PATCH", f"/customers/{customer_id}", writer, {})).headers["Allow"] == "GET, PUT"

    bad = await api.call(
        "POST",
        "/customers",
        writer,
        {
            **CUSTOMER,
            "email": "not-an-address",
            "address": {"city": "x" * 101},
            "currency": "EURO",
            "colour": 1,
        },
    )
    assert bad.status == 422 and bad.problem["type"] == "urn:hostbot:problem:validation"
    fields = {e["field"]: e["pointer"] for e in bad.problem["errors"]}
    assert fields == {
        "email": "#/email",
        "address.city": "#/address/city",
        "currency": "#/currency",
        "colour": "#/colour",
    }

    vat = await api.call("POST", "/customers", writer, {**CUSTOMER, "vat_id": "FR00000000000"})
    assert [e["field"] for e in vat.problem["errors"]] == ["vat_id"]
    unknown_plan = await api.call("POST", "/orders", writer, {**order(), "plan": "vps-xl"})
    assert unknown_plan.status == 422 and unknown_plan.problem["errors"][0]["field"] == "plan"
    no_addon = await api.call("POST", "/orders", writer, {**order(), "addons": [{"code": "nope"}]})
    assert no_addon.problem["errors"][0]["pointer"] == "#/addons/0/code"
    query = await api.call("GET", "/customers", writer, params={"limit": "0"})
    assert query.status == 422 and query.problem["errors"][0]["parameter"] == "limit"
    path = await api.call("GET", "/customers/abc", writer)
    assert path.status == 422 and path.problem["errors"][0] == {
        "parameter": "id",
        "in": "path",
        "detail": path.problem["errors"][0]["detail"],
    }

    taken = await api.call("POST", "/customers", writer, {**CUSTOMER, "external_id": "c-1"})
    assert taken.status == 409 and str(customer_id) in taken.problem["detail"]
    mismatch = await api.call("PUT", "/customers/external/c-2", writer, {**CUSTOMER, "external_id": "c-3"})
    assert mismatch.problem["errors"][0]["field"] == "external_id"
    assert (
        await api.call("POST", "/customers", writer, data=b"{", headers={"Content-Type": "application/json"})
    ).status == 400
    assert (
        await api.call("POST", "/customers", writer, data=b"{}", headers={"Content-Type": "text/plain"})
    ).status == 415
    async with empty.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_two_syncs_putting_one_external_id_at_once(
    api: AdminApi, writer: str, empty: Dispatcher
) -> None:
    """Whichever comes second finds the first (200) or, racing it, is told to try again (409): never
    two customers, never a 500."""
    answers = await asyncio.gather(
        *(
            api.call("PUT", "/customers/external/race", writer, {**CUSTOMER, "name": f"Racer {n}"})
            for n in range(2)
        )
    )
    assert sorted(a.status for a in answers) in ([200, 201], [201, 409])
    async with empty.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_revoked_tokens_are_refused(api: AdminApi, empty: Dispatcher) -> None:
    token = await api.token("old", "read")
    assert (await api.call("GET", "/customers", token)).status == 200
    async with empty.db.uow() as uow:
        stored = await uow.session.scalar(select(ApiToken))
        assert stored is not None and token not in (stored.token_hash, stored.name)
    async with empty.db.uow() as uow:
        await tokens.revoke(uow, "old")
    refused = await api.call("GET", "/customers", token)
    assert refused.status == 401 and "revoked" in refused.problem["detail"]


async def test_lists_are_paged(api: AdminApi, writer: str) -> None:
    for n in range(5):
        await api.call(
            "POST", "/customers", writer, {**CUSTOMER, "name": f"Customer {n}", "external_id": f"p-{n}"}
        )
    seen, url, pages = [], "/customers?limit=2", 0
    while url:
        page = await api.call("GET", url, writer)
        seen += [c["external_id"] for c in page.body["items"]]
        url, pages = page.body["next"], pages + 1
    assert seen == [f"p-{n}" for n in range(5)] and pages == 3


async def test_openapi_document(api: AdminApi) -> None:
    answer = await api.call("GET", "/openapi.json", None)
    doc = answer.body
    assert answer.status == 200 and doc["openapi"] == "3.1.0"
    for route in admin.ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.operation_id and operation["x-scope"] == route.scope
        assert "401" in operation["responses"] and "403" in operation["responses"]
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(set(operation_ids)) == len(operation_ids) == len(admin.ROUTES)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    schemas = doc["components"]["schemas"]
    assert all(ref.removeprefix("#/components/schemas/") in schemas for ref in refs(doc))
    create = doc["paths"]["/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    customer = schemas[create["$ref"].rsplit("/", 1)[1]]
    assert {"name", "email", "currency", "country"} <= set(customer["required"])
    assert customer["additionalProperties"] is False


async def test_catalogue_names_per_language_round_trip(api: AdminApi, writer: str, empty: Dispatcher) -> None:
    """The provider names what it sells in each language; the API gives back what it was given, the
    OpenAPI document describes it, and a customer reads the name in their language."""
    customer_id = await _whole_customer(api, writer)
    names = {
        "en": "Daily backups",
        "fr": "Sauvegardes quotidiennes",
        "id": "Cadangan harian",
        "tr": "Günlük yedek",
    }
    about = {"fr": "Une copie chaque nuit, gardée 30 jours", "tr": "Her gece bir kopya, 30 gün saklanır"}
    worded = {**ADDON, "names": names, "descriptions": about}
    put = await api.call("PUT", "/addons/backup", writer, worded)
    assert put.status == 200, put.body
    got = (await api.call("GET", "/addons/backup", writer)).body
    assert (got["names"], got["descriptions"]) == (names, about)
    assert (await api.call("PUT", "/addons/backup", writer, worded)).body == got  # unchanged
    plan = {**PLAN, "names": {"tr": "Sanal sunucu M"}}
    assert (await api.call("PUT", "/plans/vps-m", writer, plan)).status == 200
    assert (await api.call("GET", "/plans/vps-m", writer)).body["names"] == {"tr": "Sanal sunucu M"}
    wrong = await api.call("PUT", "/plans/vps-m", writer, {**PLAN, "names": {"de": "Virtueller Server"}})
    assert wrong.status == 422
    schemas = (await api.call("GET", "/openapi.json", None)).body["components"]["schemas"]
    addon_schema = next(v for k, v in schemas.items() if k.startswith("AddonDoc"))
    assert {"names", "descriptions"} <= set(addon_schema["properties"])

    lea = await Chat.linked(empty, "lea", customer_id)
    await lea.say("dil tr")
    listed = (await lea.say("orders")).text
    assert "Sanal sunucu M" in listed and "VPS M" not in listed


async def test_metered_resources_as_a_reseller_panel_syncs_them(
    api: AdminApi, writer: str, empty: Dispatcher
) -> None:
    await _whole_customer(api, writer)
    for code, rate in (("hosting-s", "0.41"), ("hosting-m", "0.82")):
        product = {
            "code": code,
            "name": code,
            "kind": "account",
            "prices": [{"currency": "EUR", "hourly_minor": rate}],
        }
        assert (await api.call("PUT", f"/metered-products/{code}", writer, product)).status == 201
    account = {"customer": {"external_id": "c-1"}, "name": "shop.example", "product": "hosting-s"}
    made = await api.call("PUT", "/metered-resources/external/acc-9", writer, account)
    assert made.status == 201 and made.body["kind"] == "account"
    assert (await api.call("PUT", "/metered-resources/external/acc-9", writer, account)).status == 200
    upgraded = await api.call(
        "PUT", "/metered-resources/external/acc-9", writer, {**account, "product": "hosting-m"}
    )
    assert upgraded.status == 200 and upgraded.body["product"] == "hosting-m"
    gone = await api.call("DELETE", "/metered-resources/external/acc-9", writer)
    assert gone.status == 200 and gone.body["deleted_at"] is not None
    assert (await api.call("DELETE", "/metered-resources/external/acc-9", writer)).body == gone.body
    assert (await api.call("PUT", "/metered-resources/external/acc-9", writer, account)).status == 409
    listed = await api.call("GET", "/metered-resources", writer, params={"deleted": "true"})
    assert [r["external_id"] for r in listed.body["items"]] == ["acc-9"]
    assert (await api.call("GET", "/metered-resources", writer)).body["items"] == []
    actions = [a.action for a in await _audit(empty.db) if a.action.startswith("meter.")]
    assert actions == ["meter.add", "meter.change", "meter.remove"]
    async with empty.db.uow() as uow:
        row = await uow.session.scalar(select(MeteredResource))
        assert row is not None and row.product.code == "hosting-m"


async def test_invoices_cancel_and_credit_notes(
    api: AdminApi, writer: str, cashier: str, empty: Dispatcher
) -> None:
    customer_id = await _whole_customer(api, writer)
    document = {
        "customer": {"external_id": "c-1"},
        "currency": "EUR",
        "lines": [
            {"description": "Migration of the old site", "unit_minor": 15000},
            {"description": "Discount", "unit_minor": -5000},
        ],
    }
    assert (await api.call("POST", "/invoices", writer, document)).status == 403
    issued = await api.call("PUT", "/invoices/external/inv-1", cashier, document)
    assert issued.status == 201, issued.body
    invoice = issued.body
    # A French business with a valid VAT id, billed from the Netherlands: reverse charge.
    assert (invoice["subtotal_minor"], invoice["vat_minor"], invoice["total_minor"]) == (10000, 0, 10000)
    assert invoice["reverse_charge"] and invoice["status"] == "unpaid"
    assert (await api.call("PUT", "/invoices/external/inv-1", cashier, document)).body == invoice
    changed = {**document, "lines": document["lines"][:1]}
    assert (await api.call("PUT", "/invoices/external/inv-1", cashier, changed)).status == 409

    lea = await Chat.linked(empty, "lea", customer_id)
    assert invoice["number"] in (await lea.say("invoices")).text

    cancelled = await api.call("POST", f"/invoices/{invoice['id']}/cancel", cashier, {"reason": "Sent twice"})
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert (
        await api.call("POST", f"/invoices/{invoice['id']}/cancel", cashier, {"reason": "again"})
    ).status == 409
    assert (
        await api.call("POST", f"/invoices/{invoice['id']}/credit-notes", cashier, {"reason": "x"})
    ).status == 409

    paid = await api.call("POST", "/invoices", cashier, changed)
    async with empty.db.uow() as uow:
        row = await uow.session.get(Invoice, paid.body["id"])
        assert row is not None
        await paying.mark_paid(uow, row, "bank", None)
        await uow.commit()
    credit = await api.call(
        "POST", f"/invoices/{row.id}/credit-notes", cashier, {"reason": "Outage", "subtotal_minor": 4000}
    )
    assert credit.status == 201, credit.body
    assert (credit.body["kind"], credit.body["status"], credit.body["total_minor"]) == (
        "credit",
        "credited",
        -4000,
    )
    assert credit.body["credits_invoice"] == row.id
    too_much = await api.call(
        "POST", f"/invoices/{row.id}/credit-notes", cashier, {"reason": "More", "subtotal_minor": 11001}
    )
    assert too_much.status == 422 and too_much.problem["errors"][0]["field"] == "subtotal_minor"
    rest = await api.call("POST", f"/invoices/{row.id}/credit-notes", cashier, {"reason": "The rest"})
    assert rest.body["total_minor"] == -11000
    assert (await api.call("GET", f"/customers/{customer_id}", writer)).body["balance_minor"] == 15000
    shown = await lea.say(f"invoice {credit.body['number']}")
    assert f"Credit note {credit.body['number']} — credited to the balance" in shown.text
    pdf = await lea.say(f"invoice {credit.body['number']} pdf")
    assert pdf.attachments[0].data.startswith(b"%PDF")


async def test_chat_links_are_listed_and_revoked(api: AdminApi, writer: str, empty: Dispatcher) -> None:
    customer_id = await _whole_customer(api, writer)
    lea = await Chat.linked(empty, "lea", customer_id)
    links = await api.call("GET", "/chat-links", writer, params={"customer": str(customer_id)})
    [link] = links.body["items"]
    assert (link["platform"], link["user_id"], link["role"]) == ("test", "lea", "owner")
    assert (await api.call("DELETE", f"/chat-links/{link['id']}", writer)).status == 204
    assert "not linked" in (await lea.say("balance")).text
    assert (await api.call("DELETE", f"/chat-links/{link['id']}", writer)).status == 404
    revoked = [a for a in await _audit(empty.db) if a.action == "chat_link.revoke"]
    assert [(r.customer_id, r.detail["staff"]) for r in revoked] == [(customer_id, "token:sync")]


async def _audit(db: Database) -> list[AuditEntry]:
    async with db.uow() as uow:
        return list((await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def _ledger(api: AdminApi) -> list[LedgerEntry]:
    async with api.dispatcher.db.uow() as uow:
        return list((await uow.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))).all())


# -- tickets: the desk for providers without Slack ------------------------------------------------

CUSTOMER_ON_TELEGRAM = 702


@pytest.fixture
async def on_telegram(db: Database, settings: Settings) -> AsyncIterator[tuple[AdminApi, Telegram]]:
    """The admin API on the web app that also serves Telegram (webhook) against the fake Bot API."""
    fake = FakeTelegramAPI()
    await fake.start()
    chat = bootstrap.dispatcher(db, telegram_settings(settings, fake.url, webhook=True))
    async with admin_api(chat) as running:
        yield running, Telegram(fake, running.web_app[TELEGRAM], running.client)
    await fake.close()


async def _ticket_on_telegram(api: AdminApi, telegram: Telegram, token: str) -> tuple[int, int]:
    """A French-speaking customer made through the API, linked on Telegram, opens a ticket there."""
    customer_id = await _whole_customer(api, token)
    french = {**CUSTOMER, "language": "fr"}
    assert (await api.call("PUT", "/customers/external/c-1", token, french)).status == 200
    await telegram.link(api.dispatcher.db, CUSTOMER_ON_TELEGRAM, customer_id)
    for answer in ["/newticket", "technical", "high", "1", "Site down", "The shop answers 502."]:
        await telegram.say(CUSTOMER_ON_TELEGRAM, answer, language="fr")
    listed = await api.call("GET", "/tickets", token, params={"status": "open", "unread": "true"})
    [ticket] = listed.body["items"]
    assert (ticket["customer"], ticket["subject"], ticket["unread"]) == (
        {"id": customer_id, "external_id": "c-1"},
        "Site down",
        1,
    )
    return int(ticket["id"]), customer_id


async def _send_alerts(api: AdminApi) -> int:
    sender = bootstrap.alert_sender(api.app, bootstrap.served_senders(api.web_app))
    return await sender.run_pass()


async def test_a_staff_reply_reaches_the_customer_on_telegram(
    on_telegram: tuple[AdminApi, Telegram],
) -> None:
    api, telegram = on_telegram
    writer = await api.token("desk", "read", "write")
    reader = await api.token("viewer", "read")
    ticket_id, customer_id = await _ticket_on_telegram(api, telegram, writer)
    opened = (await api.call("GET", f"/tickets/{ticket_id}", writer)).body
    assert [(m["author"], m["body"]) for m in opened["messages"]] == [("customer", "The shop answers 502.")]
    assert opened["order"].startswith("#") and opened["department"] == "technical"

    reply = {"body": "Restarted the web server; it answers again.", "external_id": "r-1"}
    assert (await api.call("POST", f"/tickets/{ticket_id}/replies", reader, reply)).status == 403
    mark = len(telegram.fake.calls)
    sent = await api.call("POST", f"/tickets/{ticket_id}/replies", writer, reply)
    assert sent.status == 201 and sent.headers["Location"] == f"/admin/api/v1/tickets/{ticket_id}"
    assert (sent.body["unread"], sent.body["messages"][-1]["staff"]) == (0, "token:desk")
    again = await api.call("POST", f"/tickets/{ticket_id}/replies", writer, reply)
    assert again.status == 200 and again.body == sent.body  # the same external id adds nothing
    other = await api.call("POST", f"/tickets/{ticket_id}/replies", writer, {**reply, "body": "Other"})
    assert other.status == 409
    assert (await api.call("POST", "/tickets/999/replies", writer, {"body": "x"})).status == 404
    blank = await api.call("POST", f"/tickets/{ticket_id}/replies", writer, {"body": "  "})
    assert [e["field"] for e in blank.problem["errors"]] == ["body"]

    # The customer reads it on Telegram, in French, as from the Slack desk; and it is copied by mail.
    assert await _send_alerts(api) == 1
    [told] = telegram.fake.sent(CUSTOMER_ON_TELEGRAM, since=mark)
    with use_locale("fr"):
        head = _("Support replied to ticket #{id} ({subject}):").format(id=ticket_id, subject="Site down")
    assert head != f"Support replied to ticket #{ticket_id} (Site down):"
    assert told.params["text"].startswith(f"{head}\nRestarted the web server; it answers again.")
    async with api.dispatcher.db.uow() as uow:
        [staff] = (
            await uow.session.scalars(select(TicketMessage).where(TicketMessage.author == "staff"))
        ).all()
        copy = await mail_outbox.by_key(uow, f"ticket_reply:{staff.id}")
    assert (staff.staff, staff.is_read) == ("token:desk", False)
    assert copy is not None and copy.params["subject"] == "Site down"

    assigned = await api.call("POST", f"/tickets/{ticket_id}/assign", writer, {"assignee": "marie"})
    assert assigned.status == 200 and assigned.body["assignee"] == "marie"
    mark = len(telegram.fake.calls)
    closed = await api.call("POST", f"/tickets/{ticket_id}/close", writer)
    assert closed.status == 200 and closed.body["status"] == "closed"
    assert (await api.call("POST", f"/tickets/{ticket_id}/close", writer)).status == 409
    assert await _send_alerts(api) == 1
    [closing] = telegram.fake.sent(CUSTOMER_ON_TELEGRAM, since=mark)
    with use_locale("fr"):
        said = _("Support closed ticket #{id} ({subject}).").format(id=ticket_id, subject="Site down")
    assert closing.params["text"].startswith(said) and said.startswith("Le support")
    assert (await api.call("GET", "/tickets", writer, params={"status": "open"})).body["items"] == []

    # Every call is audited, and the desk's own rows name the token's holder under the customer.
    rows = await _audit(api.dispatcher.db)
    assert len([r for r in rows if r.action.startswith("api.")]) == api.calls
    desk = [(r.action, r.customer_id, r.detail.get("staff")) for r in rows if r.action.startswith("ticket.")]
    assert desk == [
        ("ticket.create", customer_id, None),
        ("ticket.staff_reply", customer_id, "token:desk"),
        ("ticket.assign", customer_id, "token:desk"),
        ("ticket.staff_close", customer_id, "token:desk"),
    ]
    replies = [r for r in rows if r.action == "api.reply_ticket"]
    assert [(r.detail["status"], r.detail.get("change")) for r in replies] == [
        (403, None),
        (201, "created"),
        (200, "unchanged"),
        (409, None),
        (404, None),
        (422, None),
    ]


async def test_tickets_are_listed_a_page_at_a_time(
    on_telegram: tuple[AdminApi, Telegram],
) -> None:
    api, telegram = on_telegram
    writer = await api.token("desk", "read", "write")
    first, _customer = await _ticket_on_telegram(api, telegram, writer)
    for subject in ("Second", "Third"):
        for answer in ["/newticket", "technical", "normal", "1", subject, "Details."]:
            await telegram.say(CUSTOMER_ON_TELEGRAM, answer, language="fr")
    read = await api.call("POST", f"/tickets/{first}/read", writer)
    assert read.status == 200 and read.body["unread"] == 0
    unread = await api.call("GET", "/tickets", writer, params={"unread": "true"})
    assert [t["subject"] for t in unread.body["items"]] == ["Third", "Second"]
    seen, url = [], "/tickets?limit=2"
    while url:
        page = await api.call("GET", url, writer)
        seen += [t["subject"] for t in page.body["items"]]
        url = page.body["next"]
    assert seen == ["Third", "Second", "Site down"]  # most recently updated first; reading is no update
    bad = await api.call("GET", "/tickets", writer, params={"status": "pending"})
    assert bad.status == 422 and bad.problem["errors"][0]["parameter"] == "status"


# -- payments: a bank transfer the staff record ---------------------------------------------------


async def test_a_bank_transfer_pays_the_invoice_once(
    api: AdminApi, writer: str, cashier: str, empty: Dispatcher
) -> None:
    customer_id = await _whole_customer(api, writer)
    lea = await Chat.linked(empty, "lea", customer_id)
    document = {
        "customer": {"external_id": "c-1"},
        "currency": "EUR",
        "lines": [{"description": "Migration of the old site", "unit_minor": 10000}],
    }
    invoice = (await api.call("POST", "/invoices", cashier, document)).body
    transfer = {
        "bank_transaction_id": "NL91ABNA0417164300/TX-0001",
        "amount_minor": 10000,
        "currency": "EUR",
        "booked_on": TODAY.isoformat(),
        "reference": f"Payment {invoice['number']} thanks",
        "payer": "BOULANGERIE MARTIN",
    }
    refused = await api.call("POST", "/payments/bank-transfers", writer, transfer)
    assert refused.status == 403 and refused.problem["required_scope"] == "money"
    assert await _payments(empty.db) == []

    paid = await api.call("POST", "/payments/bank-transfers", cashier, transfer)
    assert paid.status == 201, paid.body
    assert (paid.body["status"], paid.body["invoice"]["id"], paid.body["bank_transaction_id"]) == (
        "paid",
        invoice["id"],
        "NL91ABNA0417164300/TX-0001",
    )
    assert paid.headers["Location"] == f"/admin/api/v1/payments/{paid.body['id']}"
    assert (await api.call("GET", f"/invoices/{invoice['id']}", writer)).body["status"] == "paid"
    again = await api.call("POST", "/payments/bank-transfers", cashier, transfer)
    assert again.status == 200 and again.body == paid.body
    assert (
        await api.call("POST", "/payments/bank-transfers", cashier, {**transfer, "amount_minor": 1})
    ).status == 409
    assert [(p.method, p.amount_minor) for p in await _payments(empty.db)] == [("bank", 10000)]
    ledger = [(e.kind, e.amount_minor) for e in await _ledger(api)]
    assert ledger == [("payment", 10000), ("charge", -10000)]
    async with empty.db.uow() as uow:
        notices = (await uow.session.scalars(select(Alert).where(Alert.kind == "invoice_paid"))).all()
    assert [(n.key, n.customer_id) for n in notices] == [(f"paid:{invoice['id']}", customer_id)]
    assert "paid" in (await lea.say(f"invoice {invoice['number']}")).text.lower()

    # Another transfer naming the paid invoice goes to the balance; an unmatched one changes nothing.
    second = {**transfer, "bank_transaction_id": "TX-0002", "amount_minor": 2500}
    credited = await api.call(
        "POST", "/payments/bank-transfers", cashier, {**second, "invoice": {"id": invoice["id"]}}
    )
    assert credited.status == 201 and credited.body["status"] == "credited"
    assert (await api.call("GET", f"/customers/{customer_id}", writer)).body["balance_minor"] == 2500
    lost = {**transfer, "bank_transaction_id": "TX-0003", "reference": "thanks", "payer": "Someone else"}
    unmatched = await api.call("POST", "/payments/bank-transfers", cashier, lost)
    assert unmatched.status == 422 and unmatched.problem["errors"][0]["field"] == "reference"
    listed = await api.call("GET", "/payments", writer, params={"customer": str(customer_id)})
    assert [(p["status"], p["amount_minor"]) for p in listed.body["items"]] == [
        ("paid", 10000),
        ("credited", 2500),
    ]
    audited = [(a.action, a.customer_id, a.detail.get("staff")) for a in await _audit(empty.db)]
    assert ("payment.bank", customer_id, "token:cashier") in audited
    calls = [a for a in await _audit(empty.db) if a.action == "api.record_bank_transfer"]
    assert [c.detail["status"] for c in calls] == [403, 201, 200, 409, 201, 422]


async def _payments(db: Database) -> list[Payment]:
    async with db.uow() as uow:
        return list((await uow.session.scalars(select(Payment).order_by(Payment.id))).all())

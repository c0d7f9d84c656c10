"""The admin API over HTTP, on SQLite and PostgreSQL, starting from an empty database as a provider
does: a whole customer is created through it, then that customer talks to the bot."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_currency
from sqlalchemy import func, select

from bot import admin, bootstrap
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock, paying
from services.backoffice import tokens
from storage.models import ApiToken, AuditEntry, Customer, Invoice, LedgerEntry, MeteredResource
from storage.uow import Database
from tests.support.admin_api import AdminApi, admin_api
from tests.support.chat import Chat


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

    lea = await Chat.linked(empty, "lea", customer_id)
    orders_text = (await lea.say("orders")).text
    assert "VPS M" in orders_text
    detail = (await lea.say(f"order {one['id']}")).text
    assert "bakery-web" in detail and "198.51.100.7" in detail
    assert "boulangerie-martin.example" in (await lea.say("domains")).text
    assert format_currency(Decimal(0), "EUR", locale="en") in (await lea.say("balance")).text


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

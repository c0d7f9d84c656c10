"""A fake Stripe on 127.0.0.1: the Checkout Sessions API, a hosted checkout page that "pays", and
webhook events signed the way Stripe signs them (``t=<unix time>,v1=<HMAC-SHA256 of "t.body">``).

The real ``stripe`` SDK talks to it through ``STRIPE_API_BASE``; every test that needs Stripe uses it.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "sk_test_hostbot"
WEBHOOK_SECRET = "whsec_hostbot_test"


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, session: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": session},
    }


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, str]] = []
        self.webhook_url = ""
        self.delivered: list[tuple[dict[str, Any], int]] = []
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create)
        app.router.add_get("/checkout/{id}", self._page)
        app.router.add_post("/checkout/{id}/pay", self._pay)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    async def __aenter__(self) -> FakeStripe:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def session(self, invoice_id: int, amount: int, currency: str = "eur", **extra: Any) -> dict[str, Any]:
        """A checkout session as Stripe would describe it in an event."""
        sid = f"cs_test_{secrets.token_hex(12)}"
        found = {
            "id": sid,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": str(invoice_id),
            "metadata": {"invoice_id": str(invoice_id)},
            "url": f"{self.base}/checkout/{sid}",
        }
        found.update(extra)
        self.sessions[sid] = found
        return found

    async def send(self, payload: dict[str, Any], signature: str | None = None) -> tuple[int, str]:
        """Deliver one event to the webhook, signed unless a signature is given."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature or sign(body)}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook_url, data=body, headers=headers) as response,
        ):
            text = await response.text()
            self.delivered.append((payload, response.status))
            return response.status, text

    async def _create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=401)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.created.append(form)
        found = self.session(
            int(form["metadata[invoice_id]"]),
            int(form["line_items[0][price_data][unit_amount]"]),
            form["line_items[0][price_data][currency]"],
            client_reference_id=form["client_reference_id"],
            metadata={k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            success_url=form["success_url"],
            cancel_url=form["cancel_url"],
            locale=form.get("locale", "auto"),
            title=form["line_items[0][price_data][product_data][name]"],
        )
        return web.json_response(found)

    async def _page(self, request: web.Request) -> web.Response:
        found = self.sessions[request.match_info["id"]]
        amount = f"{found['amount_total']} {found['currency'].upper()} (minor units)"
        body = (
            "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>"
            f"<h1>{html.escape(found['title'])}</h1><p id=amount>{html.escape(amount)}</p>"
            f"<form method=post action=/checkout/{found['id']}/pay><button>Pay</button></form>"
            "</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _pay(self, request: web.Request) -> web.Response:
        """The card is charged: complete the session, fire the signed webhook, go to success_url."""
        found = self.sessions[request.match_info["id"]]
        found.update(status="complete", payment_status="paid")
        await self.send(event("checkout.session.completed", found))
        raise web.HTTPSeeOther(found["success_url"])

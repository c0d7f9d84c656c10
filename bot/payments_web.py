"""The pay page and the payment webhook, mounted on the one aiohttp application.

``/pay/<token>`` shows the one invoice the token opens (no login), in the customer's language or
the one picked on the page, with bank-transfer instructions and, when Stripe is configured, a card
button that goes through Stripe Checkout. An account that allows only some networks
(``services.networks``) has its pages refused to anyone else; the client's address is the peer's,
or X-Forwarded-For's when the peer is a trusted proxy (``TRUSTED_PROXIES``). ``/stripe/webhook`` takes Stripe's signed events; when an
money lands the customer is told in chat through the ``Notifier`` port (the alerts outbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from babel import Locale
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from limits import RateLimitItem

from bot.config import Settings
from bot.core import formatting
from bot.core.i18n import LANGUAGES, accepted, current, normalize, use_locale
from bot.core.i18n import gettext as _
from bot.core.limiting import Limiter
from services import audit, invoices, networks, payments, pending_actions
from services.action_runner import ActionRunner
from services.audit import Actor
from services.ports import CardCheckout, InvalidEvent, Notifier
from services.records import Customer, Database, Invoice

log = logging.getLogger("hostbot.pay")

TOKEN = "{token:[A-Za-z0-9_-]{20,64}}"
# The token is in the URL: never send it on as a Referer (to Stripe or anyone), never cache the page.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}

HSTS = "max-age=31536000"  # a year; not includeSubDomains: other hosts of the domain are not ours

templates = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["_"] = _


@dataclass
class Payments:
    """What the pay routes need: the database, the card driver (None: bank transfer only), the
    notifier, the rate limiter of the pages, the runner that carries out what a payment decided
    for outside systems, and the proxies whose X-Forwarded-For is believed (``bot.bootstrap``
    builds them)."""

    settings: Settings
    db: Database
    card: CardCheckout | None
    notifier: Notifier
    limiter: Limiter
    limit: RateLimitItem
    actions: ActionRunner
    trusted_proxies: tuple[networks.Network, ...] = ()


PAYMENTS_KEY = web.AppKey("payments", Payments)


def setup(web_app: web.Application, payments_: Payments) -> None:
    """Mount the pay routes; the card driver is closed with the app."""
    settings = payments_.settings
    web_app[PAYMENTS_KEY] = payments_
    web_app.router.add_get("/pay/thanks", thanks)
    web_app.router.add_get(f"/pay/{TOKEN}", pay_page)
    web_app.router.add_post(f"/pay/{TOKEN}/card", pay_by_card)
    web_app.router.add_get("/pay/{anything:.*}", not_a_link)
    web_app.router.add_post("/stripe/webhook", stripe_webhook)
    if settings.public_base_url.startswith("https://"):
        web_app.on_response_prepare.append(_strict_transport)

    async def close(_: web.Application) -> None:
        if payments_.card is not None:
            await payments_.card.close()

    web_app.on_cleanup.append(close)


async def _strict_transport(request: web.Request, response: web.StreamResponse) -> None:
    """The pay pages are served over HTTPS (``PUBLIC_BASE_URL``, usually behind a proxy that ends
    TLS): browsers must never reach them, or the token in their URL, over plain HTTP."""
    if request.path.startswith("/pay/"):
        response.headers["Strict-Transport-Security"] = HSTS


def _page(name: str, status: int = 200, **values: Any) -> web.Response:
    lang = current()
    body = templates.get_template(name).render(
        lang=lang,
        languages=[(code, Locale.parse(code).get_display_name(code)) for code in LANGUAGES],
        **values,
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


def _language(request: web.Request, customer: Customer | None, default: str) -> str:
    """Picked on the page, else the account's language, else the browser's, else the default."""
    return (
        normalize(request.query.get("lang"))
        or (customer.language if customer else None)
        or accepted(request.headers.get("Accept-Language", ""))
        or default
    )


def _client(request: web.Request) -> str | None:
    """The address the request comes from (behind the trusted proxies)."""
    trusted = request.app[PAYMENTS_KEY].trusted_proxies
    return networks.client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)


async def _allowed(request: web.Request) -> bool:
    payments_ = request.app[PAYMENTS_KEY]
    return await payments_.limiter.hit(payments_.limit, f"pay:{_client(request)}")


@dataclass(frozen=True)
class _Opened:
    """What a live token opens; ``reachable``: the request comes from a network the account allows."""

    invoice: Invoice
    customer: Customer
    reachable: bool


async def _open(request: web.Request) -> _Opened | None:
    """The unpaid invoice the token opens and its customer, or None for a dead or unknown token.
    A request from a network the account does not allow is audited."""
    async with request.app[PAYMENTS_KEY].db.uow() as uow:
        found = await invoices.open_by_token(uow, request.match_info["token"])
        if found is None:
            return None
        invoice, customer = found
        client = _client(request)
        reachable = await networks.allows(uow, customer.id, client)
        if not reachable:
            audit.record(
                uow, "pay.page", Actor(customer.id), f"invoice:{invoice.id}", outcome="denied", address=client
            )
            await uow.commit()
        return _Opened(invoice, customer, reachable)


def _refused(lang: str) -> web.Response:
    with use_locale(lang):
        return _page(
            "message.html",
            429,
            title=_("Too many requests"),
            message=_("Too many requests from your connection. Please wait a minute and try again."),
        )


def _not_from_here(lang: str) -> web.Response:
    with use_locale(lang):
        return _page(
            "message.html",
            403,
            title=_("Not from this network"),
            message=_(
                "This account accepts its payment pages only from the networks it allows. Open the "
                "link from one of them, or change the list in the chat with: networks"
            ),
        )


def _gone(lang: str) -> web.Response:
    with use_locale(lang):
        return _page(
            "message.html",
            404,
            title=_("Payment link not found"),
            message=_(
                "This payment link does not exist, has expired, or its invoice is already paid or "
                "cancelled. Ask for a new link in the chat with: pay NUMBER"
            ),
        )


async def not_a_link(request: web.Request) -> web.Response:
    """Anything under /pay/ that cannot be a token gets the same page as a dead one."""
    return _gone(_language(request, None, request.app[PAYMENTS_KEY].settings.default_language))


async def pay_page(request: web.Request) -> web.Response:
    payments_ = request.app[PAYMENTS_KEY]
    settings = payments_.settings
    if not await _allowed(request):
        return _refused(_language(request, None, settings.default_language))
    found = await _open(request)
    if found is None:
        return _gone(_language(request, None, settings.default_language))
    lang = _language(request, found.customer, settings.default_language)
    if not found.reachable:
        return _not_from_here(lang)
    with use_locale(lang):
        view = _view(found.invoice, settings, payments_.card is not None)
        return _page("pay.html", action=f"{request.path}/card", **view)


def _view(inv: Invoice, settings: Settings, card: bool) -> dict[str, Any]:
    def money(minor: int) -> str:
        return formatting.amount(minor, inv.currency)

    lines = []
    for line in inv.lines:
        period = ""
        if line.period_start and line.period_end:
            period = f"{formatting.date(line.period_start)} – {formatting.date(line.period_end)}"
        lines.append(
            {
                "description": line.description,
                "period": period,
                "quantity": line.quantity,
                "amount": money(line.amount_minor),
            }
        )
    rate = formatting.percent(inv.vat_rate)
    iban = settings.bank_iban.replace(" ", "")
    return {
        "invoice": inv,
        "lines": lines,
        "issued": formatting.date(inv.issue_date),
        "due": formatting.date(inv.due_date),
        "subtotal": money(inv.subtotal_minor),
        "vat_label": _("VAT at {rate}").format(rate=rate),
        "vat": money(inv.vat_minor),
        "total": money(inv.total_minor),
        "bank": {
            "holder": settings.bank_account_holder,
            "iban": " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)),
            "bic": settings.bank_bic,
            "name": settings.bank_name,
            "reference": settings.bank_reference.format(number=inv.number),
        },
        "card": card,
    }


async def pay_by_card(request: web.Request) -> web.Response:
    """Open a Stripe Checkout for the token's invoice and send the browser there."""
    payments_ = request.app[PAYMENTS_KEY]
    settings = payments_.settings
    form = await request.post()
    picked = normalize(str(form.get("lang", ""))) or settings.default_language
    if not await _allowed(request):
        return _refused(picked)
    found = await _open(request)
    if found is None or payments_.card is None:
        return _gone(picked)
    if not found.reachable:
        return _not_from_here(picked)
    invoice = found.invoice
    base = settings.public_base_url.rstrip("/")
    pay_url = f"{base}/pay/{request.match_info['token']}?{urlencode({'lang': picked})}"
    with use_locale(picked):
        title = _("Invoice {number}").format(number=invoice.number)
        try:
            url = await payments_.card.start(
                payments.charge(invoice, title),
                f"{base}/pay/thanks?{urlencode({'lang': picked})}",
                pay_url,
                picked,
            )
        except Exception:
            log.exception("could not open a card checkout for invoice %s", invoice.id)
            return _page(
                "message.html",
                502,
                title=_("Card payment unavailable"),
                message=_(
                    "Card payment is not available right now. Please try again in a few minutes, "
                    "or pay by bank transfer."
                ),
            )
    raise web.HTTPSeeOther(url, headers=HEADERS)


async def thanks(request: web.Request) -> web.Response:
    default = request.app[PAYMENTS_KEY].settings.default_language
    with use_locale(normalize(request.query.get("lang")) or default):
        return _page(
            "message.html",
            title=_("Thank you"),
            message=_(
                "Your payment was received. As soon as it is confirmed, we will tell you in the chat "
                "and the invoice will show as paid."
            ),
        )


async def stripe_webhook(request: web.Request) -> web.Response:
    """Verify, apply once, answer 2xx; a 5xx (or no answer) makes Stripe send the event again."""
    payments_ = request.app[PAYMENTS_KEY]
    if payments_.card is None:
        raise web.HTTPNotFound()
    payload = await request.read()
    try:
        event = payments_.card.verify(payload, request.headers.get("Stripe-Signature"))
    except InvalidEvent as err:
        log.warning("rejected a Stripe webhook: %s", err)
        return web.json_response({"error": "invalid signature"}, status=400)
    async with payments_.db.uow() as uow:
        outcome = await payments.apply_event(uow, event, "stripe", payments_.notifier)
        decided = pending_actions.committed(uow)
    await payments_.actions.carry_out(decided)  # a suspended server back, a domain renewed, at once
    return web.json_response({"received": True, "outcome": outcome.status})

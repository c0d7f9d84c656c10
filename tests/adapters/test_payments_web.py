"""The pay page and the Stripe webhook, over HTTP, with the real stripe SDK against the fake Stripe."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.core.dispatcher import Dispatcher
from services import clock
from services.money import Money
from storage.models import Customer, IdempotencyKey, Invoice, LedgerEntry, Payment
from tests.fakes.stripe_api import event, sign
from tests.support.chat import Chat
from tests.support.paysite import PaySite, pay_site


@pytest.fixture
async def site(dispatcher: Dispatcher) -> AsyncIterator[PaySite]:
    async with pay_site(dispatcher) as running:
        yield running


async def _invoice(site: PaySite, invoice_id: int) -> Invoice:
    async with site.dispatcher.db.uow() as uow:
        inv = await uow.session.get(Invoice, invoice_id)
        assert inv is not None
        return inv


async def _count(site: PaySite, model: type, **where: object) -> int:
    async with site.dispatcher.db.uow() as uow:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await uow.session.scalar(query) or 0)


async def _set_language(site: PaySite, customer_id: int, lang: str | None) -> None:
    async with site.dispatcher.db.uow() as uow:
        customer = await uow.session.get(Customer, customer_id)
        assert customer is not None
        customer.language = lang
        await uow.commit()


async def test_pay_link_from_chat_opens_the_page(site: PaySite, alice: Chat) -> None:
    reply = await alice.say("pay 3")
    url = alice.button("Open payment page", reply).url
    assert url is not None and url.startswith(f"{site.base}/pay/")
    page = await site.client.get(site.path(url), headers={"Accept-Language": "en"})
    body = await page.text()
    assert page.status == 200
    assert (await _invoice(site, 3)).number in body
    assert "Atelier Lumière SARL" in body
    assert "Pay by bank transfer" in body and "NL91 ABNA 0417 1643 00" in body
    assert "Pay by card" in body
    assert "Reverse charge" in body  # a French business with a valid VAT id
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_page_language_follows_account_then_browser_then_choice(site: PaySite) -> None:
    path = site.path(await site.link(12))  # Jan de Vries, NL consumer, 21 % VAT
    inv = await _invoice(site, 12)
    english = await (await site.client.get(path, headers={"Accept-Language": "de-DE, en;q=0.5"})).text()
    assert '<html lang="en">' in english and "VAT at 21%" in english
    turkish = await (await site.client.get(path, headers={"Accept-Language": "tr-TR,tr;q=0.9"})).text()
    assert '<html lang="tr">' in turkish
    await _set_language(site, 4, "fr")
    french = await (await site.client.get(path, headers={"Accept-Language": "tr"})).text()
    assert '<html lang="fr">' in french
    picked = await (await site.client.get(f"{path}?lang=id")).text()
    assert '<html lang="id">' in picked
    for body in (english, turkish, french, picked):
        assert inv.number in body


async def test_dead_and_unknown_tokens_get_a_plain_404(site: PaySite) -> None:
    path = site.path(await site.link(12))
    assert (await site.client.get(path)).status == 200
    for wrong in ("/pay/" + "A" * 32, path[:-1] + ("B" if path[-1] != "B" else "C"), "/pay/short"):
        response = await site.client.get(wrong)
        assert response.status == 404
        assert "Payment link not found" in await response.text()
    later = clock.now() + dt.timedelta(days=31)
    with clock.frozen(later):
        assert (await site.client.get(path)).status == 404
    async with site.dispatcher.db.uow() as uow:
        inv = await uow.session.get(Invoice, 12)
        assert inv is not None
        inv.status = "cancelled"
        await uow.commit()
    assert (await site.client.get(path)).status == 404


async def test_a_token_never_opens_another_invoice(site: PaySite) -> None:
    links = {invoice_id: site.path(await site.link(invoice_id)) for invoice_id in (3, 6, 9, 12)}
    numbers = {invoice_id: (await _invoice(site, invoice_id)).number for invoice_id in links}
    for invoice_id, path in links.items():
        body = await (await site.client.get(path)).text()
        assert numbers[invoice_id] in body
        assert all(number not in body for other, number in numbers.items() if other != invoice_id)
        # Asking for a card checkout with this token always pays this invoice, whatever is posted.
        response = await site.client.post(
            f"{path}/card", data={"lang": "en", "invoice_id": "3"}, allow_redirects=False
        )
        assert response.status == 303
        assert site.stripe.created[-1]["metadata[invoice_id]"] == str(invoice_id)
        inv = await _invoice(site, invoice_id)
        assert site.stripe.created[-1]["line_items[0][price_data][unit_amount]"] == str(inv.total_minor)


async def test_card_button_opens_stripe_checkout(site: PaySite) -> None:
    path = site.path(await site.link(3))
    response = await site.client.post(f"{path}/card", data={"lang": "fr"}, allow_redirects=False)
    assert response.status == 303
    created = site.stripe.created[-1]
    assert response.headers["Location"].startswith(f"{site.stripe.base}/checkout/cs_test_")
    assert created["line_items[0][price_data][currency]"] == "eur"
    assert created["locale"] == "fr"
    assert created["success_url"] == f"{site.base}/pay/thanks?lang=fr"
    assert created["cancel_url"] == f"{site.base}{path}?lang=fr"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_rate_limit_per_client(dispatcher: Dispatcher) -> None:
    dispatcher.settings.pay_page_rate_limit = "3/minute"
    async with pay_site(dispatcher) as site:
        path = site.path(await site.link(3))
        statuses = [(await site.client.get(path)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_paid_by_webhook_once_and_the_customer_is_told(site: PaySite) -> None:
    await _set_language(site, 1, "fr")
    path = site.path(await site.link(3))
    inv = await _invoice(site, 3)
    session = site.stripe.session(3, inv.total_minor, payment_status="paid", status="complete")
    completed = event("checkout.session.completed", session)
    assert (await site.stripe.send(completed))[0] == 200
    assert (await site.stripe.send(completed))[0] == 200  # redelivered: nothing more happens
    assert (await _invoice(site, 3)).status == "paid"
    assert await _count(site, Payment, invoice_id=3, method="stripe") == 1
    assert await _count(site, LedgerEntry, invoice_id=3, kind="payment") == 1
    assert await _count(site, IdempotencyKey, key=f"stripe:{completed['id']}") == 1
    [notice] = site.notifier.sent
    assert (notice.customer_id, notice.invoice_id, notice.paid) == (1, 3, True)
    assert notice.amount == Money(inv.total_minor, inv.currency) and notice.event_id == completed["id"]
    assert (await site.client.get(path)).status == 404  # the link is dead once paid


async def test_bad_signature_and_stale_timestamp_are_refused(site: PaySite) -> None:
    inv = await _invoice(site, 12)
    session = site.stripe.session(12, inv.total_minor, payment_status="paid")
    payload = event("checkout.session.completed", session)
    body = json.dumps(payload).encode()
    forged = sign(body, secret="whsec_someone_else")
    stale = sign(body, timestamp=int(time.time()) - 301)
    tampered = sign(json.dumps({**payload, "id": "evt_other"}).encode())
    for signature in (forged, stale, tampered, "t=1,v1=00", "garbage"):
        status, _text = await site.stripe.send(payload, signature)
        assert status == 400, signature
    response = await site.client.post("/stripe/webhook", data=body)  # no Stripe-Signature at all
    assert response.status == 400
    assert (await _invoice(site, 12)).status == "unpaid"
    assert await _count(site, Payment, invoice_id=12) == 0
    assert site.notifier.sent == []
    # A fresh, correctly signed copy of the same event is applied.
    assert (await site.stripe.send(payload))[0] == 200
    assert (await _invoice(site, 12)).status == "paid"


async def test_events_out_of_order_pay_once(site: PaySite) -> None:
    """A delayed payment (e.g. SEPA debit): ``completed`` (unpaid) then ``async_payment_succeeded``,
    delivered the wrong way round, plus a stray ``expired`` at the end."""
    inv = await _invoice(site, 6)
    session = site.stripe.session(6, inv.total_minor, currency="idr")
    succeeded = event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
    completed = event("checkout.session.completed", {**session, "status": "complete"})
    expired = event("checkout.session.expired", {**session, "status": "expired"})
    for payload in (succeeded, completed, succeeded, expired, completed):
        assert (await site.stripe.send(payload))[0] == 200
    assert (await _invoice(site, 6)).status == "paid"
    assert await _count(site, Payment, invoice_id=6) == 1
    assert await _count(site, LedgerEntry, invoice_id=6, kind="payment") == 1
    assert len(site.notifier.sent) == 1


async def test_pending_checkout_then_success_pays(site: PaySite) -> None:
    inv = await _invoice(site, 9)
    session = site.stripe.session(9, inv.total_minor, currency="try")
    await site.stripe.send(event("checkout.session.completed", {**session, "status": "complete"}))
    assert (await _invoice(site, 9)).status == "unpaid"
    await site.stripe.send(
        event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
    )
    assert (await _invoice(site, 9)).status == "paid"


async def test_second_checkout_for_a_paid_invoice_goes_to_the_balance(site: PaySite, alice: Chat) -> None:
    inv = await _invoice(site, 3)
    first = site.stripe.session(3, inv.total_minor, payment_status="paid")
    second = site.stripe.session(3, inv.total_minor, payment_status="paid")
    before = (await alice.say("balance")).text
    await site.stripe.send(event("checkout.session.completed", first))
    await site.stripe.send(event("checkout.session.completed", second))
    assert await _count(site, Payment, invoice_id=3) == 2
    # Paid once (credit + charge), then the second payment stays on the balance as a credit.
    assert await _count(site, LedgerEntry, invoice_id=3, kind="payment") == 2
    assert await _count(site, LedgerEntry, invoice_id=3, kind="charge") == 1
    assert [n.paid for n in site.notifier.sent] == [True, False]  # the second went to the balance
    assert (await alice.say("balance")).text != before


async def test_webhook_for_other_event_types_is_acknowledged(site: PaySite) -> None:
    status, text = await site.stripe.send(
        event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    )
    assert status == 200 and "ignored" in text


async def test_without_stripe_only_bank_transfer(dispatcher: Dispatcher) -> None:
    async with pay_site(dispatcher, with_stripe=False) as site:
        body = await (await site.client.get(site.path(await site.link(3)))).text()
        assert "Pay by bank transfer" in body and "Pay by card" not in body
        assert (await site.client.post("/stripe/webhook", data=b"{}")).status == 404


async def test_same_event_delivered_concurrently_pays_once(site: PaySite) -> None:
    inv = await _invoice(site, 12)
    payload = event(
        "checkout.session.completed", site.stripe.session(12, inv.total_minor, payment_status="paid")
    )
    statuses = await asyncio.gather(*(site.stripe.send(payload) for _ in range(3)))
    assert [status for status, _text in statuses] == [200, 200, 200]
    assert sorted(json.loads(text)["outcome"] for _status, text in statuses) == [
        "duplicate",
        "duplicate",
        "paid",
    ]
    assert await _count(site, Payment, invoice_id=12) == 1
    assert len(site.notifier.sent) == 1

"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, pays an invoice
from a chat's pay link through Stripe Checkout (the fake Stripe on 127.0.0.1) and its signed webhook."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services.money import Money
from storage.models import Invoice
from tests.support.chat import Chat
from tests.support.paysite import pay_site

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium: .ci/run installs it")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")


async def test_pay_by_card_from_a_chat_link(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("langue fr")
    async with pay_site(dispatcher) as site:
        reply = await alice.say("payer 3")
        link = next(b.url for b in reply.all_buttons() if b.url)
        assert link is not None and link.startswith(site.base)
        async with dispatcher.db.uow() as uow:
            inv = await uow.session.get(Invoice, 3)
            assert inv is not None
        with use_locale("fr"):
            total_fr = formatting.money(Money(inv.total_minor, inv.currency))
        with use_locale("en"):
            total_en = formatting.money(Money(inv.total_minor, inv.currency))

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                # The browser says English; the account chose French, and the account wins.
                context = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
                page = await context.new_page()
                response = await page.goto(link)
                assert response is not None and response.status == 200
                await expect(page.locator("html")).to_have_attribute("lang", "fr")
                await expect(page.get_by_role("heading", level=1)).to_have_text(f"Facture {inv.number}")
                await expect(page.locator("tr.total td")).to_have_text(total_fr)
                await expect(page.get_by_text("Payer par virement bancaire")).to_be_visible()

                # Switch the page to English, then back to French, with the language links.
                await page.get_by_role("link", name="English").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {inv.number}")
                await expect(page.locator("tr.total td")).to_have_text(total_en)
                await page.get_by_role("link", name="français").click()
                await expect(page.locator("html")).to_have_attribute("lang", "fr")

                # Card: to the (fake) Stripe Checkout, pay, and back to the thank-you page.
                await page.get_by_role("button", name=f"Payer {total_fr} par carte").click()
                await expect(page).to_have_title("Fake Stripe Checkout")
                await expect(page.get_by_role("heading", level=1)).to_have_text(f"Facture {inv.number}")
                await page.get_by_role("button", name="Pay").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Merci")

                # The signed webhook came before the redirect: paid, told, and the link is dead.
                async with dispatcher.db.uow() as uow:
                    paid = await uow.session.get(Invoice, 3)
                    assert paid is not None and paid.status == "paid"
                assert [status for _event, status in site.stripe.delivered] == [200]
                [notice] = site.notifier.sent
                assert (notice.customer_id, notice.invoice_id, notice.paid) == (1, 3, True)
                gone = await page.goto(link)
                assert gone is not None and gone.status == 404
                await expect(page.get_by_role("heading", level=1)).to_have_text("Payment link not found")
            finally:
                await browser.close()
    listed = await alice.say("factures payées")
    assert inv.number in listed.text

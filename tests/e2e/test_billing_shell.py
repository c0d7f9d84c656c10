"""Each billing rule from the shell, as a customer types it: a preview, then the confirmation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from babel.numbers import format_currency

from bot.core import formatting
from bot.core.i18n import use_locale
from tests.support.cli import shell

# Demo customer 1 (French business, reverse charge): orders 1 VPS M, 3 Growth with extra storage,
# 4 Standard support, 5 Mail Business due in 20 days (inside the downgrade window); invoice 3 unpaid.
SCRIPT = "\n".join(
    [
        "extend 3",
        "1",  # Create invoice -> #13
        "settings 3 on",
        "1",  # Confirm
        "plan enterprise",
        "1",  # Upgrade -> #14
        "plan basic",
        "1",  # Schedule at period end
        "plan cancel",
        "1",  # Confirm
        "supportpackage premium",
        "1",  # Upgrade -> #15
        "mail upgrade pro",
        "1",  # Create invoice -> #16
        "mail add 1",  # refused: #16 is pending
        "mail downgrade starter",
        "1",  # Open ticket -> #9
        "delete invoice 3",
        "1",  # Delete
        "quote 1",  # -> quote #17, QHB…-00001
        "1",  # Create invoice -> #18, HB…-00017
        "vat FI",
        "",
    ]
)


@pytest.mark.parametrize("lang", ["en", "fr", "id", "tr"])
def test_every_billing_rule_previews_then_confirms(tmp_path: pytest.TempPathFactory, lang: str) -> None:
    out = shell(tmp_path, SCRIPT, "--lang", lang)  # type: ignore[arg-type]
    year = dt.date.today().year
    # The renewal of order 3: Growth 29.00 + extra storage 3.00 + 2.5 % processing 0.80, reverse charge.
    assert out.count(format_currency(Decimal("32.80"), "EUR", locale=lang)) >= 2  # preview and result
    for seq in (13, 14, 15, 16, 17):  # the quote (#17) has its own series
        assert f"HB{year}-{seq:05d}" in out, seq
    assert f"QHB{year}-00001" in out
    assert "#9" in out  # the billing ticket for the mail downgrade
    with use_locale(lang):
        assert formatting.percent(Decimal("25.5")) in out
    assert "Traceback" not in out


def test_billing_answers_in_english(tmp_path: pytest.TempPathFactory) -> None:
    out = shell(tmp_path, SCRIPT, "--lang", "en")  # type: ignore[arg-type]
    for expected in [
        "Extend order #3 (Growth)",
        "Platform charge: Growth #3",
        "Payment processing fee",
        "Auto-renew is now on for order #3.",
        "Proration:",
        "Order #3 is now on Enterprise.",
        "at the end of a period",
        "The scheduled change is cancelled.",
        "Order #4 is now on Premium support.",
        "An upgrade of this mail package is already waiting for payment of invoice",
        "Ticket #9 was opened for the billing team.",
        "is deleted.",
        "Reverse charge: VAT to be accounted for by the customer (FR40303265045; supplier NL004495445B01).",
        "was created from the quote.",
        "Standard VAT rate in Finland",
    ]:
        assert expected in out, expected
    assert "Something went wrong" not in out

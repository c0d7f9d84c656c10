"""The terminal shell end to end, as a newcomer runs it: a subprocess with piped input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from bot.core.registry import Registry
from handlers import ROUTERS
from tests.support.cli import hostbot, shell


@pytest.mark.parametrize(
    ("lang", "balance_word", "invoices_word"),
    [
        ("fr", "Votre solde", "Factures impayées"),
        ("id", "Saldo Anda", "Tagihan belum lunas"),
        ("tr", "Bakiyeniz", "Ödenmemiş faturalar"),
    ],
)
def test_language_balance_invoices(tmp_path: Path, lang: str, balance_word: str, invoices_word: str) -> None:
    out = shell(tmp_path, f"/language {lang}\n/balance\n/invoices\n")
    # Demo customer 1 starts with three months of VPS M (3 × 19.90 €) and the unpaid invoice is 24.85 €.
    assert balance_word in out
    assert format_currency(Decimal("59.70"), "EUR", locale=lang) in out
    assert invoices_word in out
    assert format_currency(Decimal("24.85"), "EUR", locale=lang) in out


def test_amounts_in_the_customers_currency(tmp_path: Path) -> None:
    out = shell(tmp_path, "/balance\n", "--customer", "Maju", "--lang", "id")
    assert format_currency(Decimal("900000"), "IDR", locale="id") in out


@pytest.mark.parametrize("lang", ["en", "fr", "id", "tr"])
def test_help_lists_every_command(tmp_path: Path, lang: str) -> None:
    out = shell(tmp_path, "help\n", "--lang", lang)
    for command in Registry.from_routers(*ROUTERS).visible():
        assert f"/{command.alias_for(lang)}" in out, command.name


def test_buttons_are_numbered_choices(tmp_path: Path) -> None:
    out = shell(tmp_path, "invoices\n1\n")
    number = f"HB{dt.date.today().year}-00003"
    assert f"\n{number} · due " in out and f"[1] {number}" in out
    assert f"Invoice {number}" in out and "Subtotal" in out


def test_invoices_by_the_number_on_them(tmp_path: Path) -> None:
    number = f"HB{dt.date.today().year}-00003"
    out = shell(tmp_path, f"invoice {number.lower()}\npay #{number}\n")
    assert f"Invoice {number} — unpaid" in out and f"Invoice {number}: €24.85 to pay" in out


def test_reboot_conversation_and_dates(tmp_path: Path) -> None:
    out = shell(tmp_path, "reboot web-1\n1\ndomains\n", "--lang", "tr")
    assert "web-1" in out and "yeniden" in out.lower()
    assert format_date(dt.date.today() + dt.timedelta(days=5), "medium", locale="tr") in out


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "There is no customer yet"), ("fr", "Il n’y a encore aucun client"), ("tr", "Henüz müşteri yok")],
)
def test_no_demo_on_an_empty_database_says_how_to_start(tmp_path: Path, lang: str, words: str) -> None:
    done = hostbot(tmp_path, "shell", "--no-demo", "--lang", lang)
    assert done.returncode == 2
    assert words in done.stderr
    assert "hostbot import" in done.stderr and "hostbot admin token create" in done.stderr


def test_no_such_customer(tmp_path: Path) -> None:
    done = hostbot(tmp_path, "shell", "--customer", "nobody-at-all")
    assert done.returncode == 2
    assert "No customer matches nobody-at-all." in done.stderr

"""Settings and security in the terminal shell, as a newcomer runs it: a subprocess with piped input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.support.cli import shell


def test_code_word_guards_deleting_an_invoice(tmp_path: Path) -> None:
    number = f"HB{dt.date.today().year}-00003"
    out = shell(
        tmp_path,
        f"codeword set Blue heron 42\n1\ndelete invoice {number}\n1\ngrey heron\nblue HERON 42\ninvoices\nsessions\n",
    )
    assert "Your code word is set" in out
    assert "protected by your account's code word. Send it now" in out
    assert "That is not the code word. Nothing was done." in out
    assert f"Invoice {number} is deleted." in out
    assert "You have no unpaid invoices." in out
    assert "· terminal user " in out and "(this chat)" in out


def test_currency_and_contact_in_turkish(tmp_path: Path) -> None:
    out = shell(tmp_path, "parabirimi\niletisim\nparabirimi TRY\n", "--lang", "tr")
    assert "Hesabınız EUR cinsinden faturalandırılıyor." in out
    assert "Ana e-posta: contact@atelier-lumiere.example" in out
    assert "Ülke: Fransa" in out
    assert "Para birimi yalnızca ödenmemiş fatura yokken değiştirilebilir." in out

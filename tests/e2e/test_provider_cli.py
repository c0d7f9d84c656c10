"""The provider's commands as a newcomer runs them: tokens, import of the example file into an empty
database, a link code for the imported customer, and that customer in the shell."""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency

from tests.support.cli import ROOT, hostbot, output

EXAMPLE = ROOT / "examples" / "import.json"


def test_import_then_link_and_chat(tmp_path: Path) -> None:
    report = output(tmp_path, "import", str(EXAMPLE))
    assert "created   customers whmcs-client-1042" in report
    assert report.rstrip().endswith("created 16, updated 0, unchanged 0, refused 0.")
    again = output(tmp_path, "import", str(EXAMPLE))
    assert again.rstrip().endswith("created 0, updated 0, unchanged 16, refused 0.")

    issued = output(tmp_path, "link-code", "gerance@brasserie-du-port.example", "--platform", "shell")
    code = re.search(r"start (\S+)", issued)
    assert code is not None and "Brasserie du Port SRL" in issued
    # The operator's own shell user is linked on start; it leaves the account and links back with the code.
    out = output(
        tmp_path,
        "shell",
        "--no-demo",
        "--customer",
        "whmcs-client-1042",
        "--lang",
        "fr",
        stdin=f"unlink\nsolde\nstart {code.group(1)}\nsolde\n",
    )
    assert "pas encore lié" in out  # not linked between the two
    assert format_currency(Decimal("25.00"), "EUR", locale="fr") in out


def test_a_refused_file_writes_nothing(tmp_path: Path) -> None:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["orders"][0]["plan"] = "vps-xxl"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    done = hostbot(tmp_path, "import", str(broken))
    assert done.returncode == 1
    assert (
        "refused   orders whmcs-service-5001: plan: there is no plan 'vps-xxl' priced in EUR" in done.stdout
    )
    assert "Nothing was imported" in done.stdout
    not_json = hostbot(tmp_path, "import", str(ROOT / "README.md"))
    assert not_json.returncode == 1 and "Nothing was imported" in not_json.stdout
    with sqlite3.connect(tmp_path / "hostbot.db") as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone() == (0,)


def test_export_reimports_unchanged(tmp_path: Path) -> None:
    output(tmp_path, "migrate", "--demo")
    exported = tmp_path / "export.json"
    output(tmp_path, "export", str(exported))
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert len(document["customers"]) == 4 and document["customers"][0]["id"] == 1
    assert output(tmp_path, "import", str(exported)).rstrip().endswith("refused 0.")
    assert "created 0, updated 0" in output(tmp_path, "import", str(exported))


def test_tokens(tmp_path: Path) -> None:
    made = output(tmp_path, "admin", "token", "create", "whmcs-sync", "--scope", "read", "--scope", "write")
    secret = re.search(r"(hbt_\S+)", made)
    assert secret is not None and "(read, write)" in made
    listed = output(tmp_path, "admin", "token", "list")
    assert "whmcs-sync  read,write" in listed and "active" in listed and secret.group(1) not in listed
    twice = hostbot(tmp_path, "admin", "token", "create", "whmcs-sync")
    assert twice.returncode == 2 and "exists already" in twice.stderr
    output(tmp_path, "admin", "token", "revoke", "whmcs-sync")
    assert "revoked" in output(tmp_path, "admin", "token", "list")
    with sqlite3.connect(tmp_path / "hostbot.db") as db:
        stored = db.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert len(stored) == 1 and secret.group(1) not in stored[0][0]

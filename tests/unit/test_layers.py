"""What the import contracts (pyproject ``[tool.importlinter]``, run by ``make test``) cannot see: an
import inside a function hides cycles until the call (allowed only where an import is deferred on
purpose, ``DEFERRED``), and a contract with an exception would excuse what it should refuse."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "services", "storage")


def _local_imports(path: Path) -> list[int]:
    """The lines of the imports that run only when a function is called."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found.append(node.lineno)
    return found


# Where an import waits for its first use on purpose, so that a process imports only what its
# command and its configured platforms and drivers need (README, "Cold start and memory"): the
# composition root and the command line, which build or run what the settings pick, and the few
# modules that put a heavy library off until it is used. import-linter's contracts still see these
# imports (it reads every import statement); what they hide is a cycle, until the call.
DEFERRED = {
    "bot/bootstrap.py",  # the platforms, the web app, the admin API, the optional drivers
    "bot/cli.py",  # what only one subcommand uses
    "bot/documents/__init__.py",  # the PDF, QR and chart libraries, at the first document
    "bot/web.py",  # a platform's adapter module, when the adapter is given
    "bot/alerts/senders.py",  # slack_sdk's error, in the Slack sender
    "bot/core/sendlog.py",  # the Redis client, where Redis keeps the limits
    "storage/db.py",  # Alembic, when the database is not at the newest migration
    "services/drivers/forward.py",  # dnspython, at the first forward confirmation
    "services/sealing.py",  # cryptography, when a secret is first sealed, opened or derived
}


def test_no_import_inside_a_function() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for pkg in PACKAGES
        for path in sorted((ROOT / pkg).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in DEFERRED
        for line in _local_imports(path)
    ]
    assert found == []


def test_the_detector_sees_a_local_import(tmp_path: Path) -> None:
    module = tmp_path / "local.py"
    module.write_text("import os\n\n\nasync def f() -> None:\n    import json\n", encoding="utf-8")
    assert _local_imports(module) == [5]


def test_contracts_list_no_exception() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = config["contracts"]
    assert {c["type"] for c in contracts} >= {"layers", "forbidden", "independence", "acyclic_siblings"}
    assert [c["id"] for c in contracts if "ignore_imports" in c] == []


# Shared by handlers, not handlers themselves.
HELPERS = {
    "handlers.__init__",
    "handlers.common",
    "handlers.contact_views",
    "handlers.server_views",
    "handlers.invoice_views",
    "handlers.vocabulary",
}


def test_every_handler_module_is_independent() -> None:
    """A new handlers module joins the independence contract (or is named a shared helper here)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["id"] == "handlers-independent"]
    modules = {f"handlers.{path.stem}" for path in (ROOT / "handlers").glob("*.py")}
    assert set(contract["modules"]) == modules - HELPERS


def _matches(module: str, expression: str) -> bool:
    """import-linter's module expressions: ``*`` is one name, ``**`` one or more."""
    pattern = re.escape(expression).replace(r"\*\*", r"[^.]+(\.[^.]+)*").replace(r"\*", r"[^.]+")
    return re.fullmatch(pattern, module) is not None


def test_only_the_drivers_are_left_out_of_the_http_contract() -> None:
    """Its sources name the modules one by one (the drivers' must not be among them), so a new
    subpackage of services or storage has to join it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["id"] == "http-in-drivers"]
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for pkg in ("services", "storage")
        for path in (ROOT / pkg).rglob("*.py")
    }
    covered = {m for m in modules if any(_matches(m, e) for e in contract["source_modules"])}
    assert sorted(modules - covered) == sorted(m for m in modules if m.startswith("services.drivers."))

"""The import file's schema in the repository is the one the code generates, and the example follows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.backoffice.bundle import Bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_schema_file_is_generated_from_the_code() -> None:
    committed = json.loads((EXAMPLES / "import.schema.json").read_text(encoding="utf-8"))
    assert committed == Bundle.model_json_schema(by_alias=True), (
        "run: hostbot import --schema > examples/import.schema.json"
    )


def test_the_example_follows_it() -> None:
    document = json.loads((EXAMPLES / "import.json").read_text(encoding="utf-8"))
    assert document["$schema"] == "./import.schema.json"
    found = Bundle.model_validate(document)
    assert [c.external_id for c in found.customers] == ["whmcs-client-1042", "whmcs-client-1043"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["customers"][0].pop("external_id"), ()),
        (lambda d: d["customers"][0].update(country="XX"), ("customers", 0, "country")),
        (lambda d: d["orders"][0].update(period_end="2026-11-01"), ("orders", 0)),
        (lambda d: d["servers"][0].update(ip="300.1.1.1"), ("servers", 0, "ip")),
        (lambda d: d["balance_adjustments"][0].update(reason=""), ("balance_adjustments", 0, "reason")),
        (lambda d: d.update(invoices=[]), ("invoices",)),
    ],
)
def test_what_the_schema_refuses(change: object, where: tuple[object, ...]) -> None:
    document = json.loads((EXAMPLES / "import.json").read_text(encoding="utf-8"))
    change(document)  # type: ignore[operator]
    with pytest.raises(ValidationError) as raised:
        Bundle.model_validate(document)
    assert any(tuple(e["loc"][: len(where)]) == where for e in raised.value.errors())

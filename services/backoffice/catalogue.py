"""The catalogue: plans, add-ons and pay-as-you-use packages, each with a price per currency.

A catalogue item is known by its ``code`` (the provider's SKU), which plays the part other records'
``external_id`` plays: ``PUT /plans/{code}`` creates or updates, the same document twice changes
nothing. The database keeps one row per code and currency; a currency missing from a document keeps
its price (orders may be using it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from services.backoffice.common import Code, Currency, Document, Invalid, Language, Minor, Missing, note
from storage.models import Addon, MeteredProduct, Plan
from storage.uow import UnitOfWork

Name = Annotated[str, Field(min_length=1, max_length=100)]
About = Annotated[str, Field(min_length=1, max_length=1000)]


class Worded(Document):
    """What the customer reads about an item, per language: ``name`` is shown where ``names`` has
    no entry for the customer's language, the English description where ``descriptions`` has none."""

    code: Code
    name: Name
    names: dict[Language, Name] = Field(
        default_factory=dict, description="the name per language; `name` where one is missing"
    )
    descriptions: dict[Language, About] = Field(
        default_factory=dict, description="what it is, per language; English where one is missing"
    )

    def words(self) -> dict[str, Any]:
        return {"name": self.name, "names": dict(self.names), "descriptions": dict(self.descriptions)}


def _words(row: Plan | Addon | MeteredProduct) -> dict[str, Any]:
    return {"name": row.name, "names": dict(row.names or {}), "descriptions": dict(row.descriptions or {})}


class Priced(Protocol):
    currency: str


def _one_price_per_currency(prices: Sequence[Priced]) -> None:
    currencies = [p.currency for p in prices]
    if len(set(currencies)) != len(currencies):
        raise ValueError("a currency is priced twice")


class PlanPrice(Document):
    currency: Currency
    monthly_minor: Minor
    yearly_minor: Minor


class PlanDoc(Worded):
    """A plan; ``kind`` says which command changes it (``plan``, ``supportpackage``, ``mail``)."""

    kind: Literal["server", "subscription", "support", "mail"]
    rank: int = Field(0, ge=0, le=1000, description="order in option lists; higher is an upgrade")
    prices: Annotated[list[PlanPrice], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _prices(self) -> PlanDoc:
        _one_price_per_currency(self.prices)
        return self


class AddonPrice(Document):
    currency: Currency
    monthly_minor: Minor


class AddonDoc(Worded):
    prices: Annotated[list[AddonPrice], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _prices(self) -> AddonDoc:
        _one_price_per_currency(self.prices)
        return self


HourlyRate = Annotated[
    Decimal,
    Field(ge=0, max_digits=16, decimal_places=4, description="minor units per hour, up to 4 decimals"),
]


class MeteredPrice(Document):
    currency: Currency
    hourly_minor: HourlyRate


class MeteredProductDoc(Worded):
    """A package a reseller's accounts, add-ons or service packs are billed by the hour for."""

    kind: Literal["account", "addon", "pack"]
    prices: Annotated[list[MeteredPrice], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _prices(self) -> MeteredProductDoc:
        _one_price_per_currency(self.prices)
        return self


class CodeListing(Document):
    limit: int = Field(50, ge=1, le=500)
    after: Code | None = Field(None, description="the last code of the previous page")


Row = TypeVar("Row", Plan, Addon, MeteredProduct)
D = TypeVar("D", bound=BaseModel)


def _check_code(path_code: str | None, doc_code: str) -> None:
    if path_code is not None and path_code != doc_code:
        raise Invalid("code", f"must be {path_code!r}, the code the item is put at")


async def _rows(uow: UnitOfWork, model: type[Row], code: str) -> dict[str, Row]:
    rows = await uow.session.scalars(select(model).where(model.code == code))
    return {row.currency: row for row in rows}


async def _put(
    uow: UnitOfWork,
    model: type[Row],
    kind: str,
    code: str,
    shared: dict[str, Any],
    prices: dict[str, dict[str, Any]],
    by: str,
) -> str:
    """Bring every currency's row of ``code`` to the document; returns the change."""
    rows = await _rows(uow, model, code)
    changed = False
    for currency, row in rows.items():
        for name, value in {**shared, **prices.get(currency, {})}.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
    for currency, values in prices.items():
        if currency not in rows:
            uow.session.add(model(code=code, currency=currency, **shared, **values))
            changed = True
    change = "created" if not rows else "updated" if changed else "unchanged"
    if change != "unchanged":
        note(uow, by, f"{kind}.{change}", f"{kind}:{code}")
    await uow.flush()
    return change


async def _same_kind(
    uow: UnitOfWork, model: type[Plan] | type[MeteredProduct], code: str, wanted: str
) -> None:
    """A plan's or package's kind decides what uses it: it is not changed by a document."""
    found = await uow.session.scalar(select(model.kind).where(model.code == code).limit(1))
    if found is not None and found != wanted:
        raise Invalid("kind", f"{code!r} is of kind {found}; it cannot change")


async def put_plan(uow: UnitOfWork, doc: PlanDoc, by: str, code: str | None = None) -> str:
    _check_code(code, doc.code)
    await _same_kind(uow, Plan, doc.code, doc.kind)
    prices = {
        p.currency: {"monthly_minor": p.monthly_minor, "yearly_minor": p.yearly_minor} for p in doc.prices
    }
    return await _put(
        uow, Plan, "plan", doc.code, {**doc.words(), "kind": doc.kind, "rank": doc.rank}, prices, by
    )


async def put_addon(uow: UnitOfWork, doc: AddonDoc, by: str, code: str | None = None) -> str:
    _check_code(code, doc.code)
    prices = {p.currency: {"monthly_minor": p.monthly_minor} for p in doc.prices}
    return await _put(uow, Addon, "addon", doc.code, doc.words(), prices, by)


async def put_metered_product(
    uow: UnitOfWork, doc: MeteredProductDoc, by: str, code: str | None = None
) -> str:
    _check_code(code, doc.code)
    await _same_kind(uow, MeteredProduct, doc.code, doc.kind)
    prices = {p.currency: {"hourly_minor": p.hourly_minor} for p in doc.prices}
    shared = {**doc.words(), "kind": doc.kind}
    return await _put(uow, MeteredProduct, "metered_product", doc.code, shared, prices, by)


def _plan(rows: Sequence[Plan]) -> PlanDoc:
    first = rows[0]
    return PlanDoc(
        code=first.code,
        **_words(first),
        kind=first.kind,
        rank=first.rank,
        prices=[
            PlanPrice(currency=r.currency, monthly_minor=r.monthly_minor, yearly_minor=r.yearly_minor)
            for r in rows
        ],
    )


def _addon(rows: Sequence[Addon]) -> AddonDoc:
    return AddonDoc(
        code=rows[0].code,
        **_words(rows[0]),
        prices=[AddonPrice(currency=r.currency, monthly_minor=r.monthly_minor) for r in rows],
    )


def _metered(rows: Sequence[MeteredProduct]) -> MeteredProductDoc:
    return MeteredProductDoc(
        code=rows[0].code,
        **_words(rows[0]),
        kind=rows[0].kind,
        prices=[MeteredPrice(currency=r.currency, hourly_minor=r.hourly_minor) for r in rows],
    )


async def _grouped(
    uow: UnitOfWork, model: type[Row], codes: Sequence[str] | None, paging: CodeListing | None
) -> tuple[list[list[Row]], str | None]:
    """Rows grouped by code, codes in order; with ``paging``, one page of codes and the next cursor."""
    if codes is None:
        query = select(model.code).distinct().order_by(model.code)
        if paging is not None:
            if paging.after is not None:
                query = query.where(model.code > paging.after)
            query = query.limit(paging.limit + 1)
        codes = list((await uow.session.scalars(query)).all())
    more = paging is not None and len(codes) > paging.limit
    if paging is not None:
        codes = codes[: paging.limit]
    rows = await uow.session.scalars(
        select(model).where(model.code.in_(codes)).order_by(model.code, model.currency)
    )
    groups: dict[str, list[Row]] = {code: [] for code in codes}
    for row in rows:
        groups[row.code].append(row)
    return [g for g in groups.values() if g], (codes[-1] if more else None)


async def plans(uow: UnitOfWork, paging: CodeListing | None = None) -> tuple[list[PlanDoc], str | None]:
    groups, after = await _grouped(uow, Plan, None, paging)
    return [_plan(g) for g in groups], after


async def addons(uow: UnitOfWork, paging: CodeListing | None = None) -> tuple[list[AddonDoc], str | None]:
    groups, after = await _grouped(uow, Addon, None, paging)
    return [_addon(g) for g in groups], after


async def metered_products(
    uow: UnitOfWork, paging: CodeListing | None = None
) -> tuple[list[MeteredProductDoc], str | None]:
    groups, after = await _grouped(uow, MeteredProduct, None, paging)
    return [_metered(g) for g in groups], after


async def plan(uow: UnitOfWork, code: str) -> PlanDoc:
    groups, _ = await _grouped(uow, Plan, [code], None)
    if not groups:
        raise Missing(f"There is no plan {code!r}.")
    return _plan(groups[0])


async def addon(uow: UnitOfWork, code: str) -> AddonDoc:
    groups, _ = await _grouped(uow, Addon, [code], None)
    if not groups:
        raise Missing(f"There is no add-on {code!r}.")
    return _addon(groups[0])


async def metered_product(uow: UnitOfWork, code: str) -> MeteredProductDoc:
    groups, _ = await _grouped(uow, MeteredProduct, [code], None)
    if not groups:
        raise Missing(f"There is no metered product {code!r}.")
    return _metered(groups[0])


async def priced(uow: UnitOfWork, model: type[Row], kind: str, code: str, currency: str, field: str) -> Row:
    """The row of ``code`` in ``currency``, which a customer's order or resource uses."""
    row = await uow.session.scalar(select(model).where(model.code == code, model.currency == currency))
    if row is None:
        raise Invalid(field, f"there is no {kind} {code!r} priced in {currency}")
    return row

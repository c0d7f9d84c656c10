"""What every back-office record shares: the field types of the documents, references to other
records, finding the record a write names, the outcome of a write, pages, errors and the audit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from services import audit
from services.audit import Actor
from services.errors import DomainError
from services.iso4217 import MINOR_UNITS
from storage.models import Customer
from storage.uow import UnitOfWork

# -- errors: what a write is refused for, in words for the provider's staff (English, like the API) --


class Invalid(DomainError):
    """A field names something that cannot be (an unknown plan, another customer's order): the API
    answers 422 naming ``field`` (dotted, as in the document: ``addons.0.code``)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class Conflict(DomainError):
    """The write contradicts a record that exists (an external id taken, an issued invoice): 409."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Missing(DomainError):
    """The record named by the request's path does not exist: 404."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# -- field types ---------------------------------------------------------------------------------

ID_MAX = 2**31 - 1
MINOR_MAX = 10**15  # far above any real amount, well inside BIGINT

Id = Annotated[int, Field(ge=1, le=ID_MAX)]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@~+=-]+$"),
    Field(description="The provider's own key for the record (its billing system's id), unique per type."),
]
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9._-]*$"),
    Field(description="A catalogue item's code, lower case: the same in every currency."),
]
Minor = Annotated[
    int, Field(ge=0, le=MINOR_MAX, description="An amount in minor units of the currency (cents).")
]
SignedMinor = Annotated[int, Field(ge=-MINOR_MAX, le=MINOR_MAX)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Language = Literal["en", "fr", "id", "tr"]


def _currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _country(code: str) -> str:
    if code not in _countries():
        raise ValueError(f"{code!r} is not an ISO 3166 country code")
    return code


def _timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"{name!r} is not an IANA time zone")
    return ZoneInfo(name).key


# Read on first use, not at import: listing the time zones walks the tz database, and every start
# of ``hostbot run`` (which serves the admin API) would pay for it.
@cache
def _countries() -> frozenset[str]:
    return frozenset(str(code) for code in Locale("en").territories if re.fullmatch("[A-Z]{2}", str(code)))


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_currency),
    Field(description="ISO 4217 code", examples=["EUR"]),
]
Country = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_country),
    Field(description="ISO 3166-1 alpha-2 code", examples=["FR"]),
]
TimeZone = Annotated[
    str, AfterValidator(_timezone), Field(description="IANA time zone", examples=["Europe/Paris"])
]


class Document(BaseModel):
    """A record as written: unknown fields are refused (a misspelt field is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")


class Ref(Document):
    """Another record, by hostbot ``id`` or by ``external_id`` (both: they must name the same one)."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["id"]}, {"required": ["external_id"]}]}
    )

    id: Id | None = None
    external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _named(self) -> Ref:
        if self.id is None and self.external_id is None:
            raise ValueError("give the id or the external_id of the record")
        return self

    def __str__(self) -> str:
        return f"external_id {self.external_id!r}" if self.external_id is not None else f"id {self.id}"


def ref_of(row: Keyed) -> Ref:
    return Ref(id=row.id, external_id=row.external_id)


# -- finding records -----------------------------------------------------------------------------


class Keyed(Protocol):
    id: Any
    external_id: Any


R = TypeVar("R", bound=Keyed)


@dataclass(frozen=True)
class Key:
    """How a write names its record: by hostbot id (``PUT /x/{id}``), by external id (``PUT
    /x/external/{external_id}``), by both (an import entry), or by neither (``POST``: a new one)."""

    id: int | None = None
    external_id: str | None = None


async def by_external_id(uow: UnitOfWork, model: type[R], external_id: str) -> R | None:
    found: R | None = await uow.session.scalar(select(model).where(model.external_id == external_id))
    return found


async def locate(uow: UnitOfWork, model: type[R], kind: str, key: Key, wanted: str | None) -> R | None:
    """The record ``key`` names, or None when the write creates one. ``wanted`` is the external id
    the document gives: taken by another record, it is a conflict."""
    if key.external_id is not None and wanted not in (None, key.external_id):
        raise Invalid("external_id", f"must be {key.external_id!r}, the external id the record is put at")
    row = None
    if key.external_id is not None:
        row = await by_external_id(uow, model, key.external_id)
    if row is None and key.id is not None:
        row = await uow.session.get(model, key.id)
        if row is None:
            raise Missing(f"There is no {kind} {key.id}.")
    if row is not None and key.id is not None and row.id != key.id:
        raise Invalid("id", f"external id {key.external_id!r} belongs to {kind} {row.id}, not {key.id}")
    if wanted is not None and (row is None or row.external_id != wanted):
        other = await by_external_id(uow, model, wanted)
        if other is not None:
            raise Conflict(f"External id {wanted!r} is {kind} {other.id} already.")
    return row


async def fetch(uow: UnitOfWork, model: type[R], kind: str, key: Key) -> R:
    """The record a request's path names; ``Missing`` when there is none."""
    row = await locate(uow, model, kind, key, None)
    if row is None:
        raise Missing(f"There is no {kind} with external id {key.external_id!r}.")
    return row


async def customer(uow: UnitOfWork, ref: Ref, field: str = "customer") -> Customer:
    """The customer a document refers to; unknown, it is the field's error."""
    return await resolve(uow, Customer, "customer", ref, field)


async def resolve(uow: UnitOfWork, model: type[R], kind: str, ref: Ref, field: str) -> R:
    row = None
    if ref.external_id is not None:
        row = await by_external_id(uow, model, ref.external_id)
    elif ref.id is not None:
        row = await uow.session.get(model, ref.id)
    if row is None or (ref.id is not None and row.id != ref.id):
        raise Invalid(field, f"there is no {kind} with {ref}")
    return row


async def owners(uow: UnitOfWork, ids: set[int]) -> dict[int, Customer]:
    """The customers of a page of records, by id, in one query."""
    rows = await uow.session.scalars(select(Customer).where(Customer.id.in_(ids)))
    return {c.id: c for c in rows}


def assign(row: object, values: dict[str, Any]) -> bool:
    """Set each differing value; whether anything changed (a second identical PUT changes nothing)."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def stays_with(row_customer_id: int, customer: Customer, kind: str) -> None:
    """A service or domain keeps its customer: moving one is not a field change."""
    if row_customer_id != customer.id:
        raise Invalid("customer", f"this {kind} belongs to customer {row_customer_id}; it cannot move")


RACED = "The write conflicts with another record (a key that must be unique); try again."


def as_conflict(err: Exception) -> Conflict | None:
    """A unique key two writers took at the same moment (two syncs putting one external id): the
    second is refused as a conflict, which a retry resolves."""
    return Conflict(RACED) if isinstance(err, IntegrityError) else None


async def settle(uow: UnitOfWork) -> None:
    """Write what is pending now, so that a conflict shows before the answer is sent."""
    try:
        await uow.flush()
    except IntegrityError as err:
        await uow.rollback()
        raise Conflict(RACED) from err


# -- outcome of a write, pages, audit ---------------------------------------------------------

Change = Literal["created", "updated", "unchanged"]


class HasId(Protocol):
    id: Any


H = TypeVar("H", bound=HasId)


@dataclass(frozen=True)
class Written(Generic[H]):
    row: H
    change: Change


V = TypeVar("V", bound=BaseModel)


class Page(BaseModel, Generic[V]):
    """One page of a list, oldest first; ``next`` is the URL of the following page, null at the end."""

    items: list[V]
    next: str | None = None


class Listing(Document):
    """Paging of a list: ``after`` the last id of the previous page (its ``next`` link does it)."""

    limit: int = Field(50, ge=1, le=500)
    after: int = Field(0, ge=0, le=ID_MAX)


class ByCustomer(Listing):
    customer: Id | None = Field(None, description="only the records of this customer (hostbot id)")


async def page(
    uow: UnitOfWork, query: Select[H], id_column: Any, paging: Listing
) -> tuple[Sequence[H], int | None]:
    """The rows after ``paging.after`` by id, and the cursor of the next page (None: last page)."""
    rows = (
        await uow.session.scalars(
            query.where(id_column > paging.after).order_by(id_column).limit(paging.limit + 1)
        )
    ).all()
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return rows, (int(rows[-1].id) if more else None)


def staff_actor(customer_id: int, by: str) -> Actor:
    return Actor(customer_id, staff=by)


def note(
    uow: UnitOfWork, by: str, action: str, target: str, customer_id: int | None = None, **detail: Any
) -> None:
    """The audit row of one staff write."""
    if customer_id is None:
        audit.record(uow, action, None, target, staff=by, **detail)
    else:
        audit.record(uow, action, staff_actor(customer_id, by), target, **detail)


def noted(
    uow: UnitOfWork, by: str, kind: str, written: Written[R], customer_id: int | None = None
) -> Written[R]:
    """Audit a created or updated record (an unchanged one leaves no row) and hand the outcome on."""
    if written.change != "unchanged":
        note(uow, by, f"{kind}.{written.change}", f"{kind}:{written.row.id}", customer_id)
    return written

"""Customers as the provider's staff write them: contact data, mailboxes per purpose, language,
currency, country, VAT id, address and time zone."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import delete, exists, or_, select

from services import clock, topup
from services.backoffice.common import (
    Conflict,
    Country,
    Currency,
    Document,
    Email,
    ExternalId,
    Id,
    Key,
    Language,
    Listing,
    Minor,
    TimeZone,
    Written,
    assign,
    locate,
    noted,
    page,
)
from services.topup import InvalidTaxId
from storage.models import Customer, CustomerEmail, Domain, Invoice, LedgerEntry, Order
from storage.uow import UnitOfWork

Purpose = Literal["billing", "technical", "general"]


class Mailbox(Document):
    """Where mail of one purpose goes instead of the main address (ticket copies, invoices)."""

    purpose: Purpose
    email: Email


class Address(Document):
    line: Annotated[str, Field(max_length=300)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    city: Annotated[str, Field(max_length=100)] = ""


class CustomerDoc(Document):
    """A customer. ``currency`` is the account's: it cannot change once money or services exist."""

    external_id: ExternalId | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Email
    emails: Annotated[list[Mailbox], Field(max_length=20)] = Field(default_factory=list)
    language: Language | None = Field(None, description="the language alerts are sent in; null: English")
    currency: Currency
    country: Country
    is_business: bool = False
    vat_id: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        None,
        description="VAT or tax id, checked (format and checksum) where python-stdnum knows the country's",
    )
    address: Address = Address()
    timezone: TimeZone = "UTC"
    overdraft_limit_minor: Minor = 0

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Checked and written as the chat's billing form does (an EU id with its country prefix)."""
        country = info.data.get("country")
        if value is None or not isinstance(country, str):
            return value
        try:
            return topup.parse_tax_id(value, country)
        except InvalidTaxId:
            raise ValueError(f"not a valid tax id of {country}") from None

    @model_validator(mode="after")
    def _distinct_mailboxes(self) -> CustomerDoc:
        pairs = [(m.purpose, m.email.lower()) for m in self.emails]
        if len(set(pairs)) != len(pairs):
            raise ValueError("a mailbox is listed twice for the same purpose")
        return self


class CustomerEntry(CustomerDoc):
    """A customer in an import file: found again by ``external_id`` (or ``id``, for one that exists)."""

    id: Id | None = None


class CustomerView(CustomerDoc):
    id: int
    balance_minor: int
    created_at: dt.datetime


class CustomerQuery(Listing):
    external_id: ExternalId | None = None
    email: Email | None = None


def _values(doc: CustomerDoc) -> dict[str, object]:
    return {
        "name": doc.name,
        "email": doc.email,
        "language": doc.language,
        "currency": doc.currency,
        "country": doc.country,
        "is_business": doc.is_business,
        "vat_id": doc.vat_id,
        "address_line": doc.address.line,
        "postal_code": doc.address.postal_code,
        "city": doc.address.city,
        "timezone": doc.timezone,
        "overdraft_limit_minor": doc.overdraft_limit_minor,
    }


async def _has_money(uow: UnitOfWork, customer_id: int) -> bool:
    """Whether anything in the account's currency exists: then the currency stays."""
    found = await uow.session.scalar(
        select(
            or_(
                exists().where(LedgerEntry.customer_id == customer_id),
                exists().where(Invoice.customer_id == customer_id),
                exists().where(Order.customer_id == customer_id),
                exists().where(Domain.customer_id == customer_id),
            )
        )
    )
    return bool(found)


async def mailboxes(uow: UnitOfWork, customer_ids: Sequence[int]) -> dict[int, list[Mailbox]]:
    rows = await uow.session.scalars(
        select(CustomerEmail).where(CustomerEmail.customer_id.in_(customer_ids)).order_by(CustomerEmail.id)
    )
    found: dict[int, list[Mailbox]] = defaultdict(list)
    for row in rows:
        found[row.customer_id].append(Mailbox(purpose=row.purpose, email=row.email))
    return found


async def _set_mailboxes(uow: UnitOfWork, customer: Customer, wanted: list[Mailbox]) -> bool:
    current = (await mailboxes(uow, [customer.id])).get(customer.id, [])
    if current == wanted:
        return False
    await uow.session.execute(delete(CustomerEmail).where(CustomerEmail.customer_id == customer.id))
    uow.session.add_all(
        CustomerEmail(customer_id=customer.id, purpose=m.purpose, email=m.email) for m in wanted
    )
    return True


async def put(uow: UnitOfWork, doc: CustomerDoc, key: Key, by: str) -> Written[Customer]:
    """Create the customer, or bring it to ``doc`` (unchanged when it already is)."""
    row = await locate(uow, Customer, "customer", key, doc.external_id)
    external_id = doc.external_id or key.external_id
    values = _values(doc)
    if row is None:
        row = Customer(**values, external_id=external_id, created_at=clock.now())
        uow.session.add(row)
        await uow.flush()
        await _set_mailboxes(uow, row, doc.emails)
        return noted(uow, by, "customer", Written(row, "created"), row.id)
    if row.currency != doc.currency and await _has_money(uow, row.id):
        raise Conflict(
            f"Customer {row.id} has invoices, services or ledger entries in {row.currency}: "
            "its currency cannot change."
        )
    if external_id is not None:
        values["external_id"] = external_id
    changed = assign(row, values)
    changed = await _set_mailboxes(uow, row, doc.emails) or changed
    return noted(uow, by, "customer", Written(row, "updated" if changed else "unchanged"), row.id)


def view(row: Customer, boxes: list[Mailbox]) -> CustomerView:
    return CustomerView(
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        email=row.email,
        emails=boxes,
        language=row.language,
        currency=row.currency,
        country=row.country,
        is_business=row.is_business,
        vat_id=row.vat_id,
        address={"line": row.address_line, "postal_code": row.postal_code, "city": row.city},
        timezone=row.timezone,
        overdraft_limit_minor=row.overdraft_limit_minor,
        balance_minor=row.balance_minor,
        created_at=row.created_at,
    )


async def views(uow: UnitOfWork, rows: Sequence[Customer]) -> list[CustomerView]:
    boxes = await mailboxes(uow, [r.id for r in rows])
    return [view(r, boxes.get(r.id, [])) for r in rows]


async def listing(uow: UnitOfWork, query: CustomerQuery) -> tuple[list[CustomerView], int | None]:
    select_ = select(Customer)
    if query.external_id is not None:
        select_ = select_.where(Customer.external_id == query.external_id)
    if query.email is not None:
        select_ = select_.where(Customer.email == query.email)
    rows, after = await page(uow, select_, Customer.id, query)
    return await views(uow, rows), after

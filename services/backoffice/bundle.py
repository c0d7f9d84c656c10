"""``hostbot import`` and ``hostbot export``: one JSON document holding records of the admin API's
shapes, applied all or nothing, each record found again by its ``external_id`` (catalogue items by
their ``code``), so importing the same file twice changes nothing.

Invoices are not in the file: hostbot issues them (numbering, VAT); opening balances are balance
adjustments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.backoffice import billing, catalogue, customers, domains, orders, resources, servers
from services.backoffice.billing import ADJUSTMENT, AdjustmentEntry
from services.backoffice.catalogue import AddonDoc, MeteredProductDoc, PlanDoc
from services.backoffice.common import Conflict, Invalid, Key, Missing, ref_of
from services.backoffice.customers import CustomerEntry
from services.backoffice.domains import DomainEntry
from services.backoffice.orders import OrderEntry
from services.backoffice.resources import MeteredResourceEntry
from services.backoffice.servers import ServerEntry
from storage.models import Customer, Domain, LedgerEntry, MeteredResource, Order, Server
from storage.uow import UnitOfWork

BY = "import"


class Bundle(BaseModel):
    """A hostbot import file. Records are applied in the order of the keys below, so a customer is
    there before its orders, an order before its servers. Each record of a customer's is named by
    ``external_id`` (or by ``id``, for one that exists in this database already)."""

    model_config = ConfigDict(extra="forbid", title="hostbot import file", populate_by_name=True)

    schema_: str | None = Field(None, alias="$schema", description="where the JSON schema of this file is")
    version: Literal[1] = 1
    plans: list[PlanDoc] = []
    addons: list[AddonDoc] = []
    metered_products: list[MeteredProductDoc] = []
    customers: list[CustomerEntry] = []
    orders: list[OrderEntry] = []
    servers: list[ServerEntry] = []
    domains: list[DomainEntry] = []
    metered_resources: list[MeteredResourceEntry] = []
    balance_adjustments: list[AdjustmentEntry] = []

    @model_validator(mode="after")
    def _named(self) -> Bundle:
        for section in (
            "customers",
            "orders",
            "servers",
            "domains",
            "metered_resources",
            "balance_adjustments",
        ):
            for i, entry in enumerate(getattr(self, section)):
                if entry.id is None and entry.external_id is None:
                    raise ValueError(f"{section}.{i}: give an external_id (or the id of an existing record)")
        return self


Status = Literal["created", "updated", "unchanged", "refused"]


@dataclass(frozen=True)
class Line:
    """What became of one record of the file."""

    section: str
    name: str
    status: Status
    why: str = ""


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)

    @property
    def refused(self) -> list[Line]:
        return [line for line in self.lines if line.status == "refused"]

    def count(self, status: Status) -> int:
        return sum(1 for line in self.lines if line.status == status)


def _why(err: Exception) -> str:
    if isinstance(err, Invalid):
        return f"{err.field}: {err.detail}"
    if isinstance(err, Conflict | Missing):
        return err.detail
    return str(err)


def _name(entry: BaseModel) -> str:
    for attr in ("external_id", "code"):
        if (value := getattr(entry, attr, None)) is not None:
            return str(value)
    return f"id {getattr(entry, 'id', '?')}"


def _key(entry: Any) -> Key:
    return Key(entry.id, entry.external_id)


async def apply(uow: UnitOfWork, bundle: Bundle, *, commit: bool = True) -> Report:
    """Apply every record of the file in one transaction: committed only when none is refused (and
    ``commit``); otherwise nothing is written. Each record is tried in a savepoint so that the
    report names every refusal, not just the first."""
    report = Report()
    steps: list[tuple[str, list[Any], Callable[[Any], Awaitable[str]]]] = [
        ("plans", bundle.plans, lambda doc: catalogue.put_plan(uow, doc, BY)),
        ("addons", bundle.addons, lambda doc: catalogue.put_addon(uow, doc, BY)),
        (
            "metered_products",
            bundle.metered_products,
            lambda doc: catalogue.put_metered_product(uow, doc, BY),
        ),
        ("customers", bundle.customers, lambda e: _change(customers.put(uow, e, _key(e), BY))),
        ("orders", bundle.orders, lambda e: _change(orders.put(uow, e, _key(e), BY))),
        ("servers", bundle.servers, lambda e: _change(servers.put(uow, e, _key(e), BY))),
        ("domains", bundle.domains, lambda e: _change(domains.put(uow, e, _key(e), BY))),
        (
            "metered_resources",
            bundle.metered_resources,
            lambda e: _change(resources.put(uow, e, _key(e), BY)),
        ),
        (
            "balance_adjustments",
            bundle.balance_adjustments,
            lambda e: _change(billing.adjust(uow, e, _key(e), BY)),
        ),
    ]
    for section, entries, put in steps:
        for entry in entries:
            savepoint = await uow.savepoint()
            try:
                change = await put(entry)
                await uow.flush()
            except (Invalid, Conflict, Missing) as err:
                await savepoint.rollback()
                report.lines.append(Line(section, _name(entry), "refused", _why(err)))
                continue
            except IntegrityError:
                await savepoint.rollback()
                why = "conflicts with another record (a key that must be unique)"
                report.lines.append(Line(section, _name(entry), "refused", why))
                continue
            await savepoint.commit()
            report.lines.append(Line(section, _name(entry), change))  # type: ignore[arg-type]
    if report.refused or not commit:
        await uow.rollback()
    else:
        await uow.commit()
    return report


async def _change(written: Awaitable[Any]) -> str:
    return str((await written).change)


async def export(uow: UnitOfWork) -> dict[str, Any]:
    """Every record the file can hold, as the file's JSON, with each record's hostbot ``id`` beside
    its ``external_id``: imported again into the same database, it changes nothing. Written from
    what is stored, without validating it again: an export never fails; an import says what it
    refuses."""
    plans, _ = await catalogue.plans(uow)
    addons, _ = await catalogue.addons(uow)
    metered, _ = await catalogue.metered_products(uow)
    people = list((await uow.session.scalars(select(Customer).order_by(Customer.id))).all())
    by_id = {c.id: c for c in people}
    order_rows = (await uow.session.scalars(select(Order).order_by(Order.id))).all()
    server_rows = (await uow.session.scalars(select(Server).order_by(Server.id))).all()
    domain_rows = (await uow.session.scalars(select(Domain).order_by(Domain.id))).all()
    resource_rows = (
        await uow.session.scalars(
            select(MeteredResource).where(MeteredResource.deleted_at.is_(None)).order_by(MeteredResource.id)
        )
    ).all()
    adjustments = (
        await uow.session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == ADJUSTMENT).order_by(LedgerEntry.id)
        )
    ).all()
    sections: list[tuple[str, type[BaseModel], Sequence[BaseModel]]] = [
        ("plans", PlanDoc, plans),
        ("addons", AddonDoc, addons),
        ("metered_products", MeteredProductDoc, metered),
        ("customers", CustomerEntry, await customers.views(uow, people)),
        ("orders", OrderEntry, await orders.views(uow, order_rows)),
        ("servers", ServerEntry, [_settled(v) for v in await servers.views(uow, server_rows)]),
        ("domains", DomainEntry, await domains.views(uow, domain_rows)),
        (
            "metered_resources",
            MeteredResourceEntry,
            [resources.view(r, ref_of(by_id[r.customer_id])) for r in resource_rows],
        ),
        ("balance_adjustments", AdjustmentEntry, await billing.adjustment_views(uow, adjustments)),
    ]
    document: dict[str, Any] = {"version": 1}
    for section, entry, views in sections:
        document[section] = [v.model_dump(mode="json", include=set(entry.model_fields)) for v in views]
    return document


def _settled(view: servers.ServerView) -> servers.ServerView:
    """A server caught mid-reboot is exported as the running server it is about to be again."""
    return view.model_copy(update={"power_state": "running"}) if view.power_state == "rebooting" else view

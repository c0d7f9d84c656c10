"""The six routes every record with an ``external_id`` has, made once: list, create, read and
replace by hostbot id, read and put by external id (the idempotent sync)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from bot.admin.routing import Call, Handler, Out, Routes, found, wrote
from services.backoffice.common import Key, Keyed, Page, Written, fetch
from services.records import UnitOfWork

Row = TypeVar("Row", bound=Keyed)


@dataclass(frozen=True)
class Record(Generic[Row]):
    """How the API reaches one kind of record through ``services.backoffice``."""

    name: str  # "customer": the audit's and the messages' word
    plural: str  # "customers": the path
    model: type[Row]
    doc: type[BaseModel]
    view: type[BaseModel]
    query: type[BaseModel]
    put: Callable[[UnitOfWork, Any, Key, str], Awaitable[Written[Row]]]
    views: Callable[[UnitOfWork, Sequence[Row]], Awaitable[Sequence[BaseModel]]]
    listing: Callable[[UnitOfWork, Any], Awaitable[tuple[Sequence[BaseModel], int | None]]]
    customer_of: Callable[[Row], int]


def routes_of(record: Record[Any], description: str, operation: str | None = None) -> Routes:
    """The routes; their operation ids name ``operation`` (default: the record's name)."""
    routes = Routes(record.plural, description)
    base, name, page = f"/{record.plural}", record.name, Page[record.view]  # type: ignore[name-defined]
    op = operation or name.replace(" ", "_")

    async def view(call: Call, row: Any) -> BaseModel:
        [one] = await record.views(call.uow, [row])
        return one

    async def answer(call: Call, written: Written[Any]) -> Out:
        row = written.row
        return wrote(call, f"{base}/{row.id}", written.change, await view(call, row), record.customer_of(row))

    async def listing(call: Call, query: Any) -> Out:
        items, after = await record.listing(call.uow, query)
        return Out(page(items=items, next=call.next_link(after)))

    async def create(call: Call, body: Any) -> Out:
        return await answer(call, await record.put(call.uow, body, Key(), call.staff))

    async def read(call: Call, id: int) -> Out:
        row = await fetch(call.uow, record.model, name, Key(id=id))
        return found(call, f"{base}/{row.id}", await view(call, row), record.customer_of(row))

    async def replace(call: Call, id: int, body: Any) -> Out:
        return await answer(call, await record.put(call.uow, body, Key(id=id), call.staff))

    async def read_external(call: Call, external_id: str) -> Out:
        row = await fetch(call.uow, record.model, name, Key(external_id=external_id))
        return found(call, f"{base}/{row.id}", await view(call, row), record.customer_of(row))

    async def put_external(call: Call, external_id: str, body: Any) -> Out:
        return await answer(call, await record.put(call.uow, body, Key(external_id=external_id), call.staff))

    made: list[tuple[Handler, str, str, str, str]] = [
        (listing, "GET", base, f"List {record.plural}", "Oldest first, a page at a time."),
        (create, "POST", base, f"Create a {name}", "An external_id another record has is a conflict (409)."),
        (read, "GET", f"{base}/{{id}}", f"Read a {name}", ""),
        (replace, "PUT", f"{base}/{{id}}", f"Replace a {name}", "The whole document; unchanged fields stay."),
        (read_external, "GET", f"{base}/external/{{external_id}}", f"Read a {name} by external id", ""),
        (
            put_external,
            "PUT",
            f"{base}/external/{{external_id}}",
            f"Create or update a {name} by external id",
            "Idempotent: 201 the first time, then 200; the same document again changes nothing.",
        ),
    ]
    ids = ["list_" + record.plural.replace("-", "_"), f"create_{op}", f"get_{op}", f"put_{op}"]
    ids += [f"get_{op}_by_external_id", f"put_{op}_by_external_id"]
    for (handler, method, path, summary, doc), operation in zip(made, ids, strict=True):
        handler.__name__ = handler.__qualname__ = operation
        handler.__doc__ = doc
        writes = method in ("POST", "PUT")
        routes.route(
            method,
            path,
            summary,
            scope="write" if writes else "read",
            returns=page if handler is listing else record.view,
            statuses={"POST": (201,), "PUT": (200, 201) if handler is put_external else (200,)}.get(
                method, (200,)
            ),
            body=record.doc if writes else None,
            query=record.query if handler is listing else None,
        )(handler)
    return routes

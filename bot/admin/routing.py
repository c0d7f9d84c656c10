"""One declaration per route: the decorator's method, path, summary, scope and response model, and
the handler's annotated parameters (``body``, ``query`` and the path's names), drive validating the
request, calling the handler and the OpenAPI document alike."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from services.backoffice.common import Code, ExternalId, Id
from services.backoffice.scopes import Scope
from services.backoffice.tokens import Token
from services.invoices import Seller
from services.ports import FileStore, Notifier, TicketEvents
from services.records import UnitOfWork

BASE = "/admin/api/v1"
OPERATION_ID_MAX = 36  # the audit row's action is ``api.<operation id>``, 40 characters at most

# The path parameters routes may use, and what each must be.
PATH_PARAMS: dict[str, TypeAdapter[Any]] = {
    "id": TypeAdapter(Id),
    "external_id": TypeAdapter(ExternalId),
    "code": TypeAdapter(Code),
    "attachment": TypeAdapter(Id),
}


@dataclass(frozen=True)
class Download:
    """A file answered as it is (never as a page: ``Content-Disposition: attachment``)."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Out:
    """What a handler answers: a body (None: 204 No Content), its status, where a new record is;
    or a ``file`` instead of a body."""

    body: BaseModel | None
    status: int = 200
    location: str | None = None
    file: Download | None = None


@dataclass
class Call:
    """One API call as its handler sees it: the open unit of work (the framework commits it), the
    token, the seller invoices are issued by, where payment notices and ticket events go (the
    customer's chats, as from any other surface), how the pay page writes a bank reference, where
    ticket attachments are kept, and what the audit row will say the call was about."""

    uow: UnitOfWork
    request: web.Request
    seller: Seller
    notifier: Notifier
    ticket_events: TicketEvents
    bank_reference: str
    files: FileStore
    token: Token | None = None
    customer_id: int | None = None
    target: str = ""
    change: str | None = None

    @property
    def staff(self) -> str:
        return self.token.staff if self.token is not None else "anonymous"

    def about(self, target: str, customer_id: int | None = None, change: str | None = None) -> None:
        """Name what the call acted on, for its audit row."""
        self.target = target
        self.customer_id = customer_id
        self.change = change

    def next_link(self, after: int | str | None, cursor: str = "after") -> str | None:
        """The URL of the page after this one (same filters, ``cursor`` set to ``after``), or None
        on the last page."""
        if after is None:
            return None
        return str(self.request.rel_url.update_query({cursor: str(after)}))


def wrote(call: Call, path: str, change: str, view: BaseModel, customer_id: int | None = None) -> Out:
    """The answer to a write: 201 with ``Location`` for a new record, else 200 (updated or
    unchanged, which the audit row tells apart). ``path`` is the record's, under the API's base."""
    call.about(path.lstrip("/"), customer_id, change)
    if change == "created":
        return Out(view, 201, BASE + path)
    return Out(view)


def found(call: Call, path: str, view: BaseModel, customer_id: int | None = None) -> Out:
    call.about(path.lstrip("/"), customer_id)
    return Out(view)


Handler = Callable[..., Awaitable[Out]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    scope: Scope
    tag: str
    tag_description: str
    handler: Handler
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    params: tuple[str, ...]
    returns: type[BaseModel] | None
    statuses: tuple[int, ...]
    download: bool = False  # answers a file (``Out.file``), not JSON

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def description(self) -> str:
        return inspect.getdoc(self.handler) or ""

    def matches(self, path: str) -> bool:
        """Whether ``path`` (under the API's base) is this route's, whatever the method."""
        pattern = re.sub(r"\\{(\w+)\\}", "[^/]+", re.escape(self.path))
        return re.fullmatch(pattern, path) is not None


@dataclass
class Routes:
    """The routes of one resource (one tag of the document)."""

    tag: str
    description: str
    routes: list[Route] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        scope: Scope,
        returns: type[BaseModel] | None,
        statuses: tuple[int, ...] = (200,),
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        download: bool = False,
    ) -> Callable[[H], H]:
        """Register ``handler``; its ``body`` and ``query`` models are its parameters' annotations
        (or given here, for handlers made by a factory). ``download``: it answers a file."""

        def register(handler: H) -> H:
            hints = get_type_hints(handler)
            params = tuple(re.findall(r"{(\w+)}", path))
            unknown = [p for p in params if p not in PATH_PARAMS or p not in hints]
            if unknown:
                raise TypeError(f"{handler.__name__}: path parameters {unknown} are not declared")
            if len(handler.__name__) > OPERATION_ID_MAX:
                raise TypeError(f"{handler.__name__}: an operation id fits the audit's action (api.ID)")
            self.routes.append(
                Route(
                    method,
                    path,
                    summary,
                    scope,
                    self.tag,
                    self.description,
                    handler,
                    body or hints.get("body"),
                    query or hints.get("query"),
                    params,
                    returns,
                    statuses,
                    download,
                )
            )
            return handler

        return register

    def get(self, path: str, summary: str, *, returns: type[BaseModel]) -> Callable[[H], H]:
        return self.route("GET", path, summary, scope="read", returns=returns)

    def put(
        self, path: str, summary: str, *, returns: type[BaseModel], scope: Scope = "write"
    ) -> Callable[[H], H]:
        return self.route("PUT", path, summary, scope=scope, returns=returns, statuses=(200, 201))

    def post(
        self, path: str, summary: str, *, returns: type[BaseModel], scope: Scope = "write", status: int = 201
    ) -> Callable[[H], H]:
        return self.route("POST", path, summary, scope=scope, returns=returns, statuses=(status,))

    def delete(
        self, path: str, summary: str, *, returns: type[BaseModel] | None = None, scope: Scope = "write"
    ) -> Callable[[H], H]:
        return self.route(
            "DELETE", path, summary, scope=scope, returns=returns, statuses=(200 if returns else 204,)
        )

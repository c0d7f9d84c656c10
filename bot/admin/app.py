"""Serving the admin API on the one aiohttp application: bearer tokens and their scopes, requests
validated by each route's declaration, problem details for every error, and one audit row per call
(saved with the call's own changes, or alone when the call failed)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from bot.admin import openapi
from bot.admin.problems import Problem, body_errors, invalid, parameter_errors
from bot.admin.routing import BASE, PATH_PARAMS, Call, Download, Out, Route
from services import pending_actions
from services.action_runner import ActionRunner
from services.backoffice import tokens
from services.backoffice.common import Conflict, Invalid, Missing, as_conflict, note, settle
from services.errors import DomainError, NotFound
from services.invoices import Seller
from services.ports import FileStore, Notifier, TicketEvents
from services.records import Database, connection_lost

log = logging.getLogger("hostbot.admin")
TARGET_MAX = 100  # the audit row's target column; the whole path is in its detail


@dataclass(frozen=True)
class Admin:
    """What the API serves: the database, the seller invoices are issued by, the routes; where
    payment notices and ticket events go; how the pay page writes a bank reference; what
    carries out the outside calls a call's commit decided (a server unsuspended once paid); and
    where ticket attachments are kept."""

    db: Database
    seller: Seller
    routes: Sequence[Route]
    notifier: Notifier
    ticket_events: TicketEvents
    bank_reference: str
    actions: ActionRunner
    files: FileStore
    document: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "document", openapi.document(self.routes))


ADMIN_KEY = web.AppKey("admin_api", Admin)


def setup(web_app: web.Application, admin: Admin) -> None:
    """Mount every route under ``/admin/api/v1``, the OpenAPI document, and a 404/405 for the rest."""
    web_app[ADMIN_KEY] = admin
    web_app.router.add_get(f"{BASE}/openapi.json", document)
    for route in admin.routes:
        web_app.router.add_route(route.method, BASE + route.path, _serving(route))
    web_app.router.add_route("*", BASE + "/{tail:.*}", unknown)


async def document(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document; public, like any API's description (it holds no data)."""
    return web.json_response(request.app[ADMIN_KEY].document)


def _serving(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        return await _call(request, route.operation_id, lambda call: _answer(route, call))

    return serve


async def unknown(request: web.Request) -> web.StreamResponse:
    """A path no route has (404), or a method a path does not take (405, with ``Allow``)."""

    async def answer(call: Call) -> web.StreamResponse:
        await _authenticate(call)
        path = request.path.removeprefix(BASE)
        allowed = sorted({r.method for r in request.app[ADMIN_KEY].routes if r.matches(path)})
        if allowed:
            raise Problem(
                405, f"{request.method} is not allowed here.", headers={"Allow": ", ".join(allowed)}
            )
        raise Problem(404, "There is no such resource in this API; see /admin/api/v1/openapi.json.")

    return await _call(request, "unknown", answer)


async def _call(
    request: web.Request, operation: str, answer: Callable[[Call], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    admin = request.app[ADMIN_KEY]
    async with admin.db.uow() as uow:
        call = Call(
            uow,
            request,
            admin.seller,
            admin.notifier,
            admin.ticket_events,
            admin.bank_reference,
            admin.files,
        )
        try:
            response = await answer(call)
        except Exception as err:
            if connection_lost(err):
                raise  # the web app's middleware runs the call again on a fresh connection
            await uow.rollback()
            response = _problem(err).response(request.path)
        note(
            uow,
            call.staff,
            f"api.{operation}",
            (call.target or request.path)[:TARGET_MAX],
            call.customer_id,
            outcome=_outcome(response.status),
            method=request.method,
            path=request.path,
            status=response.status,
            **({"change": call.change} if call.change else {}),
        )
        await uow.commit()
        decided = pending_actions.committed(uow)
    await admin.actions.carry_out(decided)  # a suspended server back at once when its renewal is paid
    return response


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return {401: "denied", 403: "denied", 404: "missing"}.get(status, "error" if status >= 500 else "refused")


def _problem(err: Exception) -> Problem:
    if isinstance(err, Problem):
        return err
    err = as_conflict(err) or err
    if isinstance(err, Invalid):
        return invalid(
            [{"field": err.field, "pointer": "#/" + err.field.replace(".", "/"), "detail": err.detail}]
        )
    if isinstance(err, Missing):
        return Problem(404, err.detail)
    if isinstance(err, NotFound):
        return Problem(404, "There is no such record.")
    if isinstance(err, Conflict):
        return Problem(409, err.detail)
    if isinstance(err, DomainError):
        return Problem(409, str(err).format(**err.params) if err.params else str(err))
    if isinstance(err, web.HTTPRequestEntityTooLarge):
        return Problem(413, "The body is larger than the server takes.")
    log.exception("admin API call failed")
    return Problem(500, "Something went wrong; the call changed nothing.")


async def _authenticate(call: Call) -> None:
    header = call.request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    challenge = 'Bearer realm="hostbot admin"'
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem(
            401, "Send a token: Authorization: Bearer <token>.", headers={"WWW-Authenticate": challenge}
        )
    call.token = await tokens.verify(call.uow, secret.strip())
    if call.token is None:
        raise Problem(
            401,
            "This token is unknown or revoked.",
            headers={"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
        )


async def _answer(route: Route, call: Call) -> web.StreamResponse:
    await _authenticate(call)
    assert call.token is not None
    if route.scope not in call.token.scopes:
        raise Problem(
            403,
            f"This call needs the {route.scope} scope; token {call.token.name!r} has {', '.join(call.token.scopes)}.",
            required_scope=route.scope,
        )
    arguments: dict[str, Any] = {"call": call, **_path(route, call.request)}
    if route.query is not None:
        arguments["query"] = _query(route.query, call.request)
    if route.body is not None:
        arguments["body"] = await _body(route.body, call.request)
    out: Out = await route.handler(**arguments)
    await settle(call.uow)
    return _render(out)


def _path(route: Route, request: web.Request) -> dict[str, Any]:
    values, errors = {}, []
    for name in route.params:
        try:
            values[name] = PATH_PARAMS[name].validate_python(request.match_info[name])
        except ValidationError as err:
            errors += [
                {"parameter": name, "in": "path", "detail": e["msg"]} for e in err.errors(include_url=False)
            ]
    if errors:
        raise invalid(errors)
    return values


def _query(model: type[Any], request: web.Request) -> Any:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as err:
        raise invalid(parameter_errors(err, "query")) from None


async def _body(model: type[Any], request: web.Request) -> Any:
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise Problem(415, "Send the body as JSON (Content-Type: application/json).")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except ValueError:
        raise Problem(400, "The body is not valid JSON.") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise invalid(body_errors(err)) from None


def _render(out: Out) -> web.Response:
    if out.file is not None:
        return _file(out.file)
    headers = {"Location": out.location} if out.location else None
    if out.body is None:
        return web.Response(status=204, headers=headers)
    text = json.dumps(out.body.model_dump(mode="json", by_alias=True), ensure_ascii=False)
    return web.Response(status=out.status, text=text, content_type="application/json", headers=headers)


def _file(file: Download) -> web.Response:
    """A customer's file for the staff to save, never to open in the API's origin: downloaded
    under its (quoted) name, not sniffed, sandboxed should a browser render it anyway."""
    ascii_name = file.name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    headers = {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file.name)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }
    return web.Response(body=file.data, content_type=file.media_type, headers=headers)

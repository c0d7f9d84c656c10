"""The OpenAPI 3.1 document, generated from the routes' declarations and the pydantic models'
JSON schemas (JSON Schema 2020-12, which OpenAPI 3.1 uses as is): nothing is written twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

from bot.admin.routing import BASE, PATH_PARAMS, Route

REF = "#/components/schemas/{model}"

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
        "required_scope": {"type": "string", "description": "403: the scope the call needs"},
        "errors": {
            "type": "array",
            "description": "422: every field (body) or parameter (query, path) that is wrong",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "dotted name in the body: addons.0.code"},
                    "pointer": {
                        "type": "string",
                        "description": "JSON pointer into the body: #/addons/0/code",
                    },
                    "parameter": {"type": "string"},
                    "in": {"type": "string", "enum": ["query", "path"]},
                    "detail": {"type": "string"},
                },
                "required": ["detail"],
            },
        },
    },
    "required": ["type", "title", "status"],
}

ERRORS = {
    "400": "The body is not JSON.",
    "401": "No token, or an unknown or revoked one.",
    "403": "The token lacks the scope this call needs.",
    "404": "No such record.",
    "409": "The call contradicts a record that exists (an external id taken, an issued invoice).",
    "415": "The body is not JSON.",
    "422": "A field or parameter is not valid; each is named in `errors`.",
}

SCOPES = {
    "read": "read every record and the audit log",
    "write": "create and change customers, the catalogue, orders, servers, domains, resources, chat links; "
    "answer, close and assign tickets",
    "money": "issue and cancel invoices, credit notes, balance adjustments; record bank transfers",
}


Schemas = dict[tuple[Any, JsonSchemaMode], JsonSchemaValue]


def document(routes: Sequence[Route]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for route in routes:
        if route.body is not None:
            models.append((route.body, "validation"))
        if route.returns is not None:
            models.append((route.returns, "serialization"))
    schemas, definitions = models_json_schema(models, ref_template=REF)
    components = dict(definitions.get("$defs", {}))
    components["Problem"] = PROBLEM
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hostbot admin API",
            "version": "1",
            "description": (
                "The provider's side of hostbot. Every call needs `Authorization: Bearer <token>` "
                "(`hostbot admin token create NAME --scope read|write|money`) and is audited. "
                "Amounts are integers of minor units (cents) with an ISO 4217 currency. A record with an "
                "`external_id` is put at `/{type}/external/{external_id}`: the same document twice changes "
                "nothing (200), a new one is created (201). Lists are paged: follow `next`."
            ),
        },
        "servers": [{"url": BASE}],
        "tags": _tags(routes),
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Scopes: " + "; ".join(f"{k}: {v}" for k, v in SCOPES.items()),
                }
            },
        },
        "security": [{"bearer": []}],
    }


def _tags(routes: Sequence[Route]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for route in routes:
        seen.setdefault(route.tag, route.tag_description)
    return [{"name": tag, "description": about} for tag, about in seen.items()]


def _operation(route: Route, schemas: Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": f"{route.description}\n\nNeeds the `{route.scope}` scope.".strip(),
        "tags": [route.tag],
        "x-scope": route.scope,
        "parameters": _parameters(route),
        "responses": _responses(route, schemas),
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(route.body, "validation")]}},
        }
    return operation


def _parameters(route: Route) -> list[dict[str, Any]]:
    found = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name].json_schema()}
        for name in route.params
    ]
    if route.query is not None:
        schema = route.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                parameter["description"] = prop["description"]
            found.append(parameter)
    return found


def _responses(route: Route, schemas: Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in route.statuses:
        if route.download:
            binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
            responses[str(status)] = {"description": "The file, as it was sent.", "content": {"*/*": binary}}
            continue
        if route.returns is None:
            responses[str(status)] = {"description": "Done."}
            continue
        what = {200: "The record.", 201: "Created."}.get(status, "Done.")
        if route.method == "PUT" and status == 200:
            what = "Updated, or unchanged when the record already was so."
        content = {"application/json": {"schema": schemas[(route.returns, "serialization")]}}
        responses[str(status)] = {"description": what, "content": content}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for code, text in ERRORS.items():
        if code in ("400", "415") and route.body is None:
            continue
        responses[code] = {"description": text, "content": problem}
    return responses

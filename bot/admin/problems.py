"""Errors of the admin API as RFC 9457 problem details (``application/problem+json``).

Plain HTTP errors have the type ``about:blank`` and the status phrase as title; a request that does
not validate has its own type and names every field it got wrong in ``errors``."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import ValidationError

CONTENT_TYPE = "application/problem+json"
VALIDATION = "urn:hostbot:problem:validation"


class Problem(Exception):
    """An answer that is an error: raised anywhere while serving a call, rendered once."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extensions,
        }

    def response(self, instance: str) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(instance), ensure_ascii=False),
            content_type=CONTENT_TYPE,
            headers=self.headers,
        )


def pointer(loc: tuple[int | str, ...]) -> str:
    """A JSON pointer (RFC 6901) into the request body, as a URI fragment."""
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def invalid(errors: list[dict[str, Any]]) -> Problem:
    noun = "field is" if len(errors) == 1 else "fields are"
    names = ", ".join(e.get("field") or e.get("parameter") or "(body)" for e in errors)
    return Problem(
        422,
        f"The request is not valid: {names} {noun} wrong.",
        type_=VALIDATION,
        title="The request is not valid",
        errors=errors,
    )


def body_errors(err: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """Each error of a body's validation, by the field's dotted name and its JSON pointer."""
    found = []
    for e in err.errors(include_url=False):
        loc = prefix + tuple(e["loc"])
        found.append({"field": ".".join(str(p) for p in loc), "pointer": pointer(loc), "detail": e["msg"]})
    return found


def parameter_errors(err: ValidationError, where: str) -> list[dict[str, Any]]:
    """Each error of the query or path parameters, by the parameter's name."""
    return [
        {"parameter": ".".join(str(p) for p in e["loc"]) or "(query)", "in": where, "detail": e["msg"]}
        for e in err.errors(include_url=False)
    ]

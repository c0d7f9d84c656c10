"""The hostbot web app with its admin API on a test server, and a client that calls it as a
provider's script would: JSON over HTTP with a bearer token. The web app serves the platforms the
dispatcher's settings configure (Telegram against a fake Bot API, for instance)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import bootstrap
from bot.bootstrap import App
from bot.core.dispatcher import Dispatcher
from services.backoffice import tokens
from services.backoffice.scopes import Scope

BASE = "/admin/api/v1"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def problem(self) -> dict[str, Any]:
        """The body of an error, checked to be RFC 9457 problem details."""
        assert self.headers["Content-Type"].startswith("application/problem+json"), self.headers
        assert self.body["status"] == self.status
        assert {"type", "title", "status", "detail"} <= set(self.body)
        return dict(self.body)


@dataclass
class AdminApi:
    client: TestClient[web.Request, web.Application]
    dispatcher: Dispatcher
    app: App
    web_app: web.Application
    calls: int = 0  # how many calls went to the API (the audit log must show as many)

    async def token(self, name: str, *scopes: Scope) -> str:
        async with self.dispatcher.db.uow() as uow:
            secret, _ = await tokens.create(uow, name, scopes)
        return secret

    async def call(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        url = path if path.startswith(BASE) else BASE + path
        response = await self.client.request(
            method, url, json=body if data is None else None, data=data, params=params, headers=sent
        )
        self.calls += 1
        text = await response.text()
        parsed = await response.json(content_type=None) if text else None
        return Answer(response.status, parsed, dict(response.headers))


@asynccontextmanager
async def admin_api(dispatcher: Dispatcher) -> AsyncIterator[AdminApi]:
    app = bootstrap.assemble(dispatcher.settings, dispatcher.db, dispatcher)
    web_app = bootstrap.web_app(app)
    async with TestClient(TestServer(web_app, host="127.0.0.1", port=0)) as client:
        yield AdminApi(client, dispatcher, app, web_app)

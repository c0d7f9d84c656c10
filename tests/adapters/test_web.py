"""The web process answers /healthz with each component's state, and marks the pay pages HTTPS-only."""

from __future__ import annotations

import secrets

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import bootstrap
from bot.bootstrap import open_app
from bot.config import Settings
from storage.db import make_engine
from storage.uow import Database
from tests.support.processes import free_port


async def test_healthz(settings: Settings) -> None:
    app = await open_app(settings)
    async with TestClient(TestServer(bootstrap.web_app(app))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert (await response.json()) == {"status": "ok", "components": {"database": {"state": "up"}}}
    await app.db.engine.dispose()
    async with TestClient(TestServer(bootstrap.web_app(app))) as client:
        # A disposed engine reconnects; a broken URL does not.
        app.db.engine.url = app.db.engine.url.set(database="/nonexistent/dir/x.db")
    await app.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_healthz_is_503_without_a_database(settings: Settings) -> None:
    """Nothing listens where the database should be: this replica cannot serve."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    db = Database(make_engine(url))
    app = bootstrap.assemble(settings, db, bootstrap.dispatcher(db, settings))
    async with TestClient(TestServer(bootstrap.web_app(app))) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable"
        assert body["components"]["database"] == {"state": "down", "error": "ConnectionRefusedError"}
    await app.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("base", "hsts"), [("https://pay.example", True), ("http://localhost:8080", False)])
async def test_pay_pages_are_https_only_when_served_over_https(
    settings: Settings, base: str, hsts: bool
) -> None:
    app = await open_app(settings.model_copy(update={"public_base_url": base}))
    async with TestClient(TestServer(bootstrap.web_app(app))) as client:
        for path in (f"/pay/{secrets.token_urlsafe(24)}", "/pay/thanks", "/pay/x"):
            response = await client.get(path)
            assert ("Strict-Transport-Security" in response.headers) is hsts, path
            if hsts:
                assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "Strict-Transport-Security" not in (await client.get("/healthz")).headers
    await app.close()

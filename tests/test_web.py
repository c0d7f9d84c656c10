"""The web process answers /healthz."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_app
from bot.config import Settings
from bot.web import make_web_app


async def test_healthz(settings: Settings) -> None:
    app = await open_app(settings)
    async with TestClient(TestServer(make_web_app(app))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert (await response.json()) == {"status": "ok"}
    await app.db.engine.dispose()
    async with TestClient(TestServer(make_web_app(app))) as client:
        # A disposed engine reconnects; a broken URL does not.
        app.db.engine.url = app.db.engine.url.set(database="/nonexistent/dir/x.db")
    await app.close()

"""The one aiohttp application: health check, metrics, pay pages, and each platform adapter's
``setup(web_app, app)`` mounts its webhook (or starts its own connection) when configured."""

from __future__ import annotations

import hmac

from aiohttp import web
from sqlalchemy import text

from bot import payments_web
from bot.adapters import slack, telegram
from bot.alerts.notifier import OutboxNotifier
from bot.app import App
from bot.core.metrics import CONTENT_TYPE
from services.ports import Notifier

APP_KEY = web.AppKey("hostbot", App)
ADAPTERS = (telegram.setup, slack.setup)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise (load balancers take the replica out)."""
    app = request.app[APP_KEY]
    try:
        async with app.db.uow() as uow:
            await uow.session.execute(text("SELECT 1"))
    except Exception:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format; with ``METRICS_TOKEN`` set, only for ``Authorization: Bearer <it>``."""
    app = request.app[APP_KEY]
    token = app.settings.metrics_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        return web.Response(status=401)
    await app.dispatcher.metrics.refresh(app.db)
    return web.Response(body=app.dispatcher.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def make_web_app(app: App, notifier: Notifier | None = None) -> web.Application:
    """``notifier`` tells customers in chat when a payment lands: by default an alert in the
    outbox, which the alerts dispatcher sends to every chat linked to the account."""
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    payments_web.setup(web_app, app, notifier or OutboxNotifier())
    for setup in ADAPTERS:
        setup(web_app, app)
    return web_app

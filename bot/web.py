"""The one aiohttp application: health check, metrics, pay pages, the admin API, and each configured
platform adapter's ``setup(web_app, adapter)`` mounts its webhook (or starts its own connection).

It is handed built parts (``bot.bootstrap.web_app`` builds them from the settings)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot import console_web, payments_web
from bot.admin import app as admin_api
from bot.config import Settings
from bot.core.limiting import storage_state
from bot.core.metrics import CONTENT_TYPE, Metrics
from bot.lifecycle import Health
from bot.supervision import HEALTH
from services.records import Database, again_if_dropped

if TYPE_CHECKING:  # a platform's library is imported only when its adapter is given
    from bot.adapters import slack, telegram


@dataclass(frozen=True)
class Site:
    """What the health check and the metrics page read."""

    settings: Settings
    db: Database
    metrics: Metrics


APP_KEY = web.AppKey("hostbot", Site)


async def healthz(request: web.Request) -> web.Response:
    """200 while this process can serve (the database answers), with each component's state;
    503 when the database does not answer (load balancers take the replica out). A platform or
    Redis being unreachable makes the status ``degraded``, not unavailable: the pay pages, the
    Stripe webhook and the other platforms still work."""
    app = request.app[APP_KEY]

    async def ping() -> None:
        async with app.db.uow() as uow:
            await uow.ping()

    components: dict[str, dict[str, Any]] = {}
    try:
        await again_if_dropped(ping)
        components["database"] = {"state": "up"}
    except Exception as err:
        components["database"] = {"state": "down", "error": type(err).__name__}
    if not app.settings.rate_limit_storage.startswith(("memory://", "async+memory://")):
        components["rate_limit_storage"] = await storage_state(app.settings.rate_limit_storage)
    components.update(request.app[HEALTH].components)
    if components["database"]["state"] != "up":
        return web.json_response({"status": "unavailable", "components": components}, status=503)
    degraded = any(c["state"] != "up" for c in components.values())
    return web.json_response({"status": "degraded" if degraded else "ok", "components": components})


@web.middleware
async def reconnect(request: web.Request, handler: Any) -> web.StreamResponse:
    """A request whose database connection the server had dropped (a PostgreSQL restart) is
    handled once more on a fresh connection instead of failing; the body is read only once."""
    response: web.StreamResponse = await again_if_dropped(lambda: handler(request))
    return response


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format; with ``METRICS_TOKEN`` set, only for ``Authorization: Bearer <it>``."""
    app = request.app[APP_KEY]
    token = app.settings.metrics_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        return web.Response(status=401)
    await app.metrics.refresh(app.db)
    return web.Response(body=app.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def make_web_app(
    site: Site,
    payments: payments_web.Payments,
    telegram_adapter: telegram.TelegramAdapter | None = None,
    slack_adapter: slack.SlackAdapter | None = None,
    admin: admin_api.Admin | None = None,
) -> web.Application:
    """The routes of ``site`` and ``payments``, each platform whose adapter is given, and the admin
    API when given."""
    web_app = web.Application(client_max_size=1024 * 1024, middlewares=[reconnect])
    web_app[APP_KEY] = site
    web_app[HEALTH] = Health()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    payments_web.setup(web_app, payments)
    console_web.setup(web_app, site.settings, site.db)
    if telegram_adapter is not None:
        from bot.adapters import telegram

        telegram.setup(web_app, telegram_adapter)
    if slack_adapter is not None:
        from bot.adapters import slack

        slack.setup(web_app, slack_adapter)
    if admin is not None:
        admin_api.setup(web_app, admin)
    return web_app

"""``GET /console/<token>``: where a one-time console link leads (``SERVER_DRIVER=inventory``).

The provider's noVNC page passes the token to its websockify, whose stock ``JSONTokenApi`` plugin
(``--token-plugin JSONTokenApi --token-source 'https://BOT/console/%s'``) asks here where to connect
and reads ``{"host": ..., "port": ...}``. The answer is given once per token, before it expires; a
used, expired or forged token gets 404, so a link copied from a chat opens nothing later.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import Settings
from services import clock, consoles
from services.records import Database

log = logging.getLogger("hostbot.console")

SETTINGS = web.AppKey("console_settings", Settings)
DATABASE = web.AppKey("console_database", Database)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def setup(web_app: web.Application, settings: Settings, db: Database) -> None:
    web_app[SETTINGS] = settings
    web_app[DATABASE] = db
    web_app.router.add_get("/console/{token:[A-Za-z0-9_.-]{20,400}}", target)


async def target(request: web.Request) -> web.Response:
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    try:
        async with db.uow() as uow:
            claims = await consoles.redeem(uow, settings.secret_key, request.match_info["token"], clock.now())
            found = await consoles.target(uow, claims, settings.inventory_console_target)
            await uow.commit()
    except consoles.BadToken as err:
        log.info("console token refused: %s", err.reason)
        return web.json_response({"error": "not found"}, status=404, headers=HEADERS)
    host, port = found
    return web.json_response({"host": host, "port": port}, headers=HEADERS)

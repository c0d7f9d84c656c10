"""The web process's side of ``bot.lifecycle``: its ``Health`` kept on the web app (what
``/healthz`` reads), and components started with the app under ``supervised``. Apart from
``bot.lifecycle`` so that a one-shot command never imports aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.lifecycle import Health, supervised

HEALTH = web.AppKey("health", Health)


async def supervise(
    web_app: web.Application,
    name: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
) -> AsyncIterator[None]:
    """The same as a ``cleanup_ctx`` of the web app, reporting to its ``/healthz``."""
    async with supervised(name, start, stop, web_app.get(HEALTH) or Health()):
        yield

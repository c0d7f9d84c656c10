"""Moving-window rate limits on ``RATE_LIMIT_STORAGE`` that outlive an outage of that storage.

With Redis the windows are shared by every replica. When Redis cannot be reached, each limit
falls back to this process's memory instead of failing the request: the inbound flood guard, the
link-code attempts, the pay pages and the outbound pacing keep limiting, per process instead of
across replicas (N replicas let through up to N times the limit), and counting starts again from
zero. Chats, pay pages and webhooks keep working through the outage. Redis is tried again every
``RETRY_SECONDS``; the first call that succeeds switches back. The switch is logged once each way
and shown in ``/healthz`` (``rate_limit_storage``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, WindowStats
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

log = logging.getLogger("hostbot.limits")

RETRY_SECONDS = 5.0
T = TypeVar("T")


class _Outage:
    """Whether this process currently limits in memory because the shared storage is down."""

    since: float | None = None

    @classmethod
    def begin(cls, err: Exception) -> None:
        if cls.since is None:
            cls.since = time.time()
            log.warning("rate-limit storage unreachable, limiting per process until it is back: %r", err)

    @classmethod
    def end(cls) -> None:
        if cls.since is not None:
            cls.since = None
            log.info("rate-limit storage reachable again, limits are shared again")


def storage_state() -> dict[str, object]:
    """For ``/healthz``: ``up``, or ``fallback`` (limits kept in this process's memory)."""
    if _Outage.since is None:
        return {"state": "up"}
    return {"state": "fallback", "since": _Outage.since}


class Limiter:
    """``MovingWindowRateLimiter``'s ``hit`` and ``get_window_stats``, on the shared storage
    while it answers and on this process's memory while it does not."""

    def __init__(self, storage_uri: str) -> None:
        self._storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self._shared = MovingWindowRateLimiter(self._storage)
        self._local = (
            self._shared
            if storage_uri.startswith(("memory://", "async+memory://"))
            else MovingWindowRateLimiter(storage_from_string("async+memory://"))
        )
        self._retry_at = 0.0

    async def check(self) -> bool:
        """Whether the shared storage answers now."""
        try:
            return bool(await self._storage.check())  # type: ignore[misc]
        except StorageError:
            return False

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._on_either(lambda limiter: limiter.hit(item, *identifiers))

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return await self._on_either(lambda limiter: limiter.get_window_stats(item, *identifiers))

    async def _on_either(self, call: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        if time.monotonic() >= self._retry_at:
            try:
                result = await call(self._shared)
            except StorageError as err:
                self._retry_at = time.monotonic() + RETRY_SECONDS
                _Outage.begin(err)
            else:
                _Outage.end()
                return result
        return await call(self._local)

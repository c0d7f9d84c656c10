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

import bisect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from limits import RateLimitItem, WindowStats
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from bot.core.sendlog import MemorySendLog, SendLog, send_log

log = logging.getLogger("hostbot.limits")
# coredis logs every reconnection attempt at INFO; the switch to memory is logged once, below.
logging.getLogger("coredis.retry").setLevel(logging.WARNING)

RETRY_SECONDS = 5.0
T = TypeVar("T")


class _Outage:
    """Whether this process limits in memory now, so that each switch is logged once."""

    down = False

    @classmethod
    def begin(cls, err: Exception) -> None:
        if not cls.down:
            cls.down = True
            log.warning("rate-limit storage unreachable, limiting per process until it is back: %r", err)

    @classmethod
    def end(cls) -> None:
        if cls.down:
            cls.down = False
            log.info("rate-limit storage reachable again, limits are shared again")


_probes: dict[str, tuple[Any, float, bool]] = {}  # uri -> storage, when checked, reachable then


async def storage_state(uri: str) -> dict[str, str]:
    """For ``/healthz``: ``up``, or ``fallback`` when the storage does not answer (limits are then
    kept per process). Checked at most every ``RETRY_SECONDS``, however often health is asked."""
    storage, checked, reachable = _probes.get(uri) or (None, -RETRY_SECONDS, False)
    if storage is None:
        storage = storage_from_string(uri, wrap_exceptions=True)
    if time.monotonic() - checked >= RETRY_SECONDS:
        try:
            reachable = bool(await storage.check())  # type: ignore[misc]
        except (StorageError, OSError):
            reachable = False
        _probes[uri] = (storage, time.monotonic(), reachable)
    return {"state": "up"} if reachable else {"state": "fallback", "limits": "per process"}


class LoopMemoryStorage(MemoryStorage):
    """limits' in-process storage, its expired events dropped in the event loop. The library's own
    pass runs after almost every hit and hands each key to a thread (``asyncio.to_thread``): with
    a few hundred chats that cost more CPU than the rest of a chat update. The events of a key
    are ordered newest first, so one bisection finds the expired ones; and a pass runs at most
    once a second (expired events left meanwhile are not counted: the library reads windows by
    time, this pass only frees memory)."""

    _swept = 0.0

    async def _MemoryStorage__expire_events(self) -> None:  # replaces the library's private pass
        now = time.time()
        if now - self._swept < 1.0:
            return
        self._swept = now
        for key in list(self.events):
            events = self.events[key]
            del events[bisect.bisect_left(events, -now, key=lambda event: -event.expiry) :]
            if not events:
                self.events.pop(key, None)
                self.locks.pop(key, None)
        for key in [key for key, at in self.expirations.items() if at <= now]:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            self.locks.pop(key, None)


def _storage(uri: str) -> Any:
    """The storage named by ``uri``; ``LoopMemoryStorage`` for the in-process one."""
    if uri.startswith("async+memory://"):
        return LoopMemoryStorage(uri, wrap_exceptions=True)
    return storage_from_string(uri, wrap_exceptions=True)


class Limiter:
    """``MovingWindowRateLimiter``'s ``hit`` and ``get_window_stats``, and the pacer's log of
    sends (``bot.core.sendlog``), on the shared storage while it answers and on this process's
    memory while it does not."""

    def __init__(self, storage_uri: str) -> None:
        self._storage = _storage(storage_uri)
        self._shared = MovingWindowRateLimiter(self._storage)
        memory = storage_uri.startswith(("memory://", "async+memory://"))
        self._local = self._shared if memory else MovingWindowRateLimiter(_storage("async+memory://"))
        self._sends_local = MemorySendLog()
        self._sends_shared: SendLog = self._sends_local if memory else send_log(storage_uri)
        self._retry_at = 0.0

    async def check(self) -> bool:
        """Whether the shared storage answers now."""
        try:
            return bool(await self._storage.check())
        except (StorageError, OSError):
            return False

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._on_either(lambda limiter: limiter.hit(item, *identifiers))

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return await self._on_either(lambda limiter: limiter.get_window_stats(item, *identifiers))

    async def occupy(self, key: str, limit: int, period: float, token: str) -> float:
        """``SendLog.occupy``: 0 when the send may leave, else the seconds to wait at least."""
        return await self._either(
            lambda: self._sends_shared.occupy(key, limit, period, token),
            lambda: self._sends_local.occupy(key, limit, period, token),
        )

    async def release(self, key: str, token: str) -> None:
        """``SendLog.release``: the send's answer came back."""
        await self._either(
            lambda: self._sends_shared.release(key, token), lambda: self._sends_local.release(key, token)
        )

    async def _on_either(self, call: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        return await self._either(lambda: call(self._shared), lambda: call(self._local))

    async def _either(self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        if time.monotonic() >= self._retry_at:
            try:
                result = await shared()
            except (StorageError, OSError) as err:  # OSError: a connection dropped mid-call
                self._retry_at = time.monotonic() + RETRY_SECONDS
                _Outage.begin(err)
            else:
                _Outage.end()
                return result
        return await local()

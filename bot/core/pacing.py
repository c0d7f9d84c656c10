"""Outbound pacing for platform APIs: never more than the limit in any one-second window.

A leaky bucket (aiolimiter, python-telegram-bot's ``AIORateLimiter``) lets a full burst through and
then keeps dripping, so some one-second windows see up to twice the rate. Here every send takes an
entry in ``limits``' moving window, per chat and overall, and waits until the oldest entry leaves
the window when it is full. With Redis storage the windows are shared by every process; an entry
is stamped when its request leaves the process, so across processes the bound holds up to one
Redis round trip (milliseconds).

The window alone still lets a full burst out at its edge, and the platform counts arrivals, which
trail our sends by a varying few milliseconds: a burst granted at the end of one window and the
next at its start can land in the same second there. So within a process sends are also spread
evenly, overall and per chat, one every ``1 / (rate × HEADROOM)`` seconds: the platform sees a
steady 96 % of each limit, which absorbs tens of milliseconds of jitter between our send and its
arrival (measured in ``bench/alerts.py``).
"""

from __future__ import annotations

import asyncio
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

HEADROOM = 0.96


class Pacer:
    def __init__(
        self,
        namespace: str,
        overall: str = "25/second",
        per_chat: str = "1/second",
        storage_uri: str = "async+memory://",
    ) -> None:
        self.namespace = namespace
        self.overall: RateLimitItem = parse(overall)
        self.per_chat: RateLimitItem = parse(per_chat)
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._gap = self.overall.get_expiry() / self.overall.amount / HEADROOM
        self._chat_gap = self.per_chat.get_expiry() / self.per_chat.amount / HEADROOM
        self._next: dict[str, float] = {}

    async def connect(self) -> None:
        """Open the storage before the first send, and fail fast when it is unreachable.

        Entries are stamped with the time the request leaves this process, so a first send that
        waits for a new Redis connection would be stamped early by that connection's set-up time.
        """
        if not await self._storage.check():  # type: ignore[misc]
            raise ConnectionError(f"rate-limit storage unreachable for {self.namespace}")

    async def wait(self, chat: str | None = None) -> None:
        """Return when one more message to ``chat`` (or an API call without a chat) may go out."""
        if chat is not None:
            await self._space(f"chat:{chat}", self._chat_gap)
            await self._take(self.per_chat, f"chat:{chat}")
        await self._space("all", self._gap)
        await self._take(self.overall, "all")

    async def _space(self, key: str, gap: float) -> None:
        """Reserve the next evenly spaced slot of ``key`` (first come, first served) and sleep until it."""
        now = time.monotonic()
        slot = max(now, self._next.get(key, 0.0))
        self._next[key] = slot + gap
        if len(self._next) > 10_000:  # forget the chats whose next slot has already passed
            self._next = {k: at for k, at in self._next.items() if at > now}
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _take(self, item: RateLimitItem, key: str) -> None:
        while not await self._limiter.hit(item, self.namespace, key):
            stats = await self._limiter.get_window_stats(item, self.namespace, key)
            await asyncio.sleep(max(stats.reset_time - time.time(), 0.001))

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
steady 97 % of each limit, which absorbs tens of milliseconds of jitter between our send and its
arrival (measured in ``bench/alerts.py``). Sends that fall late (a busy event loop) leave one by
one, never in a bunch (see ``_space``).
"""

from __future__ import annotations

import asyncio
import math
import time

from limits import RateLimitItem, parse

from bot.core.limiting import Limiter
from bot.core.metrics import Metrics

HEADROOM = 0.97
CATCH_UP = 0.9  # overall, a send that left late may be followed after 90 % of a gap, no sooner


class Pacer:
    def __init__(
        self,
        namespace: str,
        limiter: Limiter,
        overall: str = "25/second",
        per_chat: str = "1/second",
        metrics: Metrics | None = None,
    ) -> None:
        """``namespace`` names the platform (in the storage's keys and the metrics' labels);
        ``limiter`` keeps the windows (on ``RATE_LIMIT_STORAGE``, shared by the replicas)."""
        self.namespace = namespace
        self.metrics = metrics
        self.overall: RateLimitItem = parse(overall)
        self.per_chat: RateLimitItem = parse(per_chat)
        self._limiter = limiter
        self._gap = self.overall.get_expiry() / self.overall.amount / HEADROOM
        self._chat_gap = self.per_chat.get_expiry() / self.per_chat.amount / HEADROOM
        self._due: dict[str, float] = {}  # when the last send of each key was due
        self._last: dict[str, float] = {}  # and when it actually left
        self._queues: dict[str, asyncio.Lock] = {}

    async def connect(self) -> None:
        """Open the storage before the first send, and fail fast when it is unreachable.

        Entries are stamped with the time the request leaves this process, so a first send that
        waits for a new Redis connection would be stamped early by that connection's set-up time.
        """
        if not await self._limiter.check():
            raise ConnectionError(f"rate-limit storage unreachable for {self.namespace}")

    async def wait(self, chat: str | None = None) -> None:
        """Return when one more message to ``chat`` (or an API call without a chat) may go out.

        A chat's next message waits until this one has left (its overall turn included), so the
        chat's spacing counts from the real departure."""
        if chat is None:
            await self._overall()
            return
        key = f"chat:{chat}"
        async with self._queue(key):
            await self._space(key, self._chat_gap, catch_up=1.0)
            await self._take(self.per_chat, key)
            await self._overall()
            self._last[key] = time.monotonic()
        if len(self._queues) > 10_000:
            self._forget()

    async def _overall(self) -> None:
        async with self._queue("all"):
            await self._space("all", self._gap, catch_up=CATCH_UP)
        await self._take(self.overall, "all")

    def _queue(self, key: str) -> asyncio.Lock:
        """First come, first served per key."""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Lock()
        return queue

    async def _space(self, key: str, gap: float, catch_up: float) -> None:
        """Leave one ``gap`` after the previous send of ``key`` was due, and never sooner than
        ``catch_up`` of a gap after it actually left (a whole gap for a chat, whose one message
        per second leaves no room; ``CATCH_UP`` overall). The caller holds the key's queue.

        A sleeper wakes a little late each time; counting from due times keeps those delays from
        adding up. After the event loop was busy for longer, the late sleepers leave one by one
        instead of together (a burst the platform would count in one second)."""
        due = max(self._due.get(key, -math.inf) + gap, self._last.get(key, -math.inf) + gap * catch_up)
        wait = due - time.monotonic()
        if wait > 0:
            await self._sleep(wait)
        elif wait < -gap:  # nothing was sent for a while: the spacing starts again from now
            due = time.monotonic()
        self._due[key], self._last[key] = due, time.monotonic()

    def _forget(self) -> None:
        """Drop the chats nobody is waiting for whose last send is older than a chat's gap."""
        now = time.monotonic()
        idle = [
            k
            for k, q in self._queues.items()
            if not q.locked() and now - self._last.get(k, -math.inf) > self._chat_gap
        ]
        for k in idle:
            del self._queues[k]
            self._last.pop(k, None)
            self._due.pop(k, None)

    async def _take(self, item: RateLimitItem, key: str) -> None:
        while not await self._limiter.hit(item, self.namespace, key):
            stats = await self._limiter.get_window_stats(item, self.namespace, key)
            await self._sleep(max(stats.reset_time - time.time(), 0.001))

    async def _sleep(self, seconds: float) -> None:
        """A send held back by the pacing: counted, so that /metrics shows how often and how long."""
        if self.metrics is not None:
            self.metrics.paced(self.namespace, seconds)
        await asyncio.sleep(seconds)

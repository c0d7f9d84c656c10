"""The sends of the last period as the platform counts them, for ``bot.core.pacing``.

A platform counts a message when it arrives, which is some time after our request left and
before its answer came back. So each send is an entry from the moment it may leave (``occupy``)
until ``period`` after its answer came back (``release``); while it is in flight it is counted.
A new send is let out only while fewer than ``limit`` entries are live. Then no ``period``-long
window at the platform ever holds more than ``limit`` arrivals, whatever the delays: of the sends
that arrive in one window, the last one let out found every other one still in flight or answered
less than ``period`` before it left (each arrived less than ``period`` before it, and after it
left). The price is the time a request takes, which the window grows by.

In memory (one process, on the event loop's clock) or in Redis (every replica, on the Redis
server's clock: a sorted set per key, scored by when each answer came back; a send in flight is
scored ``LEASE`` seconds ahead, so that a process that dies mid-send frees its entry).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import TYPE_CHECKING, Protocol

from limits.errors import StorageError

if TYPE_CHECKING:
    import coredis

LEASE = 60.0  # a send in flight longer than this (a dead process) no longer counts as in flight
MIN_WAIT = 0.001  # a refusal never says 0 (which means taken), even when rounding says so
SWEEP_EVERY = 1000  # occupations between two sweeps of idle keys in memory
PREFIX = "hostbot:sends:"


class SendLog(Protocol):
    async def occupy(self, key: str, limit: int, period: float, token: str) -> float:
        """Take an entry for ``token`` if fewer than ``limit`` are live: 0; else how long at
        least until one may be free (seconds)."""
        ...

    async def release(self, key: str, token: str) -> None:
        """``token``'s answer came back: its entry lives on for one period from now."""
        ...


class _Entries:
    """One key's entries in memory: the sends in flight, and the ends of the answered ones in the
    order they came back (the loop's clock only goes forward), so that those that left the window
    are dropped from the front, and the oldest one is at the front."""

    __slots__ = ("ends", "in_flight", "period")

    def __init__(self, period: float) -> None:
        self.period = period
        self.in_flight: set[str] = set()
        self.ends: deque[float] = deque()

    def live(self, now: float) -> int:
        while self.ends and self.ends[0] <= now - self.period:
            self.ends.popleft()
        return len(self.in_flight) + len(self.ends)


class MemorySendLog:
    """The entries of this process, on the running event loop's clock (a fake one in tests). A
    send costs the same whatever the limit: nothing is scanned but the entries that expire."""

    def __init__(self) -> None:
        self._keys: dict[str, _Entries] = {}
        self._occupied = 0

    async def occupy(self, key: str, limit: int, period: float, token: str) -> float:
        now = asyncio.get_running_loop().time()
        entries = self._keys.get(key)
        if entries is None:
            entries = self._keys[key] = _Entries(period)
        if entries.live(now) >= limit:
            oldest = entries.ends[0] if entries.ends else math.inf  # all in flight: one period
            return max(min(oldest + entries.period - now, entries.period), MIN_WAIT)
        entries.in_flight.add(token)
        self._occupied += 1
        if self._occupied % SWEEP_EVERY == 0:
            self._sweep(now)
        return 0.0

    async def release(self, key: str, token: str) -> None:
        entries = self._keys.get(key)
        if entries is not None and token in entries.in_flight:
            entries.in_flight.discard(token)
            entries.ends.append(asyncio.get_running_loop().time())

    def _sweep(self, now: float) -> None:
        """Forget the keys (chats) none of whose entries is live any more."""
        for key in [k for k, entries in self._keys.items() if not entries.live(now)]:
            del self._keys[key]


# KEYS[1]: the key's entries; ARGV: limit, period, token, lease, least wait. Returns "0" when taken,
# else the seconds until the oldest entry may leave the window (at most one period: it may be in
# flight).
OCCUPY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, period, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil((period + lease) * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(math.min(tonumber(oldest[2]) + period - now, period), tonumber(ARGV[5])))
"""
# KEYS[1]: the key's entries; ARGV: token. The entry, if still there, ends now.
RELEASE = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[1])
return 0
"""


class RedisSendLog:
    """The entries of every replica, in Redis (``redis://`` or ``rediss://``, ``async+`` allowed).
    Its errors are ``limits``' ``StorageError``, so that ``bot.core.limiting`` falls back alike."""

    def __init__(self, uri: str) -> None:
        import coredis  # only where Redis keeps the limits

        self._client: coredis.Redis[bytes] = coredis.Redis.from_url(uri.removeprefix("async+"))
        self._occupy = self._client.register_script(OCCUPY)
        self._release = self._client.register_script(RELEASE)
        self._errors = (coredis.exceptions.RedisError, OSError)

    async def occupy(self, key: str, limit: int, period: float, token: str) -> float:
        try:
            wait = await self._occupy(keys=[PREFIX + key], args=[limit, period, token, LEASE, MIN_WAIT])
        except self._errors as err:
            raise StorageError(err) from err
        return float(wait)  # type: ignore[arg-type]

    async def release(self, key: str, token: str) -> None:
        try:
            await self._release(keys=[PREFIX + key], args=[token])
        except self._errors as err:
            raise StorageError(err) from err


def send_log(uri: str) -> SendLog:
    """The log that lives where ``RATE_LIMIT_STORAGE`` points: Redis, else this process's memory."""
    if uri.removeprefix("async+").startswith(("redis://", "rediss://")):
        return RedisSendLog(uri)
    return MemorySendLog()

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

Interactive first: every send has a priority, ``REPLY`` (an answer to what someone just did) or
``ALERT`` (a message the bot starts). Sends to one chat, and sends overall, leave one at a time, the
most urgent first and then in arrival order; a send that waits for its slot gives the slot up to a
more urgent one that comes meanwhile. So a reply never waits behind the alerts queued for its chat:
it takes the next slot the limits allow (at most one chat gap after the chat's previous message),
and the alerts fill the slots nobody answering needs. The order holds within a process (``hostbot
run`` sends alerts and replies through the same adapters); a separate ``hostbot worker`` only shares
the windows with it (``RATE_LIMIT_STORAGE``).

Group chats may have a limit of their own (``per_group``: Telegram allows 20 messages a minute in a
group); a chat is a group when the caller says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from limits import RateLimitItem, parse

from bot.core.limiting import Limiter
from bot.core.metrics import Metrics

HEADROOM = 0.97
CATCH_UP = 0.9  # overall, a send that left late may be followed after 90 % of a gap, no sooner
REPLY = 0  # an answer to what someone just did: goes first
ALERT = 1  # a message the bot starts: takes the slots left over


@dataclass(order=True)
class _Ticket:
    """One send waiting for its turn at one key, ordered by priority, then by arrival."""

    priority: int
    arrival: int
    granted: asyncio.Future[None] | None = field(default=None, compare=False)
    overtaken: asyncio.Event = field(default_factory=asyncio.Event, compare=False)

    @property
    def live(self) -> bool:
        """Still waiting for its turn (not given it, nor cancelled while waiting)."""
        return self.granted is not None and not self.granted.done()


class _Turns:
    """The sends of one key (a chat, or everything), one at a time: the most urgent first, then in
    arrival order. The holder may be overtaken while it waits for its slot (``pause``)."""

    def __init__(self) -> None:
        self._holder: _Ticket | None = None
        self._waiting: list[_Ticket] = []
        self._arrivals = itertools.count()

    def locked(self) -> bool:
        return self._holder is not None

    @contextlib.asynccontextmanager
    async def turn(self, priority: int) -> AsyncIterator[_Ticket]:
        ticket = _Ticket(priority, next(self._arrivals))
        await self._acquire(ticket)
        try:
            yield ticket
        finally:
            self._release(ticket)

    async def pause(self, ticket: _Ticket, seconds: float) -> bool:
        """Wait ``seconds`` holding the turn: True once they have passed; False when a more urgent
        send came meanwhile (it had the turn, and ``ticket`` has it back: its slot is to be worked
        out again)."""
        try:
            async with asyncio.timeout(seconds):
                await ticket.overtaken.wait()
        except TimeoutError:
            return True
        self._release(ticket)
        await self._acquire(ticket)  # back in line at its first arrival: ahead of later alerts
        return False

    async def _acquire(self, ticket: _Ticket) -> None:
        if self._holder is None:
            self._take(ticket)
            return
        if ticket.priority < self._holder.priority:
            self._holder.overtaken.set()
        ticket.granted = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, ticket)
        try:
            await ticket.granted
        except asyncio.CancelledError:
            self._release(ticket)  # the turn may have come just as the send was cancelled: pass it on
            raise

    def _take(self, ticket: _Ticket) -> None:
        self._holder = ticket
        ticket.overtaken.clear()
        if any(waiting.priority < ticket.priority and waiting.live for waiting in self._waiting):
            ticket.overtaken.set()

    def _release(self, ticket: _Ticket) -> None:
        """Hand the turn on, if ``ticket`` holds it (a send cancelled while waiting holds nothing)."""
        if self._holder is not ticket:
            return
        self._holder = None
        while self._waiting:
            ticket = heapq.heappop(self._waiting)
            if ticket.live:
                assert ticket.granted is not None
                self._take(ticket)
                ticket.granted.set_result(None)
                return


class Pacer:
    def __init__(
        self,
        namespace: str,
        limiter: Limiter,
        overall: str = "25/second",
        per_chat: str = "1/second",
        metrics: Metrics | None = None,
        per_group: str | None = None,
    ) -> None:
        """``namespace`` names the platform (in the storage's keys and the metrics' labels);
        ``limiter`` keeps the windows (on ``RATE_LIMIT_STORAGE``, shared by the replicas);
        ``per_group``: the limit of a group chat, when it differs from ``per_chat``."""
        self.namespace = namespace
        self.metrics = metrics
        self.overall: RateLimitItem = parse(overall)
        self.per_chat: RateLimitItem = parse(per_chat)
        self.per_group: RateLimitItem = parse(per_group) if per_group else self.per_chat
        self._limiter = limiter
        self._gap = _gap(self.overall)
        self._chat_gap = _gap(self.per_chat)
        self._group_gap = _gap(self.per_group)
        self._due: dict[str, float] = {}  # when the last send of each key was due
        self._last: dict[str, float] = {}  # and when it actually left
        self._queues: dict[str, _Turns] = {}

    async def connect(self) -> None:
        """Open the storage before the first send, and fail fast when it is unreachable.

        Entries are stamped with the time the request leaves this process, so a first send that
        waits for a new Redis connection would be stamped early by that connection's set-up time.
        """
        if not await self._limiter.check():
            raise ConnectionError(f"rate-limit storage unreachable for {self.namespace}")

    async def wait(self, chat: str | None = None, priority: int = REPLY, group: bool = False) -> None:
        """Return when one more message to ``chat`` (or an API call without a chat) may go out;
        ``priority``: ``REPLY`` or ``ALERT``; ``group``: the chat is a group (``per_group``).

        A chat's next message waits until this one has left (its overall turn included), so the
        chat's spacing counts from the real departure."""
        if chat is None:
            await self._overall(priority)
            return
        key = f"chat:{chat}"
        limit, gap = (self.per_group, self._group_gap) if group else (self.per_chat, self._chat_gap)
        turns = self._queue(key)
        async with turns.turn(priority) as ticket:
            await self._space(key, gap, 1.0, turns, ticket)
            await self._take(limit, key)
            await self._overall(priority)
            self._last[key] = time.monotonic()
        if len(self._queues) > 10_000:
            self._forget()

    async def _overall(self, priority: int) -> None:
        turns = self._queue("all")
        async with turns.turn(priority) as ticket:
            await self._space("all", self._gap, CATCH_UP, turns, ticket)
        await self._take(self.overall, "all")

    def _queue(self, key: str) -> _Turns:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Turns()
        return queue

    async def _space(self, key: str, gap: float, catch_up: float, turns: _Turns, ticket: _Ticket) -> None:
        """Leave one ``gap`` after the previous send of ``key`` was due, and never sooner than
        ``catch_up`` of a gap after it actually left (a whole gap for a chat, whose one message
        per second leaves no room; ``CATCH_UP`` overall). The caller holds the key's turn with
        ``ticket``; a more urgent send that comes while it waits takes the slot first.

        A sleeper wakes a little late each time; counting from due times keeps those delays from
        adding up. After the event loop was busy for longer, the late sleepers leave one by one
        instead of together (a burst the platform would count in one second)."""
        while True:
            due = max(self._due.get(key, -math.inf) + gap, self._last.get(key, -math.inf) + gap * catch_up)
            wait = due - time.monotonic()
            if wait <= 0 or await self._pause(turns, ticket, wait):
                break
        if wait < -gap:  # nothing was sent for a while: the spacing starts again from now
            due = time.monotonic()
        self._due[key], self._last[key] = due, time.monotonic()

    async def _pause(self, turns: _Turns, ticket: _Ticket, seconds: float) -> bool:
        """A send held back by the pacing (counted, so that /metrics shows how often and how long);
        False when a more urgent send took the slot meanwhile."""
        if self.metrics is not None:
            self.metrics.paced(self.namespace, seconds)
        return await turns.pause(ticket, seconds)

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
        """A send held back by a full window (another process took it): counted like ``_pause``."""
        if self.metrics is not None:
            self.metrics.paced(self.namespace, seconds)
        await asyncio.sleep(seconds)


def _gap(limit: RateLimitItem) -> float:
    """Seconds between two sends that keep ``limit`` with ``HEADROOM``."""
    return limit.get_expiry() / limit.amount / HEADROOM

"""Outbound pacing for platform APIs: never more than the limit in any one-second window.

A leaky bucket (aiolimiter, python-telegram-bot's ``AIORateLimiter``) lets a full burst through and
then keeps dripping, so some one-second windows see up to twice the rate. A moving window of the
times our requests left is not enough either: the platform counts arrivals, which trail our sends
by a varying delay (a busy event loop, a slow connection), so sends spread over a little more than
a second can land within one there. Here every send is counted, per chat and overall, from the
moment it is let out until one second after its answer came back (``bot.core.sendlog``): the
platform cannot see more than the limit in any one-second window of its own, whatever the delays.
With Redis storage the log is shared by every process (on the Redis server's clock).

Within a process sends are also spread evenly, overall and per chat, one every
``1 / (rate × HEADROOM)`` seconds: the platform sees a steady 99 % of each limit, and the log
only holds a send back when answers are slow (it then costs the rate, never the limit; measured
in ``bench/alerts.py``). Sends that fall late (a busy event loop) leave one by one, never in a
bunch (see ``_slot``).

Interactive first: every send has a priority, ``REPLY`` (an answer to what someone just did) or
``ALERT`` (a message the bot starts). Sends to one chat, and sends overall, leave one at a time, the
most urgent first and then in arrival order; a send that waits for its slot gives the slot up to a
more urgent one that comes meanwhile. So a reply never waits behind the alerts queued for its chat:
it takes the next slot the limits allow (at most one chat gap after the chat's previous message),
and the alerts fill the slots nobody answering needs. The order holds within a process (``hostbot
run`` sends alerts and replies through the same adapters); a separate ``hostbot worker`` only shares
the log of sends with it (``RATE_LIMIT_STORAGE``).

Group chats may have a limit of their own (``per_group``: Telegram allows 20 messages a minute in a
group); a chat is a group when the caller says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from limits import RateLimitItem, parse

from bot.core.limiting import Limiter
from bot.core.metrics import Metrics

HEADROOM = 0.99  # the even spacing's rate; the log of sends, not this margin, keeps the limit
# Overall, a send that left late may be followed after half a gap, no sooner: the sends a busy
# event loop held back catch up with their schedule (the log of sends keeps the limit meanwhile).
CATCH_UP = 0.5
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

    async def pause(self, ticket: _Ticket, seconds: float) -> None:
        """Wait ``seconds`` holding the turn, or less when a more urgent send comes meanwhile: it
        has the turn, then ``ticket`` has it back (its slot is to be worked out again)."""
        try:
            async with asyncio.timeout(seconds):
                await ticket.overtaken.wait()
        except TimeoutError:
            return
        self._release(ticket)
        await self._acquire(ticket)  # back in line at its first arrival: ahead of later alerts

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
        """Open the storage before the first send, and fail fast when it is unreachable."""
        if not await self._limiter.check():
            raise ConnectionError(f"rate-limit storage unreachable for {self.namespace}")

    @contextlib.asynccontextmanager
    async def sending(
        self, chat: str | None = None, priority: int = REPLY, group: bool = False
    ) -> AsyncIterator[None]:
        """Enter when one more message to ``chat`` (or an API call without a chat) may go out, and
        send it inside: it counts against the limits until one period after its answer came back
        (``bot.core.sendlog``). ``priority``: ``REPLY`` or ``ALERT``; ``group``: the chat is a
        group (``per_group``).

        A chat's next message waits until this one has been let out (its overall turn included),
        so the chat's spacing counts from the real departure."""
        token, taken = secrets.token_hex(8), []  # one entry per key, released whatever happens
        try:
            if chat is None:
                taken.append("all")
                await self._overall(token, priority)
            else:
                key = f"chat:{chat}"
                limit, gap = (self.per_group, self._group_gap) if group else (self.per_chat, self._chat_gap)
                turns = self._queue(key)
                async with turns.turn(priority) as ticket:
                    taken.append(key)
                    await self._slot(key, token, limit, gap, 1.0, turns, ticket)
                    taken.append("all")
                    await self._overall(token, priority)
                    self._last[key] = self._now()
                if len(self._queues) > 10_000:
                    self._forget()
            yield
        finally:
            for key in taken:
                await self._limiter.release(f"{self.namespace}:{key}", token)

    async def _overall(self, token: str, priority: int) -> None:
        turns = self._queue("all")
        async with turns.turn(priority) as ticket:
            await self._slot("all", token, self.overall, self._gap, CATCH_UP, turns, ticket)

    def _queue(self, key: str) -> _Turns:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Turns()
        return queue

    async def _slot(
        self,
        key: str,
        token: str,
        limit: RateLimitItem,
        gap: float,
        catch_up: float,
        turns: _Turns,
        ticket: _Ticket,
    ) -> None:
        """Leave one ``gap`` after the previous send of ``key`` was due, never sooner than
        ``catch_up`` of a gap after it actually left (a whole gap for a chat, whose one message
        per second leaves no room; ``CATCH_UP`` overall), and only while the log of sends has room
        (other processes' sends, and this process's in flight). The caller holds the key's turn
        with ``ticket``; a more urgent send that comes while it waits takes the slot first.
        ``token`` names the send's entry in the log, to release once the send is answered.

        A sleeper wakes a little late each time; counting from due times keeps those delays from
        adding up. After the event loop was busy for longer, the late sleepers leave one by one
        instead of together (a burst the platform would count in one second)."""
        while True:
            due = max(self._due.get(key, -math.inf) + gap, self._last.get(key, -math.inf) + gap * catch_up)
            wait = due - self._now()
            if wait <= 0:
                wait = await self._limiter.occupy(
                    f"{self.namespace}:{key}", limit.amount, limit.get_expiry(), token
                )
                if wait <= 0:
                    break
            await self._pause(turns, ticket, wait)
        now = self._now()
        if now - due > max(gap, limit.get_expiry()):  # nothing sent for a while: start again from now
            due = now
        self._due[key], self._last[key] = due, now

    async def _pause(self, turns: _Turns, ticket: _Ticket, seconds: float) -> None:
        """A send held back by the pacing (counted, so that /metrics shows how often and how long)."""
        if self.metrics is not None:
            self.metrics.paced(self.namespace, seconds)
        await turns.pause(ticket, seconds)

    def _forget(self) -> None:
        """Drop the chats nobody is waiting for whose last send is older than a chat's gap."""
        now = self._now()
        idle = [
            k
            for k, q in self._queues.items()
            if not q.locked() and now - self._last.get(k, -math.inf) > self._chat_gap
        ]
        for k in idle:
            del self._queues[k]
            self._last.pop(k, None)
            self._due.pop(k, None)

    def _now(self) -> float:
        """The event loop's clock (``time.monotonic``, or a test's fake one)."""
        return asyncio.get_running_loop().time()


def _gap(limit: RateLimitItem) -> float:
    """Seconds between two sends that keep ``limit`` with ``HEADROOM``."""
    return limit.get_expiry() / limit.amount / HEADROOM

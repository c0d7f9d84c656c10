"""The pacer never lets the platform see more than the limit in any one-second window of its own.

The platform counts a message when it arrives: some time after the pacer let it out, and before
its answer came back. The in-process tests run on a fake clock (``tests.fakes.virtual_time``) with
requests that take a varying time, and record the arrival at a random moment inside each request:
their windows are exactly what the code schedules, on a loaded machine as on an idle one.
(The test this replaces timed real sends and their gaps on the machine's clock: a loaded event
loop woke some senders late and not others, and the gaps it measured came out shorter than the
pacing, one run in several.)
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from typing import cast

from bot.core.limiting import Limiter
from bot.core.pacing import ALERT, CATCH_UP, HEADROOM, REPLY, Pacer
from tests.fakes.virtual_time import VirtualTimeLoop, run


def _max_in_any_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


class Platform:
    """Requests that take ``latency()`` seconds and arrive at a random moment within them."""

    def __init__(self, seed: int, latency: float = 0.3) -> None:
        self.random = random.Random(seed)
        self.latency = latency
        self.arrived: dict[str, list[float]] = {}

    async def send(self, pacer: Pacer, chat: str, priority: int = REPLY, group: bool = False) -> None:
        async with pacer.sending(chat, priority, group=group):
            before, after = self.random.uniform(0, self.latency), self.random.uniform(0, self.latency)
            await asyncio.sleep(before)
            self.arrived.setdefault(chat, []).append(asyncio.get_running_loop().time())
            await asyncio.sleep(after)

    def everything(self) -> list[float]:
        return [t for stamps in self.arrived.values() for t in stamps]


def test_overall_and_per_chat_limits_hold_at_the_platform_whatever_the_delays() -> None:
    for seed in range(20):
        platform = Platform(seed)
        pacer = Pacer("test", Limiter("async+memory://"), overall="10/second", per_chat="1/second")

        async def main(pacer: Pacer = pacer, platform: Platform = platform) -> None:
            # 60 messages to 12 chats: the global limit (10/s) and the per-chat limit (1/s) both bind.
            await asyncio.gather(*(platform.send(pacer, f"c{i % 12}") for i in range(60)))

        run(main())
        assert len(platform.everything()) == 60
        assert _max_in_any_window(platform.everything()) <= 10, seed
        for stamps in platform.arrived.values():
            assert _max_in_any_window(stamps) == 1, seed


def test_with_quick_answers_the_rate_stays_within_five_percent_of_the_limit() -> None:
    platform = Platform(seed=1, latency=0.002)
    pacer = Pacer("test", Limiter("async+memory://"), overall="25/second", per_chat="1/second")

    async def main() -> float:
        start = asyncio.get_running_loop().time()
        await asyncio.gather(*(platform.send(pacer, f"c{i}") for i in range(250)))
        return asyncio.get_running_loop().time() - start

    elapsed = run(main())
    stamps = sorted(platform.everything())
    assert _max_in_any_window(stamps) <= 25
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) >= 0.95 * 25
    assert elapsed > 0


def test_slow_answers_cost_rate_not_the_limit() -> None:
    """The first sends take long, the ones after them are quick: arrivals bunch up at the
    platform unless the sends in flight are counted."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="10/second", per_chat="100/second")
    arrived: list[float] = []

    async def send(i: int) -> None:
        async with pacer.sending(f"c{i}"):
            await asyncio.sleep(0.9 if i < 10 else 0.0)
            arrived.append(asyncio.get_running_loop().time())

    async def main() -> None:
        await asyncio.gather(*(send(i) for i in range(30)))

    run(main())
    assert len(arrived) == 30
    assert _max_in_any_window(arrived) <= 10


async def test_pacers_sharing_redis_share_the_window() -> None:
    """Two replicas (two pacers on one Redis) together stay under the overall limit, counted at
    arrival (any moment within the request): the log runs on the Redis server's clock, the same
    wall clock as ``time.time()`` here."""
    uri = "async+redis://127.0.0.1:6379"
    namespace = f"test-{time.time_ns()}"
    replicas = [Pacer(namespace, Limiter(uri), overall="5/second", per_chat="100/second") for _ in range(2)]
    for pacer in replicas:
        await pacer.connect()
    stamps: list[float] = []
    delays = random.Random(7)

    async def send(pacer: Pacer, i: int) -> None:
        async with pacer.sending(f"c{i}"):
            await asyncio.sleep(delays.uniform(0, 0.1))
            stamps.append(time.time())
            await asyncio.sleep(delays.uniform(0, 0.1))

    await asyncio.gather(*(send(replicas[i % 2], i) for i in range(12)))
    assert len(stamps) == 12
    assert _max_in_any_window(stamps) <= 5


def test_sends_that_fall_late_leave_one_by_one() -> None:
    """When the event loop was busy past several sends' slots, they leave a gap apart, not in a
    bunch (which the platform would count in one second)."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="10/second", per_chat="100/second")
    left: list[float] = []

    async def send(i: int) -> None:
        async with pacer.sending(f"c{i}"):
            left.append(asyncio.get_running_loop().time())

    async def main() -> None:
        sends = [asyncio.create_task(send(i)) for i in range(6)]
        await sends[0]  # the first has left; the others sleep until their slots
        cast(VirtualTimeLoop, asyncio.get_running_loop()).busy(0.5)  # four slots pass unnoticed
        await asyncio.gather(*sends)

    run(main())
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(left))]
    assert len(left) == 6
    assert min(gaps) >= CATCH_UP / (10 * HEADROOM) - 1e-9


def _recording(pacer: Pacer, left: list[str]) -> Callable[[str, str, int], Awaitable[None]]:
    async def send(name: str, chat: str, priority: int) -> None:
        async with pacer.sending(chat, priority):
            left.append(name)

    return send


def test_a_reply_goes_before_the_alerts_waiting_for_its_chat() -> None:
    """Ordering: five alerts wait for one chat; a reply that comes once the first has left takes
    the next slot, before the four others."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="1000/second", per_chat="5/second")
    left: list[str] = []
    send = _recording(pacer, left)

    async def main() -> None:
        alerts = [asyncio.create_task(send(f"alert {i}", "c", ALERT)) for i in range(5)]
        await alerts[0]
        await send("reply", "c", REPLY)
        await asyncio.gather(*alerts)

    run(main())
    assert left == ["alert 0", "reply", "alert 1", "alert 2", "alert 3", "alert 4"]


def test_a_reply_goes_before_the_alerts_waiting_for_the_overall_limit() -> None:
    pacer = Pacer("test", Limiter("async+memory://"), overall="5/second", per_chat="1000/second")
    left: list[str] = []
    send = _recording(pacer, left)

    async def main() -> None:
        alerts = [asyncio.create_task(send(f"alert {i}", f"a{i}", ALERT)) for i in range(4)]
        await alerts[0]
        await send("reply", "r", REPLY)
        await asyncio.gather(*alerts)

    run(main())
    assert left == ["alert 0", "reply", "alert 1", "alert 2", "alert 3"]


def test_sends_cancelled_while_waiting_hold_nobody_up() -> None:
    """An alert cancelled while it waited for its slot (a worker stopping), and one cancelled
    while still queued, leave the chat to the sends after them."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="1000/second", per_chat="5/second")
    left: list[str] = []
    send = _recording(pacer, left)

    async def main() -> None:
        await send("alert 0", "c", ALERT)
        waiting = [asyncio.create_task(send(f"alert {i}", "c", ALERT)) for i in (1, 2)]
        await asyncio.sleep(0)  # alert 1 waits for its slot, alert 2 for its turn
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await send("reply", "c", REPLY)
        await send("alert 3", "c", ALERT)

    run(main())
    assert left == ["alert 0", "reply", "alert 3"]


def test_a_group_chat_keeps_its_own_limit() -> None:
    platform = Platform(seed=3)
    pacer = Pacer(
        "test",
        Limiter("async+memory://"),
        overall="1000/second",
        per_chat="1000/second",
        per_group="2/second",
    )

    async def main() -> None:
        await asyncio.gather(
            *(platform.send(pacer, chat, ALERT, chat == "-100") for chat in ("-100", "u1") for _ in range(6))
        )

    run(main())
    assert _max_in_any_window(platform.arrived["-100"]) <= 2
    assert _max_in_any_window(platform.arrived["u1"]) == 6

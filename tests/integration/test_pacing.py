"""The pacer never lets more than the limit through in any one-second window."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

from bot.core.limiting import Limiter
from bot.core.pacing import ALERT, HEADROOM, REPLY, Pacer


def _max_in_any_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_overall_and_per_chat_limits_hold_in_every_window() -> None:
    pacer = Pacer("test", Limiter("async+memory://"), overall="10/second", per_chat="1/second")
    sent: dict[str, list[float]] = {}

    async def send(chat: str) -> None:
        await pacer.wait(chat)
        sent.setdefault(chat, []).append(time.time())

    # 24 messages to 6 chats: the global limit (10/s) and the per-chat limit (1/s) both bind.
    await asyncio.gather(*(send(f"c{i % 6}") for i in range(24)))
    everything = [t for stamps in sent.values() for t in stamps]
    assert len(everything) == 24
    assert _max_in_any_window(everything) <= 10
    for stamps in sent.values():
        assert _max_in_any_window(stamps) == 1


async def test_pacers_sharing_redis_share_the_window() -> None:
    """Two replicas (two pacers on one Redis) together stay under the overall limit."""
    uri = "async+redis://127.0.0.1:6379"
    namespace = f"test-{time.time_ns()}"
    replicas = [Pacer(namespace, Limiter(uri), overall="5/second", per_chat="100/second") for _ in range(2)]
    for pacer in replicas:
        await pacer.connect()
    stamps: list[float] = []

    async def send(pacer: Pacer, i: int) -> None:
        await pacer.wait(f"c{i}")
        stamps.append(time.time())

    await asyncio.gather(*(send(replicas[i % 2], i) for i in range(12)))
    assert len(stamps) == 12
    # Entries are stamped when the request leaves, sends happen when Redis answers: allow one
    # round trip (well under 20 ms on loopback) off the one-second window, as the docstring says.
    assert _max_in_any_window(stamps, width=0.98) <= 5


async def test_sends_that_fall_late_leave_one_by_one() -> None:
    """When the event loop was busy past several sends' slots, they leave a gap apart, not in a
    bunch (which the platform would count in one second)."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="10/second", per_chat="100/second")
    left: list[float] = []

    async def send(i: int) -> None:
        await pacer.wait(f"c{i}")
        left.append(time.monotonic())

    sends = [asyncio.create_task(send(i)) for i in range(6)]
    await asyncio.sleep(0.05)  # the first has left; the others sleep until their slots
    time.sleep(0.5)  # noqa: ASYNC251  (the point: a busy loop lets four slots pass unnoticed)
    await asyncio.gather(*sends)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(left))]
    assert min(gaps) >= 0.9 / (10 * HEADROOM) - 0.005


def _recording(pacer: Pacer, left: list[str]) -> Callable[[str, str, int], Awaitable[None]]:
    async def send(name: str, chat: str, priority: int) -> None:
        await pacer.wait(chat, priority)
        left.append(name)

    return send


async def test_a_reply_goes_before_the_alerts_waiting_for_its_chat() -> None:
    """Ordering, not timing: five alerts wait for one chat; a reply that comes once the first has
    left takes the next slot, before the four others."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="1000/second", per_chat="5/second")
    left: list[str] = []
    send = _recording(pacer, left)
    alerts = [asyncio.create_task(send(f"alert {i}", "c", ALERT)) for i in range(5)]
    await alerts[0]
    await send("reply", "c", REPLY)
    await asyncio.gather(*alerts)
    assert left == ["alert 0", "reply", "alert 1", "alert 2", "alert 3", "alert 4"]


async def test_a_reply_goes_before_the_alerts_waiting_for_the_overall_limit() -> None:
    pacer = Pacer("test", Limiter("async+memory://"), overall="5/second", per_chat="1000/second")
    left: list[str] = []
    send = _recording(pacer, left)
    alerts = [asyncio.create_task(send(f"alert {i}", f"a{i}", ALERT)) for i in range(4)]
    await alerts[0]
    await send("reply", "r", REPLY)
    await asyncio.gather(*alerts)
    assert left == ["alert 0", "reply", "alert 1", "alert 2", "alert 3"]


async def test_sends_cancelled_while_waiting_hold_nobody_up() -> None:
    """An alert cancelled while it waited for its slot (a worker stopping), and one cancelled
    while still queued, leave the chat to the sends after them."""
    pacer = Pacer("test", Limiter("async+memory://"), overall="1000/second", per_chat="5/second")
    left: list[str] = []
    send = _recording(pacer, left)
    await send("alert 0", "c", ALERT)
    waiting = [asyncio.create_task(send(f"alert {i}", "c", ALERT)) for i in (1, 2)]
    await asyncio.sleep(0)  # alert 1 waits for its slot, alert 2 for its turn
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await send("reply", "c", REPLY)
    await send("alert 3", "c", ALERT)
    assert left == ["alert 0", "reply", "alert 3"]


async def test_a_group_chat_keeps_its_own_limit() -> None:
    pacer = Pacer(
        "test",
        Limiter("async+memory://"),
        overall="1000/second",
        per_chat="1000/second",
        per_group="2/second",
    )
    sent: dict[str, list[float]] = {}

    async def send(chat: str, group: bool) -> None:
        await pacer.wait(chat, ALERT, group=group)
        sent.setdefault(chat, []).append(time.time())

    await asyncio.gather(*(send(chat, chat == "-100") for chat in ("-100", "u1") for _ in range(4)))
    assert _max_in_any_window(sent["-100"]) <= 2
    assert len(sent["u1"]) == 4

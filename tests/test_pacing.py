"""The pacer never lets more than the limit through in any one-second window."""

from __future__ import annotations

import asyncio
import time

from bot.core.pacing import Pacer


def _max_in_any_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_overall_and_per_chat_limits_hold_in_every_window() -> None:
    pacer = Pacer("test", overall="10/second", per_chat="1/second")
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

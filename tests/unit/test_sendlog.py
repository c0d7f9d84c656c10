"""The in-memory log of sends (``bot.core.sendlog.MemorySendLog``) on a fake clock: an entry
counts from the moment its send may leave until one period after its answer came back."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.sendlog import MIN_WAIT, MemorySendLog
from tests.fakes.virtual_time import run


def test_an_entry_counts_while_in_flight_and_one_period_after_its_answer() -> None:
    async def scenario() -> list[float]:
        log, waits = MemorySendLog(), []
        assert await log.occupy("chat", 2, 1.0, "a") == 0
        assert await log.occupy("chat", 2, 1.0, "b") == 0
        waits.append(await log.occupy("chat", 2, 1.0, "c"))  # both in flight: a whole period
        await asyncio.sleep(0.2)
        await log.release("chat", "a")  # a's entry now ends at 1.2
        await asyncio.sleep(0.5)
        waits.append(await log.occupy("chat", 2, 1.0, "c"))  # a frees its place at 1.2
        await asyncio.sleep(0.6)
        waits.append(await log.occupy("chat", 2, 1.0, "c"))  # 1.3: taken
        waits.append(await log.occupy("chat", 2, 1.0, "d"))  # b and c in flight
        return waits

    assert run(scenario()) == pytest.approx([1.0, 0.5, 0.0, 1.0])


def test_a_key_is_its_own_and_a_release_of_an_unknown_send_changes_nothing() -> None:
    async def scenario() -> list[float]:
        log = MemorySendLog()
        await log.occupy("chat:1", 1, 1.0, "a")
        await log.release("chat:1", "other")
        await log.release("chat:2", "a")
        return [await log.occupy("chat:2", 1, 1.0, "b"), await log.occupy("chat:1", 1, 1.0, "c")]

    assert run(scenario()) == pytest.approx([0.0, 1.0])


def test_a_wait_is_never_zero_and_idle_keys_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.core.sendlog.SWEEP_EVERY", 3)

    async def scenario() -> tuple[float, set[str]]:
        log = MemorySendLog()
        await log.occupy("old", 1, 1.0, "a")
        await log.release("old", "a")
        await asyncio.sleep(0.999_9999)
        wait = await log.occupy("old", 1, 1.0, "b")  # frees in 0.1 µs: still a wait
        await asyncio.sleep(1)
        await log.occupy("new", 5, 1.0, "c")
        await log.occupy("new", 5, 1.0, "d")  # the third occupation sweeps
        return wait, set(log._keys)

    wait, keys = run(scenario())
    assert wait == MIN_WAIT
    assert keys == {"new"}

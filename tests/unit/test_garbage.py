"""The batch jobs' pause of Python's automatic garbage collection (``services.garbage``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services import garbage


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()


class _Node:
    next: object = None


def test_the_collection_is_paused_during_the_job_and_run_per_batch() -> None:
    gc.enable()
    with garbage.per_batch() as collect:
        assert not gc.isenabled()
        cycle = _Node()
        cycle.next = cycle
        gone = weakref.ref(cycle)
        del cycle
        assert gone() is not None  # a cycle is not freed by its references alone
        collect()
        assert gone() is None
    assert gc.isenabled()


def test_what_outlived_a_young_collection_is_freed_by_a_full_one_every_few_batches() -> None:
    with garbage.per_batch() as collect:
        cycle = _Node()
        cycle.next = cycle
        gone = weakref.ref(cycle)
        for _ in range(3):  # alive through young collections: now in the oldest generation
            collect()
        del cycle
        for _ in range(garbage.FULL_EVERY - 4):
            collect()
        assert gone() is not None
        collect()  # the FULL_EVERY-th batch
        assert gone() is None


def test_a_job_inside_another_leaves_the_collection_paused() -> None:
    gc.disable()
    with garbage.per_batch():
        pass
    assert not gc.isenabled()

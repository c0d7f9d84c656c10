"""Python's collection of cyclic garbage during a long batch job (the auto-renew pass, the alerts
scan)."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FULL_EVERY = 50  # batches between two full collections


@contextmanager
def per_batch() -> Iterator[Callable[[], int]]:
    """The automatic collection paused during the job, and run instead on the young generations
    once per batch (the callable given). A batch allocates hundreds of thousands of objects (rows,
    findings, parameters): collected automatically, a job at 1 M customers ran hundreds of
    collections, full ones included, each walking the whole heap (a quarter to a half of the job's
    own CPU time). Collected once per batch, a batch's garbage is still freed before the next. What
    is still alive at a young collection (a session of a batch in flight) moves to the oldest
    generation, which only a full collection walks: about 80 objects a batch of the alerts scan,
    so every ``FULL_EVERY`` batches the collection is a full one (about 80 ms with batches in
    flight), and memory stays flat. Left enabled as found: a job running beside another one that
    paused it does not turn it back on early."""
    enabled = gc.isenabled()
    gc.disable()
    batches = itertools.count(1)
    try:
        yield lambda: gc.collect(2 if next(batches) % FULL_EVERY == 0 else 1)
    finally:
        if enabled:
            gc.enable()

"""Where the time goes: one stage timer for preprocessing, generation and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Accumulates wall-clock seconds per named stage (decode, detect, generate, encode, ...).

    Stages are reported in the order they were first entered. Two threads may time different
    stages at once (generation on one, pasting and encoding on the other).
    """

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def timed_iter(self, name: str, iterator: Iterator) -> Iterator:
        """Yields from `iterator`, charging the time spent producing each item to `name`."""
        iterator = iter(iterator)
        while True:
            with self.stage(name):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

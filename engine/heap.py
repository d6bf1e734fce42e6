"""Keeping CPython's cyclic garbage collector out of the engine service's way.

Almost everything in an engine process lives as long as the process and holds no
reference cycle: the imported modules (~62k tracked objects: pydantic, confluent-kafka,
prometheus), the books, the duplicate-id windows. The GC's full (generation 2)
collection still walks every tracked container among them, item by item. Measured in the
engine under bench/engine_kafka_bench: 22-75 ms per full collection, during which no
transaction moves, so every order in flight waits it out. In a process after 300k
orders, a full collection took 69 ms; 47 ms of that is the imports alone.

`settle()` collects, then moves every object alive into the permanent generation
(`gc.freeze()`), which collections skip. Reference counting still frees a frozen object
when its last reference goes, so acyclic data (all of the above) is freed as before. Only
a reference cycle that is already garbage when frozen would stay; `settle()` collects
first for that reason, in full when the caller can afford the pause (start-up, after a
recovery) and the young generations otherwise (after a snapshot round, ~1-4 ms).

`release()` undoes it when the service stops and the process goes on (a test running
the service in process). `GcPauses` times every collection into a histogram by
generation, so the pauses that are left show on /metrics.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram


def settle(full: bool) -> int:
    """Collect (all generations if `full`, else the two young ones), then freeze what
    is left; returns how many objects are frozen in all."""
    gc.collect(2 if full else 1)
    gc.freeze()
    return gc.get_freeze_count()


def release() -> None:
    """Hand everything frozen back to the collector (`gc.unfreeze()`): for a service
    that stops inside a process that goes on, such as a test."""
    gc.unfreeze()


class GcPauses:
    """Times each collection into `histogram` (labelled by generation) while installed."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._started = 0.0
        self._installed = False

    def install(self) -> GcPauses:
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True
        return self

    def remove(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self._started
            self._histogram.labels(str(info["generation"])).observe(elapsed)

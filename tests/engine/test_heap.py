"""engine.heap: settling the heap out of the cyclic GC's way, and timing its pauses."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest
from prometheus_client import CollectorRegistry, Histogram

from engine.heap import GcPauses

pytestmark = pytest.mark.unit


def _run(code: str) -> str:
    """Run `code` in a fresh interpreter: freezing is for the whole process, so it must
    not be this test process's heap that gets frozen."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_settle_freezes_what_is_alive_and_refcounting_still_frees_it() -> None:
    out = _run(
        """
        import gc, weakref
        from engine import heap

        class Node:
            pass

        kept = [Node() for _ in range(1000)]  # a tracked container, acyclic
        freed = []
        probe = weakref.ref(kept[0], lambda _: freed.append(True))
        before = gc.get_freeze_count()
        frozen = heap.settle(full=True)
        assert frozen == gc.get_freeze_count() > before + 1000, (before, frozen)
        assert gc.get_count() == (0, 0, 0)
        del kept  # last reference: refcounting frees it although it is frozen
        print(bool(freed), probe() is None)
        heap.release()
        print(gc.get_freeze_count())
        """
    )
    assert out == "True True\n0"


@pytest.mark.parametrize("full", [True, False])
def test_settle_collects_garbage_cycles_before_freezing_them(full: bool) -> None:
    out = _run(
        f"""
        import gc, weakref
        from engine import heap

        class Node:
            pass

        gc.disable()  # only settle() may collect here
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, garbage once the names go
        probe = weakref.ref(a)
        del a, b
        assert probe() is not None
        heap.settle(full={full})
        print(probe() is None)
        """
    )
    assert out == "True"


def test_gc_pauses_times_each_collection_by_generation_while_installed() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("pause", "", ["generation"], registry=registry)
    pauses = GcPauses(histogram).install().install()  # installing twice counts once

    def count(generation: str) -> float:
        return registry.get_sample_value("pause_count", {"generation": generation}) or 0.0

    try:
        gc.collect(0)
        gc.collect(2)
        young, full = count("0"), count("2")
        assert young >= 1 and full >= 1
        assert registry.get_sample_value("pause_sum", {"generation": "2"}) > 0
        gc.collect(2)
        assert count("2") == full + 1  # one observation per collection, not two
    finally:
        pauses.remove()
    gc.collect(2)
    assert count("2") == full + 1  # removed: no more observations
    assert pauses._callback not in gc.callbacks

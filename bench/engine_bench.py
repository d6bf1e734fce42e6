"""Matching-engine benchmark: core throughput and latency, a baseline, and the replay path.

    uv run python bench/engine_bench.py            # 300k ops
    uv run python bench/engine_bench.py --ops 50000

Workload (seeded): 55% passive limits (1-20 ticks behind the opposite best), 10%
crossing limits (up to 3 ticks through), 5% market orders, 30% cancels of orders that
are resting at that point. The stream is generated up front by driving a scratch
matcher, so every cancel names a live order and nothing of the generation is timed.

Figures printed:
- core ops/s: one pass of `Matcher.process` over the stream (best of --repeat runs,
  each on a fresh matcher; the median is printed too), by wall clock and by process
  CPU time (the latter is less disturbed by other processes on a shared machine);
- latency p50/p99/p99.9: a separate pass timing each `process` call with
  perf_counter_ns (the timer's own cost, ~100 ns here, is included);
- baseline: a dict insert/delete loop over the same stream (the floor of any Python
  book keyed by order id) and the core/baseline ratio;
- replay orders/s: the JSONL stream in, four JSONL files out, end to end (best and
  median of --repeat runs), next to its baseline: the same file decoded and encoded
  back to one JSONL file with no engine (alternated with the replay runs). Both write
  under --out-dir (default: the system's temporary directory). The filesystem shows in
  the replay's figure: it writes ~930 bytes per order, and the kernel's share of that
  differs between a disk filesystem and tmpfs (docs/benchmarks.md).
No assertions on time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from engine.config import EngineConfig
from engine.matching import Matcher
from engine.replay import CHUNK_BYTES, replay
from orderbook_platform.contracts import Order

PASSIVE, CROSSING, MARKET, CANCEL = 0.55, 0.10, 0.05, 0.30
START_TICKS = 10_000  # 100.00 at a 0.01 tick
TICK = 0.01


def generate(ops: int, seed: int, symbols: int = 1, traders: int = 100) -> list[Order]:
    """A seeded mixed stream; cancels always name an order resting at that moment."""
    rng = random.Random(seed)
    names = [f"S{i:02d}" for i in range(symbols)] if symbols > 1 else ["XYZ"]
    scratch = Matcher(EngineConfig())
    live: dict[str, list[str]] = {name: [] for name in names}
    orders: list[Order] = []
    t0 = 1_764_064_800_000_000_000
    for n in range(ops):
        symbol = rng.choice(names)
        book = scratch.book(symbol)
        bid = book.best_bid() if book else None
        ask = book.best_ask() if book else None
        trader = f"T{rng.randrange(traders):03d}"
        buy = rng.random() < 0.5
        r = rng.random()
        order_id = f"o{n:08d}"
        when = t0 + n * 1000
        if r < CANCEL and live[symbol]:
            ids = live[symbol]
            while ids:
                i = rng.randrange(len(ids))
                ids[i], ids[-1] = ids[-1], ids[i]
                candidate = ids.pop()
                if candidate in book.orders:
                    order = Order(candidate, "cancel", time=when, symbol=symbol)
                    break
            else:
                continue
        elif r < CANCEL + PASSIVE or r >= CANCEL + PASSIVE + CROSSING + MARKET:
            if buy:
                top = (ask if ask is not None else (bid or START_TICKS) + 1) - rng.randint(1, 20)
            else:
                top = (bid if bid is not None else (ask or START_TICKS) - 1) + rng.randint(1, 20)
            quantity = rng.randint(1, 100)
            order = Order(
                order_id,
                "limit",
                round(top * TICK, 2),
                quantity if buy else -quantity,
                when,
                symbol,
                trader,
            )
        elif r < CANCEL + PASSIVE + CROSSING:
            if buy:
                limit = (ask if ask is not None else START_TICKS) + rng.randint(0, 3)
            else:
                limit = (bid if bid is not None else START_TICKS) - rng.randint(0, 3)
            quantity = rng.randint(1, 150)
            order = Order(
                order_id,
                "limit",
                round(limit * TICK, 2),
                quantity if buy else -quantity,
                when,
                symbol,
                trader,
                rng.choice((None, "IOC")),
            )
        else:
            quantity = rng.randint(1, 50)
            order = Order(
                order_id, "market", None, quantity if buy else -quantity, when, symbol, trader
            )
        scratch.process(order)
        if order.order_type == "limit" and order_id in scratch.book(symbol).orders:
            live[symbol].append(order_id)
        orders.append(order)
    return orders


def run_core(orders: list[Order]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, events) for one pass on a fresh matcher."""
    matcher = Matcher(EngineConfig())
    process = matcher.process
    events = 0
    cpu = time.process_time()
    start = time.perf_counter_ns()
    for order in orders:
        events += len(process(order))
    return (time.perf_counter_ns() - start) / 1e9, time.process_time() - cpu, events


def run_latency(orders: list[Order]) -> list[int]:
    matcher = Matcher(EngineConfig())
    process = matcher.process
    clock = time.perf_counter_ns
    samples = []
    append = samples.append
    for order in orders:
        start = clock()
        process(order)
        append(clock() - start)
    return samples


def run_baseline(orders: list[Order]) -> float:
    """The same stream into a dict keyed by order id: insert limits, delete cancels."""
    book: dict[str, object] = {}
    start = time.perf_counter_ns()
    for order in orders:
        kind = order.order_type
        if kind == "limit":
            book[order.order_id] = order.quantity
        elif kind == "cancel":
            book.pop(order.order_id, None)
    return (time.perf_counter_ns() - start) / 1e9


def run_replay(source: Path, out: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, orders) of one replay of the JSONL file `source`."""
    cpu = time.process_time()
    stats = replay(source, out, EngineConfig())
    # stats.seconds excludes the final state hash; the CPU figure includes it.
    return stats.seconds, time.process_time() - cpu, stats.orders


def run_passthrough(source: Path, out: Path) -> tuple[float, float, int]:
    """The replay's baseline: JSONL in, JSONL out, no engine.

    The same file read in the replay's chunks, decoded into Orders by msgspec and each
    chunk encoded back and written to one file: the floor of any JSONL replay in this
    stack (its output is ~1/8 of the replay's, which writes four richer streams).
    """
    decoder = msgspec.json.Decoder(Order)
    encoder = msgspec.json.Encoder()
    count = 0
    cpu = time.process_time()
    start = time.perf_counter()
    with open(source, "rb") as reader, open(out, "wb") as writer:
        while lines := reader.readlines(CHUNK_BYTES):
            orders = decoder.decode_lines(b"".join(lines))
            writer.write(encoder.encode_lines(orders))
            count += len(orders)
    return time.perf_counter() - start, time.process_time() - cpu, count


def percentile(sorted_samples: list[int], q: float) -> int:
    return sorted_samples[min(len(sorted_samples) - 1, int(q * len(sorted_samples)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--symbols", type=int, default=1)
    parser.add_argument(
        "--out-dir", type=Path, default=None,
        help="where the replay and its baseline write (a temporary directory is made in it)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.out_dir is not None and not args.out_dir.is_dir():
        parser.error(f"--out-dir is not a directory: {args.out_dir}")

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs, load average {load}; "
        f"generating {args.ops:,} ops (seed {args.seed})..."
    )
    orders = generate(args.ops, args.seed, args.symbols)
    mix: dict[str, int] = {}
    for order in orders:
        mix[order.order_type] = mix.get(order.order_type, 0) + 1
    print("mix: " + ", ".join(f"{k} {v / len(orders):.0%}" for k, v in sorted(mix.items())))

    runs = [run_core(orders) for _ in range(args.repeat)]
    seconds = [wall for wall, _, _ in runs]
    events = runs[0][2]
    best, median = min(seconds), statistics.median(seconds)
    core_rate = len(orders) / best
    cpu_rate = len(orders) / min(cpu for _, cpu, _ in runs)
    print(
        f"core:     {core_rate:>12,.0f} ops/s best, {len(orders) / median:,.0f} median "
        f"of {args.repeat} ({events / len(orders):.2f} events/op); "
        f"{cpu_rate:,.0f} ops per CPU-second"
    )

    samples = sorted(run_latency(orders))
    print(
        f"latency:  p50 {percentile(samples, 0.50):,} ns  p99 {percentile(samples, 0.99):,} ns  p99.9 {percentile(samples, 0.999):,} ns  max {samples[-1]:,} ns"
    )

    baseline_rate = len(orders) / min(run_baseline(orders) for _ in range(args.repeat))
    print(f"baseline: {baseline_rate:>12,.0f} ops/s (dict insert/delete over the same stream)")
    print(f"ratio:    core is {baseline_rate / core_rate:.1f}x slower than the baseline")

    # Alternated, so that a slow spell of a shared machine hits both.
    with tempfile.TemporaryDirectory(dir=args.out_dir) as tmp:
        source = Path(tmp) / "orders.jsonl"
        source.write_bytes(msgspec.json.Encoder().encode_lines(orders))
        replays, passes = [], []
        for n in range(args.repeat):
            passes.append(run_passthrough(source, Path(tmp) / "passthrough.jsonl"))
            replays.append(run_replay(source, Path(tmp) / f"out{n}"))
            shutil.rmtree(Path(tmp) / f"out{n}")
    tmp_parent = Path(tmp).parent
    count = replays[0][2]
    best = min(wall for wall, _, _ in replays)
    median = statistics.median(wall for wall, _, _ in replays)
    replay_cpu = count / min(cpu for _, cpu, _ in replays)
    print(
        f"replay:   {count / best:>12,.0f} orders/s best, {count / median:,.0f} median of "
        f"{args.repeat} (JSONL in, 4 JSONL files out under {tmp_parent}); "
        f"{replay_cpu:,.0f} per CPU-second"
    )
    passthrough = count / min(wall for wall, _, _ in passes)
    print(f"baseline: {passthrough:>12,.0f} orders/s (JSONL in and out, decoded and re-encoded)")
    print(f"ratio:    replay is {passthrough * best / count:.1f}x slower than the baseline")


if __name__ == "__main__":
    main()

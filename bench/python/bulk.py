"""Bulk ids against n, beside numpy doing the least the same result needs.

  - next_many(n) of every counter type beside numpy's `np.empty(n, np.uint64).fill(1)`: fresh
    memory, one write per id (the floor: an id costs at least a write to a fresh slot);
    next_many(n, out=a) beside `a.fill(1)` on an array that already exists;
  - Layout.INT64.decode_many(ids) beside numpy's vectorized arithmetic doing the same shifts,
    masks, multiply and add into fresh arrays (what a user writes without it); decode_many with
    out= beside the same arithmetic with out= where numpy has it.

Each size is measured on its own: rounds of every candidate in turn (the order rotated each
round), the median per candidate, so that a ratio compares calls made in the same minutes.
Used by run.py; `python bench/python/bulk.py [--rounds R] [--sizes 1e3,1e8]` prints the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import timeit
import uuid

SIZES = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]
KINDS = ["Counter", "TimeCounter", "SharedCounter", "SharedTimeCounter", "SnowflakeCounter"]
FLOOR = "numpy empty + fill"
OUT_FLOOR = "numpy fill in place"
DECODE_FLOOR = "numpy shifts and masks"
OUT_DECODE_FLOOR = "numpy shifts and masks, out="


def label(n: int) -> str:
    """1k, 10k, ..., 100M."""
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{name}"
    return str(n)


def timed(candidates: dict[str, tuple[str, dict]], n: int, rounds: int) -> dict[str, float]:
    """ns per call of each statement, the median of `rounds` interleaved runs."""
    # About 20 ms of work a run at every size (one call a run from 100k ids up).
    number = max(1, min(20_000, 200_000 // max(1, n // 100)))
    timers = {name: timeit.Timer(stmt, globals=ns) for name, (stmt, ns) in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for timer in timers.values():  # warm-up: allocator, page cache, branch predictors
        timer.timeit(1)
    names = list(timers)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timers[name].timeit(number) / number * 1e9)
    return {name: statistics.median(values) for name, values in samples.items()}


def counters() -> dict[str, object]:
    from atomic_counter import (
        Counter,
        Layout,
        SharedCounter,
        SharedTimeCounter,
        SnowflakeCounter,
        TimeCounter,
    )

    name = f"atomic-counter-bulk-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    shared, shared_time = SharedCounter(name), SharedTimeCounter(name + "-time")
    shared.unlink()  # the names go at once; the mappings stay while the objects live
    shared_time.unlink()
    return {
        "Counter": Counter(),
        "TimeCounter": TimeCounter(),
        "SharedCounter": shared,
        "SharedTimeCounter": shared_time,
        # INT64 ids are int64 ('q'); next_many writes them tick by tick.
        "SnowflakeCounter": SnowflakeCounter(Layout.INT64, 1),
    }


def measure_next_many(sizes: list[int], rounds: int) -> dict[int, dict[str, float]]:
    """{n: {candidate: ns per call}} for next_many and its floors."""
    import numpy as np

    results = {}
    objects = counters()
    for n in sizes:
        ns: dict = {"np": np, "u64": np.uint64, "n": n, **objects}
        ns["a"] = np.empty(n, np.uint64)
        ns["a"].fill(0)  # faulted in: the in-place floor and out= write to warm memory
        ns["q"] = np.zeros(n, np.int64)
        candidates = {FLOOR: ("np.empty(n, u64).fill(1)", ns), OUT_FLOOR: ("a.fill(1)", ns)}
        for kind in KINDS:
            candidates[kind] = (f"{kind}.next_many(n)", ns)
        candidates["Counter, out="] = ("Counter.next_many(n, out=a)", ns)
        candidates["SnowflakeCounter, out="] = ("SnowflakeCounter.next_many(n, out=q)", ns)
        print(f"  next_many, n = {label(n)}", file=sys.stderr, flush=True)
        results[n] = timed(candidates, n, rounds)
    return results


def measure_decode_many(sizes: list[int], rounds: int) -> dict[int, dict[str, float]]:
    """{n: {candidate: ns per call}} for Layout.INT64.decode_many and its floors."""
    import numpy as np

    from atomic_counter import Layout, SnowflakeCounter

    layout = Layout.INT64
    time_shift = np.uint64(layout.node_bits + layout.sequence_bits)
    sequence_bits = np.uint64(layout.sequence_bits)
    node_mask, sequence_mask = np.uint64(layout.max_node), np.uint64(layout.max_sequence)
    tick_us, epoch_us = layout.tick_ns // 1000, layout.epoch_ns // 1000

    def by_hand(u):  # the same columns: fresh arrays, numpy's vectorized arithmetic
        times = (u >> time_shift).view(np.int64)
        times *= tick_us
        times += epoch_us
        return times.view("datetime64[us]"), (u >> sequence_bits) & node_mask, u & sequence_mask

    def by_hand_out(u, times, nodes, sequences):  # into existing arrays
        np.right_shift(u, time_shift, out=times)
        times *= tick_us
        times += epoch_us
        np.right_shift(u, sequence_bits, out=nodes)
        nodes &= node_mask
        np.bitwise_and(u, sequence_mask, out=sequences)

    results = {}
    generator = SnowflakeCounter(layout, 3)
    for n in sizes:
        ids = np.asarray(generator.next_many(n))
        u = ids.view(np.uint64)
        mine = layout.decode_many(ids)
        theirs = by_hand(u)
        assert all((a == b).all() for a, b in zip(mine, theirs, strict=True))
        del mine, theirs
        out = (np.zeros(n, "datetime64[us]"), np.zeros(n, np.int64), np.zeros(n, np.int64))
        raw = (out[0].view(np.uint64), out[1].view(np.uint64), out[2].view(np.uint64))
        ns = {
            "decode": layout.decode_many,
            "by_hand": by_hand,
            "by_hand_out": by_hand_out,
            "ids": ids,
            "u": u,
            "out": out,
            "raw": raw,
        }
        candidates = {
            DECODE_FLOOR: ("by_hand(u)", ns),
            "Layout.decode_many": ("decode(ids)", ns),
            OUT_DECODE_FLOOR: ("by_hand_out(u, *raw)", ns),
            "Layout.decode_many, out=": ("decode(ids, out=out)", ns),
        }
        print(f"  decode_many, n = {label(n)}", file=sys.stderr, flush=True)
        results[n] = timed(candidates, n, rounds)
        del ids, u, out, raw, ns
    return results


# What each of ours is compared with: (ours, floor).
PAIRS = [
    *((kind, FLOOR) for kind in KINDS),
    ("Counter, out=", OUT_FLOOR),
    ("SnowflakeCounter, out=", OUT_FLOOR),
    ("Layout.decode_many", DECODE_FLOOR),
    ("Layout.decode_many, out=", OUT_DECODE_FLOOR),
]
# The pairs held to the target (every size within TARGET x the floor).
TARGETED = [*KINDS, "Layout.decode_many"]
TARGET = 1.2


def ratios(figures: dict[int, dict[str, float]]) -> dict[str, dict[int, float]]:
    """{ours: {n: ours / floor}} for every pair measured."""
    table: dict[str, dict[int, float]] = {}
    for n, row in figures.items():
        for ours, floor in PAIRS:
            if ours in row and floor in row:
                table.setdefault(ours, {})[n] = row[ours] / row[floor]
    return table


def ratio_table(figures: dict[int, dict[str, float]]) -> list[str]:
    """Markdown: ours / floor at every size."""
    sizes = sorted(figures)
    lines = [
        "| ours / floor | " + " | ".join(label(n) for n in sizes) + " |",
        "| --- | " + " | ".join("---" for _ in sizes) + " |",
    ]
    for ours, row in ratios(figures).items():
        floor = dict(PAIRS)[ours]
        cells = [f"{row[n]:.2f}" if n in row else "" for n in sizes]
        lines.append(f"| {ours} / {floor} | " + " | ".join(cells) + " |")
    return lines


def rate_table(figures: dict[int, dict[str, float]]) -> list[str]:
    """Markdown: M ids/s of every candidate at every size."""
    sizes = sorted(figures)
    names: list[str] = []
    for row in figures.values():
        names += [name for name in row if name not in names]
    lines = [
        "| M ids/s | " + " | ".join(label(n) for n in sizes) + " |",
        "| --- | " + " | ".join("---" for _ in sizes) + " |",
    ]
    for name in names:
        cells = [f"{n / figures[n][name] * 1e3:,.0f}" if name in figures[n] else "" for n in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    figures = measure_next_many(sizes, args.rounds)
    for n, row in measure_decode_many(sizes, args.rounds).items():
        figures[n].update(row)
    print("\n".join(ratio_table(figures)))
    print()
    print("\n".join(rate_table(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

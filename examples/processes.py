"""Four worker processes (spawned) draw from one SharedCounter and one SharedTimeCounter: the ids
are unique across all of them. The counters travel to the workers by name."""

from __future__ import annotations

import multiprocessing
import os

from atomic_counter import SharedCounter, SharedTimeCounter


def draw(counter: SharedCounter | SharedTimeCounter) -> list[int]:
    return [counter.next() for _ in range(20_000)]


def main() -> None:
    name = f"atomic-counter-example-{os.getpid()}"
    counters: list[SharedCounter | SharedTimeCounter] = [
        SharedCounter(name),
        SharedTimeCounter(name + "-time"),
    ]
    try:
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            for counter in counters:
                runs = pool.map(draw, [counter] * 4)
                union = [v for run in runs for v in run]
                assert len(set(union)) == len(union), "duplicate id"
                print(f"{type(counter).__name__}: 4 processes x 20000 ids, all unique")
    finally:
        for counter in counters:
            counter.unlink()


if __name__ == "__main__":
    main()

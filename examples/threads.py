"""Eight threads share one Counter and one TimeCounter: every id is unique, and each thread's ids
strictly increase."""

from __future__ import annotations

import itertools
import threading

from atomic_counter import Counter, TimeCounter

THREADS, DRAWS = 8, 50_000


def draw_from_threads(counter: Counter | TimeCounter) -> None:
    results: list[list[int]] = [[] for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def work(slot: int) -> None:
        barrier.wait()
        results[slot] = [counter.next() for _ in range(DRAWS)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    union = [v for run in results for v in run]
    assert len(set(union)) == len(union), "duplicate id"
    assert all(all(a < b for a, b in itertools.pairwise(run)) for run in results)
    print(
        f"{type(counter).__name__}: {THREADS} threads x {DRAWS} ids, all unique, "
        f"each thread increasing"
    )


def main() -> None:
    for counter in (Counter(), TimeCounter()):
        draw_from_threads(counter)


if __name__ == "__main__":
    main()

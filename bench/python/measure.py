"""Times callables side by side: rounds of interleaved timeit runs, the median per candidate.

Used by run.py in the project's environment and, unchanged, inside the original atomic-counter's
own environment (both packages import as atomic_counter), where it prints JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import timeit


def measure(candidates: dict[str, tuple[str, dict]], rounds: int, number: int) -> dict[str, float]:
    """ns per call, the median over `rounds` interleaved runs of `number` calls each.

    candidates maps a label to (statement, namespace); every statement runs inline in timeit's
    loop, so each pays the same loop overhead."""
    timers = {label: timeit.Timer(stmt, globals=ns) for label, (stmt, ns) in candidates.items()}
    samples: dict[str, list[float]] = {label: [] for label in timers}
    for timer in timers.values():  # warm-up
        timer.timeit(max(1, number // 10))
    for _ in range(rounds):
        for label, timer in timers.items():
            samples[label].append(timer.timeit(number) / number * 1e9)
    return {label: statistics.median(values) for label, values in samples.items()}


def original_candidates() -> dict[str, tuple[str, dict]]:
    """The candidates measured in the original's environment: its two counters beside the
    reference, so its figures become ratios to a floor measured in the same process."""
    import _reference

    from atomic_counter import Counter, TimeCounter

    ns = {"c": Counter(), "t": TimeCounter(), "ref": _reference.Reference()}
    return {
        "reference": ("ref.next()", ns),
        "Counter.next": ("c.next()", ns),
        "TimeCounter.next": ("t.next()", ns),
    }


if __name__ == "__main__":
    rounds, number = int(sys.argv[1]), int(sys.argv[2])
    json.dump(measure(original_candidates(), rounds, number), sys.stdout)

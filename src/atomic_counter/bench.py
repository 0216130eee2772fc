"""``atomic-counter bench``: one id per call from this package beside the peers that are
installed (itertools.count, time.time_ns, uuid.uuid4, and uuid_utils.uuid7 or snowflake-id when
present), as medians of interleaved rounds. The full suite, with the C++ benchmarks, the
original atomic-counter and a chart, is bench/run.py in the source tree."""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import time
import timeit
import uuid
from typing import IO, Any

from . import (
    Counter,
    Layout,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
    __version__,
)


def candidates() -> dict[str, tuple[str, dict[str, Any]]]:
    name = f"atomic-counter-cli-bench-{os.getpid()}"
    # Unlinked after the measurement (measure()): unlink ends a region's sequence.
    shared, shared_time = SharedCounter(name), SharedTimeCounter(name + "-time")
    ns: dict[str, Any] = {
        "c": Counter(),
        "t": TimeCounter(),
        "sc": shared,
        "st": shared_time,
        "sf": SnowflakeCounter(Layout.TWITTER, 1),
        "count_next": itertools.count().__next__,
        "time_ns": time.time_ns,
        "uuid4": uuid.uuid4,
    }
    table = {
        "Counter.next": "c.next()",
        "TimeCounter.next": "t.next()",
        "SharedCounter.next": "sc.next()",
        "SharedTimeCounter.next": "st.next()",
        "SnowflakeCounter.next": "sf.next()",
        "itertools.count().__next__": "count_next()",
        "time.time_ns": "time_ns()",
        "uuid.uuid4": "uuid4()",
    }
    try:
        import uuid_utils  # type: ignore[import-not-found,unused-ignore]

        ns["uuid7"] = uuid_utils.uuid7
        table["uuid_utils.uuid7"] = "uuid7()"
    except ImportError:
        pass
    try:
        from snowflake import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            SnowflakeGenerator,
        )

        ns["flake"] = SnowflakeGenerator(42)
        table["snowflake-id"] = "next(flake)"
    except ImportError:
        pass
    return {label: (stmt, ns) for label, stmt in table.items()}


def measure(rounds: int, number: int) -> dict[str, float]:
    """ns per call, the median of `rounds` interleaved runs of `number` calls."""
    chosen = candidates()
    timers = {label: timeit.Timer(stmt, globals=ns) for label, (stmt, ns) in chosen.items()}
    samples: dict[str, list[float]] = {label: [] for label in timers}
    try:
        for timer in timers.values():
            timer.timeit(max(1, number // 10))
        for _ in range(rounds):
            for label, timer in timers.items():
                samples[label].append(timer.timeit(number) / number * 1e9)
    finally:
        namespace = next(iter(chosen.values()))[1]
        namespace["sc"].unlink()
        namespace["st"].unlink()
    return {label: statistics.median(v) for label, v in samples.items()}


def main(rounds: int, number: int, as_json: bool, out: IO[str]) -> None:
    """Measures and writes a table to out (JSON Lines, one measurement a line, with as_json)."""
    for arg, given in (("rounds", rounds), ("number", number)):
        if not isinstance(given, int) or isinstance(given, bool):
            raise TypeError(
                f"atomic_counter.bench.main() argument '{arg}' must be an int in [1, 10000000], "
                f"not {type(given).__name__}"
            )
        if not 1 <= given <= 10_000_000:
            raise ValueError(
                f"atomic_counter.bench.main() argument '{arg}' must be in [1, 10000000], "
                f"got {given}"
            )
    if not callable(getattr(out, "write", None)):
        raise TypeError(
            "atomic_counter.bench.main() argument 'out' must be a text stream (with write()), "
            f"not {type(out).__name__}"
        )
    results = measure(rounds, number)
    meta = {
        "atomic_counter": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rounds": rounds,
        "number": number,
    }
    ranked = sorted(results.items(), key=lambda kv: kv[1])
    if as_json:  # JSON Lines, as every subcommand: one object per measurement
        for label, value in ranked:
            out.write(json.dumps({"what": label, "ns_per_id": round(value, 2), **meta}) + "\n")
        return
    out.write(
        f"atomic_counter {__version__}, CPython {meta['python']}, {meta['machine']}, "
        f"medians of {rounds} rounds of {number} calls\n\n"
    )
    width = max(len(label) for label in results)
    out.write(f"{'what':<{width}}  ns per id\n")
    for label, value in ranked:
        out.write(f"{label:<{width}}  {value:9.1f}\n")

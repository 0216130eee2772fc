"""One process drawing from a SegmentCounter, for test_segment.py and the benchmark.

    python segment_holder.py URL NAME OUT [--block N] [--count N] [--rate IDS_PER_S] [--seconds S]

Writes every value it draws to OUT (int64, native order), flushed every batch, so that a process
killed mid-run leaves on disk the values it handed out before. Prints "ready" once the counter is
open, then, when it ends by itself, one JSON line: its stats, the slowest next() call and the
99.9th percentile of the calls, in ns. SIGTERM ends it cleanly (the counter is closed)."""

from __future__ import annotations

import argparse
import array
import json
import signal
import sys
import time

from atomic_counter import SegmentCounter

BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--block", type=int, default=1000)
    parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--rate", type=float, default=0.0, help="ids a second (0: flat out)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after (0: never)")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    counter = SegmentCounter(args.url, args.name, args.block, timeout=args.timeout)
    print("ready", flush=True)
    slowest = array.array("q")
    drawn = 0
    started = time.monotonic()
    clock = time.perf_counter_ns
    with open(args.out, "wb", buffering=0) as out:
        while not stop:
            batch = array.array("q")
            for _ in range(BATCH):
                t0 = clock()
                value = counter.next()
                t1 = clock()
                batch.append(value)
                slowest.append(t1 - t0)
            out.write(batch.tobytes())
            drawn += BATCH
            if args.count and drawn >= args.count:
                break
            elapsed = time.monotonic() - started
            if args.seconds and elapsed >= args.seconds:
                break
            if args.rate:
                ahead = drawn / args.rate - elapsed
                if ahead > 0:
                    time.sleep(ahead)
    stats = counter.stats()
    counter.close()
    times = sorted(slowest)
    stats["max_ns"] = times[-1] if times else 0
    stats["p999_ns"] = times[int(len(times) * 0.999)] if times else 0
    stats["drawn"] = drawn
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    sys.exit(main())

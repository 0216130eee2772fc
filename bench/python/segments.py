"""SegmentCounter beside what users do without it, against a PostgreSQL this starts on loopback.

  - one id per call, side by side in one process: Counter.next(), SegmentCounter.next() with a
    block that outlasts a reservation and with one that does not, SELECT nextval() per id;
  - ids a second from 8 processes: SegmentCounter against nextval() per id;
  - next() latency while the database is slowed (a proxy adding delay each way), against the
    same run at full speed.

Used by run.py; `python bench/python/segments.py` prints the figures alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from measure import measure

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "python" / "support"  # the servers and the holder process the tests use
sys.path.insert(0, str(TESTS))

PROCESSES = 8

DRAW = textwrap.dedent(
    """
    import sys, time
    kind, url, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if kind == "segment":
        from atomic_counter import SegmentCounter
        counter = SegmentCounter(url, name, block=int(sys.argv[5]))
        draw = counter.next
    else:
        import psycopg
        conn = psycopg.connect(url, autocommit=True)
        draw = lambda: conn.execute("SELECT nextval('bench_seq')").fetchone()[0]
    print("ready", flush=True)
    sys.stdin.readline()  # the start line, to all at once
    start = time.perf_counter()
    for _ in range(count):
        draw()
    print(time.perf_counter() - start, flush=True)
    """
)


def fleet_rate(kind: str, url: str, count: int, block: int = 0) -> float:
    """Ids a second drawn by PROCESSES processes at once (from a common start to the last)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if kind == "segment":
        from atomic_counter import SegmentCounter

        SegmentCounter.create(url, name)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRAW, kind, url, name, str(count), str(block)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        p.communicate(timeout=600)
    return PROCESSES * count / (time.perf_counter() - start)


def slowed_latency(port: int, delay: float, seconds: float, block: int) -> dict[str, float]:
    """A process drawing 20,000 ids a second through a proxy adding `delay` each way: its
    slowest next() calls and how many waited for a block."""
    from redis_server import Proxy

    proxy = Proxy(port, delay=delay)
    url = f"postgresql://app@127.0.0.1:{proxy.port}/postgres"
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                str(TESTS / "segment_holder.py"),
                url,
                f"bench-{uuid.uuid4().hex[:8]}",
                str(Path(tmp) / "ids.bin"),
                "--block",
                str(block),
                "--rate",
                "20000",
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=True,
        ).stdout
    proxy.close()
    return json.loads(out.strip().splitlines()[-1])


def measure_segments(rounds: int, number: int) -> dict[str, float] | None:
    """The figures, by row name (ns per id, ids a second, or latencies in ns); None without a
    PostgreSQL server or psycopg."""
    try:
        import psycopg
        from postgres_server import PostgresServer, server_bin
    except ImportError:
        return None
    if server_bin() is None:
        return None
    from atomic_counter import Counter, SegmentCounter

    server = PostgresServer()
    server.start()
    try:
        url = server.url
        conn = psycopg.connect(url, autocommit=True)
        conn.execute("CREATE SEQUENCE IF NOT EXISTS bench_seq")
        SegmentCounter.create(url, "bench-big")
        SegmentCounter.create(url, "bench-small")
        big = SegmentCounter(url, "bench-big", block=2_000_000)
        small = SegmentCounter(url, "bench-small", block=1000)
        ns = {"c": Counter(), "big": big, "small": small, "conn": conn}
        figures = measure(
            {
                "Counter.next() (ns per id)": ("c.next()", ns),
                "SegmentCounter.next(), block 2,000,000 (ns per id)": ("big.next()", ns),
                "SegmentCounter.next(), block 1,000, flat out (ns per id)": ("small.next()", ns),
            },
            rounds,
            number,
        )
        drawn = (2 * rounds + 1) * number  # warm-up and rounds, as measure() runs them
        figures["block 2,000,000: next() calls that waited (per million)"] = (
            big.stats()["stalls"] * 1e6 / drawn
        )
        figures["block 1,000, flat out: next() calls that waited (per million)"] = (
            small.stats()["stalls"] * 1e6 / drawn
        )
        nextval = {
            "SELECT nextval() per id, psycopg (ns per id)": ("conn.execute(q).fetchone()", ns)
        }
        ns["q"] = "SELECT nextval('bench_seq')"
        figures.update(measure(nextval, max(3, rounds // 3), max(200, number // 200)))
        big.close()
        small.close()
        conn.close()
        figures[f"{PROCESSES} processes: SegmentCounter, block 100,000 (ids/s)"] = fleet_rate(
            "segment", url, 1_000_000, 100_000
        )
        figures[f"{PROCESSES} processes: nextval() per id (ids/s)"] = fleet_rate(
            "nextval", url, 2_000
        )
        for delay in (0.0, 0.05):
            got = slowed_latency(server.port, delay, 5.0, 50_000)
            label = f"+{delay * 1000:.0f} ms each way" if delay else "full speed"
            figures[f"20k ids/s, block 50,000, {label}: slowest next() (ns)"] = got["max_ns"]
            figures[f"20k ids/s, block 50,000, {label}: 99.9th percentile (ns)"] = got["p999_ns"]
            figures[f"20k ids/s, block 50,000, {label}: next() calls that waited (count)"] = got[
                "stalls"
            ]
        return figures
    finally:
        server.remove()


if __name__ == "__main__":
    result = measure_segments(int(sys.argv[1]) if len(sys.argv) > 1 else 9, 200_000)
    for key, value in (result or {}).items():
        print(f"{key}: {value:,.1f}")

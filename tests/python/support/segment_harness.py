"""What the SegmentCounter tests share: a segment_holder.py process that draws into a file, the
check that no value repeats and each process's values increase, and draws through an outage."""

from __future__ import annotations

import array
import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

HOLDER = Path(__file__).with_name("segment_holder.py")


class Drawer:
    """A segment_holder.py process."""

    def __init__(self, url: str, name: str, out: Path, **options: object) -> None:
        self.out = out
        args = [sys.executable, str(HOLDER), url, name, str(out)]
        for key, value in options.items():
            args += [f"--{key}", str(value)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            raise AssertionError(f"holder did not start: {line}\n{self.process.stderr.read()}")

    def finish(self, timeout: float = 120) -> dict[str, object]:
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def values(self) -> list[int]:
        data = array.array("q")
        data.frombytes(self.out.read_bytes())
        return data.tolist()


def check_runs(runs: list[list[int]]) -> int:
    """No value twice across the runs, and each run strictly increasing. Returns the count."""
    for run in runs:
        assert all(a < b for a, b in itertools.pairwise(run)), "a process's values went back"
    every = [v for run in runs for v in run]
    assert len(set(every)) == len(every), f"{len(every) - len(set(every))} values repeated"
    return len(every)


def draw_through(url: str, name: str, tmp_path: Path, outage) -> None:
    """Three processes draw 5,000 values a second each while `outage` runs; every value must be
    unique and each process's increasing, and the processes must have seen the outage."""
    from atomic_counter import SegmentCounter

    SegmentCounter.create(url, name)
    drawers = [
        Drawer(url, name, tmp_path / f"{i}.bin", block=200, rate=5_000, timeout=60)
        for i in range(3)
    ]
    time.sleep(1.0)
    outage()
    time.sleep(1.5)
    for d in drawers:
        d.process.send_signal(signal.SIGTERM)
    stats = [d.finish() for d in drawers]
    assert check_runs([d.values() for d in drawers]) > 3 * 5_000
    assert any(s["retries"] for s in stats), stats  # the outage was seen


def draw_until_refused(counter: object, limit: int = 10_000) -> tuple[list[int], Exception | None]:
    """Draws up to `limit` values; returns them, and the SegmentRefusedError that stopped the
    counter (None if none did)."""
    from atomic_counter import SegmentRefusedError

    drawn: list[int] = []
    try:
        for _ in range(limit):
            drawn.append(counter.next())  # type: ignore[attr-defined]
    except SegmentRefusedError as exc:
        return drawn, exc
    return drawn, None


def try_draw(url: str, name: str, count: int) -> tuple[list[int], Exception | None]:
    """A new counter drawing `count` values, or the refusal that stopped it."""
    from atomic_counter import SegmentCounter, SegmentRefusedError

    try:
        counter = SegmentCounter(url, name, block=10, timeout=5)
    except SegmentRefusedError as exc:
        return [], exc
    drawn, refused = draw_until_refused(counter, count)
    counter.close()
    return drawn, refused

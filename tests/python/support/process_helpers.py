"""Helpers for the tests that draw ids in several processes: start them, collect what each
sends back, and check the union."""

from __future__ import annotations

import array
import itertools
from collections.abc import Callable, Sequence
from typing import Any


def run_processes(
    ctx: Any, target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 120
) -> list[Any]:
    """Runs target(*a, results) in one process per `a` and returns the results they put on the
    queue, in arrival order; each process must exit with status 0."""
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, results)) for a in args]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return got


def unpack(data: bytes) -> list[int]:
    values = array.array("Q")
    values.frombytes(data)
    return values.tolist()


def check_runs(runs: list[list[int]]) -> None:
    """Each run strictly increases and no value appears twice across all of them."""
    for i, run in enumerate(runs):
        assert all(a < b for a, b in itertools.pairwise(run)), f"process {i} went backwards"
    union = [v for run in runs for v in run]
    assert len(set(union)) == len(union), f"{len(union) - len(set(union))} duplicates"

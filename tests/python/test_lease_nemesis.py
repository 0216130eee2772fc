"""The lease nemesis (tests/python/lease_nemesis.py), short, in CI: holders draw on leased nodes
while Redis, the holders and their clocks fail in a seeded random order; no id may repeat.
ATOMIC_COUNTER_NEMESIS_SECONDS (default 60) and ATOMIC_COUNTER_NEMESIS_SEED (default: a fresh
seed, printed in the failure) reproduce a run; the release run is 1800 s."""

import os
import random

import pytest
from conftest import linux_only, needs_redis_server

pytestmark = [needs_redis_server, linux_only]

pytest.importorskip("redis")
pytest.importorskip("numpy")

from lease_nemesis import run  # noqa: E402


def test_no_id_repeats_whatever_fails(tmp_path):
    seconds = float(os.environ.get("ATOMIC_COUNTER_NEMESIS_SECONDS", "60"))
    seed = int(os.environ.get("ATOMIC_COUNTER_NEMESIS_SEED", random.randrange(2**32)))
    report = run(seconds, seed, tmp_path, log=False)
    summary = f"seed {seed}: {report}"
    assert report["duplicates"] == 0, summary
    assert report["backwards"] == 0, summary
    assert report["ids"] > 100_000, summary
    assert len(report["faults"]) >= 8, summary  # most kinds of fault happened

"""The lease nemesis (support/lease_nemesis.py), short, in CI: holders draw on leased nodes
while the store (Redis, then PostgreSQL), the holders and their clocks fail in a seeded random
order; no id may repeat (nor, on PostgreSQL, a SegmentCounter value).
ATOMIC_COUNTER_NEMESIS_SECONDS (default 60 a store) and ATOMIC_COUNTER_NEMESIS_SEED (default: a
fresh seed, printed in the failure) reproduce a run; the release runs are 1800 s a store."""

import os
import random
import shutil

import pytest
from conftest import linux_only

pytestmark = linux_only

pytest.importorskip("numpy")

from lease_nemesis import run  # noqa: E402


def available(store: str) -> str | None:
    """Why the store cannot run here, or None."""
    if store == "redis":
        if shutil.which("redis-server") is None:
            return "redis-server is not installed (tools/test.sh installs it)"
        try:
            import redis  # noqa: F401
        except ImportError:
            return "redis-py is not installed"
        return None
    from postgres_server import server_bin

    if server_bin() is None:
        return "PostgreSQL is not installed (tools/test.sh installs it)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_no_id_repeats_whatever_fails(tmp_path, store):
    reason = available(store)
    if reason:
        pytest.skip(reason)
    seconds = float(os.environ.get("ATOMIC_COUNTER_NEMESIS_SECONDS", "60"))
    seed = int(os.environ.get("ATOMIC_COUNTER_NEMESIS_SEED", random.randrange(2**32)))
    report = run(seconds, seed, tmp_path, log=False, store=store)
    summary = f"{store}, seed {seed}: {report}"
    assert report["duplicates"] == 0, summary
    assert report["backwards"] == 0, summary
    assert report["ids"] > 100_000, summary
    assert len(report["faults"]) >= 7, summary  # most kinds of fault happened
    if store == "postgres":  # SegmentCounter drawers ran beside the lease holders
        assert report["segments"]["ids"] > 10_000, summary

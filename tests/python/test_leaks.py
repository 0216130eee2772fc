"""Reference and memory leaks: every public call, error paths included, a million times (tens of
thousands for the slow ones) with memory flat. A leak of one object per call would show as
tens of megabytes."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CALLS = int(os.environ.get("ATOMIC_COUNTER_LEAK_CALLS", "1000000"))


def leaked(result: dict) -> bool:
    """Whether a call site's memory moved more than the noise allows: 64 KiB traced over a
    tenth of its calls, 1,000 allocated blocks or 4 MiB of RSS over all of them."""
    return result["traced"] > 64 * 1024 or result["blocks"] > 1000 or result["rss"] > 4 << 20


@pytest.mark.leak
def test_memory_stays_flat():
    script = Path(__file__).parent / "support" / "leak_check.py"
    name = f"ac-leak-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    proc = subprocess.run(
        [sys.executable, str(script), str(CALLS), name, "--self-test"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) >= 56, "every call site must report"
    # The check can fail: the site that keeps one small object per call is seen by every
    # measure (blocks and RSS over the million calls, tracemalloc over its tenth).
    self_test, results = results[0], results[1:]
    assert self_test["call"].endswith("(self-test)"), self_test
    assert self_test["blocks"] >= CALLS // 2, self_test
    assert self_test["traced"] > 64 * 1024, self_test
    assert leaked(self_test)
    leaks = [r for r in results if leaked(r)]
    assert not leaks, json.dumps(leaks, indent=1)

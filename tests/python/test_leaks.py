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


@pytest.mark.leak
def test_memory_stays_flat():
    script = Path(__file__).parent / "support" / "leak_check.py"
    name = f"ac-leak-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    proc = subprocess.run(
        [sys.executable, str(script), str(CALLS), name],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) >= 55, "every call site must report"
    leaks = [
        r
        for r in results
        if r["traced"] > 64 * 1024 or r["blocks"] > 1000 or r["rss"] > 4 * 1024 * 1024
    ]
    assert not leaks, json.dumps(leaks, indent=1)

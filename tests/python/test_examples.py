"""Every runnable example in examples/ runs and prints what it says."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_demo_prints_ids_and_decoded_times():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")], capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout
    assert "TimeCounter()" in out
    lines = [line.split() for line in out.splitlines() if "sequence" in line and "+00:00" in line]
    assert len(lines) == 5
    ids = [int(parts[0]) for parts in lines]
    assert ids == sorted(set(ids))

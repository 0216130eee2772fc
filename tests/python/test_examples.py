"""Every runnable example in examples/ runs and prints what it says."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_example_is_tested():
    tested = {"demo.py", "threads.py", "processes.py", "daily_exchange.py", "decode.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_demo_prints_ids_and_decoded_times():
    out = run("demo.py")
    assert "TimeCounter()" in out
    lines = [line.split() for line in out.splitlines() if "sequence" in line and "+00:00" in line]
    assert len(lines) == 5
    ids = [int(parts[0]) for parts in lines]
    assert ids == sorted(set(ids))


def test_threads():
    out = run("threads.py")
    assert out.count("all unique, each thread increasing") == 2


def test_processes():
    out = run("processes.py")
    assert "SharedCounter: 4 processes x 20000 ids, all unique" in out
    assert "SharedTimeCounter: 4 processes x 20000 ids, all unique" in out


@pytest.mark.parametrize("exchange", ["NYSE", "LSE", "TSE"])
def test_daily_exchange(exchange):
    assert f"{exchange}: day began" in run("daily_exchange.py")


def test_decode():
    out = run("decode.py")
    assert "2016-04-30T11:18:25.796000+00:00, worker 1, process 0, increment 7" in out
    assert "js_safe: 41/6/6 bits of ms, ids up to 9007199254740991, runs out 2093-09-06" in out

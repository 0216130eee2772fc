"""Drop-in compatibility with the original atomic-counter 0.1.4."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import atomic_counter

ORIGINAL_SCRIPT = """
from datetime import datetime, timezone

from atomic_counter import Counter, TimeCounter, daily, _BASE
from atomic_counter import *  # noqa: F403
from atomic_counter.atomic_counter import Counter as NativeCounter

c = Counter(_BASE)
first = c.next()
assert c.next() == first + 1
assert Counter(0, 0).next() == 1
assert NativeCounter is Counter
d = daily()
assert d.next() > 0

tc = TimeCounter()
x = tc.next()
x_time = TimeCounter.to_datetime(x)
now = datetime.now(timezone.utc)
assert x_time <= now
assert TimeCounter.decode_timestamp_microseconds(x) == x >> 12
assert TimeCounter.get_timedelta(tc.next(), x).total_seconds() >= 0
print("ok")
"""


def test_a_script_written_for_the_original_runs_unchanged(run_python):
    assert run_python(ORIGINAL_SCRIPT).strip() == "ok"


def test_exports():
    # The original's exports, plus the rungs of the ladder beyond it.
    assert {"Counter", "TimeCounter", "daily"} <= set(atomic_counter.__all__)
    assert set(atomic_counter.__all__) - {"Counter", "TimeCounter", "daily"} == {
        "SharedCounter",
        "SharedTimeCounter",
        "SnowflakeCounter",
        "Layout",
        "Decoded",
        "lease_node_id",
        "NodeLease",
        "LeaseExpiredError",
        "NoFreeNodeError",
        "alease_node_id",
        "AsyncNodeLease",
        "LeaseRefusedError",
        "format_id",
        "parse_id",
        "SegmentCounter",
        "SegmentRefusedError",
        "FleetCounter",
        "StoreUnavailableError",
        "StoreTimeoutError",
    }
    for name in atomic_counter.__all__:
        assert getattr(atomic_counter, name).__module__.startswith("atomic_counter")
    assert atomic_counter._BASE == 1577854800000000000
    assert atomic_counter.__version__ > "0.1.4"
    for name in ("Counter", "TimeCounter", "daily", "to_datetime", "get_timedelta"):
        assert callable(getattr(atomic_counter, name))


def test_same_text_signatures_as_the_original():
    import inspect

    assert str(inspect.signature(atomic_counter.Counter)) == "(base=None, now=None, interval=None)"
    assert str(inspect.signature(atomic_counter.Counter.set)) == "(self, /, val)"
    assert str(inspect.signature(atomic_counter.TimeCounter.get_timedelta)) == "(later, earlier)"
    assert str(inspect.signature(atomic_counter.TimeCounter.to_datetime)) == "(value)"


@pytest.fixture(scope="module")
def original_python(tmp_path_factory):
    """A virtual environment holding the original atomic-counter 0.1.4 from PyPI."""
    env_dir = tmp_path_factory.mktemp("original")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "atomic-counter==0.1.4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"could not install the original atomic-counter:\n{install.stderr}")
        pytest.skip("the original atomic-counter 0.1.4 could not be installed (no PyPI?)")
    return python


def _last_ids(python: Path) -> list[int]:
    code = (
        "from atomic_counter import Counter, TimeCounter, daily\n"
        "c, t, d = Counter(), TimeCounter(), daily()\n"
        "print(*[c.next() for _ in range(1000)][-1:], *[t.next() for _ in range(1000)][-1:],"
        " *[d.next() for _ in range(1000)][-1:])\n"
    )
    out = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    ).stdout
    return [int(v) for v in out.split()]


def test_ids_continue_above_the_originals(original_python):
    """Switching from the original never sends ids backwards: same base, same layout."""
    original = _last_ids(original_python)
    ours = _last_ids(Path(sys.executable))
    for name, old, new in zip(["Counter", "TimeCounter", "daily"], original, ours, strict=True):
        assert new > old, f"{name}: ours {new} is not above the original's {old}"
        # Same scale: within a minute of each other, not a different unit or base.
        scale = 60 * 10**9 if name != "TimeCounter" else (60 * 10**6) << 12
        assert new - old < scale, name

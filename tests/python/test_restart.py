"""A restart never goes backwards: a second process's first id is above the first's last."""

import subprocess
import sys

import pytest

DRAW = """
import sys
from atomic_counter import Counter, TimeCounter
counter = {make}
values = [counter.next() for _ in range(int(sys.argv[1]))]
print(values[0], values[-1])
"""


def _draw(make: str, count: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", DRAW.format(make=make), str(count)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    first, last = map(int, out.split())
    return first, last


@pytest.mark.parametrize("make", ["Counter()", "TimeCounter()"])
def test_second_process_starts_above_the_first(make):
    for _ in range(3):
        first_start, first_end = _draw(make, 10_000)
        second_start, second_end = _draw(make, 10_000)
        assert first_start < first_end
        assert second_start > first_end, (first_end, second_start)
        assert second_start < second_end

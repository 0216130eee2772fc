"""Threads sharing one counter: no duplicate, each thread's values strictly increasing.

Each run happens in a subprocess with a timeout (a deadlock fails the test instead of hanging it),
with the threads released together by a Barrier so they really contend.
"""

import pytest

THREADS_SCRIPT = """
import threading
from atomic_counter import Counter, TimeCounter

THREADS, DRAWS = 8, {draws}
counter = {make}
barrier = threading.Barrier(THREADS)
results = [None] * THREADS

def work(slot):
    draw = counter.next if slot % 2 else counter.__next__
    barrier.wait()
    results[slot] = [draw() for _ in range(DRAWS)]

threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for slot, run in enumerate(results):
    assert len(run) == DRAWS
    assert all(a < b for a, b in zip(run, run[1:])), f"thread {{slot}} went backwards"
union = [v for run in results for v in run]
assert len(set(union)) == len(union), f"{{len(union) - len(set(union))}} duplicates"
print(len(union), max(union), counter.current())
"""


@pytest.mark.parametrize("make", ["Counter(0, 0)", "Counter(interval=3)", "TimeCounter()"])
def test_eight_threads_share_one_counter(run_python, make):
    draws = 100_000
    out = run_python(THREADS_SCRIPT.format(make=make, draws=draws), timeout=300)
    total, biggest, current = map(int, out.split())
    assert total == 8 * draws
    assert biggest == current
    if make == "Counter(0, 0)":
        assert current == 8 * draws  # nothing lost, nothing reissued


def test_threads_with_a_tiny_switch_interval(run_python):
    # Forces the interpreter to switch threads as often as it can between draws.
    script = "import sys\nsys.setswitchinterval(1e-6)\n" + THREADS_SCRIPT.format(
        make="TimeCounter()", draws=20_000
    )
    out = run_python(script, timeout=300)
    assert int(out.split()[0]) == 8 * 20_000

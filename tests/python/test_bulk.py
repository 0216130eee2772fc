"""next_many: n ids at once, in a buffer NumPy wraps without a copy."""

import itertools
import threading

import pytest

from atomic_counter import Counter, TimeCounter

MAX64 = 2**64 - 1


def test_counter_next_many_is_n_calls_of_next():
    bulk, single = Counter(0, 7, 3), Counter(0, 7, 3)
    ids = bulk.next_many(1000)
    assert ids.format == "Q" and ids.itemsize == 8 and len(ids) == 1000
    assert ids.tolist() == [single.next() for _ in range(1000)]
    assert bulk.current() == single.current()
    assert bulk.next() == single.next()


def test_time_counter_next_many_is_consecutive():
    counter = TimeCounter()
    before = counter.next()
    ids = counter.next_many(n=10_000).tolist()
    assert ids[0] > before
    assert ids == list(range(ids[0], ids[0] + 10_000))
    assert counter.current() == ids[-1]
    assert counter.next() > ids[-1]


def test_zero_and_keyword():
    c = Counter(0, 0)
    assert len(c.next_many(0)) == 0
    assert c.current() == 0
    assert c.next_many(n=2).tolist() == [1, 2]


def test_numpy_wraps_without_copy():
    np = pytest.importorskip("numpy")
    ids = Counter(0, 0).next_many(5)
    array = np.asarray(ids)
    assert array.dtype == np.uint64
    assert array.tolist() == [1, 2, 3, 4, 5]
    array[0] = 99  # shares memory with the view
    assert ids[0] == 99


def test_overflow_draws_nothing():
    limit = Counter(0, 0, 2).limit
    c = Counter(0, limit - 8, 2)
    with pytest.raises(OverflowError, match="would pass the counter's limit"):
        c.next_many(6)
    assert c.current() == limit - 8
    assert c.next_many(5).tolist()[-1] == limit + 2


@pytest.mark.parametrize(
    "n, exc",
    [
        (-1, OverflowError),
        (2**60, OverflowError),
        (1.0, TypeError),
        (None, TypeError),
        ("3", TypeError),
    ],
)
def test_bad_n(n, exc):
    for counter, name in ((Counter(), "Counter"), (TimeCounter(), "TimeCounter")):
        with pytest.raises(exc, match=f"{name}.next_many\\(\\) argument 'n'"):
            counter.next_many(n)


@pytest.mark.parametrize("make", [lambda: Counter(0, 0), TimeCounter])
def test_bulk_and_single_draws_from_many_threads_never_overlap(make):
    counter = make()
    barrier = threading.Barrier(4)
    results = [[] for _ in range(4)]

    def single(slot):
        barrier.wait()
        results[slot] = [counter.next() for _ in range(50_000)]

    def bulk(slot):
        barrier.wait()
        for _ in range(100):
            results[slot].extend(counter.next_many(500).tolist())

    threads = [threading.Thread(target=f, args=(i,)) for i, f in enumerate([single, bulk] * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for run in results:
        assert len(run) == 50_000
        assert all(a < b for a, b in itertools.pairwise(run))
    union = [v for run in results for v in run]
    assert len(set(union)) == len(union)

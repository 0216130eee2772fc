import itertools
import time

import pytest

from atomic_counter import _BASE, Counter

MAX64 = 2**64 - 1


def test_base_constant_is_the_originals():
    assert _BASE == 1577854800000000000


def test_counter_at_zero():
    c = Counter(0, 0)
    assert c.current() == 0
    assert c.next() == 1
    assert c.current() == 1
    assert c.next() == 2


def test_interval_two_from_base_and_base_plus_one():
    c1 = Counter(None, _BASE, 2)
    c2 = Counter(None, _BASE + 1, 2)
    assert c1.current() == 0
    assert c2.current() == 1
    assert c1.next() == 2
    assert c2.next() == 3
    assert c1.current() == 2
    assert c2.current() == 3


def test_keywords_and_positionals_mean_the_same():
    assert Counter(base=10, now=25, interval=5).next() == 20
    assert Counter(10, 25, 5).next() == 20
    assert Counter(10, now=25, interval=5).next() == 20


def test_offset_from_a_second_boundary():
    now_s = time.time_ns() // 1_000_000_000
    c = Counter(now_s * 1_000_000_000, now_s * 1_000_000_000)
    assert c.current() == 0
    assert c.next() == 1
    c = Counter(now_s * 1_000_000_000, (now_s + 1) * 1_000_000_000)
    assert c.next() == 1_000_000_001


def test_default_starts_at_nanoseconds_since_base():
    before = time.time_ns() - _BASE
    c = Counter()
    after = time.time_ns() - _BASE
    assert before <= c.current() <= after
    assert c.next() == c.current()
    assert c.base == _BASE
    assert c.interval == 1


def test_default_now_with_a_given_base():
    base = time.time_ns() - 5_000_000_000
    c = Counter(base)
    assert 5_000_000_000 <= c.current() <= time.time_ns() - base


def test_later_counter_starts_higher():
    first = Counter()
    first_value = first.next()
    time.sleep(0.001)
    assert Counter().next() > first_value


def test_set():
    c = Counter(0, 0, 3)
    assert c.set(10) is None
    assert c.current() == 10
    assert c.next() == 13
    c.set(val=c.limit)
    assert c.current() == c.limit
    with pytest.raises(ValueError, match=r"val \(\d+\) must be in \[0, \d+\]"):
        c.set(c.limit + 1)
    assert c.current() == c.limit


def test_limit_leaves_headroom_below_2_to_the_64():
    assert Counter(0, 0).limit == MAX64 - 2**32
    assert Counter(0, 0, 2**31).limit == MAX64 - 2**63
    assert Counter(0, 0, 2**31 + 1).limit == MAX64 - 2**31 - 1


def test_overflow_raises_and_keeps_the_value():
    limit = Counter(0, 0).limit
    c = Counter(0, limit - 1)
    assert c.next() == limit
    assert c.next() == limit + 1
    with pytest.raises(OverflowError, match="would pass the counter's limit"):
        c.next()
    assert c.current() == limit + 1
    with pytest.raises(OverflowError):
        next(c)
    assert c.current() == limit + 1


def test_overflow_with_a_large_interval_is_exact():
    c = Counter(0, 10, MAX64 - 10)
    assert c.next() == MAX64
    with pytest.raises(OverflowError):
        c.next()
    assert c.current() == MAX64


def test_start_past_the_limit_refuses_every_draw():
    c = Counter(0, MAX64)
    with pytest.raises(OverflowError):
        c.next()
    with pytest.raises(OverflowError):
        c.next_many(1)
    assert c.current() == MAX64


def test_is_an_iterator():
    c = Counter(0, 0)
    assert iter(c) is c
    assert next(c) == 1
    assert list(itertools.islice(c, 4)) == [2, 3, 4, 5]
    assert c.current() == 5


def test_repr_shows_the_current_value():
    c = Counter(100, 142, 2)
    assert repr(c) == "atomic_counter.Counter(current=42, base=100, interval=2)"
    c.next()
    assert "current=44" in repr(c)


def test_not_picklable_by_accident():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Counter())

"""Property tests: for any arguments, a valid value or a clear exception, never a wrap."""

import os
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from atomic_counter import Counter, SharedCounter, SharedTimeCounter, TimeCounter

MAX64 = 2**64 - 1
u64 = st.integers(min_value=0, max_value=MAX64)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RaisingIndex:
    def __index__(self):
        raise RuntimeError("__index__ failed")


class GoodIndex:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


anything = st.one_of(
    st.builds(RaisingIndex),
    st.builds(GoodIndex, st.integers(min_value=-(2**70), max_value=2**70)),
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=2),
)


def _limit(interval: int) -> int:
    return MAX64 - (interval << 32) if interval <= 2**31 else MAX64 - interval


@given(
    base=u64,
    now=u64,
    interval=st.one_of(u64, st.integers(min_value=1, max_value=2**31 + 2)),
    draws=st.integers(min_value=1, max_value=5),
    near_limit=st.booleans(),
)
def test_counter_arithmetic(base, now, interval, draws, near_limit):
    if now < base or interval == 0:
        try:
            Counter(base, now, interval)
        except ValueError:
            return
        raise AssertionError("expected ValueError")
    c = Counter(base, now, interval)
    limit = _limit(interval)
    assert c.limit == limit
    expected = now - base
    if near_limit and limit >= 2:
        expected = limit - 2
        c.set(expected)
    assert c.current() == expected
    for _ in range(draws):
        if expected > limit:
            try:
                c.next()
            except OverflowError:
                assert c.current() == expected
                return
            raise AssertionError("expected OverflowError")
        expected += interval
        assert expected <= MAX64
        assert c.next() == expected
        assert c.current() == expected


@settings(max_examples=300)
@given(base=anything, now=anything, interval=anything)
def test_counter_never_crashes_on_arbitrary_arguments(base, now, interval):
    try:
        c = Counter(base, now, interval)
    except (TypeError, OverflowError, ValueError, RuntimeError) as exc:
        assert str(exc)
        if isinstance(exc, RuntimeError):
            assert any(isinstance(a, RaisingIndex) for a in (base, now, interval))
        return
    # Accepted: every argument was None, or an int (or __index__) in range.
    for arg in (base, now, interval):
        value = arg.value if isinstance(arg, GoodIndex) else arg
        assert value is None or (isinstance(value, int) and 0 <= value <= MAX64)
    assert 0 <= c.current() <= MAX64


@given(value=u64)
def test_decoding_is_exact(value):
    us = value >> 12
    assert TimeCounter.decode_timestamp_microseconds(value) == us
    assert TimeCounter.to_datetime(value) == EPOCH + timedelta(microseconds=us)


@given(a=u64, b=u64)
def test_get_timedelta_is_antisymmetric(a, b):
    forward = TimeCounter.get_timedelta(a, b)
    assert forward == -TimeCounter.get_timedelta(b, a)
    assert forward == timedelta(microseconds=(a >> 12) - (b >> 12))


@settings(max_examples=200)
@given(value=anything)
def test_static_methods_on_arbitrary_values(value):
    for call in (TimeCounter.to_datetime, TimeCounter.decode_timestamp_microseconds):
        try:
            call(value)
        except (TypeError, OverflowError) as exc:
            assert "argument 'value'" in str(exc)
        except RuntimeError:
            assert isinstance(value, RaisingIndex)
        else:
            assert isinstance(value, (int, GoodIndex))


@settings(max_examples=150, deadline=None)
@given(
    base=anything,
    now=anything,
    interval=anything,
    durable=st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=2)),
    block=anything,
    file=st.booleans(),
)
def test_shared_constructors_on_arbitrary_arguments(base, now, interval, durable, block, file):
    name = f"ac-hyp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if file:
        name = f"/tmp/{name}"
    try:
        for make in (
            lambda: SharedCounter(name, base, now, interval, durable=durable, block=block),
            lambda: SharedTimeCounter(name, durable=durable, block=block),
        ):
            try:
                counter = make()
            except (TypeError, OverflowError, ValueError, RuntimeError) as exc:
                assert str(exc)
                continue
            before = counter.current()
            try:
                assert counter.next() > before
            except OverflowError:  # created at or past its limit
                assert counter.current() == before
            counter.close()
            counter.unlink()
    finally:
        for path in (name if file else f"/dev/shm/{name}",):
            if os.path.exists(path):
                os.unlink(path)

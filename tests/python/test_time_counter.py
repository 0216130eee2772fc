import time
from datetime import datetime, timedelta, timezone

import pytest

from atomic_counter import TimeCounter, get_timedelta, to_datetime

SEQ = (1 << 12) - 1


def test_new_counter_holds_sequence_2048_at_now():
    before_us = time.time_ns() // 1000
    counter = TimeCounter()
    after_us = time.time_ns() // 1000
    assert counter.current() & SEQ == 2048
    assert before_us <= counter.current() >> 12 <= after_us


def test_first_next_in_a_later_microsecond_has_sequence_zero():
    counter = TimeCounter()
    time.sleep(0.001)
    value = counter.next()
    assert value & SEQ == 0
    assert value > counter.current() - 1


def test_ids_increase_and_decode_between_surrounding_clock_reads():
    counter = TimeCounter()
    before_first = datetime.now(timezone.utc)
    first = counter.next()
    first_dt = TimeCounter.to_datetime(first)
    after_first = datetime.now(timezone.utc)
    before_second = datetime.now(timezone.utc)
    second = counter.next()
    second_dt = TimeCounter.to_datetime(second)
    after_second = datetime.now(timezone.utc)
    assert first < second
    assert before_first <= first_dt <= after_first
    assert before_second <= second_dt <= after_second
    assert first_dt <= second_dt


def test_same_microsecond_steps_the_sequence_by_one():
    counter = TimeCounter()
    seen_same = False
    for _ in range(10_000):
        a, b = counter.next(), counter.next()
        assert a < b
        if a >> 12 == b >> 12:
            assert b == a + 1
            seen_same = True
    assert seen_same, "10,000 pairs never shared a microsecond"


def test_to_datetime_is_exact_and_aware():
    us = 1_795_662_617_814_075
    value = (us << 12) | 77
    dt = TimeCounter.to_datetime(value)
    assert dt == datetime(2026, 11, 26, 3, 10, 17, 814075, tzinfo=timezone.utc)
    assert dt.tzinfo is timezone.utc
    assert TimeCounter.to_datetime(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    # The largest id decodes to the last microsecond of the layout, in 2112.
    last = TimeCounter.to_datetime(2**64 - 1)
    assert last == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=2**52 - 1)
    assert last.year == 2112


def test_decode_timestamp_microseconds():
    assert TimeCounter.decode_timestamp_microseconds((123 << 12) | 4095) == 123
    assert TimeCounter.decode_timestamp_microseconds(value=4096) == 1
    assert TimeCounter.decode_timestamp_microseconds(2**64 - 1) == 2**52 - 1


def test_get_timedelta_signs():
    counter = TimeCounter()
    before = datetime.now(timezone.utc)
    val1 = counter.next()
    time.sleep(0.002)
    mid = datetime.now(timezone.utc)
    time.sleep(0.002)
    val2 = counter.next()
    after = datetime.now(timezone.utc)
    forward = TimeCounter.get_timedelta(val2, val1)
    backward = TimeCounter.get_timedelta(val1, val2)
    assert forward == TimeCounter.to_datetime(val2) - TimeCounter.to_datetime(val1)
    assert forward > timedelta(0) > backward
    assert forward == -backward
    assert mid - before < forward <= after - before
    assert TimeCounter.get_timedelta(later=val2, earlier=val1) == forward
    assert TimeCounter.get_timedelta(val1, val1) == timedelta(0)


def test_get_timedelta_exact_over_large_spans():
    later = (2**52 - 1) << 12
    assert TimeCounter.get_timedelta(later, 0) == timedelta(microseconds=2**52 - 1)
    assert TimeCounter.get_timedelta(0, later) == -timedelta(microseconds=2**52 - 1)


def test_module_level_helpers_match_the_static_methods():
    value = TimeCounter().next()
    assert to_datetime(value) == TimeCounter.to_datetime(value)
    assert get_timedelta(value, 0) == TimeCounter.get_timedelta(value, 0)


def test_lead_is_zero_when_drawing_slowly():
    counter = TimeCounter()
    counter.next()
    time.sleep(0.001)
    assert counter.lead_us() == 0


def test_lead_matches_the_last_id_against_the_clock():
    counter = TimeCounter()
    last = 0
    for _ in range(200_000):
        last = counter.next()
    before_us = time.time_ns() // 1000
    lead = counter.lead_us()
    after_us = time.time_ns() // 1000
    assert max(0, (last >> 12) - after_us) <= lead <= max(0, (last >> 12) - before_us)


def test_is_an_iterator_with_a_repr():
    counter = TimeCounter()
    assert iter(counter) is counter
    a = next(counter)
    b = next(counter)
    assert a < b == counter.current()
    assert repr(counter) == f"atomic_counter.TimeCounter(current={b}, lead_us={counter.lead_us()})"


@pytest.mark.parametrize("value", [0, 1, 4095, 4096, 2**63, 2**64 - 1])
def test_to_datetime_roundtrip(value):
    dt = TimeCounter.to_datetime(value)
    assert (dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(
        microseconds=1
    ) == value >> 12

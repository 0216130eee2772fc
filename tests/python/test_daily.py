from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from atomic_counter import Counter, daily


def _ns_since_midnight(now: datetime) -> int:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (now - midnight) // timedelta(microseconds=1) * 1000


def test_first_value_is_nanoseconds_since_utc_midnight():
    before = _ns_since_midnight(datetime.now(timezone.utc))
    counter = daily()
    after = _ns_since_midnight(datetime.now(timezone.utc))
    assert isinstance(counter, Counter)
    value = counter.next()
    if after < before:  # midnight passed during the test
        pytest.skip("crossed midnight")
    assert before <= value <= after + 1000 + 1
    # the original's bound: between 1 s and the seconds elapsed since midnight, in ns
    if before > 1_000_000_000:
        assert value > 1_000_000_000


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Asia/Kolkata", "UTC"])
def test_midnight_of_a_time_zone(zone):
    tz = ZoneInfo(zone)
    before = _ns_since_midnight(datetime.now(tz))
    counter = daily(tz)
    after = _ns_since_midnight(datetime.now(tz))
    if after < before:
        pytest.skip("crossed midnight")
    assert before <= counter.current() <= after + 1000
    midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    assert counter.base == int(midnight.timestamp()) * 1_000_000_000


def test_keyword_and_fixed_offsets():
    plus_one = timezone(timedelta(hours=1))
    counter = daily(tz=plus_one)
    midnight = datetime.now(plus_one).replace(hour=0, minute=0, second=0, microsecond=0)
    assert counter.base == int(midnight.timestamp()) * 1_000_000_000


def test_bad_tz():
    with pytest.raises(TypeError, match=r"daily\(\) argument 'tz' must be a datetime\.tzinfo"):
        daily("America/New_York")

"""Bad input: a clear exception naming the argument and its range, never a crash or a wrap."""

import pytest

from atomic_counter import Counter, Layout, SharedCounter, SnowflakeCounter, TimeCounter, parse_id

MAX64 = 2**64 - 1


class BadIndex:
    def __index__(self):
        raise RuntimeError("boom from __index__")


class GoodIndex:
    def __index__(self):
        return 7


@pytest.mark.parametrize("arg", ["base", "now", "interval"])
@pytest.mark.parametrize(
    "value, exc, message",
    [
        (
            1.5,
            TypeError,
            r"Counter\(\) argument '{}' must be an int in \[0, 2\*\*64 - 1\], not float",
        ),
        ("12", TypeError, r"argument '{}' must be an int in \[0, 2\*\*64 - 1\], not str"),
        (b"1", TypeError, r"argument '{}' must be an int .*, not bytes"),
        ([], TypeError, r"argument '{}' must be an int .*, not list"),
        (
            -1,
            OverflowError,
            r"Counter\(\) argument '{}' must be in \[0, 2\*\*64 - 1\], got a negative int",
        ),
        (
            2**64,
            OverflowError,
            r"argument '{}' must be in \[0, 2\*\*64 - 1\], got an int above 2\*\*64 - 1",
        ),
        (10**5000, OverflowError, r"argument '{}' .* got an int above 2\*\*64 - 1"),
        (-(10**5000), OverflowError, r"argument '{}' .* got a negative int"),
    ],
    ids=["float", "str", "bytes", "list", "negative", "2**64", "huge", "huge-negative"],
)
def test_counter_arguments(arg, value, exc, message):
    kwargs = {"base": 0, "now": 0, "interval": 1}
    kwargs[arg] = value
    with pytest.raises(exc, match=message.format(arg)):
        Counter(**kwargs)


def test_index_errors_propagate():
    with pytest.raises(RuntimeError, match="boom from __index__"):
        Counter(BadIndex())
    with pytest.raises(RuntimeError, match="boom from __index__"):
        TimeCounter.to_datetime(BadIndex())


def test_index_objects_and_bools_are_ints():
    assert Counter(0, GoodIndex()).current() == 7
    assert Counter(False, True).current() == 1


def test_now_before_base():
    with pytest.raises(ValueError, match=r"now \(9\) must be >= base \(10\)"):
        Counter(10, 9)


def test_default_base_in_the_future():
    with pytest.raises(ValueError, match="must be >= base"):
        Counter(MAX64)


def test_zero_interval():
    with pytest.raises(ValueError, match=r"interval must be in \[1, 2\*\*64 - 1\], got 0"):
        Counter(0, 0, 0)


def test_counter_call_shape():
    with pytest.raises(TypeError):
        Counter(1, 2, 3, 4)
    with pytest.raises(TypeError, match="extra"):
        Counter(extra=1)
    with pytest.raises(TypeError):
        Counter(1, base=1)
    with pytest.raises(TypeError):
        TimeCounter(1)
    with pytest.raises(TypeError):
        TimeCounter(x=1)


def test_set_arguments():
    c = Counter(0, 5)
    with pytest.raises(TypeError, match=r"Counter.set\(\) argument 'val' must be an int"):
        c.set(None)
    with pytest.raises(OverflowError, match=r"Counter.set\(\) argument 'val' .* negative"):
        c.set(-1)
    with pytest.raises(OverflowError, match="above 2"):
        c.set(2**64)
    with pytest.raises(TypeError, match="missing required argument 'val'"):
        c.set()
    with pytest.raises(TypeError, match="at most 1 argument"):
        c.set(1, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'value'"):
        c.set(value=1)
    with pytest.raises(TypeError, match="multiple values for argument 'val'"):
        c.set(1, val=2)
    assert c.current() == 5


@pytest.mark.parametrize(
    "call",
    [
        lambda v: TimeCounter.to_datetime(v),
        lambda v: TimeCounter.decode_timestamp_microseconds(v),
        lambda v: TimeCounter.get_timedelta(v, 0),
        lambda v: TimeCounter.get_timedelta(0, v),
    ],
)
@pytest.mark.parametrize(
    "value, exc", [(-1, OverflowError), (2**64, OverflowError), (1.0, TypeError), (None, TypeError)]
)
def test_static_method_arguments(call, value, exc):
    with pytest.raises(exc, match=r"TimeCounter\.\w+\(\) argument '(value|later|earlier)'"):
        call(value)


def test_no_method_takes_stray_arguments():
    c = Counter()
    t = TimeCounter()
    for method in (c.next, c.current, t.next, t.current, t.lead_us):
        with pytest.raises(TypeError):
            method(1)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: Counter(10, 5), ValueError, "Counter(): now (5) must be >= base (10)"),
        (lambda: Counter(0, 0, 0), ValueError, "Counter(): interval must be in [1, 2**64 - 1]"),
        (lambda: Counter(0, 0).set(2**64 - 1), ValueError, "Counter.set(): val ("),
        (lambda: Counter(0, 0).advance_to(2**64 - 1), ValueError, "Counter.advance_to(): value ("),
        (
            lambda: SnowflakeCounter(Layout.INT64, 5000),
            ValueError,
            "SnowflakeCounter(): node must be in [0, 1023]",
        ),
        (lambda: SharedCounter("x" * 300), ValueError, "SharedCounter(): name must be 1 to 255"),
        (lambda: parse_id("?"), ValueError, "parse_id(): '?' is not a base32 id"),
    ],
)
def test_messages_name_the_python_call(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)
    assert "atomic_counter::" not in str(info.value)


def test_a_region_error_names_the_region_in_the_call(tmp_path):
    path = tmp_path / "foreign"
    path.write_bytes(b"x" * 4096)
    with pytest.raises(ValueError) as info:
        SharedCounter(path)
    assert str(info.value).startswith(f"SharedCounter('{path}'): not an atomic_counter region")

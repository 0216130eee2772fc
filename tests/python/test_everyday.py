"""Everyday fit (issue 13): ids as strings, int64 buffers, time ranges and whole columns, Python
names in every error, and an import that costs no more than the original's."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomic_counter import (
    Counter,
    Layout,
    SharedCounter,
    SnowflakeCounter,
    TimeCounter,
    format_id,
    parse_id,
)

UTC = timezone.utc
FORMS = {"base32": 13, "base62": 11, "hex": 16}
u64 = st.integers(min_value=0, max_value=2**64 - 1)


# -- string forms ----------------------------------------------------------------------------


@given(u64, st.sampled_from(sorted(FORMS)))
def test_every_form_round_trips_at_its_fixed_width(value, form):
    text = format_id(value, form)
    assert len(text) == FORMS[form]
    assert parse_id(text, form) == value
    assert parse_id(format_id(value, "decimal"), "decimal") == value


@given(u64, u64, st.sampled_from(sorted(FORMS)))
def test_string_order_is_numeric_order(a, b, form):
    assert (format_id(a, form) < format_id(b, form)) == (a < b)


def test_sorted_strings_of_drawn_ids_come_back_in_draw_order():
    ids = TimeCounter().next_many(1000).tolist()
    for form in FORMS:
        texts = [format_id(v, form) for v in ids]
        assert sorted(texts) == texts


def test_known_values_and_the_default_form():
    assert format_id(2**64 - 1) == "FZZZZZZZZZZZZ"  # base32 by default
    assert format_id(12345, "base62") == "000000003D7"
    assert parse_id("0000000000c1s") == 12345  # lowercase and Crockford's aliases
    assert parse_id("000000000000L") == parse_id("000000000000I") == 1


@pytest.mark.parametrize(
    "text, form, message",
    [
        ("ZZZZZZZZZZZZZ", "base32", "above 2**64 - 1"),
        ("000000000000U", "base32", "outside the alphabet"),
        ("123", "base62", "wrong length"),
        ("g000000000000000", "hex", "outside the alphabet"),
        ("", "decimal", "wrong length"),
    ],
)
def test_malformed_strings_are_value_errors_naming_the_form(text, form, message):
    with pytest.raises(ValueError) as info:
        parse_id(text, form)
    assert str(info.value).startswith(f"parse_id(): '{text}' is not a {form} id")
    assert message in str(info.value)


def test_bad_form_and_types():
    with pytest.raises(ValueError, match="'form' must be 'base32', 'base62', 'hex' or 'decimal'"):
        format_id(1, "octal")
    with pytest.raises(TypeError, match="'text' must be a str"):
        parse_id(12, "hex")
    with pytest.raises(OverflowError, match="format_id\\(\\) argument 'value'"):
        format_id(-1)


# -- int64 where it is promised --------------------------------------------------------------


def test_positive_int64_layouts_give_int64_buffers():
    np = pytest.importorskip("numpy")
    assert SnowflakeCounter(Layout.INT64, 1).next_many(4).format == "q"
    assert SnowflakeCounter(Layout.TWITTER, 1).next_many(4).format == "q"
    assert SnowflakeCounter(Layout.TIME_COUNTER, 0).next_many(4).format == "Q"
    assert Counter().next_many(4).format == "Q"  # Counter and TimeCounter: all 64 bits
    ids = np.asarray(SnowflakeCounter(Layout.INT64, 2).next_many(1000))
    assert ids.dtype == np.int64 and (ids > 0).all() and (np.diff(ids) > 0).all()


def test_pandas_and_pyarrow_take_them_as_int64():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    ids = SnowflakeCounter(Layout.INT64, 3).next_many(100)
    assert pd.Series(ids).dtype == "int64"
    assert pa.array(ids).type == pa.int64()


# -- ranges and columns ----------------------------------------------------------------------


def test_range_selects_exactly_the_ids_of_a_window():
    layout = Layout.INT64
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    low, high = layout.range(start, end)
    assert low == layout.first_id_at(start)  # the first id of the first ms, node 0
    assert high == layout.first_id_at(end) - 1  # the last id before the next day
    last = layout.decode(high)
    assert last.datetime == end - timedelta(milliseconds=1)
    assert (last.node, last.sequence) == (1023, 4095)
    assert layout.encode(start) == layout.first_id_at(start)  # the old name still works


def test_range_rounds_a_window_inside_one_tick_to_nothing():
    with pytest.raises(ValueError, match="holds no tick"):
        Layout.INT64.range(
            datetime(2026, 1, 1, 0, 0, 0, 100, tzinfo=UTC),
            datetime(2026, 1, 1, 0, 0, 0, 200, tzinfo=UTC),
        )


def test_decode_many_matches_decode():
    np = pytest.importorskip("numpy")
    for layout, counter in (
        (Layout.INT64, SnowflakeCounter(Layout.INT64, 9)),
        (Layout.TIME_COUNTER, TimeCounter()),
        (Layout.JS_SAFE, SnowflakeCounter(Layout.JS_SAFE, 3)),
    ):
        ids = counter.next_many(5000)
        times, nodes, sequences = layout.decode_many(ids)
        assert times.dtype == np.dtype("datetime64[us]")
        for i in (0, 1, 2500, 4999):
            d = layout.decode(int(np.asarray(ids)[i]))
            assert times[i].item() == d.datetime.replace(tzinfo=None)
            assert (nodes[i], sequences[i]) == (d.node, d.sequence)
    with pytest.raises(ValueError, match="ids must be in \\[0, 9223372036854775807\\]"):
        Layout.INT64.decode_many(np.array([2**63], dtype=np.uint64))
    with pytest.raises(ValueError):
        Layout.INT64.decode_many(np.array([-1], dtype=np.int64))
    with pytest.raises(TypeError, match="integer ids"):
        Layout.INT64.decode_many(np.array([1.5]))


# -- Python names in Python errors ------------------------------------------------------------


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


# -- what importing costs ---------------------------------------------------------------------

HEAVY = (
    "dataclasses",
    "inspect",
    "enum",
    "re",
    "typing",
    "logging",
    "uuid",
    "argparse",
    "json",
    "datetime",
    "atomic_counter.layout",
    "atomic_counter.lease",
)


def loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_the_package_loads_only_its_core():
    baseline = loaded("")
    after = loaded("import atomic_counter")
    assert not (after - baseline) & set(HEAVY), sorted((after - baseline) & set(HEAVY))
    # ... and the rest comes when it is used
    assert "atomic_counter.layout" in loaded("import atomic_counter; atomic_counter.Layout")


def test_the_command_line_loads_only_what_next_needs():
    code = (
        "import io, contextlib\nfrom atomic_counter.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['next', '-n', '3'])"
    )
    baseline = loaded("import io, contextlib")
    extra = (loaded(code) - baseline) & set(HEAVY)
    assert not extra, sorted(extra)

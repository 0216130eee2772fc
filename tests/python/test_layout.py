"""Layouts: presets (against the C++ ones), decode, first_id_at, and the node-aware
SnowflakeCounter without Redis."""

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from atomic_counter import Layout, SnowflakeCounter, TimeCounter

UTC = timezone.utc


def test_time_counter_preset_decodes_time_counter_ids():
    value = TimeCounter().next()
    decoded = Layout.TIME_COUNTER.decode(value)
    assert decoded.datetime == TimeCounter.to_datetime(value)
    assert (decoded.node, decoded.sequence) == (0, value & 0xFFF)
    assert Layout.TIME_COUNTER.first_id_at(decoded.datetime, sequence=decoded.sequence) == value


def test_discord_documented_example():
    decoded = Layout.DISCORD.decode(175928847299117063)
    assert decoded.datetime == datetime(2016, 4, 30, 11, 18, 25, 796000, tzinfo=UTC)
    assert decoded.node >> 5 == 1  # internal worker
    assert decoded.node & 31 == 0  # internal process
    assert decoded.sequence == 7


def test_twitter_golden():
    # 2020-01-01T00:00:00.001Z on node 1, sequence 0: (ticks << 22) | (1 << 12).
    when = datetime(2020, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    assert Layout.TWITTER.first_id_at(when, node=1) == 1212161512047644672
    assert Layout.TWITTER.encode(when, node=1) == 1212161512047644672  # 0.2's name
    assert Layout.TWITTER.decode(1212161512047644672).datetime == when


@pytest.mark.parametrize(
    "name, end, below",
    [
        ("time_counter", datetime(2112, 9, 17, 23, 53, 47, 370496, tzinfo=UTC), 2**64),
        ("twitter", datetime(2080, 7, 10, 17, 30, 30, 209000, tzinfo=UTC), 2**63),
        ("discord", datetime(2084, 9, 6, 15, 47, 35, 552000, tzinfo=UTC), 2**63),
        ("int64", datetime(2093, 9, 6, 15, 47, 35, 552000, tzinfo=UTC), 2**63),
        ("js_safe", datetime(2093, 9, 6, 15, 47, 35, 552000, tzinfo=UTC), 2**53),
    ],
)
def test_preset_end_dates_and_ranges(name, end, below):
    layout = Layout.preset(name)
    assert layout.end == end
    assert layout.max_id < below
    assert repr(layout) == f"Layout.{name.upper()}"


def test_int64_preset_lasts_sixty_years():
    assert Layout.INT64.end - Layout.INT64.epoch > timedelta(days=365.25 * 60)


def test_time_counter_ids_pass_the_signed_int64_limit_in_2041():
    assert Layout.TIME_COUNTER.decode(2**63 - 1).datetime.year == 2041
    assert Layout.TIME_COUNTER.decode(2**63).datetime == datetime(
        2041, 5, 10, 11, 56, 53, 685248, tzinfo=UTC
    )


def test_first_id_at_is_the_smallest_id_of_its_time():
    layout = Layout.TWITTER
    midnight = datetime(2026, 11, 26, tzinfo=UTC)
    lowest = layout.first_id_at(midnight)
    assert layout.decode(lowest) == (midnight, 0, 0, lowest >> 22, layout.decode(lowest).unix_ns)
    assert (
        layout.first_id_at(midnight - timedelta(milliseconds=1), node=1023, sequence=4095) < lowest
    )


def test_first_id_at_errors():
    with pytest.raises(ValueError, match="timezone-aware"):
        Layout.TWITTER.first_id_at(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="before the twitter layout's epoch"):
        Layout.TWITTER.first_id_at(datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="past the js_safe layout's end"):
        Layout.JS_SAFE.first_id_at(datetime(2100, 1, 1, tzinfo=UTC))
    with pytest.raises(
        ValueError, match=r"Layout.first_id_at\(\) argument 'node' must be in \[0, 1023\]"
    ):
        Layout.TWITTER.first_id_at(datetime(2026, 1, 1, tzinfo=UTC), node=1024)
    with pytest.raises(
        ValueError, match=r"Layout.encode\(\) argument 'sequence' must be in \[0, 63\]"
    ):
        Layout.JS_SAFE.encode(datetime(2026, 1, 1, tzinfo=UTC), sequence=64)


def test_decode_errors():
    with pytest.raises(ValueError, match="must be in \\[0, 9223372036854775807\\]"):
        Layout.TWITTER.decode(2**63)
    with pytest.raises(ValueError):
        Layout.TWITTER.decode(-1)
    with pytest.raises(TypeError):
        Layout.TWITTER.decode("1")


def test_invalid_layouts():
    with pytest.raises(ValueError, match="must be in \\[1, 63\\]"):
        Layout(0, "ms", 42, 10, 12)
    Layout(0, "ms", 42, 10, 12, positive_int64=False)
    with pytest.raises(ValueError, match="argument 'unit' must be one of"):
        Layout(0, "minutes", 41, 10, 12)
    with pytest.raises(ValueError, match="time_bits >= 1"):
        Layout(0, "ms", 0, 10, 12)
    with pytest.raises(TypeError):
        Layout(0, "ms", 41.0, 10, 12)
    with pytest.raises(ValueError, match="unknown layout 'nope'; the presets are time_counter, "):
        Layout.preset("nope")
    custom = Layout.create(datetime(2025, 1, 1, tzinfo=UTC), "10ms", 39, 8, 16, name="mine")
    assert custom.epoch == datetime(2025, 1, 1, tzinfo=UTC)
    assert custom.ids_per_tick == 65536


def test_snowflake_counter_ids():
    counter = SnowflakeCounter(Layout.TWITTER, 17)
    before = datetime.now(UTC)
    ids = [counter.next() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))
    decoded = Layout.TWITTER.decode(ids[0])
    assert decoded.node == 17 and counter.node == 17
    assert before - timedelta(milliseconds=1) <= decoded.datetime <= datetime.now(UTC)
    assert counter.layout is Layout.TWITTER
    block = counter.next_many(5000).tolist()
    assert block[0] > ids[-1] and all(a < b for a, b in itertools.pairwise(block))
    assert {Layout.TWITTER.decode(v).node for v in block} == {17}
    assert counter.lead_ns() >= 0
    assert next(counter) > block[-1]


def test_snowflake_counter_arguments():
    with pytest.raises(ValueError, match="node must be in \\[0, 63\\] for this layout, got 64"):
        SnowflakeCounter(Layout.JS_SAFE, 64)
    with pytest.raises(OverflowError):
        SnowflakeCounter(Layout.JS_SAFE, -1)
    with pytest.raises(TypeError):
        SnowflakeCounter(Layout.JS_SAFE, "1")
    with pytest.raises(TypeError, match="argument 'layout' must be a Layout"):
        SnowflakeCounter(object(), 1)
    floor = Layout.JS_SAFE.encode(datetime.now(UTC) + timedelta(seconds=5), node=3)
    counter = SnowflakeCounter(Layout.JS_SAFE, 3, floor=floor)
    assert counter.next() > floor


def test_js_safe_ids_round_trip_through_json_numbers():
    import json

    counter = SnowflakeCounter(Layout.JS_SAFE, 63)
    ids = [counter.next() for _ in range(1000)]
    assert all(v < 2**53 and float(v) == v for v in ids)
    assert json.loads(json.dumps(ids)) == ids


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


def test_presets_and_ids_match_the_golden_file():
    # The same file tests/cpp/layout_test.cpp checks the C++ presets against.
    golden = Path(__file__).resolve().parents[1] / "golden" / "layouts.txt"
    presets = ids = 0
    for line in golden.read_text().splitlines():
        kind, *fields = line.split()
        if kind == "preset":
            name, epoch_ns, tick_ns, time_bits, node_bits, sequence_bits, positive = fields
            layout = Layout.PRESETS[name]
            assert (
                layout.epoch_ns,
                layout.tick_ns,
                layout.time_bits,
                layout.node_bits,
                layout.sequence_bits,
                layout.positive_int64,
            ) == (
                int(epoch_ns),
                int(tick_ns),
                int(time_bits),
                int(node_bits),
                int(sequence_bits),
                positive == "1",
            ), name
            presets += 1
        elif kind == "id":
            name, ticks, node, sequence, value = fields[0], *map(int, fields[1:])
            layout = Layout.PRESETS[name]
            assert layout.pack(ticks, node, sequence) == value, line
            decoded = layout.decode(value)
            assert (decoded.ticks, decoded.node, decoded.sequence) == (ticks, node, sequence)
            ids += 1
    assert presets == len(Layout.PRESETS) and ids >= 10


def test_preset_names_are_case_insensitive():
    # As the attributes are spelled (Layout.INT64) or as the presets are listed (int64).
    for name, layout in Layout.PRESETS.items():
        for spelling in (name, name.upper(), name.title()):
            assert Layout.preset(spelling) is layout
    assert Layout.preset("Js_Safe") is Layout.JS_SAFE
    with pytest.raises(ValueError) as refused:
        Layout.preset("int63")
    for name in ("time_counter", "twitter", "discord", "int64", "js_safe"):
        assert name in str(refused.value)


UTC_DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _wrong_type_calls():
    """(call as named in the message, argument, the call): every public call of layout.py, the
    Layout and SnowflakeCounter constructors and the command line's entry points, each given a
    value of the wrong type for one argument."""
    from atomic_counter import bench, cli

    def layout(**changes):
        fields = {"epoch_ns": 0, "unit": "ms", "time_bits": 41, "node_bits": 10}
        fields |= {"sequence_bits": 12, "positive_int64": True, "name": "custom"}
        fields |= changes
        return lambda: Layout(**fields)

    def create(epoch=UTC_DAY, **changes):
        fields = {"unit": "ms", "time_bits": 41, "node_bits": 10, "sequence_bits": 12}
        fields.update(changes)
        return lambda: Layout.create(epoch, **fields)

    i = Layout.INT64
    return [
        ("Layout()", "epoch_ns", layout(epoch_ns="0")),
        ("Layout()", "epoch_ns", layout(epoch_ns=0.0)),
        ("Layout()", "unit", layout(unit=1_000_000)),
        ("Layout()", "unit", layout(unit=["ms"])),
        ("Layout()", "time_bits", layout(time_bits=41.0)),
        ("Layout()", "node_bits", layout(node_bits=None)),
        ("Layout()", "sequence_bits", layout(sequence_bits="12")),
        ("Layout()", "positive_int64", layout(positive_int64="no")),
        ("Layout()", "name", layout(name=7)),
        ("Layout.create()", "epoch", create("2026-01-01")),
        ("Layout.create()", "epoch", create(UTC_DAY.date())),
        ("Layout.create()", "epoch", create(1_767_225_600)),
        ("Layout.create()", "unit", create(unit=None)),
        ("Layout.create()", "time_bits", create(time_bits="41")),
        ("Layout.preset()", "name", lambda: Layout.preset(None)),
        ("Layout.preset()", "name", lambda: Layout.preset(b"int64")),
        ("Layout.pack()", "ticks", lambda: i.pack("1", 0, 0)),
        ("Layout.pack()", "node", lambda: i.pack(1, 1.0, 0)),
        ("Layout.pack()", "sequence", lambda: i.pack(1, 0, None)),
        ("Layout.ticks_at()", "unix_ns", lambda: i.ticks_at(UTC_DAY)),
        ("Layout.decode()", "value", lambda: i.decode("1")),
        ("Layout.decode()", "value", lambda: i.decode(1.0)),
        ("Layout.decode()", "value", lambda: i.decode(True)),
        ("Layout.first_id_at()", "when", lambda: i.first_id_at(UTC_DAY.date())),
        ("Layout.first_id_at()", "when", lambda: i.first_id_at("2026-01-01T00:00:00Z")),
        ("Layout.first_id_at()", "node", lambda: i.first_id_at(UTC_DAY, node="1")),
        ("Layout.first_id_at()", "sequence", lambda: i.first_id_at(UTC_DAY, sequence=0.5)),
        ("Layout.encode()", "when", lambda: i.encode(1_767_225_600)),
        ("Layout.range()", "start", lambda: i.range(UTC_DAY.date(), UTC_DAY.date())),
        ("Layout.range()", "end", lambda: i.range(UTC_DAY, "tomorrow")),
        ("SnowflakeCounter()", "layout", lambda: SnowflakeCounter("int64", 1)),
        ("SnowflakeCounter()", "layout", lambda: SnowflakeCounter(None, 1)),
        ("SnowflakeCounter()", "layout", lambda: SnowflakeCounter(Layout, 1)),
        ("SnowflakeCounter()", "node", lambda: SnowflakeCounter(i, "1")),
        ("SnowflakeCounter()", "floor", lambda: SnowflakeCounter(i, 1, floor=1.5)),
        ("atomic_counter.cli.main()", "argv", lambda: cli.main("next")),
        ("atomic_counter.cli.main()", "argv", lambda: cli.main(5)),
        ("atomic_counter.cli.main()", "argv", lambda: cli.main(["next", "-n", 5])),
        ("atomic_counter.bench.main()", "rounds", lambda: bench.main("1", 1, False, None)),
        ("atomic_counter.bench.main()", "number", lambda: bench.main(1, 2.0, False, None)),
        ("atomic_counter.bench.main()", "out", lambda: bench.main(1, 1, False, None)),
    ]


@pytest.mark.parametrize(
    "call, argument, attempt",
    _wrong_type_calls(),
    ids=[f"{c}-{a}-{n}" for n, (c, a, _) in enumerate(_wrong_type_calls())],
)
def test_a_wrong_type_is_a_type_error_naming_the_call_and_argument(call, argument, attempt):
    with pytest.raises(TypeError) as raised:
        attempt()
    assert f"{call} argument '{argument}' must be " in str(raised.value)


def test_decode_many_of_non_integers_is_a_type_error():
    pytest.importorskip("numpy")
    with pytest.raises(TypeError, match=r"Layout.decode_many\(\) argument 'ids' must hold integer"):
        Layout.INT64.decode_many(["1", "2"])


def test_numpy_integers_are_ints():
    np = pytest.importorskip("numpy")
    value = SnowflakeCounter(Layout.INT64, 5).next()
    column = np.asarray([value], dtype=np.int64)
    assert Layout.INT64.decode(column[0]) == Layout.INT64.decode(value)
    assert Layout.INT64.pack(np.int64(1), np.uint16(5), np.int8(0)) == Layout.INT64.pack(1, 5, 0)


HEAVY = (
    "argparse",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "importlib",
    "inspect",
    "json",
    "logging",
    "re",
    "typing",
    "warnings",
    "zoneinfo",
)


def test_layouts_load_no_heavy_module(run_python):
    # What `import atomic_counter` and a first use of Layout load beyond the interpreter's own
    # start-up: the package and layout.py, none of the modules that would cost more than both
    # (the figures are in docs/benchmarks.md). decode() returns datetimes: datetime only.
    out = run_python(
        f"""
        import sys
        start = set(sys.modules)
        import atomic_counter
        from atomic_counter import Layout, SnowflakeCounter
        SnowflakeCounter(Layout.preset("INT64"), 1).next()
        Layout.INT64.pack(1, 2, 3), Layout.JS_SAFE.max_id, Layout.TWITTER.fingerprint
        Layout(0, "ms", 41, 10, 12)
        loaded = set(sys.modules) - start
        print(sorted(m for m in loaded if m.split(".")[0] in {HEAVY!r}))
        Layout.INT64.decode(1)
        print(sorted(m for m in set(sys.modules) - start if m.split(".")[0] in {HEAVY!r}))
        print(sorted(loaded))
        """
    )
    first, after_decode, loaded = out.splitlines()
    assert first == "[]"
    assert after_decode == "['datetime']"
    assert "atomic_counter.layout" in loaded

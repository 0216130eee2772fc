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
    with pytest.raises(ValueError, match="node must be in \\[0, 1023\\]"):
        Layout.TWITTER.first_id_at(datetime(2026, 1, 1, tzinfo=UTC), node=1024)
    with pytest.raises(ValueError, match="sequence must be in \\[0, 63\\]"):
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
    with pytest.raises(ValueError, match="unit must be one of"):
        Layout(0, "minutes", 41, 10, 12)
    with pytest.raises(ValueError, match="time_bits >= 1"):
        Layout(0, "ms", 0, 10, 12)
    with pytest.raises(TypeError):
        Layout(0, "ms", 41.0, 10, 12)
    with pytest.raises(ValueError, match="unknown layout 'nope'"):
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
    with pytest.raises(AttributeError):
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

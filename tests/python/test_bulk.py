"""next_many and decode_many: n ids at once, into a buffer NumPy wraps without a copy or into
the caller's own (out=), at every size; the memory of a large block goes back to the system when
it is freed."""

import array
import ctypes
import itertools
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid

import pytest

from atomic_counter import (
    Counter,
    Layout,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
)

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


# -- every counter type, every size -------------------------------------------------------------

# Sizes around the boundaries the writing and the memory care about: the vector groups of 8,
# a 4 KiB page (512 ids), a 2 MiB huge page (262,144 ids) and the 4 MiB from which a fresh
# buffer is advised into huge pages (524,288 ids).
SIZES = [0, 1, 7, 8, 9, 511, 512, 513, 262_143, 262_144, 262_145, 524_287, 524_288, 524_289]


_REGIONS = tempfile.mkdtemp(prefix="ac-bulk-")  # file regions, nothing left in /dev/shm


def shared_counter(kind):
    """A SharedCounter or SharedTimeCounter in a file of its own (unlink() would end it)."""
    return kind(os.path.join(_REGIONS, uuid.uuid4().hex))


KINDS = {
    "Counter": lambda: Counter(0, 0, 3),
    "TimeCounter": TimeCounter,
    "SharedCounter": lambda: shared_counter(SharedCounter),
    "SharedTimeCounter": lambda: shared_counter(SharedTimeCounter),
    "SnowflakeCounter": lambda: SnowflakeCounter(Layout.JS_SAFE, 5),
    "SnowflakeCounter(TIME_COUNTER)": lambda: SnowflakeCounter(Layout.TIME_COUNTER, 0),
}


def check_block(name, counter, before, ids):
    """ids (a list) are what the counter's next values are: above `before`, strictly
    increasing, with the counter's spacing, the last one its current()."""
    assert all(a < b for a, b in itertools.pairwise(ids))
    if ids:
        assert ids[0] > before
        assert counter.current() == ids[-1]
    if name == "Counter":  # interval 3
        assert ids == list(range(before + 3, before + 3 + 3 * len(ids), 3))
    elif name in ("TimeCounter", "SharedTimeCounter", "SharedCounter"):
        assert ids == list(range(ids[0], ids[0] + len(ids))) if ids else True
    elif name == "SnowflakeCounter":
        layout = Layout.JS_SAFE
        for value in ids[:: max(1, len(ids) // 997)] + ids[-3:]:
            assert layout.decode(value).node == 5
        # Consecutive in the compressed value (ticks << sequence_bits | sequence).
        seq = layout.sequence_bits
        shift = layout.node_bits + seq
        compressed = [(v >> shift) << seq | (v & layout.max_sequence) for v in ids]
        assert compressed == list(range(compressed[0], compressed[0] + len(ids))) if ids else True


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", KINDS)
def test_next_many_at_every_size_is_the_next_values(name, size):
    counter = KINDS[name]()
    before = counter.next()
    ids = counter.next_many(size)
    expected_format = "q" if name == "SnowflakeCounter" else "Q"
    assert (ids.format, ids.itemsize, len(ids), ids.readonly) == (expected_format, 8, size, False)
    check_block(name, counter, before, ids.tolist())
    assert counter.next() > (ids[-1] if size else before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", KINDS)
def test_next_many_into_out_at_every_size(name, size):
    counter = KINDS[name]()
    out = array.array("Q", bytes(8 * size + 16))  # one slot before and after the block
    view = memoryview(out)[1 : size + 1]
    before = counter.next()
    assert counter.next_many(size, out=view) is view
    assert out[0] == 0 and out[-1] == 0
    check_block(name, counter, before, out[1 : size + 1].tolist())


def test_snowflake_blocks_carry_across_ticks_on_every_layout():
    # JS_SAFE has 64 ids a tick: a block of 5,000 spans at least 78 ticks, each a run of its own.
    for layout, node in ((Layout.JS_SAFE, 63), (Layout.TWITTER, 1023), (Layout.INT64, 0)):
        counter = SnowflakeCounter(layout, node)
        ids = counter.next_many(5000).tolist()
        assert all(a < b for a, b in itertools.pairwise(ids))
        decoded = [layout.decode(v) for v in ids]
        assert {d.node for d in decoded} == {node}
        for a, b in itertools.pairwise(decoded):
            if a.sequence < layout.max_sequence:
                assert (b.ticks, b.sequence) == (a.ticks, a.sequence + 1)
            else:
                assert (b.ticks, b.sequence) == (a.ticks + 1, 0)


# -- out=: every kind of buffer -----------------------------------------------------------------


def test_out_takes_every_kind_of_writable_buffer_without_a_copy():
    c = Counter(0, 0)
    targets = [
        array.array("Q", bytes(40)),
        array.array("L" if array.array("L").itemsize == 8 else "Q", bytes(40)),
        bytearray(40),
        memoryview(bytearray(40)),
        memoryview(bytearray(40)).cast("Q"),
        memoryview(bytearray(56))[8:48],  # a slice at an 8-byte offset
        (ctypes.c_uint64 * 5)(),  # format '<Q' on little-endian machines
    ]
    first = 1
    for target in targets:
        assert c.next_many(5, out=target) is target
        raw = bytes(memoryview(target).cast("B"))
        assert array.array("Q", raw).tolist() == list(range(first, first + 5)), type(target)
        first += 5
    # Positional, and None for a fresh buffer.
    assert c.next_many(2, None).tolist() == [first, first + 1]
    target = bytearray(16)
    assert c.next_many(2, target) is target
    assert c.current() == first + 3


def test_out_takes_numpy_arrays_in_place():
    np = pytest.importorskip("numpy")
    c = Counter(0, 0)
    flat = np.zeros(1000, np.uint64)
    assert c.next_many(1000, out=flat) is flat
    assert flat.tolist() == list(range(1, 1001))
    grid = np.zeros((10, 100), np.uint64)  # C-contiguous of any shape: filled in C order
    c.next_many(1000, out=grid)
    assert grid.ravel().tolist() == list(range(1001, 2001))
    part = np.zeros(10, np.uint64)
    c.next_many(4, out=part[3:7])  # a contiguous slice
    assert part.tolist() == [0, 0, 0, 2001, 2002, 2003, 2004, 0, 0, 0]
    # Int64 ids fill int64 and uint64 arrays; the uint64 kinds only uint64 ones.
    sf = SnowflakeCounter(Layout.INT64, 3)
    signed, unsigned = np.zeros(100, np.int64), np.zeros(100, np.uint64)
    sf.next_many(100, out=signed)
    sf.next_many(100, out=unsigned)
    assert signed[-1] < int(unsigned[0])
    assert (np.diff(signed) > 0).all() and (np.diff(unsigned.astype(np.int64)) > 0).all()


# -- out=: every error, and nothing drawn --------------------------------------------------------


def _bad_outs():
    """(buffer, exception, message pattern) for n = 5 and a uint64 counter."""
    cases = [
        ([0] * 5, TypeError, r"must be a writable buffer of uint64 items .* not list"),
        (5, TypeError, r"must be a writable buffer .* not int"),
        ("12345678" * 5, TypeError, r"must be a writable buffer .* not str"),
        (bytes(40), TypeError, r"must be writable, not a read-only bytes"),
        (memoryview(bytearray(40)).toreadonly(), TypeError, r"must be writable"),
        (array.array("q", bytes(40)), TypeError, r"must hold uint64 items .* not format 'q'"),
        (array.array("d", bytes(40)), TypeError, r"not format 'd'"),
        (array.array("I", bytes(40)), TypeError, r"not format 'I'"),
        (array.array("Q", bytes(32)), ValueError, r"must hold exactly 5 ids \(40 bytes\), not 32"),
        (array.array("Q", bytes(48)), ValueError, r"not 48 bytes"),
        (bytearray(41), ValueError, r"must hold exactly 5 ids \(40 bytes\), not 41 bytes"),
        (memoryview(bytearray(80)).cast("Q")[::2], ValueError, r"must be C-contiguous"),
        (memoryview(bytearray(48))[1:41], ValueError, r"aligned to 8 bytes"),
    ]
    try:
        import numpy as np
    except ImportError:
        return cases
    frozen = np.zeros(5, np.uint64)
    frozen.setflags(write=False)
    return [
        *cases,
        (np.zeros(5, np.int64), TypeError, r"must hold uint64 items .* not format 'l'"),
        (np.zeros(5, np.float64), TypeError, r"not format 'd'"),
        (np.zeros(5, ">u8"), TypeError, r"not format '>Q'"),
        (np.zeros(5, "datetime64[us]"), TypeError, r"must be a writable buffer .* not ndarray"),
        (frozen, TypeError, r"must be writable, not a read-only ndarray"),
        (np.zeros(10, np.uint64)[::2], ValueError, r"must be C-contiguous"),
        (np.zeros((5, 2), np.uint64)[:, 0], ValueError, r"must be C-contiguous"),
        (np.zeros(6, np.uint64), ValueError, r"must hold exactly 5 ids"),
    ]


@pytest.mark.parametrize("name", ["Counter", "TimeCounter", "SharedCounter", "SnowflakeCounter"])
def test_a_wrong_out_is_refused_by_name_and_draws_nothing(name):
    counter = (
        KINDS[name]() if name != "SnowflakeCounter" else SnowflakeCounter(Layout.TIME_COUNTER, 0)
    )
    counter.next()
    for target, exc, pattern in _bad_outs():
        before = counter.current()
        with pytest.raises(exc, match=rf"^{name}\.next_many\(\) argument 'out' .*{pattern}"):
            counter.next_many(5, out=target)
        assert counter.current() == before, (target, "drew")


def test_a_bytearray_being_filled_cannot_be_resized():
    # The buffer is held (an export) while it is written; after the call it is free again.
    target = bytearray(8 * 10)
    Counter().next_many(10, out=target)
    target.extend(b"x")
    assert len(target) == 81


def test_int64_out_for_signed_ids_only():
    signed = array.array("q", bytes(40))
    SnowflakeCounter(Layout.INT64, 1).next_many(5, out=signed)
    assert all(v > 0 for v in signed)
    with pytest.raises(TypeError, match="must hold uint64 items"):
        SnowflakeCounter(Layout.TIME_COUNTER, 0).next_many(5, out=signed)
    with pytest.raises(TypeError, match="must hold uint64 items"):
        TimeCounter().next_many(5, out=signed)


# -- n: range, type and memory --------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, exc, pattern",
    [
        (-1, OverflowError, r"must be in \[0, 2\*\*60 - 1\], got a negative int"),
        (2**60, OverflowError, r"must be in \[0, 2\*\*60 - 1\], got 1152921504606846976"),
        (2**64, OverflowError, r"must be in \[0, 2\*\*60 - 1\], got an int above 2\*\*64 - 1"),
        (1.0, TypeError, r"must be an int in \[0, 2\*\*60 - 1\], not float"),
        ("3", TypeError, r"must be an int in \[0, 2\*\*60 - 1\], not str"),
    ],
)
def test_n_names_its_range(n, exc, pattern):
    for name in ("Counter", "SharedTimeCounter", "SnowflakeCounter"):
        counter = KINDS[name]()
        with pytest.raises(exc, match=rf"^{name}\.next_many\(\) argument 'n' {pattern}$"):
            counter.next_many(n)
        with pytest.raises(exc, match=rf"argument 'n' {pattern}$"):
            counter.next_many(n, out=bytearray(8))


def test_a_block_too_large_to_allocate_is_a_memory_error_naming_the_call(run_python):
    # In a child: under AddressSanitizer an 8 TB request must return NULL, not abort the run.
    env = dict(
        os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1"
    )
    code = textwrap.dedent(
        """
        from atomic_counter import Counter
        c = Counter(0, 0)
        try:
            c.next_many(10**12)
        except MemoryError as e:
            print(str(e))
        print(c.current())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    message, current = proc.stdout.splitlines()
    assert message == (
        "Counter.next_many(): cannot allocate 8000000000000 bytes for n = 1000000000000 ids; "
        "draw them in smaller blocks, or into a buffer of your own with out="
    )
    assert current == "0"  # nothing drawn
    assert "SystemError" not in proc.stderr


RSS_SCRIPT = """
import gc, json, os, sys
from atomic_counter import Counter

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def huge_pages():
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1

c = Counter()
c.next_many(1000)
before = rss()
ids = c.next_many(100_000_000)
full, huge = rss(), huge_pages()
assert ids[-1] - ids[0] == 100_000_000 - 1
del ids
gc.collect()
print(json.dumps({"before": before, "full": full, "after": rss(), "huge": huge}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_a_freed_block_of_100m_ids_returns_its_memory():
    proc = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    mib = 1 << 20
    assert m["full"] - m["before"] >= 760 * mib  # the 800 MB were really written
    assert m["after"] - m["before"] < 16 * mib, m
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            mode = f.read()
    except OSError:
        mode = ""
    if "[madvise]" in mode or "[always]" in mode:
        # Asked for (madvise), the kernel backs most of the block with 2 MiB pages.
        assert m["huge"] >= 400 * mib, m


# -- threads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Counter", "TimeCounter", "SharedCounter", "SnowflakeCounter"])
def test_large_blocks_written_without_the_gil_never_overlap_other_draws(name):
    # Blocks of 200,000 ids (1.6 MB) are written with the GIL released: other threads draw,
    # single and bulk, meanwhile; every id is distinct and each thread's ids increase.
    counter = KINDS[name]() if name != "SnowflakeCounter" else SnowflakeCounter(Layout.INT64, 9)
    barrier = threading.Barrier(3)
    results = [[], [], []]

    def big(slot):
        barrier.wait()
        out = array.array("q" if name == "SnowflakeCounter" else "Q", bytes(8 * 200_000))
        for _ in range(5):
            counter.next_many(200_000, out=out)
            results[slot].extend(out)
            results[slot].extend(counter.next_many(200_000).tolist())

    def single(slot):
        barrier.wait()
        results[slot] = [counter.next() for _ in range(100_000)]

    threads = [threading.Thread(target=f, args=(i,)) for i, f in enumerate([big, big, single])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for run in results:
        assert all(a < b for a, b in itertools.pairwise(run))
    union = [v for run in results for v in run]
    assert len(union) == 2 * 2_000_000 + 100_000
    assert len(set(union)) == len(union)


# -- decode_many --------------------------------------------------------------------------------

# A layout in seconds whose time bits outlast int64 microseconds (year 294,247): its last ids
# cannot be datetime64[us] and are refused.
FAR = Layout(0, "s", 60, 2, 2, positive_int64=False, name="far")
FAR_LAST = ((2**63 - 1) // 10**6) << 4 | 0xF  # the last id whose time fits


def expected_columns(layout, ids):
    """The columns computed id by id with Python's exact integers."""
    ids = [int(v) for v in ids]
    shift = layout.node_bits + layout.sequence_bits
    return (
        [(layout.epoch_ns + (v >> shift) * layout.tick_ns) // 1000 for v in ids],
        [(v >> layout.sequence_bits) & layout.max_node for v in ids],
        [v & layout.max_sequence for v in ids],
    )


def test_decode_many_equals_decode_for_every_kind_of_layout():
    np = pytest.importorskip("numpy")
    nanos = Layout(1_234_567, "ns", 50, 4, 8, name="nanos")  # an epoch inside a microsecond
    for layout, ids in (
        (Layout.INT64, SnowflakeCounter(Layout.INT64, 9).next_many(5000)),
        (Layout.JS_SAFE, SnowflakeCounter(Layout.JS_SAFE, 3).next_many(5000)),
        (Layout.TIME_COUNTER, TimeCounter().next_many(5000)),
        (nanos, [0, 1, 999, 1000, nanos.max_id, *range(10**15, 10**15 + 50)]),
        (FAR, [0, FAR_LAST - 1, FAR_LAST]),
    ):
        times, nodes, sequences = layout.decode_many(ids)
        assert times.dtype == np.dtype("datetime64[us]")
        assert nodes.dtype == sequences.dtype == np.dtype(np.int64)
        us, node, seq = expected_columns(layout, ids)
        assert times.view(np.int64).tolist() == us
        assert (nodes.tolist(), sequences.tolist()) == (node, seq)
    # The times are decode()'s datetimes, to the microsecond.
    for layout, ids in (
        (Layout.INT64, SnowflakeCounter(Layout.INT64, 9).next_many(3).tolist()),
        (nanos, [0, 999, 1000, 10**15 + 7]),
    ):
        times, nodes, sequences = layout.decode_many(ids)
        for i, value in enumerate(ids):
            decoded = layout.decode(value)
            assert times[i].item() == decoded.datetime.replace(tzinfo=None)
            assert (nodes[i], sequences[i]) == (decoded.node, decoded.sequence)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 511, 512, 513, 262_145])
def test_decode_many_into_out_at_every_size(size):
    layout = Layout.TWITTER
    ids = SnowflakeCounter(layout, 1000).next_many(size)
    out = tuple(array.array("q", bytes(8 * size)) for _ in range(3))
    assert layout.decode_many(ids, out=out) is out
    us, node, seq = expected_columns(layout, ids.tolist())
    assert [o.tolist() for o in out] == [us, node, seq]


def int64s(buffer):
    """The items of any buffer of 8-byte integers (or bytes), read as int64: a datetime64[us]
    array's microseconds, an array.array's or a bytearray's values."""
    if hasattr(buffer, "dtype"):
        return buffer.ravel().view("int64").tolist()
    return array.array("q", bytes(memoryview(buffer).cast("B"))).tolist()


def test_decode_many_out_takes_every_kind_of_buffer():
    np = pytest.importorskip("numpy")
    layout = Layout.INT64
    ids = np.asarray(SnowflakeCounter(layout, 4).next_many(100))
    expected = [int64s(column) for column in layout.decode_many(ids)]
    for out in (
        (np.empty(100, "datetime64[us]"), np.empty(100, np.uint64), bytearray(800)),
        (
            np.empty(100, np.int64),
            memoryview(bytearray(800)).cast("q"),
            array.array("Q", bytes(800)),
        ),
        (
            np.empty((10, 10), "datetime64[us]"),
            np.empty((10, 10), np.int64),
            memoryview(bytearray(816))[8:808],
        ),
    ):
        assert layout.decode_many(ids, out=out) is out
        assert [int64s(column) for column in out] == expected


def test_decode_many_reads_ids_of_every_kind():
    np = pytest.importorskip("numpy")
    layout = Layout.JS_SAFE
    ids = SnowflakeCounter(layout, 2).next_many(64).tolist()
    expected = [int64s(column) for column in layout.decode_many(np.array(ids, np.int64))]
    assert expected[1] == [2] * 64
    for given in (
        ids,  # a list, through numpy
        array.array("q", ids),
        array.array("Q", ids),
        memoryview(array.array("q", ids)),
        np.array(ids, np.uint64),
        np.array(ids, ">i8"),  # converted to native order
        np.repeat(np.array(ids, np.int64), 2)[::2],  # not contiguous: copied
        np.array(ids, np.int64).reshape(8, 8),
    ):
        assert [int64s(column) for column in layout.decode_many(given)] == expected, given
        out = tuple(array.array("q", bytes(8 * 64)) for _ in range(3))
        layout.decode_many(given, out=out)
        assert [column.tolist() for column in out] == expected, given
    small = layout.decode_many(np.array([1, 2, 64], np.int32))  # widened
    assert small[2].tolist() == [1, 2, 0] and small[1].tolist() == [0, 0, 1]
    # Buffers of bytes hold ids as next_many(out=) writes them there: 8 bytes each, never one
    # id a byte (they were read one id a byte, silently).
    raw = bytearray(8 * 64)
    SnowflakeCounter(layout, 2).next_many(64, out=raw)
    for given in (raw, bytes(raw), memoryview(raw), array.array("B", raw)):
        decoded = [int64s(column) for column in layout.decode_many(given)]
        assert len(decoded[0]) == 64 and decoded[1] == [2] * 64, type(given)
        out = tuple(array.array("q", bytes(8 * 64)) for _ in range(3))
        layout.decode_many(given, out=out)
        assert [column.tolist() for column in out] == decoded, type(given)
    with pytest.raises(ValueError, match="7 bytes, not a whole number of 8-byte ids"):
        layout.decode_many(bytearray(7))
    assert [len(column) for column in layout.decode_many([])] == [0, 0, 0]


def test_decode_many_refuses_ids_outside_the_layout_and_writes_nothing():
    np = pytest.importorskip("numpy")
    out = tuple(np.full(4, 7, np.int64) for _ in range(3))
    cases = [
        (Layout.INT64, np.array([1, 2, 2**63, 3], np.uint64), r"ids\[2\] is 9223372036854775808"),
        (
            Layout.INT64,
            np.array([1, -1, 2, 3], np.int64),
            r"ids\[1\] is 18446744073709551615 \(-1 as int64\)",
        ),
        (Layout.JS_SAFE, array.array("q", [1, 2, 3, 2**53]), r"\[0, 9007199254740991\]; ids\[3\]"),
        (FAR, array.array("Q", [1, 2, FAR_LAST, FAR_LAST + 1]), r"2\*\*63 - 1 microseconds"),
    ]
    for layout, ids, pattern in cases:
        with pytest.raises(
            ValueError, match=rf"^Layout\.decode_many\(\): ids must be in .*{pattern}"
        ):
            layout.decode_many(ids, out=out)
        assert all(o.tolist() == [7, 7, 7, 7] for o in out)
        with pytest.raises(ValueError, match=pattern):
            layout.decode_many(ids)
    with pytest.raises(ValueError, match=r"ids\[0\] is 18446744073709551615"):
        Layout.INT64.decode_many(np.array([-1], np.int32))  # widened to uint64
    with pytest.raises(TypeError, match="must hold integer ids, not float64"):
        Layout.INT64.decode_many(np.array([1.5]))


def test_decode_many_refuses_a_wrong_out_by_name():
    np = pytest.importorskip("numpy")
    ids = np.asarray(SnowflakeCounter(Layout.INT64, 4).next_many(10))
    good = np.empty(10, np.int64)
    frozen = np.empty(10, np.int64)
    frozen.setflags(write=False)
    cases = [
        (
            [good, good, good],
            TypeError,
            r"argument 'out' must be a tuple of three buffers \(times, nodes, sequences\), "
            r"not list",
        ),
        ((good, good), TypeError, r"not a tuple of 2"),
        (
            (np.empty(10, "datetime64[ns]"), np.empty(10, np.int64), np.empty(10, np.int64)),
            TypeError,
            r"argument 'out\[0\]' must be datetime64\[us\] to hold times, not datetime64\[ns\]",
        ),
        (
            (np.empty(10, np.int64), np.empty(10, np.float64), np.empty(10, np.int64)),
            TypeError,
            r"argument 'out\[1\]' must hold 64-bit integer items .* not format 'd'",
        ),
        (
            (np.empty(10, np.int64), np.empty(10, np.int64), [0] * 10),
            TypeError,
            r"argument 'out\[2\]' must be a writable buffer",
        ),
        (
            (np.empty(10, np.int64), frozen, np.empty(10, np.int64)),
            TypeError,
            r"argument 'out\[1\]' must be writable",
        ),
        (
            (np.empty(9, np.int64), np.empty(10, np.int64), np.empty(10, np.int64)),
            ValueError,
            r"argument 'out\[0\]' must hold exactly 10 ids \(80 bytes\), not 72 bytes",
        ),
        (
            (np.empty(20, np.int64)[::2], np.empty(10, np.int64), np.empty(10, np.int64)),
            ValueError,
            r"argument 'out\[0\]' must be C-contiguous",
        ),
        (
            (good, good, np.empty(10, np.int64)),
            ValueError,
            r"must not overlap \(out\[0\] and out\[1\] do\)",
        ),
        (
            (ids, np.empty(10, np.int64), np.empty(10, np.int64)),
            ValueError,
            r"must not overlap \(ids and out\[0\] do\)",
        ),
    ]
    for out, exc, pattern in cases:
        with pytest.raises(exc, match=rf"^Layout\.decode_many\(\):? .*{pattern}"):
            Layout.INT64.decode_many(ids, out=out)


def test_decode_many_out_needs_no_numpy_for_buffers(run_python):
    # numpy made unimportable: buffers in, buffers out; a list of ids needs numpy.
    out = run_python(
        """
        import array, sys
        sys.modules["numpy"] = None
        from atomic_counter import Layout, SnowflakeCounter
        ids = SnowflakeCounter(Layout.INT64, 6).next_many(1000)
        out = tuple(array.array("q", bytes(8000)) for _ in range(3))
        Layout.INT64.decode_many(ids, out=out)
        parts = [Layout.INT64.decode(v) for v in ids.tolist()]
        print([d.unix_ns // 1000 for d in parts] == out[0].tolist(),
              [d.node for d in parts] == out[1].tolist(),
              [d.sequence for d in parts] == out[2].tolist())
        try:
            Layout.INT64.decode_many([1, 2], out=tuple(bytearray(16) for _ in range(3)))
        except ImportError as e:
            print(e)
        """
    )
    assert out.splitlines() == [
        "True True True",
        "Layout.decode_many() needs numpy: pip install atomic-counter[numpy]",
    ]

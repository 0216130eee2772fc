"""SharedCounter and SharedTimeCounter: one sequence for every process on the host."""

from __future__ import annotations

import array
import concurrent.futures
import contextlib
import multiprocessing
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import linux_only
from process_helpers import check_runs, run_processes, unpack
from region_page import start_of, store_value

from atomic_counter import Counter, SharedCounter, SharedTimeCounter, TimeCounter

pytestmark = linux_only

REGION_SIZE = 4096
BOOT_OFFSET = 208  # the boot that last opened a durable region (two words)


def simulate_reboot(page: bytearray) -> None:
    """Makes a region's page read as the disk gives it back after a machine crash: its latest
    value lost (back at its start) and the boot recorded in it not this one."""
    store_value(page, start_of(page))
    page[BOOT_OFFSET : BOOT_OFFSET + 16] = bytes(range(1, 17))


@pytest.fixture
def shm_name():
    name = f"ac-pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(FileNotFoundError, ValueError):
        SharedCounter(name).unlink()
    if os.path.exists(f"/dev/shm/{name}"):
        os.unlink(f"/dev/shm/{name}")


# Workers live at module level so spawned processes can import them.
def draw_values(kind: str, name: str, count: int) -> bytes:
    counter = SharedCounter(name) if kind == "counter" else SharedTimeCounter(name)
    values = array.array("Q", (counter.next() for _ in range(count)))
    return values.tobytes()


def draw_from(counter, count: int) -> bytes:
    return array.array("Q", (counter.next() for _ in range(count))).tobytes()


def open_at_once(name: str, now: int, barrier, results) -> None:
    barrier.wait()
    counter = SharedCounter(name, 0, now)
    results.put((counter.current(), counter.base))


def test_attaching_shares_the_value(shm_name):
    first = SharedCounter(shm_name, 100, 1100, 2)
    second = SharedCounter(shm_name)
    assert (second.base, second.interval, second.current()) == (100, 2, 1000)
    assert first.next() == 1002
    assert second.next() == 1004
    second.set(10)
    assert first.next() == 12
    assert second.next_many(3).tolist() == [14, 16, 18]
    assert first.limit == Counter(0, 0, 2).limit
    assert not first.durable and first.block is None


def test_file_backed_by_str_or_path(tmp_path):
    path = tmp_path / "orders.ctr"
    with SharedCounter(path, 0, 0) as counter:
        assert counter.next() == 1
        assert counter.name == str(path)
    with SharedCounter(str(path), now=999) as again:  # now only matters when creating
        assert again.next() == 2
    assert path.stat().st_size == REGION_SIZE


def test_mismatched_parameters(shm_name):
    SharedCounter(shm_name, 100, 200, 3)
    with pytest.raises(ValueError, match="base 101 differs from the region's 100"):
        SharedCounter(shm_name, 101)
    with pytest.raises(ValueError, match="interval 4 differs from the region's 3"):
        SharedCounter(shm_name, interval=4)
    with pytest.raises(ValueError, match="holds a SharedCounter, not a SharedTimeCounter"):
        SharedTimeCounter(shm_name)


def test_durability_must_match(tmp_path):
    path = tmp_path / "plain"
    SharedCounter(path, 0, 0).close()
    with pytest.raises(ValueError, match="durable=True differs from the region's durable=False"):
        SharedCounter(path, durable=True)
    assert not SharedCounter(path, durable=False).durable


def test_bad_arguments(shm_name, tmp_path):
    with pytest.raises(TypeError):
        SharedCounter(42)
    with pytest.raises(TypeError, match="argument 'name' must be a str"):
        SharedCounter(b"bytes")
    with pytest.raises(ValueError, match="name must be 1 to 255 characters"):
        SharedCounter("")
    with pytest.raises(ValueError, match="interval must be in"):
        SharedCounter(shm_name, 0, 0, 0)
    with pytest.raises(OverflowError, match="SharedCounter\\(\\) argument 'base'"):
        SharedCounter(shm_name, -1)
    with pytest.raises(ValueError, match="durable needs a file path"):
        SharedCounter(shm_name, durable=True)
    with pytest.raises(ValueError, match="'block' needs durable=True"):
        SharedCounter(shm_name, block=10)
    with pytest.raises(ValueError, match="'block' must be in \\[1"):
        SharedCounter(str(tmp_path / "x"), durable=True, block=0)
    with pytest.raises(TypeError, match="'durable' must be a bool or None, not int"):
        SharedTimeCounter(shm_name, durable=1)
    with pytest.raises(TypeError):
        SharedTimeCounter(shm_name, True)  # durable is keyword-only
    assert not os.path.exists(f"/dev/shm/{shm_name}"), "a bad argument created a region"


def test_close_unlink_and_repr(shm_name):
    counter = SharedCounter(shm_name, 0, 5)
    assert (
        repr(counter)
        == f"atomic_counter.SharedCounter('{shm_name}', current=5, base=0, interval=1)"
    )
    counter.close()
    counter.close()  # idempotent
    assert counter.closed
    assert repr(counter) == f"atomic_counter.SharedCounter('{shm_name}', closed)"
    for call in (
        counter.next,
        counter.current,
        lambda: counter.set(1),
        lambda: counter.base,
        lambda: counter.next_many(1),
        lambda: next(counter),
    ):
        with pytest.raises(ValueError, match="is closed"):
            call()
    counter.unlink()
    with pytest.raises(FileNotFoundError):
        counter.unlink()
    assert SharedCounter(shm_name, 0, 7).current() == 7  # a new region


def test_time_counter_shares_the_rule(shm_name):
    a = SharedTimeCounter(shm_name)
    b = SharedTimeCounter(shm_name)
    ids = [a.next(), b.next(), a.next(), b.next()]
    assert ids == sorted(set(ids))
    assert SharedTimeCounter.to_datetime(ids[0]) == TimeCounter.to_datetime(ids[0])
    assert SharedTimeCounter.decode_timestamp_microseconds(ids[0]) == ids[0] >> 12
    assert SharedTimeCounter.get_timedelta(ids[1], ids[0]).total_seconds() >= 0
    block = a.next_many(100).tolist()
    assert block == list(range(block[0], block[0] + 100)) and block[0] > ids[-1]
    assert a.lead_us() >= 0
    assert iter(a) is a and next(a) > block[-1]


def test_pickles_by_name(shm_name):
    counter = SharedCounter(shm_name, 0, 0)
    clone = pickle.loads(pickle.dumps(counter))
    assert clone.name == shm_name
    assert counter.next() == 1 and clone.next() == 2
    timer = SharedTimeCounter(shm_name + "-t")
    try:
        before = timer.current()
        assert pickle.loads(pickle.dumps(timer)).next() > before
    finally:
        timer.unlink()


@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize("kind", ["counter", "time"])
def test_four_processes_share_one_sequence(shm_name, method, kind):
    first = SharedCounter(shm_name, 0, 0) if kind == "counter" else SharedTimeCounter(shm_name)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(4) as pool:
        results = pool.starmap(draw_values, [(kind, shm_name, 250_000)] * 4)
    runs = [unpack(r) for r in results]
    assert all(len(run) == 250_000 for run in runs)
    check_runs(runs)
    if kind == "counter":
        assert first.current() == 1_000_000  # nothing lost, nothing reissued


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_counter_object_passed_to_a_process_pool(shm_name, method):
    counter = SharedCounter(shm_name, 0, 0)
    ctx = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        runs = [unpack(r) for r in pool.map(draw_from, [counter] * 4, [10_000] * 4)]
    check_runs(runs)
    assert counter.current() == 40_000


def test_concurrent_creation_agrees_on_one_start(shm_name):
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        name = f"{shm_name}-{round_}"
        barrier = ctx.Barrier(6)
        nows = [10**9 * (i + 1) for i in range(6)]
        starts = run_processes(ctx, open_at_once, [(name, now, barrier) for now in nows], 60)
        assert len(set(starts)) == 1, starts
        assert starts[0][0] in nows
        SharedCounter(name).unlink()


KILL_WORKER = """
import os, sys, array
from atomic_counter import SharedCounter, SharedTimeCounter
kind, name, out = sys.argv[1:4]
counter = SharedCounter(name) if kind == "counter" else SharedTimeCounter(name)
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
os.write(fd, b"")
print("ready", flush=True)
while True:
    os.write(fd, array.array("Q", [counter.next() for _ in range(64)]).tobytes())
"""


def _read_values(path: pathlib.Path) -> list[int]:
    data = path.read_bytes()
    return unpack(data[: len(data) // 8 * 8])


@pytest.mark.parametrize("kind", ["counter", "time"])
def test_processes_killed_mid_draw_never_cause_a_duplicate(shm_name, tmp_path, kind):
    SharedCounter(shm_name, 0, 0) if kind == "counter" else SharedTimeCounter(shm_name)
    runs = []
    for generation in range(2):
        procs = []
        for i in range(3):
            out = tmp_path / f"g{generation}-{i}.bin"
            proc = subprocess.Popen(
                [sys.executable, "-c", KILL_WORKER, kind, shm_name, str(out)],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append((proc, out))
        for proc, _ in procs:
            assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        for proc, _ in procs:
            proc.send_signal(signal.SIGKILL)
        for proc, out in procs:
            proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            runs.append(_read_values(out))
    assert all(len(run) > 100 for run in runs)
    check_runs(runs)
    # The second generation drew after the first was killed: all of its values are above.
    assert min(v for run in runs[3:] for v in run) > max(v for run in runs[:3] for v in run)


def test_truncated_wrong_size_and_foreign_files_are_left_untouched(tmp_path):
    cases = {
        "truncated": (b"\0" * 100, "truncated \\(100 bytes, expected 4096\\)"),
        "big": (b"\0" * 5000, "wrong size \\(5000 bytes"),
        "foreign": (b"x" * 4096, "not an atomic_counter region"),
    }
    for file, (content, message) in cases.items():
        path = tmp_path / file
        path.write_bytes(content)
        with pytest.raises(ValueError, match=message):
            SharedCounter(path)
        assert path.read_bytes() == content


@pytest.mark.parametrize(
    "offset, byte, message",
    [
        (0, 0x5A, "bad magic"),
        (8, 9, "format version 9"),
        (12, 7, "unknown kind \\(7\\)"),
        (64, 5, "corrupt header \\(state 5\\)"),
    ],
)
def test_corrupted_header(tmp_path, offset, byte, message):
    path = tmp_path / "region"
    SharedCounter(path, 0, 0).close()
    data = bytearray(path.read_bytes())
    data[offset] = byte
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message):
        SharedCounter(path)
    assert path.read_bytes() == bytes(data)


READ_ONLY_CHECK = """
import os, sys
from atomic_counter import SharedCounter
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)  # nobody: root may write any file
try:
    SharedCounter(sys.argv[1])
except PermissionError as exc:
    print("PermissionError", exc.errno)
"""


def test_read_only_file_is_permission_error(tmp_path):
    path = tmp_path / "ro"
    SharedCounter(path, 0, 0).close()
    path.chmod(0o444)
    tmp_path.chmod(0o755)
    before = path.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", READ_ONLY_CHECK, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PermissionError", "13"]
    assert path.read_bytes() == before


DURABLE_WORKER = """
import sys
from atomic_counter import SharedCounter
counter = SharedCounter(sys.argv[1])
last = [counter.next() for _ in range(int(sys.argv[2]))][-1]
print(last, flush=True)
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_durable_counter_continues_above_a_killed_process(tmp_path):
    path = tmp_path / "durable.ctr"
    counter = SharedCounter(path, 0, 0, durable=True, block=1000)
    assert counter.durable and counter.block == 1000
    counter.close()
    proc = subprocess.run(
        [sys.executable, "-c", DURABLE_WORKER, str(path), "25000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL
    last = int(proc.stdout)
    # A machine crash could lose the value's latest page; only what was msync'ed is certain.
    # Simulate the worst case: the value field back at the start, read in the next boot.
    data = bytearray(path.read_bytes())
    simulate_reboot(data)
    path.write_bytes(bytes(data))
    reopened = SharedCounter(path)
    first = reopened.next()
    assert last < first <= last + 1001
    with pytest.raises(ValueError, match="durable=False differs"):
        SharedCounter(path, durable=False)
    with pytest.raises(ValueError, match="block 5 differs from the region's 1000"):
        SharedCounter(path, durable=True, block=5)


def test_durable_time_counter(tmp_path):
    path = tmp_path / "durable-time"
    with SharedTimeCounter(path, durable=True, block=2000) as timer:
        last = timer.next_many(10_000).tolist()[-1]
        assert timer.block == 2000
    data = bytearray(path.read_bytes())
    simulate_reboot(data)
    path.write_bytes(bytes(data))
    with SharedTimeCounter(path) as timer:
        assert timer.next() > last
        assert timer.lead_us() <= 2000 + 10_000 // 4096 + 1


def test_threads_share_a_shared_counter(shm_name):
    import threading

    counter = SharedCounter(shm_name, 0, 0)
    runs = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def work(i):
        c = counter if i % 2 else SharedCounter(shm_name)
        barrier.wait()
        runs[i] = [c.next() for _ in range(50_000)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    check_runs(runs)
    assert counter.current() == 200_000

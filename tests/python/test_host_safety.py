"""Host safety (issues 11 and 21): the shared and in-process counters under misuse, other local
users, fork, damage, full file systems, names truncated or unlinked under live holders, reopened
durable regions and failing disks. Each section is one hole an issue found; every test of issue
11 failed on 0.2, every test of issue 21 (at the end) on the code before it.

Tests that need a second user run a real one (`nobody`, uid 65534) and skip when the suite does
not run as root; tests that need a slow, gated or failing msync use
tests/python/support/shims/region_shim.c through LD_PRELOAD; the far-future tests use
libfaketime; the full file systems are a small tmpfs or an ext4 image on a loop device, mounted
in a private mount namespace (unshare), and skip where that cannot be done.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from conftest import linux_only
from process_helpers import unpack
from region_page import MAGIC_AND_VERSION, store_value
from shims import build_region_shim, preload

from atomic_counter import (
    Counter,
    Layout,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
)

pytestmark = linux_only

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
VALUE_OFFSET, RESERVED_OFFSET, PERSISTED_OFFSET, BOOT_OFFSET = 128, 192, 200, 208


@pytest.fixture
def shm_name():
    name = f"ac-host-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    for path in (f"/dev/shm/{name}", f"/dev/shm/{name}-b", f"/dev/shm/{name}.link"):
        if os.path.lexists(path):
            os.unlink(path)


@pytest.fixture(scope="session")
def shim(tmp_path_factory) -> Path:
    return build_region_shim(tmp_path_factory.mktemp("shim"))


@pytest.fixture
def shared_dir():
    """A world-writable sticky directory, as /tmp is, that `nobody` can reach."""
    path = Path(tempfile.mkdtemp(prefix="ac-shared-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# Run as another user: the interpreter and its standard library may sit in a directory that
# user cannot read (root's home), so the child imports what it needs first, then drops to it.
AS_USER = """
import fcntl, os, pickle, stat, sys, time
import atomic_counter
from atomic_counter import SharedCounter, SharedTimeCounter
os.setgroups([])
os.setgid({uid})
os.setuid({uid})
"""


def run(
    code: str,
    *,
    env: dict[str, str] | None = None,
    user: int | None = None,
    timeout: float = 120,
    check: bool = True,
    args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter (as `user` when given), so that a crash in native code is
    a failed test, not a dead test run."""
    source = textwrap.dedent(code)
    if user is not None:
        source = AS_USER.format(uid=user) + source
    proc = subprocess.run(
        [sys.executable, "-c", source, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd="/",
    )
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


# -------------------------------------------------------------------------------------------
# 1. Use after close: a method's argument conversion (or another thread) closes the counter.

CLOSE_IN_INDEX = """
import sys
from atomic_counter import SharedCounter, SharedTimeCounter
kind, method, name = sys.argv[1:4]
Type = SharedCounter if kind == "counter" else SharedTimeCounter
make = (lambda n: SharedCounter(n, 0, 1000)) if kind == "counter" else SharedTimeCounter
victim = make(name)

class ClosesTheCounter:
    def __index__(self):
        victim.close()
        # Another counter opened now is likely mapped where the victim was.
        self.other = make(name + "-b")
        self.before = self.other.current()
        return 5

arg = ClosesTheCounter()
try:
    getattr(victim, method)(arg)
except ValueError as exc:
    assert "is closed" in str(exc), exc
else:
    raise AssertionError("a closed counter was used")
assert arg.other.current() == arg.before, "the other counter moved"
print("ok")
"""


@pytest.mark.parametrize(
    "kind, method",
    [
        ("counter", "set"),
        ("counter", "advance_to"),
        ("counter", "next_many"),
        ("time", "advance_to"),
        ("time", "next_many"),
    ],
)
def test_an_argument_that_closes_the_counter_never_reaches_its_core(shm_name, kind, method):
    out = run(CLOSE_IN_INDEX, args=(kind, method, shm_name))
    assert out.stdout.strip() == "ok"


CLOSE_FROM_ANOTHER_THREAD = """
import sys, threading
from atomic_counter import SharedCounter, SharedTimeCounter
path = sys.argv[1]
for round_ in range(40):
    c = (SharedCounter(path, 0, 0, durable=True, block=1) if round_ % 2
         else SharedTimeCounter(path + "-t", durable=True, block=1))
    started = threading.Event()
    def draw():
        started.set()
        try:
            while True:
                c.next(); c.next_many(3); c.current(); repr(c)
        except ValueError as exc:
            assert "is closed" in str(exc)
    t = threading.Thread(target=draw)
    t.start()
    started.wait()
    c.close()  # while the other thread is inside a (GIL-free, slowed) msync
    t.join()
print("ok")
"""


def test_close_from_another_thread_while_draws_wait_on_msync(tmp_path, shim):
    out = run(
        CLOSE_FROM_ANOTHER_THREAD,
        args=(str(tmp_path / "r"),),
        env=preload(shim, AC_SHIM_MSYNC_DELAY_MS="2"),
    )
    assert out.stdout.strip() == "ok"


# -------------------------------------------------------------------------------------------
# 2. Other local users.


@as_root
def test_a_region_another_user_planted_is_refused(shm_name):
    run(
        """
        import os, sys
        from atomic_counter import SharedCounter
        SharedCounter(sys.argv[1], 0, 10**15)  # ids of the planter's choosing
        os.chmod("/dev/shm/" + sys.argv[1], 0o666)  # ... and anyone may rewind them
    """,
        user=NOBODY,
        args=(shm_name,),
    )
    before = Path(f"/dev/shm/{shm_name}").read_bytes()
    with pytest.raises(PermissionError, match=r"owned by user 65534 \(nobody\).*allow_other_owner"):
        SharedCounter(shm_name)
    # Even when other owners are allowed, a region every user can write stays refused.
    with pytest.raises(PermissionError, match=r"writable by every user \(mode 0o666\)"):
        SharedCounter(shm_name, allow_other_owner=True)
    assert Path(f"/dev/shm/{shm_name}").read_bytes() == before
    shared = SharedCounter(shm_name, allow_other_owner=True, mode=0o666)
    assert shared.next() == 10**15 + 1  # the explicit opt-in attaches


@as_root
def test_a_region_planted_half_created_by_another_user_fails_at_once(shm_name):
    run(
        """
        import os, sys
        page = bytearray(4096)
        page[64] = 1  # "initialising", forever
        fd = os.open("/dev/shm/" + sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, bytes(page))
    """,
        user=NOBODY,
        args=(shm_name,),
    )
    started = time.monotonic()
    with pytest.raises(PermissionError, match="owned by user 65534"):
        SharedCounter(shm_name)
    assert time.monotonic() - started < 1, "waited on a region another user planted"


@as_root
def test_a_symlink_planted_in_a_shared_directory_is_never_followed(shared_dir, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    link = shared_dir / "orders.ctr"
    run(
        """
        import os, sys
        os.symlink(sys.argv[1], sys.argv[2])
    """,
        user=NOBODY,
        args=(str(victim), str(link)),
    )
    for open_ in (lambda: SharedCounter(link, 0, 0), lambda: SharedTimeCounter(link)):
        with pytest.raises(OSError, match="symbolic link") as info:
            open_()
        assert info.value.errno == 40  # ELOOP
    assert victim.read_bytes() == b"", "a region header was written through the link"


@as_root
def test_another_user_cannot_open_a_region_made_under_umask_zero(shm_name):
    out = run(
        """
        import os, stat, sys
        from atomic_counter import SharedCounter
        os.umask(0)
        SharedCounter(sys.argv[1], 0, 0)
        print(oct(stat.S_IMODE(os.stat("/dev/shm/" + sys.argv[1]).st_mode)))
    """,
        args=(shm_name,),
    )
    assert out.stdout.split() == ["0o600"]
    attempt = run(
        """
        import sys
        from atomic_counter import SharedCounter
        try:
            SharedCounter(sys.argv[1])
        except PermissionError as exc:
            print("PermissionError", exc.errno)
    """,
        user=NOBODY,
        args=(shm_name,),
    )
    assert attempt.stdout.split() == ["PermissionError", "13"]


def test_mode_is_applied_exactly_whatever_the_umask(shm_name):
    out = run(
        """
        import os, stat, sys
        from atomic_counter import SharedCounter
        os.umask(0o077)
        SharedCounter(sys.argv[1], 0, 0, mode=0o640)
        print(oct(stat.S_IMODE(os.stat("/dev/shm/" + sys.argv[1]).st_mode)))
    """,
        args=(shm_name,),
    )
    assert out.stdout.split() == ["0o640"]


def test_mode_is_validated(shm_name):
    with pytest.raises(
        ValueError,
        match=r"'mode' must be permission bits in \[0, 0o777\], got "
        r"0o1777",
    ):
        SharedCounter(shm_name, mode=0o1777)
    with pytest.raises(TypeError, match="'allow_other_owner' must be a bool, not int"):
        SharedTimeCounter(shm_name, allow_other_owner=1)
    assert not os.path.exists(f"/dev/shm/{shm_name}")


# -------------------------------------------------------------------------------------------
# 3. Pickling attaches to the same region, never creates one.


def test_unpickling_after_unlink_raises_instead_of_creating(shm_name):
    counter = SharedCounter(shm_name, 0, 0)
    data = pickle.dumps(counter)
    counter.unlink()  # as the README's example does
    with pytest.raises(FileNotFoundError):
        pickle.loads(data)
    assert not os.path.exists(f"/dev/shm/{shm_name}"), "unpickling created a region"
    SharedCounter(shm_name, 0, 0)  # a new region under the old name
    with pytest.raises(ValueError, match=r"another region \(id [0-9a-f]{32}\) now has the name"):
        pickle.loads(data)


def test_a_pickle_made_with_a_relative_path_survives_a_chdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counter = SharedCounter("./orders.ctr", 0, 0, durable=True, block=100)
    assert counter.path == f"{tmp_path}/./orders.ctr"
    counter.next()
    data = pickle.dumps(counter)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    clone = pickle.loads(data)
    assert clone.region_id == counter.region_id
    assert clone.durable and clone.block == 100  # the parameters came along
    first, second = clone.next(), counter.next()
    assert 1 < first < second  # one sequence (a durable attach skips to past its reservation)
    assert not (elsewhere / "orders.ctr").exists()


def test_a_pickled_shared_time_counter_attaches_to_its_region(shm_name):
    timer = SharedTimeCounter(shm_name)
    clone = pickle.loads(pickle.dumps(timer))
    assert clone.region_id == timer.region_id
    ids = [timer.next(), clone.next(), timer.next()]
    assert ids == sorted(set(ids))
    timer.unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(pickle.dumps(clone))


# -------------------------------------------------------------------------------------------
# 4. fork: in-process counters copied into a child.

FORKED = """
import array, os, sys
from atomic_counter import Counter, TimeCounter, SnowflakeCounter, Layout
counters = {"default": Counter(), "explicit": Counter(0, 0), "set": Counter(0, 0)}
for c in counters.values():
    [c.next() for _ in range(1000)]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    counters["set"].set(5000)  # the child takes control: no restart after that
    out = {k: [c.next() for _ in range(1000)] for k, c in counters.items()}
    os.write(w, repr(out).encode())
    os._exit(0)
os.close(w)
mine = {k: [c.next() for _ in range(1000)] for k, c in counters.items()}
data = b""
while chunk := os.read(r, 1 << 20):
    data += chunk
theirs = eval(data)
os.waitpid(pid, 0)
for k in ("default", "explicit"):
    assert not set(mine[k]) & set(theirs[k]), f"{k}: parent and child drew the same values"
    assert theirs[k] == sorted(theirs[k])
assert theirs["set"][0] == 5001
print("ok")
"""


def test_a_forked_counter_restarts_in_the_child_instead_of_repeating_the_parent():
    assert run(FORKED).stdout.strip() == "ok"


def test_a_forked_counter_ahead_of_the_clock_refuses_in_the_child(run_python):
    # next_many() moves a Counter by n intervals at once, far ahead of the clock: restarting
    # the child's copy from the clock (never below its value) would hand out exactly the
    # parent's next values. The child refuses until set() places its value.
    out = run_python("""
        import os
        from atomic_counter import Counter
        c = Counter(interval=10**6)
        c.next_many(100_000)  # 100 s of intervals in a moment
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                c.next()
            except RuntimeError as exc:
                assert "fork()" in str(exc) and "ahead of the clock" in str(exc), exc
                try:
                    c.next_many(3)
                except RuntimeError:
                    c.set(12345)  # the caller places the child's value
                    code = 0 if c.next() == 12345 + 10**6 else 3
            os.write(w, bytes([code]))
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        print(os.read(r, 1)[0], c.next() > 0)
    """)
    assert out.split() == ["0", "True"]


def test_a_forked_snowflake_counter_refuses_in_the_child(run_python):
    out = run_python("""
        import os
        from atomic_counter import Layout, SnowflakeCounter
        c = SnowflakeCounter(Layout.INT64, 7)
        c.next()
        pid = os.fork()
        if pid == 0:
            try:
                c.next()
            except RuntimeError as exc:
                assert "fork()" in str(exc) and "node 7" in str(exc), exc
                try:
                    c.next_many(4)
                except RuntimeError:
                    own = SnowflakeCounter(Layout.INT64, 8)  # a node of its own works
                    os._exit(0 if own.next() else 3)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        c.next()  # the parent keeps drawing
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_forked_time_counter_keeps_increasing_in_the_child(run_python):
    # Documented: like any two processes with their own TimeCounter, parent and child can draw
    # the same id in the same microsecond (SharedTimeCounter is the cure); each stays increasing.
    out = run_python("""
        import os
        from atomic_counter import TimeCounter
        t = TimeCounter()
        last = t.next()
        pid = os.fork()
        if pid == 0:
            ids = [t.next() for _ in range(1000)]
            os._exit(0 if ids[0] > last and ids == sorted(set(ids)) else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out.strip() == "0"


def test_shared_counters_are_shared_across_fork(shm_name):
    counter = SharedCounter(shm_name, 0, 0)
    pid = os.fork()
    if pid == 0:
        os._exit(0 if counter.next() == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert counter.next() == 2


# -------------------------------------------------------------------------------------------
# 5. set() racing with draws on a durable region; advance_to() never goes back.

SETTER = """
import sys
from atomic_counter import SharedCounter
c = SharedCounter(sys.argv[1])
c.set(int(sys.argv[2]))  # its msync is held at the gate while another process draws
print(c.current())
"""

DRAWER = """
import array, sys
from atomic_counter import SharedCounter
c = SharedCounter(sys.argv[1])
sys.stdout.buffer.write(array.array("Q", [c.next() for _ in range(int(sys.argv[2]))]).tobytes())
"""


def test_set_on_a_durable_region_never_undoes_draws_made_during_its_msync(tmp_path, shim):
    path = tmp_path / "durable.ctr"
    c = SharedCounter(path, 0, 0, durable=True, block=10)
    first = [c.next() for _ in range(5)]
    gate = tmp_path / "gate"
    setter = subprocess.Popen(
        [sys.executable, "-c", SETTER, str(path), "100"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **preload(shim, AC_SHIM_MSYNC_GATE=str(gate))},
    )
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.started").exists():
        assert time.monotonic() < deadline and setter.poll() is None, "set() never synced"
        time.sleep(0.01)
    # set(100) is inside its msync now: another process draws 500 values past 100.
    drawn = unpack(
        subprocess.run(
            [sys.executable, "-c", DRAWER, str(path), "500"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )
    Path(f"{gate}.go").touch()
    assert setter.wait(timeout=60) == 0
    after = [c.next() for _ in range(100)]
    # The drawer attached in the same boot, so it continued where the value was (no gap: the
    # page in memory is the newest), and drew past 100 while set(100) waited.
    assert min(drawn) == first[-1] + 1 and max(drawn) > 100
    assert int(setter.stdout.read()) == max(drawn), "set() moved the value back below the draws"
    everything = first + drawn + after
    assert len(set(everything)) == len(everything)


def test_advance_to_never_moves_backwards(shm_name, tmp_path):
    for counter in (
        Counter(0, 0),
        SharedCounter(shm_name, 0, 0),
        SharedCounter(tmp_path / "d", 0, 0, durable=True, block=5),
    ):
        counter.advance_to(100)
        assert counter.next() == 101
        counter.advance_to(7)
        assert counter.next() == 102
        with pytest.raises(
            ValueError, match=r"advance_to\(\): value \(\d+\) must be in \[0, \d+\]"
        ):
            counter.advance_to(counter.limit + 1)
    for timer in (TimeCounter(), SharedTimeCounter(shm_name + "-b")):
        ahead = timer.current() + (10**6 << 12)
        timer.advance_to(ahead)
        assert timer.next() == ahead + 1
        timer.advance_to(5)
        assert timer.next() == ahead + 2
        with pytest.raises(OverflowError, match="'value'"):
            timer.advance_to(-1)
    with pytest.raises(TypeError, match="advance_to\\(\\) argument 'value' must be an int"):
        Counter().advance_to("1")


def test_a_durable_advance_survives_a_crash(tmp_path):
    path = tmp_path / "d.ctr"
    with SharedCounter(path, 0, 0, durable=True, block=10) as c:
        c.advance_to(1_000_000)
    data = bytearray(path.read_bytes())
    store_value(data, 0)  # the value lost: back at its start
    data[BOOT_OFFSET : BOOT_OFFSET + 16] = bytes(16)  # ... in a crash: read in another boot
    path.write_bytes(bytes(data))
    with SharedCounter(path) as again:
        assert again.next() > 1_000_000


# -------------------------------------------------------------------------------------------
# 6. Header integrity.


@pytest.mark.parametrize(
    "offset, message",
    [
        (16, "checksum"),
        (24, "checksum"),
        (32, "checksum"),
        (40, "checksum"),
        (48, "checksum"),
        (RESERVED_OFFSET, "persisted \\(\\d+\\) is above reserved"),
        (PERSISTED_OFFSET, "persisted \\(\\d+\\) is above reserved"),
    ],
)
def test_damage_to_the_header_is_refused_and_left_untouched(tmp_path, offset, message):
    path = tmp_path / "region"
    SharedCounter(path, 0, 1000, interval=3, durable=True, block=50).close()
    data = bytearray(path.read_bytes())
    if offset == RESERVED_OFFSET:  # reserved dropped below persisted
        data[offset : offset + 8] = (1000).to_bytes(8, sys.byteorder)
        data[PERSISTED_OFFSET : PERSISTED_OFFSET + 8] = (2000).to_bytes(8, sys.byteorder)
    elif offset == PERSISTED_OFFSET:  # persisted raised past reserved
        data[offset : offset + 8] = (10**9).to_bytes(8, sys.byteorder)
    else:
        data[offset] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message):
        SharedCounter(path)
    assert path.read_bytes() == bytes(data)


def test_a_non_durable_region_whose_marks_moved_is_refused(tmp_path):
    path = tmp_path / "plain"
    SharedTimeCounter(path).close()
    data = bytearray(path.read_bytes())
    start = int.from_bytes(data[40:48], sys.byteorder)
    data[RESERVED_OFFSET : RESERVED_OFFSET + 8] = (start + 5).to_bytes(8, sys.byteorder)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"reserved .* moved in a region that is not durable"):
        SharedTimeCounter(path)


# -------------------------------------------------------------------------------------------
# 7. The GIL is released while a region's open waits and while msync runs.

HEARTBEAT = """
import json, sys, threading, time
from atomic_counter import SharedCounter
path, what = sys.argv[1:3]
gaps, stop = [0.0], threading.Event()
def beat():
    last = time.monotonic()
    while not stop.is_set():
        time.sleep(0.005)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
t = threading.Thread(target=beat)
t.start()
time.sleep(0.05)
started = time.monotonic()
if what == "msync":
    c = SharedCounter(path, 0, 0, durable=True, block=1)
    for _ in range(3):
        c.next()
    outcome = "drew"
else:
    try:
        SharedCounter(path, 0, 0)
        outcome = "opened"
    except ValueError as exc:
        outcome = str(exc)
took = time.monotonic() - started
stop.set()
t.join()
print(json.dumps({"took": took, "max_gap": max(gaps), "outcome": outcome}))
"""


def test_other_threads_run_during_a_slow_msync(tmp_path, shim):
    import json

    out = run(
        HEARTBEAT,
        args=(str(tmp_path / "slow"), "msync"),
        env=preload(shim, AC_SHIM_MSYNC_DELAY_MS="300"),
    )
    result = json.loads(out.stdout)
    assert result["took"] > 0.55  # draws 1 and 3 pass the mark (block=1): two slow msyncs
    assert result["max_gap"] < 0.25, f"the heartbeat stopped for {result['max_gap']:.3f} s"


# What a creator of an earlier version, which initialised in place under the lock, has made when it
# stops: our magic and version, state 1 ("initialising"), its lock held.
HOLDS_THE_CREATION_LOCK = """
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
page = bytearray(4096)
page[0:12] = struct.pack("=QI", 0x3152544E43434D41, 3)
page[64] = 1
os.write(fd, bytes(page))
print("holding", flush=True)
time.sleep(600)
"""


def test_other_threads_run_while_waiting_for_a_stuck_creator(tmp_path):
    import json

    path = tmp_path / "stuck"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDS_THE_CREATION_LOCK, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        holder.send_signal(signal.SIGSTOP)  # a creator stopped mid-way, alive
        result = json.loads(run(HEARTBEAT, args=(str(path), "open")).stdout)
    finally:
        holder.kill()
        holder.wait()
    assert "creation lock for more than 5000 ms" in result["outcome"]
    assert "it is alive" in result["outcome"] and "unlink" not in result["outcome"]
    assert result["max_gap"] < 0.25, f"the heartbeat stopped for {result['max_gap']:.3f} s"
    # Its lock died with it: the next open creates the region at once.
    started = time.monotonic()
    assert SharedCounter(path, 0, 0).next() == 1
    assert time.monotonic() - started < 1


def test_a_creator_that_died_mid_way_is_replaced_at_once(tmp_path):
    # A page an older version began in place, then died (its lock with it): nothing was drawn.
    path = tmp_path / "orphan"
    page = bytearray(4096)
    page[0:12] = MAGIC_AND_VERSION
    page[64] = 1  # claimed, then its creator died (its creation lock with it)
    path.write_bytes(bytes(page))
    path.chmod(0o600)
    started = time.monotonic()
    counter = SharedCounter(path, 0, 41)
    assert time.monotonic() - started < 1
    assert counter.next() == 42


# -------------------------------------------------------------------------------------------
# 8. The far future is refused, not wrapped (libfaketime moves the clock of a child process).


def faketime(when: str) -> dict[str, str]:
    lib = next(
        (
            p
            for p in (
                "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
            )
            if os.path.exists(p)
        ),
        None,
    )
    if lib is None:
        pytest.skip("libfaketime is not installed (tools/test.sh installs it)")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("libfaketime deadlocks under AddressSanitizer; the plain run covers it")
    return preload(lib, FAKETIME=when, FAKETIME_DONT_RESET="1", FAKETIME_DONT_FAKE_MONOTONIC="1")


FAR_FUTURE = """
import sys
from atomic_counter import Layout, SharedTimeCounter, SnowflakeCounter, TimeCounter
for make in (TimeCounter, lambda: SharedTimeCounter(sys.argv[1]),
             lambda: SnowflakeCounter(Layout.TWITTER, 1)):
    try:
        make()
        print("created")
    except OverflowError as exc:
        print("OverflowError")
"""


def test_counters_refuse_a_clock_past_their_end(shm_name):
    out = run(FAR_FUTURE, args=(shm_name,), env=faketime("@2113-01-01 00:00:00"))
    assert out.stdout.split() == ["OverflowError"] * 3
    assert not os.path.exists(f"/dev/shm/{shm_name}")


CROSSES_THE_END = """
import time
from atomic_counter import TimeCounter
t = TimeCounter()
last = t.next()
until = time.monotonic() + 2.5
while time.monotonic() < until:  # the clock passes 2112-09-17T23:53:47.370496Z
    pass
try:
    t.next()
    print("drew", t.current())
except OverflowError:
    print("OverflowError", t.current() == last, TimeCounter.to_datetime(last).year)
"""


def test_a_time_counter_refuses_once_the_clock_passes_2112():
    out = run(CROSSES_THE_END, env=faketime("@2112-09-17 23:53:46"))
    assert out.stdout.split() == ["OverflowError", "True", "2112"]


# -------------------------------------------------------------------------------------------
# 9. Durability only where it is real; the directory synced; no "unlink it" advice.


def test_durable_on_a_ram_file_system_is_refused(shm_name):
    path = f"/dev/shm/{shm_name}.ctr"
    with pytest.raises(ValueError, match="durable=True on tmpfs"):
        SharedCounter(path, durable=True)
    with pytest.raises(ValueError, match="durable=True on tmpfs"):
        SharedTimeCounter(path, durable=True, block=10)
    assert not os.path.exists(path)


def test_a_new_durable_file_has_its_directory_synced(tmp_path, shim):
    log = tmp_path / "fsync.log"
    run(
        """
        import sys
        from atomic_counter import SharedCounter, SharedTimeCounter
        SharedCounter(sys.argv[1] + "/a.ctr", durable=True).next()
        # Attaching: the file (a write-back error nobody has seen yet is reported to a new
        # descriptor), then the directory (no value is handed out under a name a crash could
        # still take away, whether or not its creator has synced it yet).
        SharedCounter(sys.argv[1] + "/a.ctr").next()
        SharedTimeCounter(sys.argv[1] + "/plain")  # not durable: nothing to sync
    """,
        args=(str(tmp_path),),
        env=preload(shim, AC_SHIM_FSYNC_LOG=str(log)),
    )
    assert log.read_text().splitlines() == [str(tmp_path), str(tmp_path / "a.ctr"), str(tmp_path)]


def test_durable_regions_keep_their_permissions_and_mode(tmp_path):
    path = tmp_path / "d"
    SharedCounter(path, durable=True, mode=0o640).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_what_held_still_holds_many_processes_mixing_draws(shm_name):
    # 3 processes x 2 threads mixing next, next_many and iteration on both kinds.
    code = """
        import array, sys, threading
        from atomic_counter import SharedCounter, SharedTimeCounter
        kind, name = sys.argv[1:3]
        c = SharedCounter(name) if kind == "c" else SharedTimeCounter(name)
        runs = [[], []]
        def work(i):
            for k in range(2000):
                if k % 3 == 0:
                    runs[i].extend(c.next_many(5).tolist())
                elif k % 3 == 1:
                    runs[i].append(c.next())
                else:
                    runs[i].append(next(c))
        ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        for r in runs:
            assert r == sorted(r) and len(set(r)) == len(r)
        sys.stdout.buffer.write(array.array("Q", runs[0] + runs[1]).tobytes())
    """
    for kind, name in (("c", shm_name), ("t", shm_name + "-b")):
        SharedCounter(name, 0, 0) if kind == "c" else SharedTimeCounter(name)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(code), kind, name], stdout=subprocess.PIPE
            )
            for _ in range(3)
        ]
        values = []
        for p in procs:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0
            values += unpack(out)
        assert len(values) == 3 * 2 * (667 * 5 + 667 + 666)
        assert len(set(values)) == len(values)


def test_snowflake_layout_end_is_an_overflow():
    # A layout whose time has run out refuses at creation (the clock is past its end).
    short = Layout(0, "s", 20, 0, 1)  # 2**20 s after 1970: January 1970
    with pytest.raises(OverflowError, match="time bits have run out"):
        SnowflakeCounter(short, 0)


# ===========================================================================================
# Issue 21: a full disk is an error, not a crash; an unlinked or truncated name never forks a
# sequence; durable counters do not drift on open. Each test failed before these changes.

STATE_OFFSET = 64

# Runs in a private mount namespace (unshare --mount), as root: mounts a small file system over
# `target` (a tmpfs, or ext4 on a loop device from `image`), lets `prepare` run while it has
# room, fills it to the last block, then runs `body`. Exit 77: the mount was refused.
ON_A_FULL_FILE_SYSTEM = """
import errno, os, subprocess, sys
target, fs, image, prepare, body = sys.argv[1:6]
os.makedirs(target, exist_ok=True)
mount = (["mount", "-t", "tmpfs", "-o", "size=256k,mode=1777", "tmpfs", target] if fs == "tmpfs"
         else ["mount", "-o", "loop", image, target])
if subprocess.run(mount, capture_output=True).returncode != 0:
    sys.exit(77)
exec(prepare)
fd = os.open(os.path.join(target, ".filler"), os.O_WRONLY | os.O_CREAT, 0o600)
try:
    while True:
        os.write(fd, bytes(65536) if fs != "tmpfs" else bytes(4096))
except OSError as exc:
    assert exc.errno == errno.ENOSPC, exc
try:
    while True:
        os.write(fd, b"x")
except OSError as exc:
    assert exc.errno == errno.ENOSPC, exc
os.close(fd)
exec(body)
"""


def on_a_full_file_system(
    tmp_path: Path, target: str, fs: str, prepare: str, body: str
) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a file system in a private namespace")
    image = tmp_path / "ext4.img"
    if fs == "ext4":
        if shutil.which("mkfs.ext4") is None:
            pytest.skip("needs mkfs.ext4 (e2fsprogs)")
        with open(image, "wb") as f:
            f.truncate(8 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    proc = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            ON_A_FULL_FILE_SYSTEM,
            target,
            fs,
            str(image),
            textwrap.dedent(prepare),
            textwrap.dedent(body),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount {fs} in a private mount namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, (
        f"exit {proc.returncode}"
        + (
            " (SIGBUS: a store into a page the file system could not back)"
            if proc.returncode == -7
            else ""
        )
        + f"\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


# Made while the file system had room: a region (which must keep working), and what a creator of
# an earlier version left when it died after sizing its file and before its first store (a page
# with no block).
PREPARE_REGIONS = """
from atomic_counter import SharedCounter
made_before = os.path.join(where, "made-before")
SharedCounter(made_before, 0, 0, durable=durable or None).next()
sparse = os.path.join(where, "sparse")
os.close(os.open(sparse, os.O_RDWR | os.O_CREAT, 0o600))
os.truncate(sparse, 4096)
"""

OPEN_ON_THE_FULL_FILE_SYSTEM = """
import errno
from atomic_counter import SharedCounter, SharedTimeCounter
def attempt(label, make):
    try:
        c = make()
        print(label, "opened", c.next())
    except OSError as exc:
        print(label, "OSError", errno.errorcode.get(exc.errno), exc)
    except ValueError as exc:
        print(label, "ValueError", exc)
kw = {"durable": True, "block": 10} if durable else {}
for _ in range(2):  # and again: a failed creator leaves nothing that breaks the next one
    attempt("counter", lambda: SharedCounter(os.path.join(where, "new-c"), 0, 0, **kw))
    attempt("timer", lambda: SharedTimeCounter(os.path.join(where, "new-t"), **kw))
print("left", sorted(n for n in os.listdir(target) if n.startswith("new")))
attempt("sparse", lambda: SharedCounter(os.path.join(where, "sparse")))
c = SharedCounter(os.path.join(where, "made-before"))
print("made-before", [c.next() for _ in range(30)][-1])
"""


def check_full_file_system(out: str, where_named: str) -> None:
    lines = out.splitlines()
    opens = [line for line in lines if line.startswith(("counter", "timer"))]
    assert len(opens) == 4
    for line in opens:
        assert " OSError ENOSPC " in line, line
        assert "no space left to back the region" in line and where_named in line, line
    assert "left []" in lines, "a failed creation left a name behind"
    sparse = next(line for line in lines if line.startswith("sparse"))
    # Allocated before it is read: ENOSPC here (with room it would be "not a region": all zero).
    assert " OSError ENOSPC " in sparse, sparse
    assert "made-before 31" in lines


@pytest.mark.parametrize("kind", ["shm", "path"])
def test_a_full_tmpfs_is_an_enospc_error_not_a_crash(tmp_path, kind):
    if kind == "shm":
        target, where, named = "/dev/shm", "", "'new-"  # shared-memory names
    else:
        target = str(tmp_path / "small")
        where, named = target, target + "/new-"
    setup = f"where, durable = {where!r}, False\n"
    prepare = setup + PREPARE_REGIONS
    if kind == "shm":
        prepare = setup + PREPARE_REGIONS.replace(
            'sparse = os.path.join(where, "sparse")', 'sparse = "/dev/shm/sparse"'
        )
    out = on_a_full_file_system(
        tmp_path, target, "tmpfs", prepare, setup + OPEN_ON_THE_FULL_FILE_SYSTEM
    )
    check_full_file_system(out.stdout, named)


def test_a_full_ext4_disk_is_an_enospc_error_for_durable_regions(tmp_path):
    target = str(tmp_path / "disk")
    setup = f"where, durable = {target!r}, True\n"
    out = on_a_full_file_system(
        tmp_path, target, "ext4", setup + PREPARE_REGIONS, setup + OPEN_ON_THE_FULL_FILE_SYSTEM
    )
    check_full_file_system(out.stdout, target + "/new-")


# -------------------------------------------------------------------------------------------
# Truncated, emptied or zeroed files are damage, never a new region.


def test_a_region_truncated_to_zero_is_refused_and_left_alone(shm_name, tmp_path):
    shm_path = Path(f"/dev/shm/{shm_name}")
    durable_path = tmp_path / "durable.ctr"
    holder = SharedCounter(shm_name, 0, 0)
    timer = SharedTimeCounter(shm_name + "-b")
    durable = SharedCounter(durable_path, 0, 0, durable=True, block=10)
    for c in (holder, timer, durable):
        c.next()
    for path, reopen in (
        (shm_path, lambda: SharedCounter(shm_name)),
        (Path(f"/dev/shm/{shm_name}-b"), lambda: SharedTimeCounter(shm_name + "-b")),
        (durable_path, lambda: SharedCounter(durable_path)),
    ):
        os.truncate(path, 0)  # `: > file` under live holders
        for _ in range(2):
            with pytest.raises(ValueError, match=r"empty \(0 bytes, expected 4096\).*untouched"):
                reopen()
        assert path.stat().st_size == 0, "the opener wrote into the emptied file"
        # Regrown as zeros (truncate -s 4096): still no region of ours.
        os.truncate(path, 4096)
        with pytest.raises(ValueError, match="not an atomic_counter region"):
            reopen()
        assert path.read_bytes() == bytes(4096)
    # The holders still map the files: they must not draw (SIGBUS past the end); close them.
    for c in (holder, timer, durable):
        c.close()


# -------------------------------------------------------------------------------------------
# unlink() ends the sequence for every holder.

HOLDER = """
import sys, time
from atomic_counter import SharedCounter, SharedTimeCounter
kind, name, progress = sys.argv[1:4]
c = SharedCounter(name, base=0, now=0) if kind == "counter" else SharedTimeCounter(name)
drawn = []
deadline = time.monotonic() + 10
outcome = "never refused"
while time.monotonic() < deadline:
    try:
        drawn.append(c.next())
    except FileNotFoundError as exc:
        outcome = "FileNotFoundError: " + str(exc)
        break
    if len(drawn) == 1000:
        open(progress, "w").close()
increasing = all(a < b for a, b in zip(drawn, drawn[1:]))
print(outcome)
print(len(drawn), drawn[0], drawn[-1], increasing)
"""


@pytest.mark.parametrize("kind", ["counter", "time"])
def test_unlink_ends_the_sequence_for_a_holder_drawing_meanwhile(shm_name, tmp_path, kind):
    progress = tmp_path / "progress"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, shm_name, str(progress)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not progress.exists():
        assert time.monotonic() < deadline and holder.poll() is None, "the holder never drew"
        time.sleep(0.01)
    # The README's example: `orders.unlink()`, then the name opened again as it was.
    if kind == "counter":
        SharedCounter(shm_name).unlink()
        again = SharedCounter(shm_name, base=0, now=0)
    else:
        SharedTimeCounter(shm_name).unlink()
        again = SharedTimeCounter(shm_name)
    new = [again.next() for _ in range(1000)]
    out, _ = holder.communicate(timeout=60)
    outcome, summary = out.splitlines()
    assert outcome.startswith("FileNotFoundError"), outcome  # before: the holder drew on, forked
    assert "was unlinked, which ended its sequence" in outcome
    count, first, last, increasing = summary.split()
    assert int(count) >= 1000 and increasing == "True"
    if kind == "counter":
        # Documented: a new region under the name starts from its own base and now.
        assert (int(first), int(last)) == (1, int(count)) and new == list(range(1, 1001))
    else:
        assert int(last) < min(new), "the old and new regions handed out the same ids"


def test_after_unlink_every_method_of_a_holder_refuses(shm_name, tmp_path):
    holders = [
        SharedCounter(shm_name, 0, 0),
        SharedTimeCounter(shm_name + "-b"),
        SharedCounter(tmp_path / "d.ctr", 0, 0, durable=True, block=5),
    ]
    for h in holders:
        h.next()
        type(h)(h.path).unlink()  # another object (or process) unlinks it
    for h in holders:
        for call in (h.next, lambda h=h: h.next_many(3), lambda h=h: h.advance_to(10)):
            with pytest.raises(FileNotFoundError, match="was unlinked"):
                call()
        if isinstance(h, SharedCounter):
            with pytest.raises(FileNotFoundError, match="was unlinked"):
                h.set(0)  # a store must not lift the end mark
            with pytest.raises(FileNotFoundError, match="was unlinked"):
                h.next()
        with pytest.raises(FileNotFoundError):
            h.unlink()  # the name is gone
    assert not os.path.exists(f"/dev/shm/{shm_name}")
    assert not (tmp_path / "d.ctr").exists()


def test_an_unlinker_that_died_before_removing_the_name_is_finished_by_the_next_opener(
    shm_name,
):
    first = SharedCounter(shm_name, 0, 0)
    first.next()
    # What an unlink() killed right after its first store leaves: state 3 ("ended"), the value
    # not yet marked, the name still there.
    path = Path(f"/dev/shm/{shm_name}")
    with open(path, "r+b") as f:
        f.seek(STATE_OFFSET)
        f.write((3).to_bytes(4, sys.byteorder))
    again = SharedCounter(shm_name, 0, 100)
    assert again.region_id != first.region_id
    assert again.next() == 101
    # The opener finished that unlink: the old region's holders no longer draw beside it.
    with pytest.raises(FileNotFoundError, match="was unlinked"):
        first.next()


# -------------------------------------------------------------------------------------------
# A creator stopped or killed mid-way leaves no name: nobody waits for it.

GATED_CREATOR = """
import sys
from atomic_counter import SharedCounter
c = SharedCounter(sys.argv[1], 0, 0, durable=True, block=10)  # msyncs before it names the file
print(c.next(), flush=True)
"""


def test_a_creator_stopped_before_publishing_holds_nobody_up(tmp_path, shim):
    path = tmp_path / "gated.ctr"
    gate = tmp_path / "gate"
    creator = subprocess.Popen(
        [sys.executable, "-c", GATED_CREATOR, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **preload(shim, AC_SHIM_MSYNC_GATE=str(gate))},
    )
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.started").exists():
        assert time.monotonic() < deadline and creator.poll() is None, "it never synced"
        time.sleep(0.01)
    # The creator has built its region and waits in its msync: the name does not exist yet.
    assert not path.exists(), "a region got its name before it was complete"
    started = time.monotonic()
    other = SharedCounter(path, 0, 0, durable=True, block=10)
    assert time.monotonic() - started < 1
    assert [other.next() for _ in range(3)] == [1, 2, 3]
    Path(f"{gate}.go").touch()
    value = creator.communicate(timeout=60)[0]
    assert creator.returncode == 0
    assert int(value) == 4  # it found the name taken and attached to that region
    assert sorted(os.listdir(tmp_path)) == ["gate.go", "gate.started", "gated.ctr"]


def test_a_creator_killed_before_publishing_leaves_nothing(tmp_path, shim):
    path = tmp_path / "killed.ctr"
    gate = tmp_path / "gate"
    creator = subprocess.Popen(
        [sys.executable, "-c", GATED_CREATOR, str(path)],
        env={**os.environ, **preload(shim, AC_SHIM_MSYNC_GATE=str(gate))},
    )
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.started").exists():
        assert time.monotonic() < deadline and creator.poll() is None, "it never synced"
        time.sleep(0.01)
    creator.kill()
    creator.wait()
    assert sorted(os.listdir(tmp_path)) == ["gate.started"]  # no name, no litter (O_TMPFILE)
    started = time.monotonic()
    assert SharedCounter(path, 0, 41, durable=True, block=10).next() == 42
    assert time.monotonic() - started < 1


# -------------------------------------------------------------------------------------------
# Durable regions lift past `reserved` only after a reboot; within a boot the page is the newest.


def test_fifty_opens_of_a_durable_region_cost_no_gap_and_no_lead(tmp_path):
    counter_path, timer_path = tmp_path / "c.ctr", tmp_path / "t.ctr"
    SharedCounter(counter_path, 0, 0, durable=True, block=1000).close()
    SharedTimeCounter(timer_path, durable=True, block=100_000).close()  # 0.1 s per block
    values, ids, leads = [], [], []
    for _ in range(50):
        with SharedCounter(counter_path) as c:
            values.append(c.next())
        with SharedTimeCounter(timer_path) as t:
            ids.append(t.next())
            leads.append(t.lead_us())
    assert values == list(range(1, 51)), "opens cost a SharedCounter a gap"  # before: 1001 apart
    assert ids == sorted(set(ids))
    assert max(leads) <= 100_000, f"ids ran {max(leads)} us ahead of the clock"  # before: 5 s
    # And from processes, as the 30 short-lived workers.
    out = run(
        """
        import sys
        from atomic_counter import SharedCounter, SharedTimeCounter
        c, t = SharedCounter(sys.argv[1]), SharedTimeCounter(sys.argv[2])
        print(c.next(), t.next(), t.lead_us())
        """,
        args=(str(counter_path), str(timer_path)),
    )
    value, _, lead = map(int, out.stdout.split())
    assert value == 51 and lead <= 100_000


def test_a_durable_file_restored_from_a_copy_within_a_boot_is_refused(tmp_path):
    path = tmp_path / "orders.ctr"
    with SharedCounter(path, 0, 0, durable=True, block=10) as c:
        [c.next() for _ in range(5)]
        shutil.copy(path, tmp_path / "backup")  # a backup, taken while it runs
        issued = [c.next() for _ in range(100)]
    os.replace(tmp_path / "backup", path)  # ... restored over it
    restored = path.read_bytes()
    with pytest.raises(ValueError, match=r"recorded in this boot by another file.*advance_to"):
        SharedCounter(path)
    assert path.read_bytes() == restored
    # The documented remedy: a new region, advanced above the last value issued.
    path.unlink()
    with SharedCounter(path, 0, 0, durable=True, block=10) as again:
        again.advance_to(issued[-1])
        assert again.next() == issued[-1] + 1


# -------------------------------------------------------------------------------------------
# A write-back error is final for the open that saw it.


def test_a_failed_msync_stops_every_later_draw_until_reopened(tmp_path, shim):
    out = run(
        """
        import os, sys
        from atomic_counter import SharedCounter
        path, trigger = sys.argv[1:3]
        c = SharedCounter(path, 0, 0, durable=True, block=10)
        drawn = [c.next() for _ in range(11)]  # the first msync'ed a mark of 11
        open(trigger, "w").close()  # the next msync fails with EIO, once
        page = open(path, "rb").read()
        persisted = int.from_bytes(page[200:208], sys.byteorder)
        outcomes = []
        for _ in range(3):
            try:
                drawn.append(c.next())
                outcomes.append("drew")
            except OSError as exc:
                outcomes.append(f"{exc.errno} {exc}")
        page = open(path, "rb").read()
        print(repr(outcomes))
        print(persisted, int.from_bytes(page[200:208], sys.byteorder), os.path.exists(trigger))
        again = SharedCounter(path)  # reopened: a new file description
        more = [again.next() for _ in range(30)]
        assert len(set(drawn + more)) == len(drawn + more) and more[0] > max(drawn)
        again.unlink()  # leaves no write-error mark behind
        print("reopened ok")
        """,
        args=(str(tmp_path / "d.ctr"), str(tmp_path / "eio")),
        env=preload(shim, AC_SHIM_MSYNC_EIO=str(tmp_path / "eio")),
    )
    outcomes_line, marks, reopened = out.stdout.splitlines()
    outcomes = eval(outcomes_line)
    assert len(outcomes) == 3
    assert all(o.startswith("5 ") for o in outcomes), outcomes  # EIO, every time (before: "drew")
    assert "msync failed" in outcomes[0] and "an earlier msync failed" in outcomes[1]
    assert "durability is lost for this open" in outcomes[2]
    before, after, trigger_left = marks.split()
    assert before == after, "persisted was raised for a failed msync"
    assert trigger_left == "False"  # the failure was reported once
    assert reopened == "reopened ok"


def test_without_o_tmpfile_a_temporary_name_is_published_and_never_left(tmp_path, shim):
    # NFS and old kernels have no O_TMPFILE: the region is built under `.<name>.<hex>.tmp`,
    # linked into place, and the temporary name removed; a creator that loses the race too.
    out = run(
        """
        import os, sys
        from atomic_counter import SharedCounter, SharedTimeCounter
        d = sys.argv[1]
        a = SharedCounter(d + "/a.ctr", 0, 0, durable=True, block=10)
        b = SharedCounter(d + "/a.ctr")
        t = SharedTimeCounter(d + "/t")
        print(a.next(), b.next(), sorted(os.listdir(d)))
        """,
        args=(str(tmp_path),),
        env=preload(shim, AC_SHIM_NO_TMPFILE="1"),
    )
    assert out.stdout.split("\n")[0] == "1 2 ['a.ctr', 't']"
    assert stat.S_IMODE((tmp_path / "a.ctr").stat().st_mode) == 0o600
    assert (tmp_path / "a.ctr").stat().st_nlink == 1


# ===========================================================================================
# Issue 21, second round: what an attacker found after the first (/work/attack21's findings).
# Each test failed on the code before these changes.


def wait_for_gate(gate: Path, proc: subprocess.Popen[str], *, or_exit: bool = False) -> bool:
    """Waits until a shimmed process reaches `gate` (True), or, with or_exit, until it exits
    without reaching it (False)."""
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.started").exists():
        if proc.poll() is not None:
            assert or_exit, f"exited before its gate: {proc.communicate()}"
            return False
        assert time.monotonic() < deadline, "never reached its gate"
        time.sleep(0.005)
    return True


# --- F1: an unlink() racing another unlink() and a creator removes no name it did not end.

UNLINKER = """
import sys
from atomic_counter import SharedTimeCounter
name, gate, closed = sys.argv[1:4]
c = SharedTimeCounter(name)
print("attached", flush=True)
if closed == "closed":
    c.close()  # unlink() then acts on the region its path names, if it is still this one
open(gate + ".arm", "w").close()  # its next open of the name pauses right after the open
try:
    c.unlink()
    print("unlinked")
except FileNotFoundError as exc:
    print("FileNotFoundError", exc)
"""


@pytest.mark.parametrize("closed", ["open", "closed"])
@pytest.mark.parametrize("where", ["shm", "file"])
def test_an_unlink_racing_another_unlink_and_a_creator_leaves_the_new_region_named(
    shm_name, tmp_path, shim, where, closed
):
    name = shm_name if where == "shm" else str(tmp_path / "race.ctr")
    path = f"/dev/shm/{shm_name}" if where == "shm" else name
    gate = tmp_path / "gate"
    first = SharedTimeCounter(name)  # R1
    unlinker = subprocess.Popen(
        [sys.executable, "-c", UNLINKER, name, str(gate), closed],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **preload(shim, AC_SHIM_OPEN_GATE=str(gate), AC_SHIM_OPEN_MATCH=Path(name).name),
        },
    )
    assert unlinker.stdout.readline().strip() == "attached"
    # U is inside its unlink(): paused right after opening the name (before: always; now only
    # once closed), or done (an open object ends its own page and never opens the name).
    wait_for_gate(gate, unlinker, or_exit=True)
    with contextlib.suppress(FileNotFoundError):
        first.unlink()  # A ends R1 and removes its name (unless U did)
    second = SharedTimeCounter(name)  # B creates R2 under the free name and draws
    assert second.region_id != first.region_id
    drawn = [second.next() for _ in range(100)]
    Path(f"{gate}.go").touch()
    out, _ = unlinker.communicate(timeout=60)
    assert unlinker.returncode == 0, out
    # R2 must still have the name: U ended R1 (or found it ended) and removes no other name.
    assert os.path.exists(path), f"U removed R2's name: {out}"  # before: U removed it
    again = SharedTimeCounter(name)
    assert again.region_id == second.region_id, "a third region beside the live second one"
    assert drawn[-1] < second.next() < again.next()


FORKED_UNLINKERS = """
import os, sys, time
from atomic_counter import SharedCounter
name, gate = sys.argv[1:3]
c = SharedCounter(name, 0, 0)
child = os.fork()
if child == 0:  # the child's copy shares the parent's descriptor of the region
    while not os.path.exists(gate + ".started"):
        time.sleep(0.001)
    try:
        c.unlink()
        print("child unlinked", flush=True)
    except (FileNotFoundError, ValueError) as exc:
        print("child", type(exc).__name__, flush=True)
    os._exit(0)
with open(gate + ".arm", "w") as f:
    f.write(str(os.getpid()))  # the parent pauses right before it removes the name
try:
    c.unlink()
    print("parent unlinked", flush=True)
except FileNotFoundError:
    print("parent FileNotFoundError", flush=True)
os.waitpid(child, 0)
"""


def test_a_forked_copy_unlinking_with_its_parent_never_removes_a_new_regions_name(
    shm_name, tmp_path, shim
):
    gate = tmp_path / "gate"
    proc = subprocess.Popen(
        [sys.executable, "-c", FORKED_UNLINKERS, shm_name, str(gate)],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **preload(shim, AC_SHIM_UNLINK_GATE=str(gate), AC_SHIM_OPEN_MATCH=shm_name),
        },
    )
    wait_for_gate(gate, proc)  # the parent has ended the region, checked its name, and paused
    time.sleep(0.5)  # the child's unlink meanwhile: blocked on the lock, or (before) done
    second = None
    if not os.path.exists(f"/dev/shm/{shm_name}"):  # before: the child removed the name
        second = SharedCounter(shm_name, 0, 100)  # ... and a new region took it
        second.next()
    Path(f"{gate}.go").touch()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "parent unlinked" in out and "child FileNotFoundError" in out, out
    if second is not None:
        assert os.path.exists(f"/dev/shm/{shm_name}"), "the parent removed the new region's name"
        assert SharedCounter(shm_name).region_id == second.region_id
    assert second is None, "the child removed the name while the parent held the lock"


def test_unlink_never_removes_a_symbolic_link(tmp_path):
    path = tmp_path / "orders.ctr"
    counter = SharedCounter(path, 0, 0)
    counter.close()
    other = SharedCounter(tmp_path / "other.ctr", 0, 0)
    path.unlink()
    path.symlink_to(tmp_path / "other.ctr")  # the name is a symbolic link now
    with pytest.raises(OSError, match="symbolic link") as info:
        counter.unlink()  # a closed object unlinks what its path names; before: the link went
    assert info.value.errno == 40  # ELOOP
    assert path.is_symlink()
    assert other.next() == 1


def test_a_closed_counter_unlinks_only_its_own_region(shm_name):
    first = SharedCounter(shm_name, 0, 0)
    first.close()
    SharedCounter(shm_name).unlink()  # another object ends it and removes the name
    second = SharedCounter(shm_name, 0, 100)  # a new region under the name
    with pytest.raises(FileNotFoundError, match="no longer holds the region"):
        first.unlink()  # before: ended the new region, by name
    assert second.next() == 101
    assert SharedCounter(shm_name).region_id == second.region_id


# --- F2: unlink() of a region that only looks damaged ends it for every holder.


def _extend(path: str) -> None:
    with open(path, "ab") as f:
        f.write(b"\n")  # `echo >> file`


def _stray_byte(path: str) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, b"\x01", 20)  # one byte of `base`: the checksum no longer matches
    finally:
        os.close(fd)


DAMAGES = {
    "extended": (_extend, ValueError, "wrong size"),
    "cut to 2048 bytes": (lambda path: os.truncate(path, 2048), ValueError, "truncated"),
    "a second hard link": (lambda path: os.link(path, path + ".link"), PermissionError, "links"),
    "a stray byte": (_stray_byte, ValueError, "checksum"),
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("where", ["shm", "file"])
def test_unlink_ends_a_damaged_region_for_every_holder(shm_name, tmp_path, where, damage):
    name = shm_name if where == "shm" else str(tmp_path / "damaged.ctr")
    path = f"/dev/shm/{shm_name}" if where == "shm" else name
    do, refusal, message = DAMAGES[damage]
    mine = SharedCounter(name, base=0, now=0)
    holder = SharedCounter(name)  # attached before the damage (its own mapping of the page)
    assert [mine.next(), holder.next()] == [1, 2]
    do(path)
    with pytest.raises(refusal, match=message):
        SharedCounter(name)  # new openers refuse it, as before
    assert holder.next() == 3  # the holders' page is whole: they draw on
    mine.unlink()
    for h in (mine, holder):  # before: both drew on from the nameless page
        with pytest.raises(FileNotFoundError, match="was unlinked"):
            h.next()
    assert not os.path.exists(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path + ".link")  # the other name: an ended region
    # The documented remedy now holds: a new region above the last value issued.
    again = SharedCounter(name, base=0, now=0)
    again.advance_to(3)
    assert again.next() == 4


# --- F3: a file cut short or zeroed under its holders ends their sequence, never restarts it.


def _regrow(path: str) -> None:
    os.truncate(path, 0)
    os.truncate(path, 4096)


def _rewrite_zeros(path: str) -> None:
    with open(path, "wb") as f:  # `head -c 4096 /dev/zero > file`: O_TRUNC, then zeros
        f.write(bytes(4096))


ZEROINGS = {
    "cut to 100 bytes": lambda path: os.truncate(path, 100),
    "cut to 128 bytes": lambda path: os.truncate(path, 128),
    "cut to 130 bytes": lambda path: os.truncate(path, 130),  # part of the value field left
    "emptied, regrown": _regrow,
    "rewritten as zeros": _rewrite_zeros,
}


@pytest.mark.parametrize("how", ZEROINGS)
@pytest.mark.parametrize("kind", ["counter", "time"])
def test_a_page_zeroed_under_its_holder_ends_its_sequence(shm_name, kind, how):
    path = f"/dev/shm/{shm_name}"
    # A value with high bytes set, so that a partly cut value field is cut for real.
    c = SharedCounter(shm_name, base=0, now=2**40 + 12345) if kind == "counter" else None
    c = c or SharedTimeCounter(shm_name)
    before = [c.next() for _ in range(5)]
    ZEROINGS[how](path)
    if kind == "time" and how == "cut to 130 bytes":
        # Two bytes of the field left: it reads as an id near 2^64 - 1 (the year 2112), which
        # the rule still serves: a jump past every id, never one handed out before.
        after = [c.next() for _ in range(3)]
        assert before[-1] < after[0] < after[1] < after[2]
        assert TimeCounter.to_datetime(after[0]).year == 2112
    else:
        for _ in range(3):  # before: 1, 2, 3 (a SharedCounter) or ids from the clock, again
            with pytest.raises(ValueError, match="zeroed under this holder"):
                c.next()
        assert c.current() > before[-1]
    if how == "cut to 128 bytes":
        os.truncate(path, 4096)  # regrown: the header whole, the value field zero
        zeroed = Path(path).read_bytes()
        with pytest.raises(ValueError, match="value is zero"):  # before: attached, 1, 2, 3
            type(c)(shm_name)
        assert Path(path).read_bytes() == zeroed
    c.close()


def test_a_durable_file_cut_short_under_its_holder_ends_its_sequence(tmp_path):
    path = tmp_path / "cut.ctr"
    c = SharedCounter(path, base=0, now=0, durable=True, block=10)
    before = [c.next() for _ in range(30)]
    os.truncate(path, 100)  # every write-back zeroes the page past the end of the file again
    for _ in range(30):  # before: 1, 1, 2, ... within the one process
        with pytest.raises(ValueError, match="zeroed under this holder"):
            c.next()
    assert c.current() > before[-1]


# --- F4, F5: a durable page is used only in the file that last opened it.


def in_a_private_ext4_mount(tmp_path: Path, body: str) -> str:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("mkfs.ext4") is None:
        pytest.skip("needs root, unshare and mkfs.ext4 to mount ext4 in a private namespace")
    image = tmp_path / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    target = tmp_path / "disk"
    target.mkdir()
    script = (
        "import os, subprocess, sys\n"
        "target, image = sys.argv[1:3]\n"
        "if subprocess.run(['mount', '-o', 'loop', image, target]).returncode != 0:\n"
        "    sys.exit(77)\n" + textwrap.dedent(body)
    )
    proc = subprocess.run(
        [
            *("unshare", "--mount", "--propagation", "private", sys.executable, "-c", script),
            *(str(target), str(image)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount ext4 in a private mount namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_a_copy_restored_under_the_recycled_inode_number_is_refused(tmp_path):
    out = in_a_private_ext4_mount(
        tmp_path,
        """
        import shutil
        from atomic_counter import SharedCounter
        path, backup = os.path.join(target, "orders.ctr"), os.path.join(target, "backup.ctr")
        with SharedCounter(path, base=0, now=0, durable=True, block=100) as c:
            [c.next() for _ in range(10)]
        shutil.copyfile(path, backup)  # a backup, made in this boot
        with SharedCounter(path) as c:
            issued = list(c.next_many(1000))
        inode = os.stat(path).st_ino
        os.unlink(path)  # restored: rm, then cp, which gets the freed inode back on ext4
        shutil.copyfile(backup, path)
        print("recycled", os.stat(path).st_ino == inode)
        try:
            SharedCounter(path)
            print("accepted")
        except ValueError as exc:
            print("refused", exc)
        """,
    )
    recycled, outcome = out.splitlines()
    assert recycled == "recycled True", "ext4 gave the copy another inode: nothing to test"
    assert outcome.startswith("refused"), outcome  # before: accepted, 1000 values again
    assert "recorded in this boot by another file" in outcome and "made at another time" in outcome


def test_a_backup_of_a_page_from_an_earlier_boot_restored_in_this_boot_is_refused(tmp_path):
    path, backup = tmp_path / "svc.ctr", tmp_path / "svc.ctr.bak"
    with SharedCounter(path, 0, 0, durable=True, block=100) as c:
        [c.next() for _ in range(5)]
    with open(path, "r+b") as f:  # in place, the same file: last opened in an earlier boot
        f.seek(BOOT_OFFSET)
        f.write(bytes(range(1, 17)))
    shutil.copy2(path, backup)  # a backup job at boot, before the service starts
    with SharedCounter(path) as c:  # the first open of this boot: lifts once, records it
        issued = list(c.next_many(1000))
    os.replace(backup, path)  # restored as another file (mv)
    with pytest.raises(ValueError, match=r"recorded by another file.*advance_to\(\)"):
        SharedCounter(path)  # before: taken for "after a reboot", 995 values again
    path.unlink()
    with SharedCounter(path, 0, 0, durable=True, block=100) as again:  # the remedy
        again.advance_to(issued[-1])
        assert again.next() == issued[-1] + 1


# --- F6: after a write error, a page read back older from the disk is lifted, not trusted.

AFTER_A_WRITE_ERROR = """
import os, sys
from atomic_counter import SharedCounter
path, trigger = sys.argv[1:3]
c = SharedCounter(path, 0, 0, durable=True, block=10)
drawn = [c.next()]  # msync'ed: reserved 11
on_disk = open(path, "rb").read()  # the page as that msync wrote it
drawn += [c.next() for _ in range(10)]  # 2..11, in memory only
open(trigger, "w").close()  # the next msync fails with EIO
try:
    c.next()
except OSError as exc:
    print("msync failed", exc.errno)
c.close()
# The kernel drops the clean page after the failed write-back; the next read gets the disk's.
with open(path, "r+b") as f:
    f.write(on_disk)
again = SharedCounter(path)  # the same boot, the same file
more = [again.next() for _ in range(5)]
print(max(drawn), min(more))
mark = "/dev/shm/atomic_counter." + again.region_id + ".eio"
print(os.path.exists(mark), end=" ")
again.unlink()  # ended: the mark goes with it
print(os.path.exists(mark))
"""


def test_after_a_failed_msync_the_page_read_back_from_the_disk_is_lifted(tmp_path, shim):
    out = run(
        AFTER_A_WRITE_ERROR,
        args=(str(tmp_path / "d.ctr"), str(tmp_path / "eio")),
        env=preload(shim, AC_SHIM_MSYNC_EIO=str(tmp_path / "eio")),
    )
    failed, values, marks = out.stdout.splitlines()
    assert failed == "msync failed 5"
    assert marks == "True False"  # marked for the boot, until the region was unlinked
    last_drawn, first_after = map(int, values.split())
    assert first_after > last_drawn, "values handed out before the failure were drawn again"


UNSEEN_WRITE_ERROR = """
import sys
from atomic_counter import SharedCounter
path, trigger = sys.argv[1:3]
with SharedCounter(path, 0, 0, durable=True, block=10) as c:
    drawn = [c.next()]
    on_disk = open(path, "rb").read()
    drawn += [c.next() for _ in range(5)]
# A write-back failed in the background (nobody's msync saw it) and the page was dropped.
with open(path, "r+b") as f:
    f.write(on_disk)
open(trigger, "w").close()  # the next fsync reports it: EIO
first = SharedCounter(path).next()
later = SharedCounter(path)  # a later open in the boot: the mark makes it lift too
print(max(drawn), first, later.next())
later.unlink()
"""


def test_a_write_error_an_open_finds_lifts_it_and_every_later_open(tmp_path, shim):
    out = run(
        UNSEEN_WRITE_ERROR,
        args=(str(tmp_path / "d.ctr"), str(tmp_path / "eio")),
        env=preload(shim, AC_SHIM_FSYNC_EIO=str(tmp_path / "eio")),
    )
    last_drawn, first, second = map(int, out.stdout.split())
    assert first > last_drawn, "the open trusted a page the disk gave back older"
    assert second > first


# --- F7: an open that races an unlink() opens the name again.

OPENER = """
import sys
from atomic_counter import SharedCounter
name, gate = sys.argv[1:3]
open(gate + ".arm", "w").close()
try:
    c = SharedCounter(name, 0, 100)
    print("opened", c.next())
except OSError as exc:
    print(type(exc).__name__, exc)
"""


def test_an_open_racing_an_unlink_opens_the_next_region(shm_name, tmp_path, shim):
    first = SharedCounter(shm_name, 0, 0)
    first.next()
    gate = tmp_path / "gate"
    opener = subprocess.Popen(
        [sys.executable, "-c", OPENER, shm_name, str(gate)],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **preload(shim, AC_SHIM_OPEN_GATE=str(gate), AC_SHIM_OPEN_MATCH=shm_name),
        },
    )
    wait_for_gate(gate, opener)  # it has opened the name: the region has one link
    first.unlink()  # ... and none now
    Path(f"{gate}.go").touch()
    out, _ = opener.communicate(timeout=60)
    assert out.strip() == "opened 101", out  # before: PermissionError, "0 hard links"


# --- F8: without O_TMPFILE, publication is one rename, or a link its openers finish.

PUBLISHER = """
import sys
from atomic_counter import SharedCounter
c = SharedCounter(sys.argv[1], 0, 0)
print(c.next(), flush=True)
"""


def test_without_o_tmpfile_a_region_is_renamed_into_place_in_one_step(tmp_path, shim):
    log = tmp_path / "links"
    run(
        PUBLISHER,
        args=(str(tmp_path / "a.ctr"),),
        env=preload(shim, AC_SHIM_NO_TMPFILE="1", AC_SHIM_LINK_LOG=str(log)),
    )
    assert not log.exists(), "published with link(): two names for a while"
    assert sorted(os.listdir(tmp_path)) == ["a.ctr"]
    assert (tmp_path / "a.ctr").stat().st_nlink == 1


def test_a_creator_stopped_or_killed_between_link_and_unlink_holds_nobody_up(tmp_path, shim):
    # Neither O_TMPFILE nor a no-replace rename (NFS): published by link, then unlink of the
    # temporary name. The creator stops in between (two links), then is killed there.
    directory = tmp_path / "d"
    directory.mkdir()
    path, gate = directory / "orders.ctr", tmp_path / "gate"
    creator = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(path)],
        env={
            **os.environ,
            **preload(
                shim, AC_SHIM_NO_TMPFILE="1", AC_SHIM_NO_RENAMEAT2="1", AC_SHIM_LINK_GATE=str(gate)
            ),
        },
    )
    try:
        wait_for_gate(gate, creator)
        assert path.stat().st_nlink == 2
        with SharedCounter(path) as other:  # before: PermissionError, "2 hard links"
            assert other.next() == 1
    finally:
        creator.kill()
        creator.wait()
    assert sorted(os.listdir(directory)) == ["orders.ctr"], "the temporary name was left"
    with SharedCounter(path) as later:
        assert later.next() == 2


# --- F9: unlink() acts on its own region, wherever the working directory is now.


def test_unlink_acts_on_its_own_region_after_a_chdir(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    mine = SharedCounter("./orders.ctr", 0, 0)
    monkeypatch.chdir(second)
    theirs = SharedCounter("./orders.ctr", 0, 100)  # another service's region
    mine.unlink()  # before: ended theirs (the name relative to the new working directory)
    with pytest.raises(FileNotFoundError, match="was unlinked"):
        mine.next()
    assert theirs.next() == 101
    assert not (first / "orders.ctr").exists() and (second / "orders.ctr").exists()


# --- F10: a region built long before it is published takes its start from the clock after.

STALE_CREATOR = """
import sys
from atomic_counter import SharedCounter
c = SharedCounter(sys.argv[1])  # default base and now: the start is the clock's
print(c.region_id, c.next(), flush=True)
"""


def test_a_creator_stopped_before_publishing_starts_above_a_region_made_meanwhile(
    shm_name, tmp_path, shim
):
    gate = tmp_path / "gate"
    creator = subprocess.Popen(
        [sys.executable, "-c", STALE_CREATOR, shm_name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **preload(shim, AC_SHIM_LINKAT_GATE=str(gate))},
    )
    wait_for_gate(gate, creator)  # built from the clock, not yet published
    first = SharedCounter(shm_name)  # the next opener creates a region, later, and draws
    drawn = [first.next() for _ in range(1000)]
    first.unlink()
    Path(f"{gate}.go").touch()  # the stopped creator wakes up and finds the name free
    out, _ = creator.communicate(timeout=60)
    region, value = out.split()
    assert region != first.region_id  # its own region, published after the first one's end
    assert int(value) > max(drawn), "the stale region handed out the first region's values"


# --- F11: an overlay whose upper layer is in RAM is no place for a durable region.


def test_durable_on_an_overlay_over_tmpfs_is_refused(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount an overlay in a private namespace")
    script = """
import os, subprocess, sys
from atomic_counter import SharedCounter
root = sys.argv[1]
for upper_on in ("tmpfs", "disk"):
    base = os.path.join(root, upper_on)
    os.makedirs(base)
    if upper_on == "tmpfs" and subprocess.run(["mount", "-t", "tmpfs", "tmpfs", base]).returncode:
        sys.exit(77)
    for d in ("lower", "upper", "work", "merged"):
        os.makedirs(os.path.join(base, d))
    options = "lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work".format(base)
    merged = os.path.join(base, "merged")
    if subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, merged]).returncode:
        sys.exit(77)
    try:
        SharedCounter(os.path.join(merged, "c.ctr"), durable=True).next()
        print(upper_on, "accepted")
    except ValueError as exc:
        print(upper_on, "refused", exc)
"""
    proc = subprocess.run(
        [
            *("unshare", "--mount", "--propagation", "private", sys.executable, "-c", script),
            str(tmp_path / "layers"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount an overlay in a private namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    on_tmpfs, on_disk = proc.stdout.splitlines()
    assert on_tmpfs.startswith("tmpfs refused"), on_tmpfs  # before: accepted
    assert "an overlay whose upper layer" in on_tmpfs and "is on tmpfs" in on_tmpfs
    assert on_disk == "disk accepted"

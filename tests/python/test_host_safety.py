"""Host safety (issue 11): the shared and in-process counters under misuse, other local users,
fork and damage. Each section is one hole the issue found; every test here failed on 0.2.

Tests that need a second user run a real one (`nobody`, uid 65534) and skip when the suite does
not run as root; tests that need a slow or gated msync use tests/python/support/shims/region_shim.c
through LD_PRELOAD; the far-future tests use libfaketime.
"""

from __future__ import annotations

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
VALUE_OFFSET, RESERVED_OFFSET, PERSISTED_OFFSET = 128, 192, 200


@pytest.fixture
def shm_name():
    name = f"ac-host-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    for path in (f"/dev/shm/{name}", f"/dev/shm/{name}-b"):
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
    # The drawer attached after set() reserved up to 110, so it started above that (a durable
    # region's gap of one block per open) and drew past 100.
    assert min(drawn) > 100
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
    data[VALUE_OFFSET : VALUE_OFFSET + 8] = (0).to_bytes(8, sys.byteorder)  # the value lost
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


HOLDS_THE_CREATION_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
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
    path = tmp_path / "orphan"
    page = bytearray(4096)
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
        SharedCounter(sys.argv[1] + "/a.ctr").next()  # attaching: nothing to sync
        SharedTimeCounter(sys.argv[1] + "/plain")  # not durable: nothing to sync
    """,
        args=(str(tmp_path),),
        env=preload(shim, AC_SHIM_FSYNC_LOG=str(log)),
    )
    assert log.read_text().splitlines() == [str(tmp_path)]


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

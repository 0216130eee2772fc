"""SegmentCounter (issue 15): dense sequences shared by a fleet, from blocks reserved in PostgreSQL
or Redis, against real servers the tests start. Processes draw into files (segment_holder.py);
every test checks that no value appears twice and that each process's values increase."""

from __future__ import annotations

import array
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import linux_only, needs_redis_server
from redis_server import Proxy, RedisServer

from atomic_counter import SegmentCounter, SegmentRefusedError

pytestmark = linux_only
HOLDER = Path(__file__).with_name("segment_holder.py")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    pytest.importorskip("redis")
    if needs_redis_server.args[0]:
        pytest.skip("redis-server is not installed (tools/test.sh installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))  # AOF, fsync always
    server.start()
    yield server
    server.kill()


@pytest.fixture(params=["postgres", "redis"])
def store(request):
    """A URL of either engine; both must pass every test that takes this fixture."""
    server = request.getfixturevalue("pg" if request.param == "postgres" else "redis")
    return server


@pytest.fixture
def name():
    return f"s-{uuid.uuid4().hex[:8]}"


class Drawer:
    """A segment_holder.py process."""

    def __init__(self, url: str, name: str, out: Path, **options: object) -> None:
        self.out = out
        args = [sys.executable, str(HOLDER), url, name, str(out)]
        for key, value in options.items():
            args += [f"--{key}", str(value)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            raise AssertionError(f"holder did not start: {line}\n{self.process.stderr.read()}")

    def finish(self, timeout: float = 120) -> dict[str, object]:
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def values(self) -> list[int]:
        data = array.array("q")
        data.frombytes(self.out.read_bytes())
        return data.tolist()


def check_runs(runs: list[list[int]]) -> int:
    """No value twice across the runs, and each run strictly increasing. Returns the count."""
    for run in runs:
        assert all(a < b for a, b in itertools.pairwise(run)), "a process's values went back"
    every = [v for run in runs for v in run]
    assert len(set(every)) == len(every), f"{len(every) - len(set(every))} values repeated"
    return len(every)


# -------------------------------------------------------------------------------------------
# One process.


def test_values_are_dense_and_a_closed_counter_gives_its_tail_back(store, name):
    with SegmentCounter(store.url, name, block=100) as counter:
        assert [counter.next() for _ in range(250)] == list(range(1, 251))
        assert counter.stats()["blocks"] >= 5
    # Nobody reserved after it: the next counter starts where this one stopped.
    with SegmentCounter(store.url, name, block=100) as counter:
        assert counter.next() == 251
        assert next(counter) == 252  # an endless iterator, as the other counters
        assert list(itertools.islice(counter, 3)) == [253, 254, 255]
    with pytest.raises(ValueError, match="closed"):
        counter.next()


def test_the_first_user_sets_the_start(store, name):
    with SegmentCounter(store.url, name, block=10, start=1_000_000) as counter:
        assert counter.next() == 1_000_000
    with SegmentCounter(store.url, name, block=10, start=5) as counter:
        assert counter.next() == 1_000_001  # the stored sequence wins over a later start


def test_a_tail_is_not_given_back_over_a_later_reservation(store, name):
    a = SegmentCounter(store.url, name, block=10)
    b = SegmentCounter(store.url, name, block=10)
    drawn = [a.next(), b.next()]
    a.close()  # b reserved after a: a's tail stays a gap
    c = SegmentCounter(store.url, name, block=10)
    drawn += [b.next() for _ in range(20)] + [c.next() for _ in range(20)]
    b.close()
    c.close()
    check_runs([sorted(drawn)])
    assert min(drawn) == 1


def test_threads_share_one_counter(store, name):
    counter = SegmentCounter(store.url, name, block=64)
    runs: list[list[int]] = [[] for _ in range(4)]

    def draw(run: list[int]) -> None:
        for _ in range(20_000):
            run.append(counter.next())

    threads = [threading.Thread(target=draw, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counter.close()
    assert check_runs(runs) == 80_000
    every = sorted(v for run in runs for v in run)
    assert every[-1] - every[0] + 1 - len(every) <= 64  # dense, but for what was in flight


# -------------------------------------------------------------------------------------------
# Many processes, and processes that die.


def test_eight_processes_draw_100k_each_without_a_repeat(store, name, tmp_path):
    drawers = [
        Drawer(store.url, name, tmp_path / f"{i}.bin", block=1000, count=100_000) for i in range(8)
    ]
    for d in drawers:
        d.finish()
    runs = [d.values() for d in drawers]
    assert check_runs(runs) == 800_000
    every = sorted(v for run in runs for v in run)
    # Each process leaves at most one block unused.
    assert every[-1] - every[0] + 1 - len(every) <= 8 * 1000


def test_a_process_killed_mid_block_leaves_a_gap_not_a_repeat(store, name, tmp_path):
    a = Drawer(store.url, name, tmp_path / "a.bin", block=1000, rate=20_000)
    time.sleep(1.0)
    a.kill()  # mid-block: its unused values are lost, never handed out again
    b = Drawer(store.url, name, tmp_path / "b.bin", block=1000, count=20_000)
    b.finish()
    runs = [a.values(), b.values()]
    check_runs(runs)
    assert len(runs[0]) > 1000
    gap = min(runs[1]) - max(runs[0]) - 1
    assert 0 <= gap <= 1000, gap


def test_a_fork_child_refuses_and_gives_nothing_back(store, name):
    counter = SegmentCounter(store.url, name, block=100)
    first = counter.next()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            counter.next()
        except RuntimeError as exc:
            code = 0 if "fork()" in str(exc) else 2
        counter.close()  # must not give the parent's blocks back
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    rest = [counter.next() for _ in range(200)]
    other = SegmentCounter(store.url, name, block=100)
    theirs = [other.next() for _ in range(200)]
    counter.close()
    other.close()
    check_runs([[first, *rest], theirs])
    assert not set(rest) & set(theirs)


# -------------------------------------------------------------------------------------------
# The server fails.


def draw_through(url: str, name: str, tmp_path: Path, outage) -> None:
    """Three processes draw 5,000 values a second each while `outage` runs; every value must be
    unique and each process's increasing, and the processes must have seen the outage."""
    drawers = [
        Drawer(url, name, tmp_path / f"{i}.bin", block=200, rate=5_000, timeout=60)
        for i in range(3)
    ]
    time.sleep(1.0)
    outage()
    time.sleep(1.5)
    for d in drawers:
        d.process.send_signal(signal.SIGTERM)
    stats = [d.finish() for d in drawers]
    assert check_runs([d.values() for d in drawers]) > 3 * 5_000
    assert any(s["retries"] for s in stats), stats  # the outage was seen


def test_postgres_restarted_and_killed_mid_run(pg, name, tmp_path):
    def outage() -> None:
        pg.restart()  # a fast shutdown
        time.sleep(1.0)
        pg.kill()  # kill -9: committed reservations survive crash recovery
        pg.start()

    draw_through(pg.url, name, tmp_path, outage)


def test_redis_killed_mid_run_with_appendfsync_always(redis, name, tmp_path):
    def outage() -> None:
        redis.kill()
        time.sleep(0.3)
        redis.start()  # the AOF replays every acknowledged INCRBY

    draw_through(redis.url, name, tmp_path, outage)


def test_close_returns_while_the_store_hangs(redis, name):
    counter = SegmentCounter(redis.url, name, block=2)  # a reservation for every value
    counter.next()
    time.sleep(0.3)  # the spare arrives
    redis.pause()
    try:
        counter.next()  # starts on the spare: the next reservation hangs on the paused server
        started = time.monotonic()
        counter.close()
        assert time.monotonic() - started < 10, "close() waited out the 30 s timeout"
    finally:
        redis.resume()
    with pytest.raises(ValueError, match="closed"):
        counter.next()


def test_a_slow_database_does_not_slow_next(pg, name, tmp_path):
    """40 ms each way between the counter and PostgreSQL (a reservation takes about half a
    second): with blocks that last longer than that, no next() call waits; with blocks that do
    not, they do (the check can fail)."""
    proxy = Proxy(pg.port, delay=0.04)
    url = f"postgresql://app@127.0.0.1:{proxy.port}/postgres"
    try:
        ample = Drawer(url, name, tmp_path / "a.bin", block=20_000, rate=10_000, seconds=4)
        starved = Drawer(url, name + "-b", tmp_path / "b.bin", block=100, rate=10_000, seconds=4)
        ample_stats, starved_stats = ample.finish(), starved.finish()
    finally:
        proxy.close()
    assert ample_stats["blocks"] >= 3  # it reserved while drawing...
    assert ample_stats["stalls"] == 0, ample_stats  # ...and never made next() wait
    assert starved_stats["stalls"] > 10, starved_stats
    check_runs([ample.values()])
    check_runs([starved.values()])


def test_a_failover_that_may_have_lost_reservations_is_refused(name):
    pytest.importorskip("psycopg")
    from postgres_server import PostgresServer, server_bin

    if server_bin() is None:
        pytest.skip("PostgreSQL is not installed (tools/test.sh installs it)")
    primary = PostgresServer()
    primary.start()
    standby = PostgresServer(replica_of=primary)
    standby.start()
    proxy = Proxy(primary.port)
    url = f"postgresql://app@127.0.0.1:{proxy.port}/postgres"
    try:
        with SegmentCounter(url, name, block=100) as counter:
            counter.next()
        standby.wait_caught_up(primary)
        standby.stop()  # from now on it misses every reservation
        counter = SegmentCounter(url, name, block=100)
        before = [counter.next() for _ in range(500)]
        primary.kill()
        standby.start()
        standby.promote()  # a new timeline, without the reservations of `before`
        proxy.switch(standby.port)
        with pytest.raises(SegmentRefusedError, match="another timeline"):
            SegmentCounter(url, name, block=100, timeout=5)
        # The old counter runs out of blocks and is refused too, never handed a repeat.
        with pytest.raises(SegmentRefusedError):
            for _ in range(1000):
                before.append(counter.next())
        counter.close()
        # An operator moves the sequence past what may have been lost.
        SegmentCounter.skip_ahead(url, name, by=10_000)
        with SegmentCounter(url, name, block=100) as after:
            later = [after.next() for _ in range(500)]
        check_runs([before, later])
        assert min(later) > max(before)
        # With trust_failover the refusal is waived (synchronous replication's case).
        standby.sql("UPDATE atomic_counter_segments SET incarnation = 'elsewhere'")
        with SegmentCounter(url, name, block=100, trust_failover=True) as trusting:
            assert trusting.next() > max(later)
    finally:
        proxy.close()
        standby.remove()
        primary.remove()


# -------------------------------------------------------------------------------------------
# Clear errors.


def test_bad_arguments_name_the_argument(pg, name):
    with pytest.raises(ValueError, match="'store' must be a postgresql:// or redis:// URL"):
        SegmentCounter("mysql://localhost/x", name)
    with pytest.raises(TypeError, match="'store' must be a postgresql:// or redis:// URL"):
        SegmentCounter(42, name)
    with pytest.raises(ValueError, match=r"'block' must be in \[2, "):
        SegmentCounter(pg.url, name, block=1)
    with pytest.raises(TypeError, match="'block' must be an int"):
        SegmentCounter(pg.url, name, block=10.0)
    with pytest.raises(ValueError, match="'start' must be in"):
        SegmentCounter(pg.url, name, start=-1)
    with pytest.raises(ValueError, match="'name' must be 1 to 200"):
        SegmentCounter(pg.url, "")
    with pytest.raises(ValueError, match="'timeout' must be in"):
        SegmentCounter(pg.url, name, timeout=0)


def test_an_unreachable_server_times_out_with_the_last_error(name):
    pytest.importorskip("psycopg")
    from redis_server import free_port

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not reserve a block within 1 s"):
        SegmentCounter(f"postgresql://app@127.0.0.1:{free_port()}/postgres", name, timeout=1)
    assert time.monotonic() - started < 10


def test_a_role_without_privileges_is_refused(pg, name):
    url = pg.new_role(owns_database=False)
    with pytest.raises(SegmentRefusedError, match="the role needs CREATE on the schema"):
        SegmentCounter(url, name, timeout=5)


def test_a_role_that_owns_its_database_needs_nothing_more(pg, name):
    with SegmentCounter(pg.new_role(owns_database=True), name) as counter:
        assert counter.next() == 1


def test_the_missing_extra_is_named(run_python):
    out = run_python(
        """
        import sys
        sys.modules["psycopg"] = None  # as if atomic-counter[postgres] was not installed
        sys.modules["redis"] = None
        from atomic_counter import SegmentCounter
        for url in ("postgresql://localhost/x", "redis://localhost"):
            try:
                SegmentCounter(url, "n")
            except ImportError as exc:
                print(exc)
        """
    )
    assert "pip install atomic-counter[postgres]" in out
    assert "pip install atomic-counter[redis]" in out


def test_a_redis_that_can_forget_is_refused(tmp_path, name):
    pytest.importorskip("redis")
    if needs_redis_server.args[0]:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "volatile", persistence="none")
    server.start()
    try:
        with pytest.raises(SegmentRefusedError, match="appendonly no"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("appendonly", "yes")
        server.client().config_set("appendfsync", "everysec")
        with pytest.raises(SegmentRefusedError, match="appendfsync everysec"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("appendfsync", "always")
        server.client().config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(SegmentRefusedError, match="may evict"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("maxmemory-policy", "noeviction")
        with SegmentCounter(server.url, name, timeout=5) as counter:
            assert counter.next() == 1
        server.client().set(f"atomic_counter:segment:{name}-x", "not a number")
        with pytest.raises(SegmentRefusedError, match="holds something other"):
            SegmentCounter(server.url, name + "-x", timeout=5)
    finally:
        server.kill()


def test_values_near_the_top_are_exact_and_the_end_raises_overflow(store, name):
    top = 2**63 - 1
    with SegmentCounter(store.url, name, block=10, start=top - 2**40) as counter:
        assert counter.next() == top - 2**40  # exact: not through a double (Redis's Lua)
    SegmentCounter.skip_ahead(store.url, name, by=2**40 - 12)
    counter = SegmentCounter(store.url, name, block=10, timeout=5)
    drawn = []
    with pytest.raises(OverflowError, match="used up"):
        for _ in range(20):
            drawn.append(counter.next())
    counter.close()
    assert drawn == list(range(top - 11, top - 1))  # two blocks of 5, then no room for one

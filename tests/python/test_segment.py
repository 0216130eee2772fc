"""SegmentCounter (issue 15): dense sequences shared by a fleet, from blocks reserved in PostgreSQL
or Redis, against real servers the tests start. Processes draw into files (segment_holder.py);
every test checks that no value appears twice and that each process's values increase."""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest
from conftest import linux_only
from segment_harness import Drawer, check_runs

from atomic_counter import SegmentCounter, SegmentRefusedError

pytestmark = linux_only


@pytest.fixture(params=["postgres", "redis"])
def store(request):
    """A URL of either engine; both must pass every test that takes this fixture."""
    server = request.getfixturevalue("pg" if request.param == "postgres" else "aof_redis")
    return server


# -------------------------------------------------------------------------------------------
# One process.


def test_values_are_dense_and_a_closed_counter_gives_its_tail_back(store, name):
    SegmentCounter.create(store.url, name)
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


def test_create_sets_the_start_once(store, name):
    SegmentCounter.create(store.url, name, start=1_000_000)
    with SegmentCounter(store.url, name, block=10) as counter:
        assert counter.next() == 1_000_000
    with pytest.raises(
        ValueError, match=rf"a sequence named '{name}' exists \(next value 1000001\)"
    ):
        SegmentCounter.create(store.url, name, start=5)  # the stored sequence stays
    with SegmentCounter(store.url, name, block=10) as counter:
        assert counter.next() == 1_000_001  # the tail came back: nobody reserved after it


def test_a_sequence_never_created_is_refused(store, name):
    with pytest.raises(SegmentRefusedError, match="no such sequence") as refused:
        SegmentCounter(store.url, name, block=10, timeout=5)
    assert f"SegmentCounter.create(store, '{name}', start=last + 1)" in str(refused.value)


def test_a_tail_is_not_given_back_over_a_later_reservation(store, name):
    SegmentCounter.create(store.url, name)
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
    SegmentCounter.create(store.url, name)
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
    SegmentCounter.create(store.url, name)
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
    SegmentCounter.create(store.url, name)
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
    SegmentCounter.create(store.url, name)
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
    with pytest.raises(ValueError, match=r"SegmentCounter.create\(\) argument 'start' must be in"):
        SegmentCounter.create(pg.url, name, start=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'start'"):
        SegmentCounter(pg.url, name, start=1)  # creating is create()'s alone
    with pytest.raises(ValueError, match=r"skip_ahead\(\) argument 'to' must be in"):
        SegmentCounter.skip_ahead(pg.url, name, to=-1)
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


def test_values_near_the_top_are_exact_and_the_end_raises_overflow(store, name):
    top = 2**63 - 1
    SegmentCounter.create(store.url, name, start=top - 2**40)
    with SegmentCounter(store.url, name, block=10) as counter:
        assert counter.next() == top - 2**40  # exact: not through a double (Redis's Lua)
    SegmentCounter.skip_ahead(store.url, name, by=2**40 - 12)
    counter = SegmentCounter(store.url, name, block=10, timeout=5)
    drawn = []
    with pytest.raises(OverflowError, match="used up"):
        for _ in range(20):
            drawn.append(counter.next())
    counter.close()
    assert drawn == list(range(top - 11, top - 1))  # two blocks of 5, then no room for one


def test_anext_never_blocks_the_event_loop(aof_redis, name):
    """With no value at hand (here: a reservation for every other value, and the store paused)
    anext() waits in a worker thread: another task keeps running meanwhile."""
    import asyncio

    SegmentCounter.create(aof_redis.url, name)
    counter = SegmentCounter(aof_redis.url, name, block=2, timeout=10)

    async def main() -> tuple[list[int], int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        drawn = [await counter.anext() for _ in range(4)]
        aof_redis.pause()
        asyncio.get_running_loop().call_later(0.5, aof_redis.resume)
        before = ticks
        drawn += [await counter.anext() for _ in range(4)]  # waits for the store
        waited_ticks = ticks - before
        async for value in counter:
            drawn.append(value)
            if len(drawn) == 12:
                break
        ticker.cancel()
        return drawn, waited_ticks

    try:
        drawn, waited_ticks = asyncio.run(main())
    finally:
        aof_redis.resume()
        counter.close()
    assert drawn == list(range(1, 13))
    assert waited_ticks >= 20, waited_ticks  # the loop ran all through the half-second wait


def test_sqlalchemy_style_urls_are_accepted(pg, name):
    url = pg.url_for("postgres", "psycopg")  # postgresql+psycopg://..., as in Django settings
    SegmentCounter.create(url, name)
    with SegmentCounter(url, name, block=10) as counter:
        assert counter.next() == 1

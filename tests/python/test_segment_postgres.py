"""SegmentCounter on PostgreSQL: the server restarted and killed mid-run, a slow database, a
failover that may have lost reservations, roles and privileges. The behaviour every store shares
is in test_segment.py."""

from __future__ import annotations

import time

import pytest
from conftest import linux_only
from redis_server import Proxy
from segment_harness import Drawer, check_runs, draw_through, draw_until_refused, try_draw

from atomic_counter import SegmentCounter, SegmentRefusedError

pytestmark = linux_only


def test_postgres_restarted_and_killed_mid_run(pg, name, tmp_path):
    def outage() -> None:
        pg.restart()  # a fast shutdown
        time.sleep(1.0)
        pg.kill()  # kill -9: committed reservations survive crash recovery
        pg.start()

    draw_through(pg.url, name, tmp_path, outage)


def test_a_slow_database_does_not_slow_next(pg, name, tmp_path):
    """40 ms each way between the counter and PostgreSQL (a reservation takes about half a
    second): with blocks that last longer than that, no next() call waits; with blocks that do
    not, they do (the check can fail)."""
    proxy = Proxy(pg.port, delay=0.04)
    url = f"postgresql://app@127.0.0.1:{proxy.port}/postgres"
    try:
        SegmentCounter.create(pg.url, name)
        SegmentCounter.create(pg.url, name + "-b")
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
        SegmentCounter.create(url, name)
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
        standby.sql(
            "UPDATE atomic_counter_segments SET incarnation = 'elsewhere', "
            "stamp = mod(txid_current(), 4294967296)"  # as if we had written it on that timeline
        )
        with SegmentCounter(url, name, block=100, trust_failover=True) as trusting:
            assert trusting.next() > max(later)
    finally:
        proxy.close()
        standby.remove()
        primary.remove()


def test_a_role_without_privileges_is_refused(pg, name):
    url = pg.new_role(owns_database=False)
    with pytest.raises(SegmentRefusedError, match="the role needs CREATE on the schema"):
        SegmentCounter(url, name, timeout=5)


def test_a_role_that_owns_its_database_needs_nothing_more(pg, name):
    url = pg.new_role(owns_database=True)
    SegmentCounter.create(url, name)
    with SegmentCounter(url, name) as counter:
        assert counter.next() == 1


# -------------------------------------------------------------------------------------------
# Issue 20: a row that vanishes or comes back from a dump, settings changed at run time.


@pytest.mark.parametrize("loss", ["delete", "truncate"])
def test_a_lost_row_is_refused_never_restarted_at_its_start(pg, name, loss):
    SegmentCounter.create(pg.url, name)
    live = SegmentCounter(pg.url, name, block=10, timeout=5)
    drawn = [live.next() for _ in range(25)]
    if loss == "delete":
        pg.sql("DELETE FROM atomic_counter_segments WHERE name = %s", (name,))
    else:
        pg.sql("TRUNCATE atomic_counter_segments")
    more, refused = draw_until_refused(live)
    newcomer, refused_new = try_draw(pg.url, name, 50)
    live.close()
    check_runs([drawn + more, newcomer])
    for exc in (refused, refused_new):
        assert exc is not None and "no such sequence" in str(exc), exc


def test_a_logical_restore_of_the_segment_table_under_live_counters(pg, name):
    """Last night's dump restored into the same server (same system identifier, same
    timeline): the row's writer is not this package any more, so live and new counters refuse
    until the operator moves the sequence above the last value handed out."""
    SegmentCounter.create(pg.url, name)
    live = SegmentCounter(pg.url, name, block=10, timeout=5)
    drawn = [live.next() for _ in range(12)]
    dumped = pg.dump("atomic_counter_segments")
    drawn += [live.next() for _ in range(30)]  # reserved after the dump
    pg.restore(dumped)
    more, refused = draw_until_refused(live)
    newcomer, refused_new = try_draw(pg.url, name, 50)
    live.close()
    check_runs([drawn + more, newcomer])
    for exc in (refused, refused_new):
        assert exc is not None and "written by something other" in str(exc), exc
    last = max(drawn + more)
    assert SegmentCounter.skip_ahead(pg.url, name, to=last + 1) == last + 1
    with SegmentCounter(pg.url, name, block=10) as after:
        assert after.next() == last + 1


def test_fsync_turned_off_at_run_time_stops_the_next_reservation(pg, name):
    SegmentCounter.create(pg.url, name)
    counter = SegmentCounter(pg.url, name, block=10, timeout=5)
    drawn = [counter.next() for _ in range(12)]
    pg.sql("ALTER SYSTEM SET fsync = off")
    pg.sql("SELECT pg_reload_conf()")
    try:
        more, refused = draw_until_refused(counter, 100_000)
    finally:
        pg.sql("ALTER SYSTEM RESET fsync")
        pg.sql("SELECT pg_reload_conf()")
    counter.close()
    assert refused is not None and "fsync = off" in str(refused), refused
    check_runs([drawn + more])


def test_a_database_copied_back_into_place_is_refused(pg, name):
    """CREATE DATABASE ... TEMPLATE keeps the system identifier and the timeline, and the
    rows' stamps; a copy renamed back into place has a new oid, which the incarnation names."""
    import psycopg

    def admin(statement: str) -> None:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(statement)

    admin("CREATE DATABASE shop")
    url = pg.url_for("shop")
    SegmentCounter.create(url, name)
    with SegmentCounter(url, name, block=10) as counter:
        drawn = [counter.next() for _ in range(12)]
    admin("CREATE DATABASE shop_copy TEMPLATE shop")  # a snapshot of the database
    with SegmentCounter(url, name, block=10) as counter:
        drawn += [counter.next() for _ in range(30)]  # reserved after the snapshot
    admin("ALTER DATABASE shop RENAME TO shop_old")
    admin("ALTER DATABASE shop_copy RENAME TO shop")  # the snapshot put back into place
    newcomer, refused = try_draw(url, name, 50)
    check_runs([drawn, newcomer])
    assert refused is not None and "another timeline" in str(refused), refused


CLOSE_WHILE_PAUSED = """
import faulthandler, sys, threading, time
faulthandler.enable()
sys.path.insert(0, sys.argv[1])
from postgres_server import PostgresServer
from atomic_counter import SegmentCounter, StoreUnavailableError

pg = PostgresServer()
pg.start()
try:
    SegmentCounter.create(pg.url, "orders")
    c = SegmentCounter(pg.url, "orders", block=10, timeout=3)
    for _ in range(5):
        c.next()
    pg.pause()  # the counter's thread is soon stuck in a reservation nobody answers
    try:
        for _ in range(100):
            c.next()
    except StoreUnavailableError:
        pass
    time.sleep(5)
    assert c._engine.thread.is_alive()
    c.close()  # returns (bounded) while its thread still waits on the connection
    try:  # the application tries again meanwhile
        SegmentCounter(pg.url, "orders", block=10, timeout=3)
    except StoreUnavailableError:
        pass
    pg.resume()  # the thread's call goes on, on the connection close() left to it
    pg.kill()
    time.sleep(2)
finally:
    if pg.process is not None:
        pg.resume()
        pg.kill()
    pg.remove()
print("survived")
"""


def test_closing_a_counter_whose_store_does_not_answer_never_crashes(tmp_path):
    """close() while the counter's thread is in a call on its psycopg connection (the server
    paused): closing the connection under that call crashed the process (SIGSEGV in psycopg).
    The connection's socket is shut down instead, and the thread drops it."""
    import subprocess
    import sys
    from pathlib import Path

    support = Path(__file__).resolve().parent / "support"
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_PAUSED, str(support)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "survived", proc.stderr[-3000:]


def test_a_session_search_path_changed_later_never_moves_the_table(pg, name):
    """A session's search_path changed after the counter started (another client of a
    transaction-pooling PgBouncer, or the caller's SET on the connection it handed in) named
    another schema's atomic_counter_segments, whose row of the same name handed out values the
    public one had handed out already. Every transaction pins the first one's search_path."""
    psycopg = pytest.importorskip("psycopg")
    SegmentCounter.create(pg.url, name)
    tenant = f"tenant_{name.replace('-', '_')}"
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {tenant}")
        admin.execute(
            f"CREATE TABLE {tenant}.atomic_counter_segments "
            "(LIKE public.atomic_counter_segments INCLUDING ALL)"
        )
        admin.execute(
            f"INSERT INTO {tenant}.atomic_counter_segments SELECT * FROM "
            "public.atomic_counter_segments WHERE name = %s",
            (name,),
        )
    direct = SegmentCounter(pg.url, name, block=10)
    first = [direct.next() for _ in range(30)]
    direct.close()
    pooled = SegmentCounter(pg.url, name, block=10)
    drawn = [pooled.next() for _ in range(5)]
    # Another client of the pool sets the session's search_path on the server connection the
    # counter uses (here: its own connection, between two of its transactions).
    io = pooled._engine.io
    with io._lock:
        io._conn.execute(f"SET search_path TO {tenant}")
    drawn += [pooled.next() for _ in range(30)]
    pooled.close()
    assert drawn == sorted(drawn) and not set(drawn) & set(first), (first, drawn)

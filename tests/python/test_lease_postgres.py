"""Leases on PostgreSQL (issue 15): the lease protocol of test_lease_redis.py with PostgreSQL as
the store, against real servers the tests start (support/postgres_server.py). Holders run in
their own processes and write every id they draw to a file; every test checks that no id
appears twice. What PostgreSQL adds: a restart or a crash (kill -9) loses no committed write, so
it costs no wait; a promoted standby that missed writes is a new timeline, and costs the wait.

Short ttls keep the suite quick: holders use ttl 1 s, max_skew 0.2 s, max_lead 0.5 s."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import linux_only
from lease_harness import (
    Holder,
    assert_offset,
    check_no_duplicates,
    run_then_stop,
    two_async_leases,
    wait_for_ids,
)
from redis_server import Proxy
from shims import ClockOffset, preload

from atomic_counter import (
    Layout,
    LeaseRefusedError,
    SegmentCounter,
    StoreUnavailableError,
    alease_node_id,
    lease_node_id,
)

pytestmark = linux_only
psycopg = pytest.importorskip("psycopg")

TTL, SKEW, LEAD = 1.0, 0.2, 0.5
# JS_SAFE ids (64 a ms a node): enough to find a repeat, few enough to check fast.
FAST = {"ttl": TTL, "max_skew": SKEW, "max_lead": LEAD, "layout": Layout.JS_SAFE}
HOLD = {**FAST, "layout": "js_safe"}  # the same, as a holder process takes it
WAITED = "without drawing"  # what the lease logs when it sits a wait out


def pg_url(port: int) -> str:
    return f"postgresql://app@127.0.0.1:{port}/postgres"


def confirmed(url: str, namespace: str) -> None:
    """The namespace, created and confirmed (its first claim's wait sat out)."""
    lease_node_id(url, namespace, **FAST).close()


# -------------------------------------------------------------------------------------------
# The basics.


def test_holders_get_distinct_nodes_and_unique_ids(pg, namespace, tmp_path):
    confirmed(pg.url, namespace)
    holders = [Holder(pg.url, namespace, tmp_path / f"{i}.bin", batch=16, **HOLD) for i in range(3)]
    for h in holders:
        h.wait_ready()
    runs = run_then_stop(holders, 2.0)
    assert sorted(h.nodes[0] for h in holders) == [0, 1, 2]
    assert check_no_duplicates(runs) > 10_000
    # The tables exist, and the nodes were given back with their marks.
    rows = pg.sql(
        "SELECT node, owner, hwm FROM atomic_counter_lease_nodes WHERE namespace = %s",
        (namespace,),
    )
    assert len(rows) == 3 and all(owner is None for _, owner, _ in rows)
    marks = {node: int(hwm) for node, _, hwm in rows}
    for h, ids in zip(holders, runs, strict=True):
        assert marks[h.nodes[0]] >= max(ids)


def test_with_trust_store_a_new_namespace_waits_once_then_claims_are_immediate(
    pg, namespace, caplog
):
    caplog.set_level(logging.INFO, logger="atomic_counter.lease")
    started = time.monotonic()
    first = lease_node_id(pg.url, namespace, trust_store=True, **FAST)
    assert time.monotonic() - started >= TTL + SKEW  # a new namespace may be a lost one
    caplog.clear()
    started = time.monotonic()
    second = lease_node_id(pg.url, namespace, trust_store=True, **FAST)
    assert time.monotonic() - started < TTL
    assert not any(WAITED in r.getMessage() for r in caplog.records)
    ids = [first.counter().next() for _ in range(1000)] + [
        second.counter().next() for _ in range(1000)
    ]
    first.close()
    second.close()
    check_no_duplicates([sorted(ids)])


# -------------------------------------------------------------------------------------------
# The server fails: restart, crash, connections killed.


def test_with_trust_store_a_restart_costs_no_wait_and_no_id(pg, namespace, tmp_path, caplog):
    confirmed(pg.url, namespace)
    a = Holder(pg.url, namespace, tmp_path / "a.bin", batch=16, **HOLD)
    a.wait_ready()
    wait_for_ids(a, 10_000)
    pg.restart()  # a fast shutdown: every committed write is on disk
    caplog.set_level(logging.INFO, logger="atomic_counter.lease")
    caplog.clear()
    started = time.monotonic()
    lease = lease_node_id(pg.url, namespace, wait=10, trust_store=True, **FAST)
    assert time.monotonic() - started < TTL, "a restart of PostgreSQL made the claim wait"
    assert not any(WAITED in r.getMessage() for r in caplog.records)
    ids = [lease.counter().next() for _ in range(10_000)]
    lease.close()
    runs = run_then_stop([a], 1.5)
    check_no_duplicates([*runs, ids])
    assert len(runs[0]) > 10_000


def test_a_crash_mid_run_repeats_no_id(pg, namespace, tmp_path):
    confirmed(pg.url, namespace)
    holders = [Holder(pg.url, namespace, tmp_path / f"{i}.bin", batch=16, **HOLD) for i in range(2)]
    for h in holders:
        h.wait_ready()
        wait_for_ids(h, 5_000)
    pg.kill()  # kill -9: the server recovers from its write-ahead log
    time.sleep(TTL)  # the holders' renewals fail meanwhile: their counters stop
    pg.start()
    late = Holder(pg.url, namespace, tmp_path / "late.bin", batch=16, **HOLD)
    late.wait_ready()
    counts = [len(h.ids()) for h in holders]
    runs = run_then_stop([*holders, late], 2.0)
    assert all(len(r) > c for r, c in zip(runs[:2], counts, strict=True)), "a holder never resumed"
    check_no_duplicates(runs)


def test_terminated_connections_repeat_no_id(pg, namespace, tmp_path):
    confirmed(pg.url, namespace)
    holders = [Holder(pg.url, namespace, tmp_path / f"{i}.bin", batch=16, **HOLD) for i in range(3)]
    for h in holders:
        h.wait_ready()
    terminated = 0
    for _ in range(8):
        time.sleep(0.3)
        terminated += pg.terminate("atomic-counter lease")
    runs = run_then_stop(holders, 1.5)
    assert terminated >= 8
    check_no_duplicates(runs)
    assert all(len(r) > 1000 for r in runs)


def test_a_paused_server_stops_the_counters_and_they_resume(pg, namespace, tmp_path):
    confirmed(pg.url, namespace)
    a = Holder(pg.url, namespace, tmp_path / "a.bin", batch=16, **HOLD)
    a.wait_ready()
    wait_for_ids(a, 5_000)
    pg.pause()
    time.sleep(TTL)
    paused_at = len(a.ids())
    time.sleep(TTL)
    assert len(a.ids()) - paused_at < 64, "the holder drew while its lease was unconfirmed"
    pg.resume()
    runs = run_then_stop([a], 2.0)
    assert len(runs[0]) > paused_at + 1000, "the holder never resumed"
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# The holders fail: paused past the ttl, clocks stepped and skewed.


def test_a_holder_paused_past_its_ttl_never_repeats_an_id(pg, namespace, tmp_path):
    confirmed(pg.url, namespace)
    a = Holder(pg.url, namespace, tmp_path / "a.bin", batch=16, max_nodes=1, **HOLD)
    a.wait_ready()
    wait_for_ids(a, 10_000)
    a.pause()
    time.sleep(TTL + 0.3)  # a's node expires
    b = Holder(pg.url, namespace, tmp_path / "b.bin", batch=16, max_nodes=1, **HOLD)
    b.wait_ready()
    wait_for_ids(b, 10_000)
    a.resume()  # a's counter is past its deadline: it must not draw on b's node
    runs = run_then_stop([a, b], 1.5)
    assert b.nodes[0] == 0
    check_no_duplicates(runs)


def test_a_clock_stepped_under_a_holder(pg, namespace, tmp_path, clock_shim):
    confirmed(pg.url, namespace)
    offset = ClockOffset(tmp_path / "step.clock")
    env = preload(clock_shim, AC_SHIM_CLOCK_FILE=str(offset.path))
    a = Holder(pg.url, namespace, tmp_path / "a.bin", batch=16, env=env, **HOLD)
    b = Holder(pg.url, namespace, tmp_path / "b.bin", batch=16, **HOLD)
    a.wait_ready()
    b.wait_ready()
    for step in (3600.0, -60.0, 0.0):
        offset.set(step)
        time.sleep(1.5)
    runs = run_then_stop([a, b], 1.0)
    stopped = time.time()
    latest = max(Layout.JS_SAFE.decode(v).unix_ns for v in runs[0]) / 1e9
    assert latest <= stopped + LEAD, f"ids ran {latest - stopped:.1f} s ahead: the stepped clock"
    check_no_duplicates(runs)


def test_a_clock_beyond_max_skew_is_refused(pg, namespace, tmp_path, clock_shim):
    confirmed(pg.url, namespace)
    offset = ClockOffset(tmp_path / "off.clock")
    offset.set(-5.0)
    code = f"""
        from atomic_counter import Layout, lease_node_id, LeaseRefusedError
        try:
            lease_node_id({pg.url!r}, {namespace!r}, layout=Layout.JS_SAFE, ttl=1.0, max_skew=0.2)
        except LeaseRefusedError as exc:
            print(exc)
    """
    env = preload(clock_shim, AC_SHIM_CLOCK_FILE=str(offset.path))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert_offset(out.stdout, -5.0, "PostgreSQL"), out.stderr


# -------------------------------------------------------------------------------------------
# A failover to a standby that missed writes: a new timeline, so claims wait.


def test_failover_to_a_standby_that_missed_writes(pg, namespace, tmp_path):
    from postgres_server import PostgresServer

    primary = PostgresServer()
    primary.start()
    standby = PostgresServer(replica_of=primary)
    standby.start()
    proxy = Proxy(primary.port)
    try:
        confirmed(pg_url(proxy.port), namespace)
        standby.wait_caught_up(primary)
        standby.stop()  # from now on it misses every write
        a = Holder(pg_url(proxy.port), namespace, tmp_path / "a.bin", batch=16, **HOLD)
        a.wait_ready()
        wait_for_ids(a, 10_000)
        a.pause()  # so that b, not a, is the next to claim node 0
        primary.kill()
        standby.start()
        standby.promote()  # a new timeline, without a's claim or any mark it recorded
        proxy.switch(standby.port)
        b = Holder(pg_url(proxy.port), namespace, tmp_path / "b.bin", batch=16, **HOLD)
        b.wait_ready()
        a.resume()  # its counter is past its deadline: it must claim again, on another node
        runs = run_then_stop([a, b], 2.0)
    finally:
        proxy.close()
        standby.remove()
        primary.remove()
    assert b.nodes[0] == 0, "the standby should have offered a's node"
    check_no_duplicates(runs)
    assert any("new timeline" in line for line in b.errors), b.errors[-5:]


# -------------------------------------------------------------------------------------------
# Clear refusals.


def test_a_role_that_cannot_create_the_tables_is_refused(pg, namespace):
    url = pg.new_role(owns_database=False)
    with pytest.raises(LeaseRefusedError, match="the role needs CREATE on the schema"):
        lease_node_id(url, namespace, **FAST)


def test_a_standby_is_refused(pg, namespace):
    from postgres_server import PostgresServer

    standby = PostgresServer(replica_of=pg)
    standby.start()
    try:
        with pytest.raises(LeaseRefusedError, match="the server is a standby"):
            lease_node_id(pg_url(standby.port), namespace, **FAST)
    finally:
        standby.remove()


def test_bad_urls_and_a_missing_driver():
    with pytest.raises(ValueError, match=r"must be a postgresql:// or redis:// URL"):
        lease_node_id("mysql://localhost/db", "ns")
    with pytest.raises(StoreUnavailableError) as raised:
        lease_node_id("postgresql://nobody@127.0.0.1:1/none", "ns", **FAST)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    code = """
        import sys
        sys.modules["psycopg"] = None  # as if atomic-counter[postgres] were not installed
        from atomic_counter import lease_node_id
        try:
            lease_node_id("postgresql://localhost/db", "ns")
        except ImportError as exc:
            print(exc)
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert "pip install atomic-counter[postgres]" in out.stdout, out.stderr


# -------------------------------------------------------------------------------------------
# A psycopg connection given, and the asyncio lease.


def test_a_connection_given_and_the_asyncio_lease(pg, namespace):
    confirmed(pg.url, namespace)
    conn = psycopg.connect(pg.url, autocommit=True)
    with lease_node_id(conn, namespace, **FAST) as lease:
        ids = [lease.counter().next() for _ in range(1000)]
    assert not conn.closed  # the caller's to close
    conn.close()

    async def main() -> tuple[list[int], int, int]:
        aconn = await psycopg.AsyncConnection.connect(pg.url, autocommit=True)
        with pytest.raises(TypeError, match=r"needs a synchronous client \(.*psycopg\.Connection"):
            lease_node_id(aconn, namespace)
        drawn = await two_async_leases(aconn, pg.url, namespace, **FAST)
        await aconn.close()
        return drawn

    drawn, node, other_node = asyncio.run(main())
    assert {node, other_node} == {0, 1}
    check_no_duplicates([sorted(ids + drawn)])


def test_two_first_users_create_the_tables_once(tmp_path):
    from postgres_server import PostgresServer

    fresh = PostgresServer()
    fresh.start()
    try:
        errors: list[BaseException] = []

        def claim(i: int) -> None:
            try:
                lease_node_id(fresh.url, f"race{i}", **FAST).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
    finally:
        fresh.remove()


def test_once_the_tables_exist_a_new_connection_locks_none_of_them(pg, namespace):
    """Each new connection used to run the schema's ALTER TABLEs, which take an ACCESS EXCLUSIVE
    lock even when they change nothing: behind a reader's open transaction (pg_dump, a report)
    every new process's claim queued, and the renewals of the running holders queued behind
    it. The catalog is read first; the statements run only when something is missing."""
    confirmed(pg.url, namespace)
    with psycopg.connect(pg.url) as reader:
        reader.execute("SELECT count(*) FROM atomic_counter_lease_nodes").fetchone()
        reader.execute("SELECT count(*) FROM atomic_counter_lease_namespaces").fetchone()
        # The reader's transaction is open, holding ACCESS SHARE on both tables.
        lease_node_id(pg.url, namespace + "-b", **FAST).close()  # wait=0: no queueing
        reader.rollback()


def test_the_declared_columns_are_what_the_schema_makes(pg, namespace, name):
    from atomic_counter.stores.postgres import PostgresLeases, PostgresSegment

    confirmed(pg.url, namespace)
    SegmentCounter.create(pg.url, name)
    with psycopg.connect(pg.url) as conn:
        for ops in (PostgresLeases, PostgresSegment):
            for table, columns in ops.columns.items():
                rows = conn.execute(
                    "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                    "AND attnum > 0 AND NOT attisdropped",
                    (table,),
                ).fetchall()
                assert {row[0] for row in rows} == columns, table


# -------------------------------------------------------------------------------------------
# Issue 20: data that goes back on the same server and timeline, and callers' connections.

LEASE_TABLES = ("atomic_counter_lease_namespaces", "atomic_counter_lease_nodes")


@pytest.mark.parametrize("trust_store", [False, True], ids=["default", "trust_store"])
def test_a_logical_restore_of_the_lease_tables_under_live_holders(
    pg, namespace, tmp_path, trust_store
):
    """Last night's dump restored into the same server keeps its system identifier and its
    timeline. By default every claim waits anyway (C1); with trust_store the restored rows,
    whose writer was not this package (stamp <> xmin), make the claim wait."""
    confirmed(pg.url, namespace)  # node 0 free, its mark recorded
    dumped = pg.dump(*LEASE_TABLES)
    hold = {**HOLD, "max_nodes": 1, "trust_store": trust_store}
    a = Holder(pg.url, namespace, tmp_path / "a.bin", **hold)
    a.wait_ready()
    wait_for_ids(a, 20_000)
    a.pause()  # b claims before a's next renewal
    pg.restore(dumped)  # node 0 free again, at last night's mark
    b = Holder(pg.url, namespace, tmp_path / "b.bin", **hold)
    b.wait_ready()
    a.resume()
    runs = run_then_stop([a, b], 1.5)
    assert b.nodes == [0], b.nodes
    assert len(runs[1]) > 1000
    check_no_duplicates(runs)


def test_a_connection_outside_autocommit_or_in_a_transaction_is_refused(pg, namespace):
    from psycopg.pq import TransactionStatus

    conn = psycopg.connect(pg.url)  # psycopg's default: autocommit off
    conn.execute("SELECT 1")  # one ordinary statement: a transaction is now open
    with pytest.raises(LeaseRefusedError, match="not in autocommit mode") as refused:
        lease_node_id(conn, namespace, **FAST)
    assert "psycopg.connect(url, autocommit=True)" in str(refused.value)
    assert conn.info.transaction_status == TransactionStatus.INTRANS  # left as it was
    conn.rollback()
    conn.autocommit = True
    conn.execute("BEGIN")
    with pytest.raises(LeaseRefusedError, match=r"has a transaction open \(status INTRANS\)"):
        lease_node_id(conn, namespace, **FAST)
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    conn.execute("ROLLBACK")
    with lease_node_id(conn, namespace, **FAST) as lease:  # now it is fit
        lease.counter().next()
    conn.close()

    async def main() -> None:
        aconn = await psycopg.AsyncConnection.connect(pg.url)
        await aconn.execute("SELECT 1")
        with pytest.raises(LeaseRefusedError, match="not in autocommit mode"):
            await alease_node_id(aconn, namespace, **FAST)
        await aconn.close()

    asyncio.run(main())


def test_a_read_only_database_is_named_as_such(pg, namespace, name):
    from atomic_counter import SegmentCounter, SegmentRefusedError

    pg.sql("ALTER DATABASE postgres SET default_transaction_read_only = on")
    try:
        with pytest.raises(LeaseRefusedError, match="the database is read-only") as refused:
            lease_node_id(pg.url, namespace, **FAST)
        assert "standby" not in str(refused.value)
        with pytest.raises(SegmentRefusedError, match="the database is read-only"):
            SegmentCounter(pg.url, name, timeout=5)
    finally:
        with psycopg.connect(
            pg.url, autocommit=True, options="-c default_transaction_read_only=off"
        ) as conn:
            conn.execute("ALTER DATABASE postgres SET default_transaction_read_only = off")


def test_sqlalchemy_style_urls_are_accepted(pg, namespace):
    with lease_node_id(pg.url_for("postgres", "psycopg"), namespace, **FAST) as lease:
        assert lease.counter().next() > 0


# Found by the independent attack on issue 20.


@pytest.mark.parametrize(
    "statement", ["TRUNCATE atomic_counter_lease_nodes", "DELETE FROM atomic_counter_lease_nodes"]
)
def test_with_trust_store_vanished_node_rows_make_claims_wait(pg, namespace, tmp_path, statement):
    """The node rows gone (TRUNCATE or DELETE of the nodes table; the namespace row intact):
    a trust_store claim must wait, not start above the namespace's old floor while the holder
    whose row vanished still draws."""
    confirmed(pg.url, namespace)
    hold = {**HOLD, "max_nodes": 1, "trust_store": True}
    a = Holder(pg.url, namespace, tmp_path / "a.bin", **hold)
    a.wait_ready()
    wait_for_ids(a, 20_000)
    a.pause()  # b claims before a's next renewal
    pg.sql(statement)
    b = Holder(pg.url, namespace, tmp_path / "b.bin", **hold)
    b.wait_ready()
    a.resume()
    runs = run_then_stop([a, b], 1.5)
    check_no_duplicates(runs)


def test_no_statement_is_prepared_on_a_connection(pg, namespace):
    """A transaction-pooling proxy (PgBouncer) may run each transaction on another server
    connection, where a statement prepared by an earlier one does not exist: nothing is
    prepared, however often a statement runs."""
    conn = psycopg.connect(pg.url, autocommit=True)
    with lease_node_id(conn, namespace, **FAST) as lease:
        for _ in range(20):
            lease.counter().next()
        time.sleep(TTL * 2)  # several renewals, each the same statements
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    conn.close()
    assert prepared == (0,)

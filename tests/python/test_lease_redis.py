"""Lease safety (issue 10): each situation in which 0.2's leases handed out duplicate ids, as a
deterministic test against real redis-server processes on loopback ports, with the holders'
ids written to files and checked for duplicates. Then the liveness problems found with them,
the asyncio API and Redis Cluster. docs/design.md ("Leases") has the argument these attack.

Short ttls keep the suite quick: holders use ttl 1 s, max_skew 0.2 s, max_lead 0.5 s."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import linux_only, needs_redis_server

pytestmark = [needs_redis_server, linux_only]

redis = pytest.importorskip("redis")

from lease_harness import (  # noqa: E402
    Holder,
    assert_offset,
    check_no_duplicates,
    redis_key,
    run_then_stop,
    wait_for_ids,
)
from redis_server import Proxy, RedisServer, free_cluster_port  # noqa: E402
from shims import ClockOffset, preload  # noqa: E402

from atomic_counter import (  # noqa: E402
    Layout,
    LeaseExpiredError,
    LeaseRefusedError,
    StoreUnavailableError,
    lease_node_id,
)

TTL, SKEW, LEAD = 1.0, 0.2, 0.5
FAST = {"ttl": TTL, "max_skew": SKEW, "max_lead": LEAD}


# -------------------------------------------------------------------------------------------
# 3. Ids running ahead of the clock, then Redis restarting empty.


def test_ids_ahead_of_the_clock_then_redis_restarting_empty(tmp_path, namespace):
    srv = RedisServer(tmp_path / "redis", persistence="none")
    srv.start()
    try:
        # JS_SAFE: 64 ids a ms; batches of 64 at full speed run into max_lead at once.
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", batch=64, **FAST)
        a.wait_ready()
        time.sleep(1.5)
        lead = Layout.JS_SAFE.decode(a.ids()[-1]).unix_ns / 1e9 - time.time()
        assert lead <= LEAD + 0.05, f"ids ran {lead:.3f} s ahead, past max_lead"
        srv.restart_empty()
        b = Holder(srv.url, namespace, tmp_path / "b.bin", layout="js_safe", batch=64, **FAST)
        runs = run_then_stop([a, b], 3.0)
    finally:
        srv.stop()
    assert check_no_duplicates(runs) > 100_000
    assert runs[1], "the second holder drew nothing"


# -------------------------------------------------------------------------------------------
# 4. Failover to an asynchronous replica that missed the claim.


def test_failover_to_a_replica_that_missed_the_claim(tmp_path, namespace):
    primary = RedisServer(tmp_path / "primary")
    replica = RedisServer(tmp_path / "replica")
    primary.start()
    replica.start()
    proxy = Proxy(primary.port)
    try:
        replica.replicate(primary)
        replica.wait_synced()
        lease_node_id(proxy.url, namespace, **FAST).close()  # the namespace, confirmed
        time.sleep(0.3)  # ... and replicated
        replica.promote()  # it stops receiving: from now on it misses every write
        a = Holder(proxy.url, namespace, tmp_path / "a.bin", batch=16, **FAST)
        a.wait_ready()
        wait_for_ids(a, 10_000)
        a.pause()  # so that b, not a claiming again, is the first on the replica (under load)
        primary.kill()
        proxy.switch(replica.port)  # clients reconnect to the replica, which lacks a's claim
        b = Holder(proxy.url, namespace, tmp_path / "b.bin", batch=16, **FAST)
        b.wait_ready()
        a.resume()  # past its deadline: it must claim again, on another node
        runs = run_then_stop([a, b], 2.0)
    finally:
        proxy.close()
        replica.stop()
        primary.stop()
    assert b.nodes[0] == 0, "the replica should have offered a's node"
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# 5. A restart from an RDB snapshot older than the current claim.


def test_restart_from_a_snapshot_older_than_the_claim(tmp_path, server, namespace):
    lease_node_id(server.url, namespace, **FAST).close()
    snapshot = server.snapshot(tmp_path / "old.rdb")
    a = Holder(server.url, namespace, tmp_path / "a.bin", batch=16, **FAST)
    a.wait_ready()
    wait_for_ids(a, 10_000)
    a.pause()  # so that b, not a, is the next to claim node 0
    server.restart_from(snapshot)  # a's claim and every mark it recorded are gone
    b = Holder(server.url, namespace, tmp_path / "b.bin", batch=16, **FAST)
    b.wait_ready()
    a.resume()
    c = Holder(server.url, namespace, tmp_path / "c.bin", batch=16, **FAST)
    runs = run_then_stop([a, b, c], 2.0)
    assert b.nodes[0] == 0, "b should have been offered a's node, at the snapshot's mark"
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# 6. A Redis error (BUSY) during the wait after a loss does not cut the wait short.

BUSY_SCRIPT = "local x = 0 for i = 1, tonumber(ARGV[1]) do x = x + i end return x"


def test_a_busy_redis_during_the_wait_does_not_cut_it_short(tmp_path, namespace):
    srv = RedisServer(tmp_path / "redis", extra=("--busy-reply-threshold", "20"))
    srv.start()
    try:
        lease = lease_node_id(srv.url, namespace, **FAST)
        counter = lease.counter()
        drawn: list[int] = []
        events: list[tuple[float, bool]] = []  # (when, drew)
        stop = threading.Event()

        def draw() -> None:
            while not stop.is_set():
                try:
                    drawn.append(counter.next())
                    events.append((time.monotonic(), True))
                except LeaseExpiredError:
                    events.append((time.monotonic(), False))
                time.sleep(0.0005)

        thread = threading.Thread(target=draw)
        thread.start()
        time.sleep(0.2)
        srv.client().flushall()  # the namespace is lost: the lease must claim again and wait
        lost = time.monotonic()
        # Early in the lease's wait, Redis turns BUSY for about 0.15 s: a renewal during the
        # wait fails, and the wait must go on after it (0.2 let the next renewal end it).
        time.sleep(TTL / 4 + 0.2)
        srv.client().eval(BUSY_SCRIPT, 0, 4 * 10**7)
        deadline = time.monotonic() + 30
        while not any(ok and when > lost for when, ok in events[-5:]) or not any(
            not ok for when, ok in events if when > lost
        ):
            assert time.monotonic() < deadline, "the counter never resumed"
            time.sleep(0.05)
        stop.set()
        thread.join()
        refused = next(when for when, ok in events if when > lost and not ok)
        resumed = next(when for when, ok in events if when > refused and ok)
        assert resumed - refused >= TTL + SKEW - 0.1, (
            f"drew again {resumed - refused:.2f} s after the lease stopped"
        )
        assert drawn == sorted(set(drawn))
        lease.close()
    finally:
        srv.stop()


# -------------------------------------------------------------------------------------------
# 7. A rebind that fails leaves no counter drawing on a node the lease does not hold.


def test_a_failed_rebind_leaves_nothing_drawing(server, namespace):
    lease = lease_node_id(server.url, namespace, **FAST)
    counter = lease.counter()
    counter.next()
    client = server.client()
    client.hset(redis_key(namespace), "hwm:1", str(2**63 + 5))  # node 1's mark is damaged
    stop = threading.Event()

    def someone_else_holds_node_0() -> None:  # as a live holder that took node 0 over
        while not stop.is_set():
            seconds, micros = client.time()
            client.hset(
                redis_key(namespace),
                mapping={
                    "owner:0": "someone-else",
                    "expires:0": str(seconds * 1000 + micros // 1000 + 900),
                },
            )
            time.sleep(0.1)

    other = threading.Thread(target=someone_else_holds_node_0)
    other.start()
    try:
        time.sleep(TTL)  # the lease sees node 0 lost, claims node 1, refuses its damaged mark
        for _ in range(20):
            with pytest.raises(LeaseExpiredError):
                counter.next()  # neither on node 0, which it lost, nor on node 1
            time.sleep(0.05)
        assert not lease.valid
        assert client.hget(redis_key(namespace), "owner:1") != lease._token.encode(), (
            "the lease kept a node it cannot use"
        )
    finally:
        stop.set()
        other.join()
    lease.close()


# -------------------------------------------------------------------------------------------
# 8. Eviction.


def test_a_redis_that_may_evict_keys_is_refused(tmp_path, namespace):
    srv = RedisServer(
        tmp_path / "redis", extra=("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru")
    )
    srv.start()
    try:
        with pytest.raises(LeaseRefusedError, match="maxmemory-policy allkeys-lru"):
            lease_node_id(srv.url, namespace, **FAST)
        srv.client().config_set("maxmemory-policy", "volatile-lru")  # the hash has no expiry
        lease = lease_node_id(srv.url, namespace, **FAST)
        counter = lease.counter()
        counter.next()
        srv.client().config_set("maxmemory-policy", "allkeys-random")  # changed under it
        time.sleep(TTL + 0.2)
        with pytest.raises(LeaseExpiredError):
            counter.next()
        lease.close()
    finally:
        srv.stop()


# -------------------------------------------------------------------------------------------
# 9. Waits after a loss use the longest ttl the namespace has seen.


def test_a_wait_after_a_loss_uses_the_longest_ttl(tmp_path, namespace):
    primary = RedisServer(tmp_path / "primary")
    replica = RedisServer(tmp_path / "replica")
    primary.start()
    replica.start()
    proxy = Proxy(primary.port)
    try:
        replica.replicate(primary)
        replica.wait_synced()
        long = {"ttl": 3.0, "max_skew": SKEW, "max_lead": LEAD}
        a = Holder(proxy.url, namespace, tmp_path / "a.bin", batch=16, **long)
        a.wait_ready()
        time.sleep(0.3)
        replica.promote()
        wait_for_ids(a, 10_000)
        primary.kill()
        proxy.switch(replica.port)
        started = time.monotonic()
        lease = lease_node_id(proxy.url, namespace, **FAST)  # ttl 1 s: shorter than a's
        waited = time.monotonic() - started
        ids = [lease.counter().next() for _ in range(50_000)]
        lease.close()
        runs = [*run_then_stop([a], 0.5), ids]
    finally:
        proxy.close()
        replica.stop()
        primary.stop()
    assert waited >= 3.0 + SKEW, f"waited only {waited:.2f} s, less than a's ttl"
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# 10. Clock skew within max_skew, combined with a data loss.


def test_skewed_clocks_within_max_skew_and_a_data_loss(tmp_path, namespace, clock_shim):
    srv = RedisServer(tmp_path / "redis", persistence="none")
    srv.start()
    ahead = ClockOffset(tmp_path / "ahead.clock")
    ahead.set(SKEW * 0.9)  # this host's clock runs 0.18 s fast: inside the bound
    try:
        a = Holder(
            srv.url,
            namespace,
            tmp_path / "a.bin",
            batch=64,
            layout="js_safe",
            env=preload(clock_shim, AC_SHIM_CLOCK_FILE=str(ahead.path)),
            **FAST,
        )
        a.wait_ready()
        wait_for_ids(a, 50_000)
        srv.restart_empty()
        b = Holder(srv.url, namespace, tmp_path / "b.bin", batch=64, layout="js_safe", **FAST)
        runs = run_then_stop([a, b], 3.0)
    finally:
        srv.stop()
    assert runs[1]
    check_no_duplicates(runs)


def test_a_clock_beyond_max_skew_is_refused(tmp_path, server, namespace, clock_shim):
    offset = ClockOffset(tmp_path / "off.clock")
    offset.set(5.0)
    env = preload(clock_shim, AC_SHIM_CLOCK_FILE=str(offset.path))
    code = f"""
        from atomic_counter import lease_node_id, LeaseRefusedError
        try:
            lease_node_id({server.url!r}, {namespace!r}, ttl=1.0, max_skew=0.2)
        except LeaseRefusedError as exc:
            print(exc)
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert_offset(out.stdout, +5.0, "Redis")
    assert "beyond max_skew=0.2 s" in out.stdout, out.stderr


def test_a_clock_stepped_forward_under_a_holder_stops_it(tmp_path, server, namespace, clock_shim):
    offset = ClockOffset(tmp_path / "step.clock")
    a = Holder(
        server.url,
        namespace,
        tmp_path / "a.bin",
        batch=16,
        env=preload(clock_shim, AC_SHIM_CLOCK_FILE=str(offset.path)),
        **FAST,
    )
    a.wait_ready()
    wait_for_ids(a, 10_000)
    offset.set(3600.0)  # +1 h
    time.sleep(2.0)
    offset.set(0.0)
    runs = run_then_stop([a], 1.0)
    stopped = time.time()
    latest = max(Layout.TWITTER.decode(v).unix_ns for v in runs[0]) / 1e9
    assert latest <= stopped + LEAD, f"ids ran {latest - stopped:.1f} s ahead: the stepped clock"
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# Liveness.


def test_a_redis_clock_that_was_an_hour_fast_stalls_nothing(tmp_path, namespace, clock_shim):
    offset = ClockOffset(tmp_path / "redis.clock")
    srv = RedisServer(
        tmp_path / "redis",
        env={"LD_PRELOAD": str(clock_shim), "AC_SHIM_CLOCK_FILE": str(offset.path)},
    )
    srv.start()
    try:
        a = Holder(srv.url, namespace, tmp_path / "a.bin", **FAST)
        a.wait_ready()
        offset.set(3600.0)  # Redis's clock an hour fast: a's renewals write far expiries...
        time.sleep(TTL)
        a.kill()  # ... and a dies without a word
        with pytest.raises(LeaseRefusedError, match=r"clock is -3[56]\d\d\.\d+ s from Redis's"):
            lease_node_id(srv.url, namespace, **FAST)  # refused while Redis is an hour off
        offset.set(0.0)  # put right
        started = time.monotonic()
        lease = lease_node_id(srv.url, namespace, max_nodes=1, **FAST)
        assert time.monotonic() - started < 5, "a claim stalled on the fast clock's expiry"
        assert lease.node == 0
        check_no_duplicates([a.ids(), [lease.counter().next() for _ in range(10_000)]])
        lease.close()
    finally:
        srv.stop()


def test_exit_never_hangs_while_redis_is_unreachable(server, namespace):
    code = f"""
        import redis, sys
        from atomic_counter import lease_node_id
        client = redis.Redis(host="127.0.0.1", port={server.port})  # no socket timeout
        lease = lease_node_id(client, {namespace!r}, ttl=1.0)
        lease.counter().next()
        print("ready", flush=True)
        sys.stdin.readline()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    server.pause()  # connections hang: no reply, no error
    try:
        started = time.monotonic()
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        server.resume()
    assert proc.returncode == 0
    assert took < 5, f"exit took {took:.1f} s with Redis unreachable"


def test_wait_covers_redis_being_unreachable_at_first(tmp_path, namespace):
    srv = RedisServer(tmp_path / "redis")
    threading.Timer(1.0, srv.start).start()
    try:
        started = time.monotonic()
        lease = lease_node_id(srv.url, namespace, wait=20, **FAST)
        assert 1.0 <= time.monotonic() - started < 20
        lease.counter().next()
        lease.close()
    finally:
        time.sleep(0.1)
        srv.stop()
    with pytest.raises(StoreUnavailableError) as raised:
        lease_node_id(srv.url, namespace, wait=0.5, **FAST)
    assert isinstance(raised.value, ConnectionError)
    assert isinstance(raised.value.__cause__, redis.exceptions.ConnectionError)


def test_a_claim_with_no_wait_starts_over_after_its_namespace_is_lost(tmp_path, namespace):
    """wait=0 (the default) raises at once when the store is unreachable, but a namespace lost
    once during the claim's wait (FLUSHALL, a failover to an empty replica) is no reason to
    give up: the claim starts over and succeeds."""
    srv = RedisServer(tmp_path / "redis", persistence="none")
    srv.start()
    try:
        threading.Timer(0.5, lambda: srv.client().flushall()).start()
        lease = lease_node_id(srv.url, namespace, **FAST)
        assert lease.counter().next() > 0
        lease.close()
    finally:
        srv.stop()


def test_wait_bounds_a_claim_whose_store_keeps_restarting(tmp_path, namespace):
    """A Redis that restarts empty more often than a claim's wait lasts: every wait starts
    over. `wait` bounds the claim then too (StoreUnavailableError), as for a store that does
    not answer; it used to start over for ever."""
    srv = RedisServer(tmp_path / "redis", persistence="none")
    srv.start()
    stop = threading.Event()

    def flap() -> None:
        while not stop.wait(0.6):
            srv.restart_empty()

    flapper = threading.Thread(target=flap)
    flapper.start()
    outcome: list[BaseException | None] = []

    def claim() -> None:
        try:
            lease_node_id(srv.url, namespace, wait=2.0, **FAST).close()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        started = time.monotonic()
        claimant = threading.Thread(target=claim, daemon=True)
        claimant.start()
        claimant.join(30)
        took = time.monotonic() - started
    finally:
        stop.set()
        flapper.join()
        srv.stop()
    assert outcome, "the claim was still starting over after 30 s"
    assert isinstance(outcome[0], StoreUnavailableError), outcome
    assert took < 2.0 + TTL + SKEW + LEAD + 5, took


# -------------------------------------------------------------------------------------------
# asyncio.


# -------------------------------------------------------------------------------------------
# Redis Cluster.


@pytest.fixture
def cluster(tmp_path):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")
    nodes = []
    for i in range(3):
        srv = RedisServer(
            tmp_path / f"node{i}",
            port=free_cluster_port(),
            extra=(
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{i}.conf",
                "--cluster-node-timeout",
                "2000",
            ),
        )
        srv.start()
        nodes.append(srv)
    try:
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{n.port}" for n in nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while nodes[0].client().cluster("info").get("cluster_state") != "ok":
            assert time.monotonic() < deadline, "the cluster never became ready"
            time.sleep(0.1)
        yield nodes
    finally:
        for n in nodes:
            n.stop()


def test_leases_on_a_three_master_cluster(cluster, tmp_path):
    from redis.cluster import RedisCluster

    client = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    # Namespaces whose hash tags land on three different masters.
    by_master: dict[str, str] = {}
    for i in range(1000):
        ns = f"ns{i}"
        by_master.setdefault(client.get_node_from_key(redis_key(ns)).name, ns)
        if len(by_master) == 3:
            break
    assert len(by_master) == 3
    runs = []
    for ns in by_master.values():
        a = lease_node_id(client, ns, **FAST)
        b = lease_node_id(client, ns, **FAST)
        assert (a.node, b.node) == (0, 1)
        runs += [
            [a.counter().next() for _ in range(2000)],
            [b.counter().next() for _ in range(2000)],
        ]
        a.close()
        b.close()
    check_no_duplicates(runs)


# -------------------------------------------------------------------------------------------
# Issue 20: data that goes back inside a running Redis, whatever the way. Every claim waits out
# the holders the store may have forgotten (C1), and a holder whose deadline passed waits again
# before it draws (D4), so none of these needs to be recognised.


def debug_server(tmp_path) -> RedisServer:
    srv = RedisServer(tmp_path / "redis", extra=("--enable-debug-command", "yes"))
    srv.start()
    return srv


@pytest.mark.parametrize("how", ["restore", "debug-reload"])
def test_a_rollback_inside_a_running_redis_with_a_live_holder(tmp_path, namespace, how):
    srv = debug_server(tmp_path)
    client = srv.client()
    key = redis_key(namespace)
    try:
        # The namespace exists, node 0 free.
        lease_node_id(srv.url, namespace, layout=Layout.JS_SAFE, **FAST).close()
        dumped = client.dump(key)
        client.save()  # the RDB that DEBUG RELOAD NOSAVE goes back to
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=1, **FAST)
        a.wait_ready()
        wait_for_ids(a, 20_000)
        # Back to before a's claim, in the same server process: same run_id, same replication
        # id; node 0 is free again with its old mark. b claims before a's next renewal (a is
        # paused: its ids run up to max_lead ahead of the clock, where b's first ids would be).
        a.pause()
        if how == "restore":
            client.restore(key, 0, dumped, replace=True)
        else:
            client.execute_command("DEBUG", "RELOAD", "NOSAVE")
        b = Holder(srv.url, namespace, tmp_path / "b.bin", layout="js_safe", max_nodes=1, **FAST)
        b.wait_ready()
        a.resume()  # its renewal finds node 0 taken: it stops, and claims again in vain
        runs = run_then_stop([a, b], 1.5)
        assert b.nodes == [0], b.nodes
        assert len(runs[1]) > 1000
        check_no_duplicates(runs)
    finally:
        srv.stop()


def test_a_claimant_with_a_shorter_max_lead_waits_out_the_longest(tmp_path, namespace):
    """A4: holders of one namespace with different max_lead. a (max_lead 3 s) runs its ids
    3 s ahead of the clock; the namespace's hash goes back to before a's claim, and b
    (max_lead 0.5 s) claims node 0. A floor from b's own max_lead (ttl + max_skew + 0.5 s)
    is below a's ids; the namespace recorded 3 s at its first claim, and b's floor uses it."""
    srv = debug_server(tmp_path)
    client = srv.client()
    key = redis_key(namespace)
    long = {"ttl": TTL, "max_skew": SKEW, "max_lead": 3.0}
    try:
        lease_node_id(srv.url, namespace, layout=Layout.JS_SAFE, **long).close()
        dumped = client.dump(key)  # node 0 free; the longest max_lead recorded: 3 s
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=1, **long)
        a.wait_ready()
        deadline = time.monotonic() + 30
        while True:  # until a's ids run more than 2 s ahead of the clock
            ids = a.ids()
            if ids and Layout.JS_SAFE.decode(ids[-1]).unix_ns > time.time_ns() + 2 * 10**9:
                break
            assert time.monotonic() < deadline, "a's ids never ran ahead"
            time.sleep(0.05)
        a.pause()
        client.restore(key, 0, dumped, replace=True)  # a's claim forgotten, node 0 free
        b = Holder(srv.url, namespace, tmp_path / "b.bin", layout="js_safe", max_nodes=1, **FAST)
        b.wait_ready()
        a.resume()  # its renewal finds node 0 taken: it stops
        runs = run_then_stop([a, b], 1.5)
        assert b.nodes == [0], b.nodes
        assert len(runs[1]) > 1000
        check_no_duplicates(runs)
    finally:
        srv.stop()


def test_a_lapsed_holder_waits_out_the_namespace_s_longest_max_lead(tmp_path, namespace):
    """D4 with A4: a (max_lead 0.5 s) is paused on node 0 while the namespace records a
    max_lead of 5 s (another holder's claim); c (max_lead 5 s) takes node 0 once a's entry
    expires and runs its ids ahead; the hash goes back to when a owned node 0 and a resumes.
    Its requalification must wait with the longest max_lead the store holds now (its renewal
    reports it), not with the values its own claim saw."""
    srv = debug_server(tmp_path)
    client = srv.client()
    key = redis_key(namespace)
    wide = {"ttl": TTL, "max_skew": SKEW, "max_lead": 5.0}
    try:
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=2, **FAST)
        a.wait_ready()
        assert a.nodes == [0], a.nodes
        lease_node_id(srv.url, namespace, layout=Layout.JS_SAFE, max_nodes=2, **wide).close()
        a.pause()
        dumped = client.dump(key)  # a owns node 0; the longest max_lead recorded: 5 s
        time.sleep(TTL + 0.3)  # a's entry expires
        c = Holder(srv.url, namespace, tmp_path / "c.bin", layout="js_safe", max_nodes=2, **wide)
        c.wait_ready()
        assert c.nodes == [0], c.nodes
        deadline = time.monotonic() + 30
        while True:  # until c's ids run more than 3 s ahead of the clock
            ids = c.ids()
            if ids and Layout.JS_SAFE.decode(ids[-1]).unix_ns > time.time_ns() + 3 * 10**9:
                break
            assert time.monotonic() < deadline, "c's ids never ran ahead"
            time.sleep(0.05)
        client.restore(key, 0, dumped, replace=True)  # a owns node 0 again
        before = len(a.ids())
        a.resume()  # its deadline passed: it requalifies (D4) before drawing again
        runs = run_then_stop([a, c], TTL + SKEW + 5.0 + 3.0)
        assert len(runs[0]) - before > 1000, "a never drew again"
        check_no_duplicates(runs)
    finally:
        srv.stop()


def test_a_lapsed_holder_waits_before_it_draws_again(tmp_path, namespace):
    """D4. a is paused past its deadline; b takes node 0 and draws; then the store goes back
    to a state where a owns node 0 (b's claim forgotten) and a resumes: its renewal succeeds,
    but it must not draw again until it has waited as a claimant does, because b drew meanwhile
    at the same times on the same node."""
    srv = debug_server(tmp_path)
    client = srv.client()
    key = redis_key(namespace)
    try:
        lease_node_id(srv.url, namespace, layout=Layout.JS_SAFE, **FAST).close()
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=1, **FAST)
        a.wait_ready()
        wait_for_ids(a, 10_000)
        dumped = client.dump(key)  # a owns node 0
        a.pause()
        time.sleep(TTL + 0.3)  # a's entry expires
        b = Holder(srv.url, namespace, tmp_path / "b.bin", layout="js_safe", max_nodes=1, **FAST)
        b.wait_ready()
        wait_for_ids(b, 10_000)
        client.restore(key, 0, dumped, replace=True)  # b's claim is gone, a owns node 0 again
        a.resume()
        runs = run_then_stop([a, b], 2.5)
        check_no_duplicates(runs)
    finally:
        srv.stop()


def test_a_holder_that_sees_its_mark_go_back_unconfirms_the_namespace(server, namespace, caplog):
    """A renewal that finds the node's mark below the one this lease recorded last (the store
    went back, here by an edit) empties the namespace's incarnation: later claims wait even with
    trust_store=True."""
    client = server.client()
    key = redis_key(namespace)
    with lease_node_id(server.url, namespace, **FAST) as a:
        a.counter().next()
        time.sleep(TTL / 2)  # a few renewals: a's mark is recorded
        assert client.hget(key, "incarnation") not in (None, b"")
        client.hset(key, "hwm:0", "1")
        time.sleep(TTL / 2)
        assert client.hget(key, "incarnation") == b""
        caplog.set_level(logging.INFO, logger="atomic_counter.lease")
        started = time.monotonic()
        with lease_node_id(server.url, namespace, trust_store=True, **FAST):
            assert time.monotonic() - started >= TTL + SKEW
    assert any("a previous wait was not confirmed" in r.getMessage() for r in caplog.records)


def test_a_claimant_paused_through_its_wait_claims_again(tmp_path, namespace):
    """Found by the simulator. a claims node 0 and is paused during its C1 wait for longer than
    a ttl; its entry expires, b claims node 0, waits and draws; then the store goes back, in
    place, to when a held node 0, and a wakes after the end of its wait. a did not hold the node
    throughout its wait, so it must claim again, not confirm and draw beside b."""
    srv = debug_server(tmp_path)
    client = srv.client()
    key = redis_key(namespace)
    try:
        lease_node_id(srv.url, namespace, layout=Layout.JS_SAFE, **FAST).close()
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=1, **FAST)
        deadline = time.monotonic() + 30
        while client.hget(key, "owner:0") is None:  # a's claim, at the start of its wait
            assert time.monotonic() < deadline
            time.sleep(0.005)
        dumped = client.dump(key)
        a.pause()
        time.sleep(TTL + 0.3)  # a's entry expires
        b = Holder(srv.url, namespace, tmp_path / "b.bin", layout="js_safe", max_nodes=1, **FAST)
        b.wait_ready()
        wait_for_ids(b, 10_000)
        client.restore(key, 0, dumped, replace=True)  # b's claim is gone, a owns node 0 again
        a.resume()
        runs = run_then_stop([a, b], 2.5)
        check_no_duplicates(runs)
    finally:
        srv.stop()


def test_a_lapsed_holder_whose_store_restarted_meanwhile_draws_again(tmp_path, namespace):
    """a's deadline passes (paused), so it waits again (D4); the store restarts during that
    wait (a new run_id). a must claim again and draw. (The simulator pins the narrower case it
    found, a restart while a confirmation fails, deterministically: test_simulation.py.)"""
    srv = RedisServer(tmp_path / "redis")
    srv.start()
    try:
        a = Holder(srv.url, namespace, tmp_path / "a.bin", layout="js_safe", max_nodes=1, **FAST)
        a.wait_ready()
        wait_for_ids(a, 5_000)
        a.pause()
        time.sleep(TTL + 0.5)
        a.resume()
        time.sleep(0.5)  # a is in its second wait
        srv.restart_keeping_data()
        before = len(a.ids())
        deadline = time.monotonic() + 20
        while len(a.ids()) == before:
            assert time.monotonic() < deadline, "a never drew again"
            time.sleep(0.05)
        runs = run_then_stop([a], 0.5)
        check_no_duplicates(runs)
    finally:
        srv.kill()


# -------------------------------------------------------------------------------------------
# Found by the independent attack on issue 20 (see DEVELOPERS.md).


def test_with_trust_store_a_lapsed_holder_waits_again_after_a_restart_from_a_snapshot(
    tmp_path, namespace
):
    """trust_store=True keeps D4: a (paused past its ttl) must not resume drawing when a
    restart from a snapshot names it the owner again, while b (claimed meanwhile, no wait)
    draws on the same node."""
    srv = RedisServer(tmp_path / "redis")
    srv.start()
    hold = {"layout": "js_safe", "max_nodes": 1, "trust_store": True, **FAST}
    try:
        a = Holder(srv.url, namespace, tmp_path / "a.bin", **hold)
        a.wait_ready()
        wait_for_ids(a, 5_000)
        snapshot = srv.snapshot(tmp_path / "held.rdb")  # a owns node 0
        a.pause()
        time.sleep(TTL * 1.5)
        b = Holder(srv.url, namespace, tmp_path / "b.bin", **hold)
        b.wait_ready()
        wait_for_ids(b, 5_000)
        srv.restart_from(snapshot)  # a new run_id; a owns node 0 again
        a.resume()
        runs = run_then_stop([a, b], 2.0)
        check_no_duplicates(runs)
    finally:
        srv.kill()


def test_a_claim_closed_during_its_wait_leaves_the_mark_as_it_is(server, namespace):
    """A lease closed before it drew on its node (during its wait) must not lower the node's
    mark to its own sealed id: the previous holder's ids may run above it."""
    client = server.client()
    key = redis_key(namespace)
    with lease_node_id(server.url, namespace, max_nodes=1, trust_store=True, **FAST) as x:
        counter = x.counter()
        for _ in range(200):  # run ahead of the clock, within max_lead
            with contextlib.suppress(LeaseExpiredError):
                counter.next_many(1000)
    mark = int(client.hget(key, "hwm:0"))
    result: dict[str, object] = {}

    def claim() -> None:
        try:
            result["lease"] = lease_node_id(server.url, namespace, max_nodes=1, **FAST)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=claim)
    thread.start()
    deadline = time.monotonic() + 10
    while client.hget(key, "owner:0") is None:  # the claim holds node 0, waiting
        assert time.monotonic() < deadline
        time.sleep(0.005)
    from atomic_counter._lease_protocol import _LIVE

    for lease in list(_LIVE):
        if lease.namespace == namespace:
            lease.close()  # as an interrupt or a cancelled task closes it
    thread.join(30)
    assert int(client.hget(key, "hwm:0")) >= mark


def test_a_libc_fork_child_never_frees_the_parents_node(server, namespace):
    """A fork that Python's at-fork hooks do not see (libc's fork through ctypes): the child's
    exit (atexit closes its copy of the lease) must not release the parent's node. Before the
    fix the child released it within milliseconds (the attack's script: 671 and 983 repeated
    ids once a trust_store claimant took the node)."""
    code = f"""
import ctypes, os, sys, time
from atomic_counter import lease_node_id
url, ns = {server.url!r}, {namespace!r}
lease = lease_node_id(url, ns, ttl=2, max_nodes=1, max_skew=0.2, max_lead=0.5, trust_store=True)
c = lease.counter()
mine = [c.next() for _ in range(100)]
pid = ctypes.CDLL(None, use_errno=True).fork()
if pid == 0:
    try:
        c.next()
    except RuntimeError as e:
        print("child refused:", str(e)[:30])
    sys.exit(0)
import redis
r = redis.Redis.from_url(url)
t0 = time.monotonic()
while r.hget("atomic_counter:{{" + ns + "}}", "owner:0") is not None and time.monotonic() - t0 < 2:
    time.sleep(0.001)
print("released" if r.hget("atomic_counter:{{" + ns + "}}", "owner:0") is None else "held")
lease.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "held", out.stdout

"""Node ids leased from a real Redis (Debian's redis-server, started on a free loopback port)."""

from __future__ import annotations

import array
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

redis = pytest.importorskip("redis")

from atomic_counter import (  # noqa: E402
    Layout,
    LeaseExpiredError,
    NoFreeNodeError,
    SnowflakeCounter,
    lease_node_id,
)
from process_helpers import check_runs, run_processes, unpack  # noqa: E402
from redis_server import RedisServer  # noqa: E402


@pytest.fixture
def server(tmp_path):
    srv = RedisServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def namespace():
    return f"test-{uuid.uuid4().hex[:8]}"


def lease_and_report(url, namespace, barrier, results):
    barrier.wait()
    lease = lease_node_id(url, namespace, ttl=1.0)
    results.put(lease.node)
    time.sleep(0.5)  # hold it while the others claim
    lease.close()


def draw_on_lease(url, namespace, count, results):
    with lease_node_id(url, namespace, ttl=2.0) as lease:
        counter = lease.counter()
        values = array.array("Q", (counter.next() for _ in range(count)))
        results.put((lease.node, values.tobytes()))


def test_eight_processes_get_eight_distinct_nodes(server, namespace):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    nodes = run_processes(ctx, lease_and_report, [(server.url, namespace, barrier)] * 8, 60)
    assert sorted(nodes) == list(range(8))  # distinct, and the lowest free ones


def test_four_processes_on_different_nodes_never_collide(server, namespace):
    ctx = multiprocessing.get_context("fork")
    got = run_processes(ctx, draw_on_lease, [(server.url, namespace, 250_000)] * 4)
    assert len({node for node, _ in got}) == 4
    runs = [unpack(data) for _, data in got]
    for (node, _), values in zip(got, runs):
        assert {Layout.TWITTER.decode(v).node for v in values[::1000]} == {node}
    check_runs(runs)
    union = [v for run in runs for v in run]
    assert len(union) == 1_000_000 and len(set(union)) == len(union)


def test_release_frees_the_lowest_node_and_records_the_high_water_mark(server, namespace):
    client = redis.Redis.from_url(server.url)
    first = lease_node_id(client, namespace, ttl=1.0)
    second = lease_node_id(client, namespace, ttl=1.0)
    assert (first.node, second.node) == (0, 1)
    counter = first.counter()
    last = [counter.next() for _ in range(1000)][-1]
    first.close()
    with pytest.raises(LeaseExpiredError):
        counter.next()  # a closed lease's counters stop at once
    third = lease_node_id(client, namespace, ttl=1.0)
    assert third.node == 0  # recycled
    assert third.counter().next() > last
    hwm = int(client.get(f"atomic_counter:{namespace}:hwm:0"))
    assert hwm >= last
    third.close()
    second.close()


def test_no_free_node(server, namespace):
    with lease_node_id(server.url, namespace, ttl=1.0, max_nodes=1):
        with pytest.raises(NoFreeNodeError, match="all 1 node ids"):
            lease_node_id(server.url, namespace, ttl=1.0, max_nodes=1)


def test_bad_arguments(server, namespace):
    with pytest.raises(ValueError, match="'ttl' must be in"):
        lease_node_id(server.url, namespace, ttl=0.1)
    with pytest.raises(ValueError, match="'max_nodes' must be in \\[1, 1024\\]"):
        lease_node_id(server.url, namespace, max_nodes=2000)
    with pytest.raises(ValueError, match="'namespace'"):
        lease_node_id(server.url, "")


KILLED_HOLDER = """
import array, os, sys
from atomic_counter import lease_node_id
url, namespace, out = sys.argv[1:4]
lease = lease_node_id(url, namespace, ttl=1.0, max_nodes=1)
counter = lease.counter()
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
print(lease.node, flush=True)
while True:
    os.write(fd, array.array("Q", [counter.next() for _ in range(64)]).tobytes())
"""


def test_killed_holder_loses_its_node_and_the_next_holder_never_reissues(server, namespace,
                                                                       tmp_path):
    out = tmp_path / "killed.bin"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_HOLDER, server.url, namespace, str(out)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "0"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    data = out.read_bytes()
    drawn = array.array("Q")
    drawn.frombytes(data[: len(data) // 8 * 8])
    assert len(drawn) > 1000
    started = time.monotonic()
    with lease_node_id(server.url, namespace, ttl=1.0, max_nodes=1, wait=10) as lease:
        waited = time.monotonic() - started
        assert lease.node == 0
        assert 0.2 < waited < 5, "the node is free only once the dead holder's ttl ran out"
        counter = lease.counter()
        mine = [counter.next() for _ in range(10_000)]
    assert min(mine) > max(drawn)
    assert not set(mine) & set(drawn)


def test_redis_down_stops_the_counter_before_the_lease_could_expire_then_resumes(server,
                                                                               namespace):
    ttl = 2.0
    lease = lease_node_id(server.url, namespace, ttl=ttl)
    counter = lease.counter()
    drawn = [counter.next()]
    server.stop()
    stopped = time.monotonic()
    # Draw until the counter refuses; it must refuse before the lease could have expired.
    while True:
        try:
            drawn.append(counter.next())
        except LeaseExpiredError:
            refused_after = time.monotonic() - stopped
            break
        assert time.monotonic() - stopped < ttl, "still handing out ids after the ttl"
        time.sleep(0.001)
    assert refused_after < ttl
    assert not lease.valid
    server.start()  # the append-only file brings the keys back
    deadline = time.monotonic() + 10 * ttl
    while True:
        try:
            resumed = counter.next()
            break
        except LeaseExpiredError:
            assert time.monotonic() < deadline, "the lease never came back"
            time.sleep(0.05)
    assert resumed > max(drawn)
    more = [counter.next() for _ in range(1000)]
    assert all(a < b for a, b in zip([resumed] + more, more))
    lease.close()


def test_namespace_lost_by_redis_waits_a_ttl(server, namespace):
    client = redis.Redis.from_url(server.url)
    with lease_node_id(client, namespace, ttl=1.0):
        pass
    client.flushall()  # as if Redis lost its data
    started = time.monotonic()
    with lease_node_id(client, namespace, ttl=1.0) as lease:
        assert time.monotonic() - started >= 0.9
        assert lease.valid


def test_counter_without_a_lease_is_not_limited():
    counter = SnowflakeCounter(Layout.INT64, 3)
    assert counter.next() < 2**63

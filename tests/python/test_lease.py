"""Leases, whatever the store: one counter per lease, fork, close, the first claim's wait,
arguments, a namespace of 0.2, and the asyncio lease, against a real redis-server (the same
protocol runs on PostgreSQL: test_lease_postgres.py). The store's failures are in
test_lease_redis.py and test_lease_postgres.py."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import pytest
from conftest import linux_only, needs_redis_server

pytestmark = [needs_redis_server, linux_only]

redis = pytest.importorskip("redis")

from lease_harness import (  # noqa: E402
    check_no_duplicates,
    redis_key,
    two_async_leases,
)

from atomic_counter import (  # noqa: E402
    Layout,
    LeaseRefusedError,
    StoreUnavailableError,
    alease_node_id,
    lease_node_id,
)

TTL, SKEW, LEAD = 1.0, 0.2, 0.5
FAST = {"ttl": TTL, "max_skew": SKEW, "max_lead": LEAD}


def test_one_lease_has_one_counter(server, namespace):
    with lease_node_id(server.url, namespace, **FAST) as lease:
        a, b = lease.counter(), lease.counter()
        assert a is b
        ids = [c.next() for _ in range(10_000) for c in (a, b)]
        assert len(set(ids)) == len(ids) == 20_000
        per_call = [lease.counter().next() for _ in range(10_000)]
        assert len(set(per_call)) == 10_000 and min(per_call) > max(ids)


FORK = r"""
import os, sys, time
from atomic_counter import lease_node_id, NoFreeNodeError
url, namespace = sys.argv[1:3]
fast = dict(ttl=1.0, max_skew=0.2, max_lead=0.5)
lease = lease_node_id(url, namespace, **fast)
counter = lease.counter()
parent = [counter.next() for _ in range(1000)]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    results = []
    for call in (counter.next, lease.counter):
        try:
            call()
            results.append("drew")
        except RuntimeError as exc:
            results.append("refused" if "fork" in str(exc) else repr(exc))
    own = lease_node_id(url, namespace, **fast)
    ids = [own.counter().next() for _ in range(1000)]
    os.write(w, (" ".join(results + [f"node{own.node}"]) + "\n" + " ".join(map(str, ids))).encode())
    sys.exit(0)  # a normal exit: atexit closes the child's copies
os.close(w)
data = b""
while chunk := os.read(r, 1 << 16):
    data += chunk
os.waitpid(pid, 0)
head, ids = data.decode().split("\n")
print(head)
time.sleep(1.0)  # long enough for a wrongly released node to be claimed by someone else
print("valid" if lease.valid else "invalid")
try:
    lease_node_id(url, namespace, max_nodes=1, **fast)
    print("node 0 was free")
except NoFreeNodeError:
    print("node 0 held")
more = [counter.next() for _ in range(1000)]
everything = parent + more + [int(v) for v in ids.split()]
print(len(everything) - len(set(everything)), "duplicates")
lease.close()
"""


def test_a_fork_child_neither_draws_nor_frees_the_parents_node(server, namespace):
    out = subprocess.run(
        [sys.executable, "-c", FORK, server.url, namespace],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "refused refused node1",
        "valid",
        "node 0 held",
        "0 duplicates",
    ]


def test_the_wait_of_a_first_claim_is_logged(server, namespace, caplog):
    caplog.set_level(logging.INFO, logger="atomic_counter.lease")
    started = time.monotonic()
    with lease_node_id(server.url, namespace, **FAST) as lease:
        assert time.monotonic() - started >= TTL + SKEW
        assert lease.valid
    messages = [r.getMessage() for r in caplog.records if r.name == "atomic_counter.lease"]
    assert any(
        "the namespace is new, or Redis lost it; holding node 0 without drawing for 1.2 s" in m
        for m in messages
    ), messages
    assert any("holding node 0 (ids above" in m for m in messages)


def test_an_oversized_next_many_is_a_value_error(server, namespace):
    with lease_node_id(server.url, namespace, layout=Layout.JS_SAFE, **FAST) as lease:
        counter = lease.counter()
        most = 501 * 64  # (500 ms of max_lead + the current tick) x 64 ids a tick
        with pytest.raises(ValueError, match=f"can never fit .* draw at most {most} at once"):
            counter.next_many(most + 1)
        assert len(counter.next_many(100)) == 100


def test_close_records_the_last_id_drawn_not_the_reservation(server, namespace):
    lease = lease_node_id(server.url, namespace, **FAST)
    last = [lease.counter().next() for _ in range(100)][-1]
    lease.close()
    mark = int(server.client().hget(redis_key(namespace), "hwm:0"))
    assert last < mark <= last + 1
    with lease_node_id(server.url, namespace, **FAST) as again:
        assert again.counter().next() > mark
        lead = Layout.TWITTER.decode(again.counter().current()).unix_ns / 1e9 - time.time()
        assert lead < LEAD, "a handover pushed ids ahead of the clock"


def test_bad_arguments(server, namespace):
    with pytest.raises(ValueError, match="'ttl' must be in"):
        lease_node_id(server.url, namespace, ttl=0.1)
    with pytest.raises(ValueError, match="'max_nodes' must be in \\[1, 1024\\]"):
        lease_node_id(server.url, namespace, max_nodes=2000)
    with pytest.raises(ValueError, match="'namespace'"):
        lease_node_id(server.url, "a{b}")
    with pytest.raises(ValueError, match="'max_skew'"):
        lease_node_id(server.url, namespace, max_skew=-1)
    with pytest.raises(ValueError, match="'max_lead'"):
        lease_node_id(server.url, namespace, max_lead=0)
    with lease_node_id(server.url, namespace, **FAST):
        pass
    with pytest.raises(ValueError, match="holds ids of another layout"):
        lease_node_id(server.url, namespace, layout=Layout.INT64, **FAST)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda url: lease_node_id(None, "x"), "lease_node_id() argument 'client' must be a"),
        (lambda url: lease_node_id(url, 5), "lease_node_id() argument 'namespace' must be a str"),
        (
            lambda url: lease_node_id(url, "x", ttl="10"),
            "lease_node_id() argument 'ttl' must be a number of seconds, not str",
        ),
        (
            lambda url: lease_node_id(url, "x", max_nodes=1.5),
            "lease_node_id() argument 'max_nodes' must be an int or None, not float",
        ),
        (
            lambda url: lease_node_id(url, "x", wait="1"),
            "lease_node_id() argument 'wait' must be a number of seconds, not str",
        ),
        (
            lambda url: lease_node_id(url, "x", layout="int64"),
            "lease_node_id() argument 'layout' must be a Layout, not str",
        ),
        (
            lambda url: lease_node_id(url, "x", trust_store=1),
            "lease_node_id() argument 'trust_store' must be a bool, not int",
        ),
        (
            lambda url: alease_node_id(url, "x", max_skew="1"),
            "alease_node_id() argument 'max_skew' must be a number of seconds, not str",
        ),
    ],
)
def test_wrong_types_are_type_errors_naming_the_call(server, call, message):
    with pytest.raises(TypeError) as raised:
        call(server.url)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_namespace_of_version_0_2_is_refused(server, namespace):
    server.client().set(f"atomic_counter:{namespace}:safe_after", "1")
    with pytest.raises(LeaseRefusedError, match=r"in use by atomic-counter 0\.2"):
        lease_node_id(server.url, namespace, **FAST)


def test_the_asyncio_lease(server, namespace):
    import redis.asyncio

    async def main() -> tuple[list[int], int, int]:
        client = redis.asyncio.Redis(host="127.0.0.1", port=server.port)
        drawn = await two_async_leases(client, server.url, namespace, **FAST)
        await client.aclose()
        return drawn

    ids, node, other_node = asyncio.run(main())
    assert {node, other_node} == {0, 1}
    check_no_duplicates([sorted(ids)])
    with pytest.raises(TypeError, match=r"needs a synchronous client \(.*redis\.Redis\)"):
        import redis.asyncio

        lease_node_id(redis.asyncio.Redis(host="127.0.0.1", port=server.port), namespace)

    async def sync_client_to_async_api() -> None:
        await alease_node_id(redis.Redis(host="127.0.0.1", port=server.port), namespace)

    with pytest.raises(TypeError, match=r"needs an asyncio client \(.*redis\.asyncio\.Redis"):
        asyncio.run(sync_client_to_async_api())


def test_async_with_takes_the_claim_directly(server, namespace):
    async def main() -> tuple[int, bool, bool]:
        claim = alease_node_id(server.url, namespace, **FAST)
        async with claim as lease:
            first = lease.counter().next()
            inside = lease.valid
        with pytest.raises(RuntimeError, match="awaited already"):
            await claim
        # Closed with the block: the node is free again, and ids continue above the first.
        async with alease_node_id(server.url, namespace, **FAST) as again:
            return again.counter().next() - first, inside, again.node == lease.node

    gap, inside, same_node = asyncio.run(main())
    assert inside and same_node and gap > 0


def test_no_retry_is_announced_when_none_follows(namespace, caplog):
    from redis_server import free_port

    caplog.set_level(logging.INFO, logger="atomic_counter.lease")
    with pytest.raises(StoreUnavailableError):
        lease_node_id(f"redis://127.0.0.1:{free_port()}/0", namespace, **FAST)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    caplog.clear()
    with pytest.raises(StoreUnavailableError):
        lease_node_id(f"redis://127.0.0.1:{free_port()}/0", namespace, wait=0.5, **FAST)
    assert [r for r in caplog.records if "retrying for" in r.getMessage()]

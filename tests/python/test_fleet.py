"""FleetCounter: ids unique across processes in every process model, against a real redis-server
(the leases themselves are tested in test_lease*.py). Creation does no I/O; threads share one
claim; a fork child (os.fork, multiprocessing fork) and a spawned process lease nodes of their
own; anext() leaves the event loop running while the claim waits; warm() claims in the
background; close() and exit free the node; a counter that refuses for a moment is waited for,
a store that stays away is raised; bad arguments are refused by name.

Short ttls keep it quick: ttl 1 s, max_skew 0.2 s, max_lead 0.5 s, so a claim waits ~1.45 s."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import linux_only, needs_redis_server

from atomic_counter import (
    FleetCounter,
    Layout,
    LeaseExpiredError,
    StoreUnavailableError,
)

FAST = {"ttl": 1.0, "max_skew": 0.2, "max_lead": 0.5}
UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1
needs_redis_py = pytest.mark.skipif(
    importlib.util.find_spec("redis") is None, reason="redis-py is not installed"
)


class _Index:
    """An integer by __index__ only, as numpy's integers are."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def with_redis(test):
    """A test against a redis-server of its own (the `server` fixture), drawn with redis-py."""
    for mark in (needs_redis_server, needs_redis_py, linux_only):
        test = mark(test)
    return test


def owners(server, namespace: str) -> dict[int, bytes]:
    """The nodes of a namespace that a live lease holds (released ones have no owner)."""
    fields = server.client().hgetall(f"atomic_counter:{{{namespace}}}")
    return {int(k[6:]): v for k, v in fields.items() if k.startswith(b"owner:")}


def run_script(code: str, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# -- configuration, without a store -------------------------------------------------------------


def test_creating_one_does_no_io():
    out = run_script(
        """
        import sys, threading
        from atomic_counter import FleetCounter
        before = threading.active_count()
        ids = FleetCounter("redis://127.0.0.1:1/0", "orders")
        print(repr(ids))
        print(ids.node, threading.active_count() == before)
        print(sorted(m for m in ("redis", "psycopg", "atomic_counter.lease") if m in sys.modules))
        """
    )
    assert out.splitlines() == [
        "FleetCounter('redis://127.0.0.1:1/0', 'orders', layout=Layout.INT64, "
        "not leased in this process)",
        "None True",
        "[]",  # no client library, not even the lease protocol, was loaded
    ]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((None, "orders"), {}, TypeError, "argument 'store_url' must be a str"),
        (("http://example/", "orders"), {}, ValueError, "argument 'store_url' must be a URL"),
        ((UNREACHABLE, 5), {}, TypeError, "argument 'namespace' must be a str"),
        ((UNREACHABLE, ""), {}, ValueError, "argument 'namespace' must be a non-empty str"),
        ((UNREACHABLE, "a{b}"), {}, ValueError, "without '{' or '}'"),
        ((UNREACHABLE, "o"), {"layout": "INT64"}, TypeError, "argument 'layout' must be a Layout"),
        ((UNREACHABLE, "o"), {"layout": Layout.TIME_COUNTER}, ValueError, "has none"),
        ((UNREACHABLE, "o"), {"ttl": "10"}, TypeError, "argument 'ttl' must be an int or a float"),
        ((UNREACHABLE, "o"), {"ttl": True}, TypeError, "argument 'ttl'"),
        ((UNREACHABLE, "o"), {"ttl": 0.1}, ValueError, "argument 'ttl' must be in [0.5, 86400]"),
        ((UNREACHABLE, "o"), {"max_skew": -1}, ValueError, "argument 'max_skew' must be in"),
        ((UNREACHABLE, "o"), {"max_lead": 0}, ValueError, "argument 'max_lead' must be in"),
        ((UNREACHABLE, "o"), {"wait": "1"}, TypeError, "argument 'wait'"),
        ((UNREACHABLE, "o"), {"wait": -1}, ValueError, "argument 'wait' must be in [0, 86400]"),
        ((UNREACHABLE, "o"), {"max_nodes": 1.5}, TypeError, "argument 'max_nodes' must be an int"),
        ((UNREACHABLE, "o"), {"max_nodes": 0}, ValueError, "'max_nodes' must be in [1, 1024]"),
        ((UNREACHABLE, "o"), {"max_nodes": 1025}, ValueError, "for the int64 layout"),
        (
            (UNREACHABLE, "o"),
            {"trust_store": 1},
            TypeError,
            "argument 'trust_store' must be a bool",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(args, kwargs, error, message):
    with pytest.raises(error, match=r"^FleetCounter\(\) ") as caught:
        FleetCounter(*args, **kwargs)
    assert message in str(caught.value)


def test_bad_draw_arguments_are_refused_before_any_claim():
    ids = FleetCounter(UNREACHABLE, "orders")
    with pytest.raises(TypeError, match=r"FleetCounter.next_many\(\) argument 'n' must be an int"):
        ids.next_many("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"FleetCounter.next_many\(\) argument 'n' must be >= 0"):
        ids.next_many(-1)
    with pytest.raises(TypeError, match=r"FleetCounter.next_many\(\) argument 'n' must be an int"):
        ids.next_many(True)
    assert "not leased" in repr(ids)


def test_warm_imports_what_the_claim_imports_before_its_thread_starts():
    """A fork (gunicorn's workers) while the claim's thread is importing a module leaves the
    child that module half-initialised. So warm() imports, in the caller's thread, what a claim
    imports on first use, before it starts the thread."""
    out = run_script(
        """
        import sys, threading
        from atomic_counter import FleetCounter
        ids = FleetCounter("redis://127.0.0.1:1/0", "orders", wait=0.0)
        started = threading.Thread.start
        seen = {}
        def spy(thread):
            seen.update((m, m in sys.modules) for m in
                        ("encodings.idna", "email.parser", "redis", "atomic_counter.lease"))
            started(thread)
        threading.Thread.start = spy
        ids.warm()
        threading.Thread.start = started
        print(sorted(m for m, loaded in seen.items() if not loaded))
        """
    )
    assert out.strip() == "[]", out


def test_its_lock_is_made_at_first_use_as_threading_then_makes_it(monkeypatch):
    """gevent's workers monkey-patch threading after the fork, after a module-level counter was
    made: the counter's lock must be one of the patched kind, made when first used."""
    ids = FleetCounter(UNREACHABLE, "orders", wait=0.0)
    made: list[object] = []
    real = threading.Lock

    def patched() -> object:
        lock = real()
        made.append(lock)
        return lock

    monkeypatch.setattr(threading, "Lock", patched)
    ids.warm()  # takes the counter's lock, and starts the claim (which fails: nothing listens)
    assert ids._lock._lock is not None and ids._lock._lock in made
    ids.close()


def test_settings_that_come_back_give_the_same_counter():
    """One FleetCounter per configuration in a process: override_settings toggled in tests
    found a new counter, and leased a new node, every time a configuration came back."""
    pytest.importorskip("django")
    code = """
        import django
        from django.conf import settings
        settings.configure(ATOMIC_COUNTER={"store": "redis://127.0.0.1:1/0", "namespace": "a"})
        django.setup()
        from django.test.utils import override_settings
        from atomic_counter.django import fleet_counter
        first = fleet_counter()
        with override_settings(ATOMIC_COUNTER={"store": "redis://127.0.0.1:1/0", "namespace": "b"}):
            other = fleet_counter()
        again = fleet_counter()
        with override_settings(ATOMIC_COUNTER={"store": "redis://127.0.0.1:1/0", "namespace": "b"}):
            other_again = fleet_counter()
        print(first is again, other is other_again, first is not other, other.namespace)
    """
    assert run_script(code).split() == ["True", "True", "True", "b"]


@linux_only
def test_counters_made_before_a_reload_are_still_reset_in_a_fork_child():
    """importlib.reload (Jupyter's autoreload) runs the module again: its registry of counters
    must survive, or the fork hook no longer finds the counters made before, and a child's
    draw meets the parent's lease (RuntimeError) instead of leasing a node of its own."""
    out = run_script(
        """
        import importlib, os
        import atomic_counter.fleet as fleet
        ids = fleet.FleetCounter("redis://127.0.0.1:1/0", "orders", wait=0.0)
        before = ids._proc
        importlib.reload(fleet)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if ids._proc is not before else 1)
        _, status = os.waitpid(pid, 0)
        print(ids in fleet._LIVE, os.waitstatus_to_exitcode(status), ids._proc is before)
        """
    )
    assert out.split() == ["True", "0", "True"]


def test_the_password_never_shows():
    ids = FleetCounter("redis://:s3cret@127.0.0.1:1/0", "orders")
    assert "s3cret" not in repr(ids) and "redis://:***@127.0.0.1:1/0" in repr(ids)
    with pytest.raises(ValueError) as caught:
        FleetCounter("mysql://user:s3cret@db/x", "orders")
    assert "s3cret" not in str(caught.value)


def test_pickles_as_its_configuration():
    ids = FleetCounter(UNREACHABLE, "orders", layout=Layout.TWITTER, ttl=2.5, wait=0.5)
    data, shown = pickle.dumps(ids), repr(ids)
    # In a process that has one open with the same configuration, a copy is that one.
    assert pickle.loads(data) is ids
    ids.close()
    copy = pickle.loads(data)
    assert copy is not ids and isinstance(copy, FleetCounter)
    assert repr(copy) == shown
    assert copy._options() == ids._options()
    assert (copy.store_url, copy.namespace, copy.layout) == (UNREACHABLE, "orders", Layout.TWITTER)
    assert pickle.loads(data) is copy
    other = FleetCounter(UNREACHABLE, "orders", layout=Layout.TWITTER, ttl=2.5, wait=1.0)
    assert pickle.loads(pickle.dumps(other)) is other
    assert pickle.loads(data) is copy
    copy.close()
    other.close()


# -- with a store -------------------------------------------------------------------------------


@with_redis
def test_threads_share_one_claim(server, namespace):
    ids = FleetCounter(server.url, namespace, **FAST)
    start = threading.Barrier(8)
    drawn: list[list[int]] = [[] for _ in range(8)]

    def work(mine: list[int]) -> None:
        start.wait()  # all of them at once, before the process holds a lease
        mine.extend(ids.next() for _ in range(5000))
        mine.extend(ids.next_many(100).tolist())
        mine.extend(ids.next_many(_Index(10)).tolist())  # an __index__ (numpy's ints) too

    threads = [threading.Thread(target=work, args=(drawn[i],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [i for mine in drawn for i in mine]
    assert len(everything) == len(set(everything)) == 8 * 5110
    for mine in drawn:
        assert mine == sorted(mine)  # each thread sees them increase
    assert list(owners(server, namespace)) == [ids.node]  # one claim for the process
    assert {Layout.INT64.decode(i).node for i in everything} == {ids.node}
    ids.close()


FORK = r"""
import json, os, sys, time
from atomic_counter import FleetCounter
url, namespace, when = sys.argv[1:4]
fast = dict(ttl=1.0, max_skew=0.2, max_lead=0.5)
ids = FleetCounter(url, namespace, **fast)
if when == "after-draw":
    parent = [ids.next() for _ in range(1000)]
else:  # fork while the parent's claim is under way, in its thread
    ids.warm()
    time.sleep(0.2)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    child = [ids.next() for _ in range(1000)]
    os.write(w, json.dumps({"node": ids.node, "ids": child}).encode())
    sys.exit(0)  # a normal exit: the child's lease is closed at exit
os.close(w)
data = b""
while chunk := os.read(r, 1 << 16):
    data += chunk
os.waitpid(pid, 0)
child = json.loads(data)
if when != "after-draw":
    parent = [ids.next() for _ in range(1000)]
parent += [ids.next() for _ in range(1000)]  # the parent's lease is untouched by the child
print(json.dumps({"parent_node": ids.node, "parent": parent, **child}))
"""


@pytest.mark.parametrize("when", ["after-draw", "during-claim"])
@with_redis
def test_a_fork_child_leases_its_own_node(server, namespace, when):
    out = json.loads(run_script(FORK, server.url, namespace, when))
    assert out["node"] != out["parent_node"]
    assert {Layout.INT64.decode(i).node for i in out["ids"]} == {out["node"]}
    assert not set(out["ids"]) & set(out["parent"])
    assert len(set(out["parent"])) == 2000
    # The child's exit freed its node, and only its own: the parent's holder is gone with the
    # parent too, at its exit.
    assert owners(server, namespace) == {}


MULTIPROCESSING = r"""
import json, multiprocessing, os, sys
from atomic_counter import FleetCounter

url, namespace, method = sys.argv[1:4]
IDS = FleetCounter(url, namespace, ttl=1.0, max_skew=0.2, max_lead=0.5)  # at import: no I/O


def draw(ids, queue):
    queue.put((os.getpid(), ids.node, [ids.next() for _ in range(2000)], ids.node))


def draw_global(queue):
    draw(IDS, queue)


if __name__ == "__main__":
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    first = IDS.next()  # the parent holds a lease before it starts the children
    children = [context.Process(target=draw, args=(IDS, queue)) for _ in range(2)]
    children += [context.Process(target=draw_global, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    runs = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
    print(json.dumps({
        "parent": [os.getpid(), IDS.node, [first] + [IDS.next() for _ in range(2000)]],
        "children": runs,
        "exitcodes": [child.exitcode for child in children],
    }))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
@with_redis
def test_multiprocessing_children_lease_their_own_nodes(server, namespace, tmp_path, method):
    script = tmp_path / "pool.py"
    script.write_text(MULTIPROCESSING)
    proc = subprocess.run(
        [sys.executable, str(script), server.url, namespace, method],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["exitcodes"] == [0, 0, 0, 0]
    parent_pid, parent_node, parent_ids = out["parent"]
    nodes = [parent_node]
    everything = list(parent_ids)
    for pid, before, drawn, node in out["children"]:
        assert pid != parent_pid
        assert before is None  # nothing of the parent's lease came along (fork) or over (spawn)
        assert {Layout.INT64.decode(i).node for i in drawn} == {node}
        nodes.append(node)
        everything += drawn
    assert len(set(nodes)) == 5, nodes
    assert len(everything) == len(set(everything)) == 2001 + 4 * 2000
    # Every child freed its node as it left: multiprocessing's fork children leave with
    # os._exit (no atexit), and close their leases from multiprocessing's finalizers.
    assert owners(server, namespace) == {}


POOL_TASKS = """
import json, multiprocessing, sys
from atomic_counter import FleetCounter

def draw(ids):
    values = [ids.next() for _ in range(100)]
    return ids.node, values

if __name__ == "__main__":
    url, namespace = sys.argv[1:]
    ids = FleetCounter(url, namespace, ttl=1.0, max_skew=0.2, max_lead=0.5)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        # The counter goes with every task: the worker unpickles it ten times.
        results = pool.map(draw, [ids] * 10, chunksize=1)
        held = pool.apply(draw, (ids,))
    print(json.dumps(results))
"""


@with_redis
def test_copies_sent_with_each_task_share_one_lease(server, namespace, tmp_path):
    script = tmp_path / "tasks.py"
    script.write_text(POOL_TASKS)
    proc = subprocess.run(
        [sys.executable, str(script), server.url, namespace],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    nodes = {node for node, _ in results}
    drawn = [i for _, ids in results for i in ids]
    assert len(nodes) == 1, nodes  # one lease in the worker, not one per copy
    assert len(drawn) == len(set(drawn)) == 1000
    assert {Layout.INT64.decode(i).node for i in drawn} == nodes


@with_redis
def test_anext_leaves_the_loop_running_while_the_claim_waits(server, namespace):
    ids = FleetCounter(server.url, namespace, **FAST)

    async def main() -> tuple[float, int, list[int]]:
        loop = asyncio.get_running_loop()
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        start = loop.time()
        # Many tasks at once before the process holds a lease; one is cancelled while it waits.
        waiting = [asyncio.create_task(ids.anext()) for _ in range(50)]
        cancelled = asyncio.create_task(ids.anext())
        await asyncio.sleep(0.1)
        cancelled.cancel()
        first = await asyncio.gather(*waiting)
        waited = loop.time() - start
        more = [await ids.anext() for _ in range(1000)]
        done.set()
        await task
        return waited, ticks, first + more

    waited, ticks, drawn = asyncio.run(main())
    assert waited >= 1.2  # the claim held its node for ttl + max_skew before drawing
    # The loop ran on meanwhile: a 10 ms ticker got about waited / 10 ms turns (a quarter is
    # plenty to tell from a blocked loop, which gives it one or two).
    assert ticks >= waited / 0.01 / 4, (ticks, waited)
    assert len(drawn) == len(set(drawn)) == 1050
    assert list(owners(server, namespace)) == [ids.node]
    ids.close()


@with_redis
def test_warm_claims_in_the_background(server, namespace):
    ids = FleetCounter(server.url, namespace, **FAST)
    ids.warm()
    assert ids.node is None  # returned at once: the claim holds its node for 1.2 s first
    assert "claiming" in repr(ids)
    deadline = time.monotonic() + 30
    while ids.node is None:
        assert time.monotonic() < deadline, "warm() never claimed"
        time.sleep(0.02)
    node = ids.node
    ids.warm()  # nothing more to do
    assert Layout.INT64.decode(ids.next()).node == node
    assert list(owners(server, namespace)) == [node]
    assert f"node={node}" in repr(ids)
    ids.close()


@with_redis
def test_close_frees_the_node_and_refuses_after(server, namespace):
    ids = FleetCounter(server.url, namespace, **FAST)
    with ids:
        first = list(itertools.islice(ids, 5))  # an iterator, as every counter
        assert first == sorted(first) and len(set(first)) == 5
        assert list(owners(server, namespace)) == [ids.node]
    assert owners(server, namespace) == {}
    assert ids.node is None and "closed" in repr(ids)
    for call in (ids.next, ids.warm, lambda: ids.next_many(3), lambda: asyncio.run(ids.anext())):
        with pytest.raises(ValueError, match="is closed"):
            call()


EXIT = r"""
import os, sys
from atomic_counter import FleetCounter
url, namespace, how = sys.argv[1:4]
ids = FleetCounter(url, namespace, ttl=5.0, max_skew=0.2, max_lead=0.5)
ids.next()
print(ids.node, flush=True)
if how == "os._exit":
    os._exit(0)
"""


@pytest.mark.parametrize("how", ["exit", "os._exit"])
@with_redis
def test_exit_frees_the_node(server, namespace, how):
    node = int(run_script(EXIT, server.url, namespace, how))
    if how == "exit":
        assert owners(server, namespace) == {}  # closed at exit
    else:
        # Nothing ran at exit: the node stays held until its ttl (5 s) runs out.
        assert list(owners(server, namespace)) == [node]


@with_redis
def test_a_burst_past_max_lead_waits_instead_of_failing(server, namespace):
    # JS_SAFE: 64 ids per ms per node, so max_lead (0.5 s) holds 32,000 ids; four batches of
    # 30,000 run into it, and the counter refuses (LeaseExpiredError) until the clock catches up.
    ids = FleetCounter(server.url, namespace, layout=Layout.JS_SAFE, **FAST)
    ids.next()
    start = time.monotonic()
    batches = [ids.next_many(30_000).tolist() for _ in range(4)]
    singles = [ids.next() for _ in range(40_000)]
    took = time.monotonic() - start
    everything = [i for b in batches for i in b] + singles
    assert everything == sorted(everything) and len(set(everything)) == 160_000
    # 160,000 ids are 2.5 s of ids: only waiting for the clock can have given them out (a claim
    # starts at most max_lead / 2 ahead of the clock, and ends at most max_lead ahead).
    assert took >= 2.5 - 0.5 - 0.25 - 0.05
    ids.close()


@with_redis
def test_a_failed_claim_is_raised_and_the_next_draw_claims_again(tmp_path, namespace):
    from redis_server import RedisServer, free_port

    port = free_port()
    ids = FleetCounter(f"redis://127.0.0.1:{port}/0", namespace, wait=0.3, **FAST)
    for _ in range(2):
        with pytest.raises(StoreUnavailableError):
            ids.next()
        with pytest.raises(StoreUnavailableError):
            asyncio.run(ids.anext())
    server = RedisServer(tmp_path / "redis", port=port)
    server.start()
    try:
        assert Layout.INT64.decode(ids.next()).node == ids.node == 0
    finally:
        ids.close()
        server.stop()


@with_redis
def test_a_store_away_longer_than_wait_is_raised(server, namespace):
    ids = FleetCounter(server.url, namespace, wait=1.0, **FAST)
    before = ids.next()
    server.pause()
    try:
        time.sleep(1.0)  # past the lease's deadline (ttl less its margin): the counter refuses
        start = time.monotonic()
        with pytest.raises(LeaseExpiredError, match=r"no id within wait=1 s") as caught:
            ids.next()
        assert time.monotonic() - start >= 1.0
        assert isinstance(caught.value.__cause__, LeaseExpiredError)
        with pytest.raises(LeaseExpiredError, match=r"FleetCounter.anext\(\): no id within"):
            asyncio.run(ids.anext())
    finally:
        server.resume()
    # Back: the lease qualifies again (D4: it holds its node for ttl + max_skew first) and
    # draws resume, above everything before.
    deadline = time.monotonic() + 30
    while True:
        try:
            after = ids.next()
            break
        except LeaseExpiredError:
            assert time.monotonic() < deadline, "the lease never came back"
    assert after > before
    ids.close()


@linux_only
def test_a_module_level_counter_in_a_preloaded_parent_holds_nothing():
    # What gunicorn --preload does: import the app (and its FleetCounter) in the master, then
    # fork the workers. The master has made no claim, so there is nothing to inherit.
    out = run_script(
        """
        import os, sys
        from atomic_counter import FleetCounter
        ids = FleetCounter("redis://127.0.0.1:1/0", "orders")
        pid = os.fork()
        if pid == 0:
            print(repr(ids), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        """
    )
    assert "not leased in this process" in out

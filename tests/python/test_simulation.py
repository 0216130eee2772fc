"""The deterministic simulator (support/simulator.py, issue 23) and the memory store it runs the
protocols against (atomic_counter/stores/memory.py).

- The memory store is kept honest by a differential test: the same random sequence of lease and
  segment operations and of faults (restarts, loss of everything or of one key, a snapshot put
  back with a new incarnation, one key restored in place, settings changed) runs against the
  memory store and against a real redis-server or PostgreSQL started here, and every reply must
  be the same (the store's clock within a second, incarnations compared by their order of
  appearance).
- The simulator's model of SnowflakeCounter agrees with the extension's counter.
- Episodes are deterministic: a seed replays the same steps.
- A run of episodes finds no duplicate, and, with each safety check taken out (a mutation), it
  finds one.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest
import simulator
from conftest import linux_only, needs_redis_server

from atomic_counter import Layout, SnowflakeCounter
from atomic_counter._core import LeaseExpiredError
from atomic_counter._drive import drive
from atomic_counter.errors import SegmentRefusedError, StoreUnavailableError
from atomic_counter.stores import memory
from atomic_counter.stores.memory import MemoryServer
from atomic_counter.stores.protocols import (
    Claim,
    Claimed,
    Confirm,
    Release,
    Renew,
    Renewed,
    Suspicion,
)

# More seeds on demand: ATOMIC_COUNTER_DIFF_SEEDS=20 runs seeds 23 to 42.
SEEDS = range(23, 23 + int(os.environ.get("ATOMIC_COUNTER_DIFF_SEEDS", "1")))
NAMESPACE = "diff"
SEQUENCE = "diff"
SHORT_TTL = 300  # ms: expires within the test's waits
LONG_TTL = 3_600_000
LAYOUTS = ("1288834974657000000/1000000/41/10/12/1", "1704067200000000000/1000000/41/6/6/1")


# --------------------------------------------------------------------------------------------
# The differential test: one store under test ("a side"), the memory store as the other.


class Side:
    """A store the steps run on: its lease and segment operations, its I/O, and its faults."""

    name: str
    io: Any
    segment_io: Any
    leases: Any
    segments: list[Any]

    def __init__(self) -> None:
        self.incarnations: dict[str, int] = {}
        self.recovering: set[int] = set()  # after a restart: the I/O that may find its
        # connection broken (the step never ran), by id
        self.last_ms = 0

    def ordinal(self, incarnation: str) -> int:
        """Incarnations are compared by their order of first appearance."""
        return self.incarnations.setdefault(incarnation, len(self.incarnations))

    def run(self, make: Any, segment: bool = False) -> Any:
        """Runs the exchange make(self) returns; its outcome, normalized."""
        io = self.segment_io if segment else self.io
        for attempt in range(60):
            try:
                reply = self.normalize(io.run(make(self)))
                self.recovering.discard(id(io))
                return reply
            except StoreUnavailableError as exc:
                self.last_error = exc
                if id(io) not in self.recovering or attempt == 59:
                    return ("raises", type(exc).__name__)
                time.sleep(0.1)  # the server restarting: the step never ran
            except Exception as exc:
                self.recovering.discard(id(io))
                return ("raises", type(exc).__name__)
        raise AssertionError("unreachable")

    def normalize(self, reply: Any) -> Any:
        if isinstance(reply, (Claimed, Renewed)):
            self.last_ms = reply.store_ms
            return dataclasses.replace(
                reply, store_ms=0, incarnation=str(self.ordinal(reply.incarnation))
            )
        return reply

    def incarnation_for(self, ordinal: int) -> str:
        for text, number in self.incarnations.items():
            if number == ordinal:
                return text
        return "never-seen"

    def key(self, what: str) -> str:
        return str(self.leases.key if what == "leases" else self.segments[0].key)


class MemorySide(Side):
    def __init__(self, flavor: str) -> None:
        super().__init__()
        self.name = f"memory ({flavor})"
        self.server = MemoryServer(flavor)
        self.leases, self.io = memory.lease_store(
            self.server, NAMESPACE, timeout=5, asynchronous=False, func="test", trust_store=True
        )
        self.segments = [
            memory.segment_store(
                self.server, SEQUENCE, timeout=5, trust_failover=False, assume_durable=False
            )[0]
            for _ in range(2)
        ]
        self.segment_io = self.io
        self.versions: dict[str, int] = {}

    def restart(self) -> None:
        self.server.crash(0)  # kill -9 and start: nothing acknowledged is lost

    def flush(self) -> None:
        self.server.flush()

    def delete(self, what: str) -> None:
        self.server.delete(self.key(what))

    def snapshot(self, tag: str) -> None:
        self.versions[tag] = self.server.version

    def restore(self, tag: str) -> None:
        self.server.rollback(self.versions[tag], new_incarnation=True)

    def restore_in_place(self, tag: str, what: str) -> None:
        self.server.rollback(
            self.versions[tag],
            new_incarnation=False,
            keys=[self.key(what)],
            rewritten=self.server.flavor == "postgres",  # a logical restore
        )

    def edit(self, what: str) -> None:
        if self.key(what) in self.server.data:
            self.server.edit(self.key(what))

    def configure(self, **settings: str) -> None:
        self.server.configure(**settings)

    def plant_legacy(self) -> None:
        self.server.perform(memory.Op("set", (f"atomic_counter:{NAMESPACE}:safe_after", "1")))


class RedisSide(Side):
    def __init__(self, server: Any, tmp: Path) -> None:
        from atomic_counter.stores import redis as engine

        super().__init__()
        self.name = "redis-server"
        self.server = server
        self.tmp = tmp
        self.client = server.client()
        self.leases, self.io = engine.lease_store(
            self.client, NAMESPACE, timeout=5, asynchronous=False, func="test", trust_store=True
        )
        self.segments = [
            engine.segment_store(
                self.client, SEQUENCE, timeout=5, trust_failover=False, assume_durable=False
            )[0]
            for _ in range(2)
        ]
        self.segment_io = self.io
        self.dumps: dict[str, dict[str, bytes | None]] = {}

    def _ready(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client.ping()
                self.recovering = {id(self.io), id(self.segment_io)}
                return
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.05)

    def restart(self) -> None:
        self.server.restart_keeping_data()
        self._ready()

    def flush(self) -> None:
        self.client.flushall()

    def delete(self, what: str) -> None:
        self.client.delete(self.key(what))

    def snapshot(self, tag: str) -> None:
        self.server.snapshot(self.tmp / f"{tag}.rdb")
        self.dumps[tag] = {w: self.client.dump(self.key(w)) for w in ("leases", "segments")}

    def restore(self, tag: str) -> None:
        self.server.restart_from(self.tmp / f"{tag}.rdb")
        self._ready()

    def restore_in_place(self, tag: str, what: str) -> None:
        payload = self.dumps[tag][what]
        if payload is None:
            self.client.delete(self.key(what))
        else:
            self.client.restore(self.key(what), 0, payload, replace=True)

    def configure(self, **settings: str) -> None:
        for key, value in settings.items():
            if key == "role":
                if value == "master":
                    self.client.replicaof("NO", "ONE")
                else:  # a replica of a primary that never answers: its data stays
                    self.client.replicaof("127.0.0.1", "1")
            else:
                self.client.config_set(key.replace("_", "-"), value)

    def plant_legacy(self) -> None:
        self.client.set(f"atomic_counter:{NAMESPACE}:safe_after", "1")


class PostgresSide(Side):
    def __init__(self, server: Any, url: str | None = None) -> None:
        from atomic_counter.stores import postgres as engine

        super().__init__()
        self.name = "PostgreSQL"
        self.server = server
        url = url or server.url
        self.leases, self.io = engine.lease_store(
            url, NAMESPACE, timeout=5, asynchronous=False, func="test", trust_store=True
        )
        self.segments = []
        for _ in range(2):
            ops, io = engine.segment_store(
                url, SEQUENCE, timeout=5, trust_failover=False, assume_durable=False
            )
            self.segments.append(ops)
        self.segment_io = io
        self.rows: dict[str, dict[str, list[Any]]] = {}

    def _sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """As the superuser, in a transaction that may write whatever the settings say."""
        import psycopg

        with psycopg.connect(self.server.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET default_transaction_read_only = off")
            try:
                cursor = conn.execute(statement, params)
            except psycopg.errors.UndefinedTable:  # the tables are made on first use
                return []
            return cursor.fetchall() if cursor.description is not None else []

    _TABLES: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {
        "leases": (
            ("atomic_counter_lease_namespaces", "namespace"),
            ("atomic_counter_lease_nodes", "namespace"),
        ),
        "segments": (("atomic_counter_segments", "name"),),
    }

    def restart(self) -> None:
        self.server.kill()  # kill -9: crash recovery keeps every commit
        self.server.start()
        # Connections to the killed server's backends may linger (a backend notices its
        # postmaster's death only at its next check): start afresh.
        self.io.close()
        self.segment_io.close()
        self.recovering = {id(self.io), id(self.segment_io)}

    def flush(self) -> None:
        for tables in self._TABLES.values():
            table, _ = tables[0]
            self._sql(f"DELETE FROM {table}")

    def delete(self, what: str) -> None:
        table, column = self._TABLES[what][0]
        self._sql(f"DELETE FROM {table} WHERE {column} = %s", (NAMESPACE,))

    def snapshot(self, tag: str) -> None:
        self.rows[tag] = {
            table: self._sql(f"SELECT * FROM {table} WHERE {column} = %s", (NAMESPACE,))
            for tables in self._TABLES.values()
            for table, column in tables
        }

    def restore_in_place(self, tag: str, what: str) -> None:
        """A logical restore of the rows (a dump of them put back, stamps and all): same
        server, same timeline, rows written by something else."""
        tables = self._TABLES[what]
        table, column = tables[0]
        self._sql(f"DELETE FROM {table} WHERE {column} = %s", (NAMESPACE,))
        for table, _ in tables:
            for row in self.rows[tag][table]:
                marks = ", ".join(["%s"] * len(row))
                self._sql(f"INSERT INTO {table} VALUES ({marks})", tuple(row))

    def edit(self, what: str) -> None:
        """An UPDATE by hand that changes nothing but who wrote the rows last."""
        for table, column in self._TABLES[what]:
            self._sql(f"UPDATE {table} SET {column} = {column} WHERE {column} = %s", (NAMESPACE,))

    def configure(self, **settings: str) -> None:
        names = {"fsync": "fsync", "read_only": "default_transaction_read_only"}
        for key, value in settings.items():
            self._sql(f"ALTER SYSTEM SET {names[key]} = {value}")
        self._sql("SELECT pg_reload_conf()")
        time.sleep(0.2)  # every backend reads the file again before its next statement


@dataclasses.dataclass
class Token:
    name: str
    node: int = 0
    seen_gen: int = 0
    claimed_on: int = -1  # the incarnation (as an ordinal) of its last claim
    mark: int = 0
    last_mark: int = 0  # what its last renewal recorded on `node`, as a lease keeps it


class Differential:
    """Random steps, each run on the memory store and on the real one, replies compared."""

    def __init__(self, seed: int, real: Side, mirror: MemorySide, faults: tuple[str, ...]):
        self.rng = random.Random(seed)
        self.real = real
        self.mirror = mirror
        self.faults = faults
        self.tokens = [Token(f"token-{c}") for c in "abc"]
        self.reserved: list[tuple[int, int]] = []
        self.last_sleep = time.monotonic()
        self.steps: list[str] = []
        self.replies: list[Any] = []
        self.snapshots = 0
        self.settings: dict[str, str] = {}

    def both(self, label: str, make: Any, segment: bool = False) -> Any:
        self.steps.append(label)
        got = self.real.run(make, segment)
        expected = self.mirror.run(make, segment)
        assert got == expected, (
            f"after {len(self.steps)} steps, {label}: {self.real.name} replied {got!r}, the "
            f"memory store {expected!r} ({getattr(self.real, 'last_error', None)!r})\n"
            f"steps: {self.steps[-30:]}"
        )
        if isinstance(got, (Claimed, Renewed)):
            skew = abs(self.real.last_ms - self.mirror.last_ms)
            assert skew < 1000, f"{label}: store clocks {skew} ms apart"
        self.replies.append(got)
        return got

    def fault(self, label: str, action: Any) -> None:
        self.steps.append(label)
        action(self.real)
        action(self.mirror)

    def keep_expiry_clear(self) -> None:
        """Short-ttl entries are either younger than 150 ms or older than 400 ms, whichever
        side reads them: a step never lands near an expiry."""
        if time.monotonic() - self.last_sleep > 0.15:
            time.sleep(0.4)
            self.last_sleep = time.monotonic()
            self.steps.append("sleep")

    def step(self) -> None:
        rng = self.rng
        self.keep_expiry_clear()
        kind = rng.choices(
            (
                "claim",
                "renew",
                "confirm",
                "release",
                "legacy",
                "create",
                "reserve",
                "give_back",
                "skip",
                "fault",
            ),
            (6, 8, 3, 3, 1, 1, 5, 2, 1, 2),
        )[0]
        token = rng.choice(self.tokens)
        if kind == "claim":
            request = Claim(
                token.name,
                rng.choice((SHORT_TTL, LONG_TTL)),
                rng.choice((1, 2, 3)),
                LAYOUTS[0] if rng.random() < 0.95 else LAYOUTS[1],
                token.seen_gen,
                # Taken from the generation, not from rng: the seeds keep the steps they cover.
                (0, 200, 1000)[token.seen_gen % 3],
                (0, 500, 2000)[token.seen_gen // 3 % 3],
            )
            reply = self.both(f"claim {request}", lambda side: side.leases.claim(request))
            if isinstance(reply, Claimed):
                token.node, token.claimed_on = reply.node, int(reply.incarnation)
                token.seen_gen = max(token.seen_gen, reply.gen)
                token.last_mark = 0
        elif kind == "renew":
            token.mark += rng.choice((0, 1, 10**6, 10**12))
            mark = token.mark if rng.random() < 0.9 else rng.randrange(2**64)
            node = token.node if rng.random() < 0.9 else rng.randrange(3)
            last = token.last_mark if rng.random() < 0.9 else token.last_mark + 10**13
            request = Renew(
                token.name, node, rng.choice((SHORT_TTL, LONG_TTL)), mark, token.seen_gen, last
            )
            reply = self.both(f"renew {request}", lambda side: side.leases.renew(request))
            if isinstance(reply, Renewed):
                token.seen_gen = max(token.seen_gen, reply.gen)
                token.last_mark = max(mark, last)
        elif kind == "confirm":
            floor = rng.choice((0, 1767225600000, 1767225600000 + rng.randrange(10**6)))
            ordinal = token.claimed_on if rng.random() < 0.9 else 99

            def make(side: Side) -> Any:
                return side.leases.confirm(
                    Confirm(token.name, token.node, side.incarnation_for(ordinal), floor)
                )

            reply = self.both(f"confirm {token.name} node {token.node} on {ordinal}", make)
            token.seen_gen = max(token.seen_gen, getattr(reply, "gen", 0))
        elif kind == "release":
            mark = rng.choice((None, token.mark, rng.randrange(2**64)))
            request = Release(token.name, token.node, mark)
            self.both(f"release {request}", lambda side: side.leases.release(request))
        elif kind == "legacy":
            self.both("legacy_key", lambda side: side.leases.legacy_key())
        elif kind == "create":
            start = rng.choice((1, 1000, 10**6))
            self.both(f"create({start})", lambda side: side.segments[0].create(start), segment=True)
        elif kind == "reserve":
            which, n = rng.randrange(2), rng.choice((1, 5, 500))
            reply = self.both(
                f"reserve #{which} ({n})",
                lambda side: side.segments[which].reserve(n),
                segment=True,
            )
            if isinstance(reply, tuple) and reply[0] != "raises":
                self.reserved.append(reply)
        elif kind == "give_back":
            if self.reserved and rng.random() < 0.8:
                lo, hi = rng.choice(self.reserved)
                lo = rng.randrange(lo, hi)
            else:
                lo, hi = rng.randrange(100), rng.randrange(100, 200)
            self.both(
                f"give_back({lo}, {hi})",
                lambda side: side.segments[0].give_back(lo, hi),
                segment=True,
            )
        elif kind == "skip":
            by, to = rng.choice((0, 1, 100)), rng.choice((0, 50, 5000))
            self.both(f"skip({by}, {to})", lambda side: side.segments[0].skip(by, to), segment=True)
        else:
            self.random_fault()

    def random_fault(self) -> None:
        rng = self.rng
        fault = rng.choice(self.faults)
        what = rng.choice(("leases", "segments"))
        writes = ("flush", "delete", "edit", "restore_in_place", "legacy")
        if fault in writes and self.settings.get("role") == "slave":
            fault = "role"  # a replica refuses the operator's writes too: make it a primary
        if fault == "restart":
            self.fault("restart", lambda side: side.restart())
        elif fault == "flush":
            self.fault("flush", lambda side: side.flush())
        elif fault == "delete":
            self.fault(f"delete {what}", lambda side: side.delete(what))
        elif fault == "edit":
            self.fault(f"edit {what}", lambda side: side.edit(what))
        elif fault == "snapshot":
            tag = f"s{self.snapshots}"
            self.snapshots += 1
            self.fault(f"snapshot {tag}", lambda side: side.snapshot(tag))
        elif fault in ("restore", "restore_in_place") and self.snapshots:
            tag = f"s{rng.randrange(self.snapshots)}"
            if fault == "restore":
                self.fault(f"restore {tag}", lambda side: side.restore(tag))
                self.settings.clear()  # another process: its configuration
            else:
                self.fault(
                    f"restore {what} from {tag} in place",
                    lambda side: side.restore_in_place(tag, what),
                )
        elif fault in SETTINGS:
            # Each setting goes to a weakened value and back, in turn.
            weak, normal = SETTINGS[fault]
            value = normal if self.settings.get(fault) == weak else weak
            self.settings[fault] = value
            self.fault(f"{fault} {value}", lambda side: side.configure(**{fault: value}))
        elif fault == "legacy":
            self.fault("legacy key", lambda side: side.plant_legacy())
        if fault == "restart" and isinstance(self.real, RedisSide):
            self.settings.clear()  # CONFIG SETs do not survive a Redis restart


# What a fault does to a setting: the weakened value and the normal one.
SETTINGS = {
    "maxmemory_policy": ("allkeys-lru", "noeviction"),
    "appendfsync": ("everysec", "always"),
    "appendonly": ("no", "yes"),
    "role": ("slave", "master"),
    "fsync": ("off", "on"),
    "read_only": ("on", "off"),
}


@linux_only
@needs_redis_server
@pytest.mark.parametrize("seed", SEEDS)
def test_the_memory_store_answers_as_redis_does(tmp_path, seed):
    pytest.importorskip("redis")
    from redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        test = Differential(
            seed,
            RedisSide(server, tmp_path),
            MemorySide("redis"),
            (
                "restart",
                "flush",
                "delete",
                "snapshot",
                "snapshot",
                "restore",
                "restore_in_place",
                "restore_in_place",
                "maxmemory_policy",
                "appendfsync",
                "appendonly",
                "role",
                "legacy",
            ),
        )
        for _ in range(700):
            test.step()
        if seed != 23:
            return  # what the CI seed is known to cover:
        assert {"restart", "flush", "snapshot s0"} <= set(test.steps)
        assert any(s.startswith("restore s") for s in test.steps)
        assert any(s.endswith("in place") for s in test.steps)
        assert any(s.startswith("role slave") for s in test.steps)
        assert ("raises", "SegmentRefusedError") in test.replies
    finally:
        server.kill()


@linux_only
@pytest.mark.parametrize("seed", SEEDS)
def test_the_memory_store_answers_as_postgresql_does(pg, seed):
    real = PostgresSide(pg)
    real.flush()  # the server is the module's: start from nothing
    test = Differential(
        seed,
        real,
        MemorySide("postgres"),
        (
            "restart",
            "flush",
            "delete",
            "delete",
            "edit",
            "snapshot",
            "snapshot",
            "restore_in_place",
            "restore_in_place",
            "fsync",
            "read_only",
        ),
    )
    try:
        for _ in range(450):
            test.step()
        test.fault("settings back", lambda side: side.configure(fsync="on", read_only="off"))
    finally:
        real.configure(fsync="on", read_only="off")
    # Rows edited by hand: a claim sees they are not ours, and a reservation refuses.
    for token in test.tokens:
        for node in range(3):
            release = Release(token.name, node, None)
            test.both(f"release {release}", lambda side, r=release: side.leases.release(r))
    claim = Claim("token-y", LONG_TTL, 1, LAYOUTS[0], 0, 1000, 2000)
    test.both("claim", lambda side: side.leases.claim(claim))
    test.fault("edit leases", lambda side: side.edit("leases"))
    claim = Claim("token-z", LONG_TTL, 3, LAYOUTS[0], 0, 1000, 2000)
    claimed = test.both("claim", lambda side: side.leases.claim(claim))
    test.both("create", lambda side: side.segments[0].create(1), segment=True)
    test.fault("edit segments", lambda side: side.edit("segments"))
    refused = test.both("reserve", lambda side: side.segments[0].reserve(5), segment=True)
    assert isinstance(claimed, Claimed) and claimed.suspicion is Suspicion.REWRITTEN
    assert refused == ("raises", "SegmentRefusedError")
    if seed == 23:  # what the CI seed is known to cover
        assert "restart" in test.steps
        assert any(s.endswith("in place") for s in test.steps)


@linux_only
def test_the_memory_store_answers_as_postgresql_does_across_a_failover():
    """A standby that stopped following the primary is promoted (a new timeline) after the
    primary acknowledged more writes: the memory store goes back to the version the standby
    had, with a new incarnation, and every reply after agrees (segments refused, claims that
    suspect a restart)."""
    pytest.importorskip("psycopg")
    from postgres_server import PostgresServer, server_bin
    from redis_server import Proxy

    if server_bin() is None:
        pytest.skip("PostgreSQL is not installed (tools/test.sh installs it)")
    primary = PostgresServer()
    primary.start()
    standby = PostgresServer(replica_of=primary)
    standby.start()
    proxy = Proxy(primary.port)
    try:
        real = PostgresSide(primary, f"postgresql://app@127.0.0.1:{proxy.port}/postgres")
        mirror = MemorySide("postgres")
        test = Differential(7, real, mirror, ("delete", "snapshot", "restore_in_place"))
        for _ in range(120):
            test.step()
        # Known state on the standby: the sequence exists, the namespace was confirmed.
        test.both("create", lambda side: side.segments[0].create(1), segment=True)
        test.both("reserve", lambda side: side.segments[0].reserve(5), segment=True)
        for token in test.tokens:
            for node in range(3):
                release = Release(token.name, node, None)
                test.both(f"release {release}", lambda side, r=release: side.leases.release(r))
        claim = Claim("token-z", LONG_TTL, 1, LAYOUTS[0], 0, 1000, 2000)
        claimed = test.both("claim", lambda side: side.leases.claim(claim))
        assert isinstance(claimed, Claimed)
        test.both(
            "confirm",
            lambda side: side.leases.confirm(
                Confirm("token-z", 0, side.incarnation_for(int(claimed.incarnation)), 0)
            ),
        )
        standby.wait_caught_up(primary)
        standby.stop()
        version = mirror.server.version
        for _ in range(40):
            test.step()
        primary.kill()
        standby.start()
        standby.promote()
        proxy.switch(standby.port)
        real.server = standby
        real.io.close()
        real.segment_io.close()
        real.recovering = {id(real.io), id(real.segment_io)}
        mirror.server.rollback(version, new_incarnation=True)
        test.steps.append("failover")
        refused = test.both("reserve", lambda side: side.segments[0].reserve(5), segment=True)
        assert refused == ("raises", "SegmentRefusedError")
        claim = Claim("token-y", LONG_TTL, 3, LAYOUTS[0], 0, 1000, 2000)
        claimed = test.both("claim", lambda side: side.leases.claim(claim))
        assert claimed.suspicion is Suspicion.RESTARTED
        for _ in range(100):
            test.step()
    finally:
        proxy.close()
        standby.remove()
        primary.remove()


# --------------------------------------------------------------------------------------------
# The memory store as an engine.


def test_memory_urls_serve_leases_and_segment_counters(namespace, name):
    from atomic_counter import SegmentCounter, lease_node_id

    url = f"memory://{namespace}"
    # A memory:// URL names only a server this process made with serve(): never one made on
    # first use (two processes each making their own would both hand out the same ids).
    with pytest.raises(ValueError, match="names no memory store of this process"):
        lease_node_id(url, namespace, ttl=0.5, max_skew=0.2)
    memory.serve(url)
    with lease_node_id(url, namespace, ttl=0.5, max_skew=0.2) as lease:
        ids = [lease.counter().next() for _ in range(100)]
        assert ids == sorted(set(ids))
        assert lease.node == 0
    url = f"memory://{name}?engine=postgres"
    memory.serve(url)
    with pytest.raises(SegmentRefusedError, match="no such sequence"):
        SegmentCounter(url, name, block=10)
    SegmentCounter.create(url, name)
    counter = SegmentCounter(url, name, block=10)
    assert [counter.next() for _ in range(25)] == list(range(1, 26))
    counter.close()
    assert memory.server(f"memory://{name}?engine=postgres").flavor == "postgres"
    with pytest.raises(ValueError, match=r"\?engine=redis or \?engine=postgres"):
        memory.server("memory://x?engine=sqlite")


@linux_only
def test_a_memory_store_serves_one_process_only(namespace):
    """Its data is one process's: a fork child's copy must not serve (the parent's renewals
    never reach it, so its node would look free there), and FleetCounter, whose point is many
    processes, refuses memory:// URLs."""
    from atomic_counter import FleetCounter, lease_node_id

    url = f"memory://{namespace}"
    memory.serve(url)
    with pytest.raises(ValueError, match="must be a URL starting with postgresql://"):
        FleetCounter(url, namespace)
    lease = lease_node_id(url, namespace, ttl=0.5, max_skew=0.2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its copy of the server refuses, by URL and as an object
        code = 0
        for target in (url, lease._io.server):
            try:
                lease_node_id(target, namespace, ttl=0.5, max_skew=0.2)
            except ValueError as exc:
                code += "serves only the process" in str(exc) or "names no memory" in str(exc)
            except BaseException:
                pass
        os.write(write, bytes([code]))
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == bytes([2]) and status == 0
    os.close(read)
    lease.close()


def test_messages_name_only_the_production_engines():
    from atomic_counter import lease_node_id

    with pytest.raises(ValueError, match=r"must be a postgresql:// or redis:// URL"):
        lease_node_id("mysql://x", "ns")


# --------------------------------------------------------------------------------------------
# The model of SnowflakeCounter.


class RealClock:
    """What the extension's counter reads: CLOCK_MONOTONIC_COARSE is time.monotonic_ns's
    clock give or take its resolution, which the tests leave room for."""

    monotonic_ns = staticmethod(time.monotonic_ns)
    time_ns = staticmethod(time.time_ns)


def test_the_model_counter_draws_as_snowflake_counter_does():
    """Both counters, on the same clock, get the same calls; every result (ids, errors, the
    sealed id) must agree. Ticks of one second keep the two from straddling a tick."""
    layout = Layout(1704067200 * 10**9, "s", 31, 4, 4, name="seconds")
    rng = random.Random(5)
    for _trial in range(200):
        while time.time_ns() % 10**9 > 7 * 10**8:  # room before the next tick
            time.sleep(0.05)
        floor = layout.pack(layout.ticks_at(time.time_ns()) + rng.choice((-3, 0, 2)), 3, 7)
        real = SnowflakeCounter(layout, 3, floor=floor)
        model = simulator.ModelSnowflake(layout, 3, floor, clock=RealClock)
        for _ in range(30):
            call = rng.choice(
                ("next", "next", "many", "extend", "revoke", "lead", "rebind", "seal")
            )
            n, more, lead, node = (
                rng.choice((1, 3, 20)),
                rng.choice((0, 5, 50)),
                rng.choice((0, 10**9, 3 * 10**9)),
                rng.choice((1, 3)),
            )
            outcomes = []
            for counter in (real, model):
                try:
                    if call == "next":
                        result: Any = counter.next()
                    elif call == "many":
                        result = list(counter.next_many(n))
                    elif call == "extend":
                        far = time.monotonic_ns() + 10**9
                        result = counter._extend(far, counter.current() + more)
                    elif call == "revoke":
                        result = counter._revoke()
                    elif call == "lead":
                        result = counter._limit_lead(lead)
                    elif call == "rebind":
                        result = counter._rebind(node, floor)
                    else:
                        result = counter._seal()
                    outcomes.append(("ok", result, counter.current()))
                except (LeaseExpiredError, OverflowError, ValueError) as exc:
                    outcomes.append(("raises", type(exc).__name__, counter.current()))
            assert outcomes[0] == outcomes[1], (call, outcomes)


def _cursor_pair() -> tuple[Any, Any]:
    from atomic_counter._core import _SegmentCounter

    real = _SegmentCounter.__new__(_SegmentCounter)
    model = simulator.ModelCursor()
    engine = types.SimpleNamespace(need=lambda: None, collected=lambda *left: None)
    for cursor in (real, model):
        simulator._bind(cursor, engine, 1.0, "c")
    return real, model


def test_the_model_cursor_takes_blocks_as_the_c_half_does():
    """The C half of SegmentCounter and its model (the range-check mutation runs the model)
    get the same calls: offers in and below order, draws while values are at hand, failures,
    the close; every result must agree."""
    real, _ = _cursor_pair()
    real._offer(10, 20)
    try:
        real._offer(0, 5)
        simulator.ModelCursor.check_ranges = False  # an extension from before R2
    except Exception:
        pass
    try:
        rng = random.Random(9)
        seen = set()
        for _trial in range(300):
            real, model = _cursor_pair()
            top = 0
            for _ in range(40):
                call = rng.choice(("offer", "offer", "next", "next", "next", "close", "fail"))
                if call == "offer":
                    lo = max(0, top + rng.choice((-30, -1, 0, 0, 5)))
                    hi = lo + rng.choice((0, 1, 4, 10))
                    top = max(top, hi)
                outcomes = []
                for cursor in (real, model):
                    try:
                        if call == "offer":
                            result: Any = cursor._offer(lo, hi)
                        elif call == "next":
                            nxt, end, spare, _ = cursor._state()
                            if not (nxt < end or spare or model.failure is not None):
                                result = "would wait"
                            else:
                                result = cursor.next()
                        elif call == "close":
                            result = cursor._close()
                        else:
                            result = cursor._fail(RuntimeError("stop"))
                        outcomes.append(("ok", result, cursor._state()))
                    except Exception as exc:
                        outcomes.append(("raises", type(exc).__name__, cursor._state()))
                assert outcomes[0] == outcomes[1], (call, outcomes)
                seen.add((call, outcomes[0][0]))
        assert {("offer", "raises"), ("next", "ok"), ("next", "raises")} <= seen | {
            ("offer", "raises")  # no R2 before issue 20
        }
    finally:
        simulator.ModelCursor.check_ranges = True


# --------------------------------------------------------------------------------------------
# The simulator.


def test_an_episode_replays_exactly_from_its_seed():
    ep = simulator.Episode.draw(3, "lease")
    first = simulator.run_episode(ep, trace_all=True)
    second = simulator.run_episode(simulator.Episode.draw(3, "lease"), trace_all=True)
    assert first.steps == second.steps > 1000
    assert first.trace == second.trace
    assert first.drawn == second.drawn > 0


# The CI run of the simulator is tools/test.sh's (CI_STEPS steps from seed 1); this one is short.
RUN_STEPS = int(os.environ.get("ATOMIC_COUNTER_SIM_STEPS", "200000"))
CI_STEPS = 3_000_000


def test_a_run_of_episodes_finds_no_duplicate_and_no_stuck_holder():
    out = io.StringIO()
    episodes, steps, failures = simulator.run_many(1, max_steps=RUN_STEPS, out=out)
    assert not failures, out.getvalue()
    assert steps >= RUN_STEPS and episodes >= 2


# Each mutation, and where the search for it runs: CI's run (every regime, from seed 1) for
# most; the lease episodes of one kind for the two the mixed run reaches only beyond its budget.
MUTATION_RUNS = [
    ("c1", None, None),
    ("d4", "lease", False),
    ("hwm", None, None),
    ("incarnation", None, None),
    ("range", None, None),
    ("mark_limit", "lease", True),
    ("stamps", None, None),
    ("create", None, None),
    ("durability", None, None),
]


@pytest.mark.simulation
@pytest.mark.parametrize(("mutation", "kind", "trust"), MUTATION_RUNS)
def test_the_simulator_finds_what_each_check_prevents(mutation, kind, trust):
    """Each safety check taken out (simulator.MUTATIONS), a run from seed 1 finds a duplicate
    (or a counter going back) within CI's budget; docs/simulation.md has the seed and the
    simulated time of each."""
    assert sorted(m for m, _, _ in MUTATION_RUNS) == sorted(simulator.MUTATIONS)
    out = io.StringIO()
    _, steps, failures = simulator.run_many(
        1, max_steps=CI_STEPS, kind=kind, trust=trust, mutation=mutation, out=out
    )
    assert failures, f"mutation {mutation}: nothing found in {steps} steps"
    assert "twice" in failures[0].violation or "went back" in failures[0].violation, out.getvalue()


# --------------------------------------------------------------------------------------------
# What the simulator found in lease.py as issue 20 first left it (commit 24eb418), pinned as
# scenarios: the events the random search produced, in order. Each failed there (a duplicate, a
# draw below the wait's floor, a holder 'waiting' for ever); lease.py's fix (2dd2d78) passes.


def _lease_episode(**fields: Any) -> simulator.Episode:
    ep = simulator.Episode(1, "lease", "redis")
    ep.layout, ep.ttl, ep.max_skew, ep.max_lead = simulator.COARSE, 1.0, 0.2, 0.5
    ep.max_nodes, ep.procs, ep.draw_every = 1, 0, 0.002
    for name, value in fields.items():
        setattr(ep, name, value)
    return ep


def test_a_claimant_paused_through_its_wait_never_draws_on_a_node_handed_on():
    """A claims node 0 and holds it through its C1 wait, renewing; a pause of 4 s stops it
    from renewing. Its entry expires, B claims node 0, waits and draws. The store then goes
    back, in place, to when A held node 0; A wakes after the end of its wait. It must not
    draw (it did not hold the node for the wait: the store handed it on meanwhile) but claim
    again (C1 holds the node throughout the wait). 24eb418's _hold left its loop when the time
    was up and confirmed."""
    holders: list[Any] = []

    def start(world: Any) -> None:
        holders.append(simulator.start_proc(world))

    actions = [
        (0.0, start),
        (0.3, lambda world: holders[0].pause(4.0)),
        (1.5, start),
        # Just after B's renewal at 4.22 s, before A wakes at 4.3 s and B renews again at 4.47.
        (4.23, lambda world: simulator.Nemesis(world)._back_to(holders[0])),
    ]
    _, violation = simulator.run_script(_lease_episode(), actions, until=6.0)
    assert holders[1].drawn > 0
    assert violation is None, violation


def _lapse(restart: bool) -> tuple[Any, Any, list[int]]:
    """A holds node 0 and draws; paused 2 s, its deadline passes (D4): it waits again from
    4.0 to 5.2, renewing, then confirms while the store is down (5.1 to 5.4, restarted at
    5.38 when `restart`)."""
    holders: list[Any] = []
    late: list[int] = []

    def start(world: Any) -> None:
        holders.append(simulator.start_proc(world))

    def down(world: Any) -> None:
        world.server.stop()
        world.after(0.3, world.server.start)
        if restart:
            world.after(0.28, world.server.restart)

    def watch(world: Any) -> None:
        original = holders[0].draw

        def draw() -> None:
            before = holders[0].drawn
            original()
            if holders[0].drawn > before and world.now > world.start + int(5.3 * 1e9):
                late.append(holders[0].last_value)

        holders[0].draw = draw

    actions = [
        (0.0, start),
        (1.9, watch),
        (2.0, lambda world: holders[0].pause(2.0)),
        (5.1, down),
    ]
    world, violation = simulator.run_script(_lease_episode(), actions, until=9.2)
    assert violation is None, violation
    return world, holders[0], late


def test_a_lapsed_holder_draws_again_only_above_its_wait_s_floor():
    """D4 interrupted: A's confirmation after its wait fails (the store is down). In 24eb418 the
    renewal loop caught the error, and its next renewal found A 'waiting', not 'ready', so D4's
    check did not apply: the counter was extended as it was, below the floor of the wait (B,
    the clock at the wait's start + ttl + max_skew + max_lead: 5.7 s here)."""
    world, holder, late = _lapse(restart=False)
    assert late, "A never drew again"
    floor = holder.lease._id_after(world.start + int(5.7 * 1e9) + holder.clock.wall_offset, 0)
    assert late[0] > floor, f"A drew {late[0]} after its wait, below its floor {floor}"


def test_a_lapsed_holder_whose_store_restarted_draws_again():
    """The same, with the store restarted (a new run_id) while it was down: in 24eb418 every
    later renewal of A returned RESTARTED (A was 'waiting'), which _renew_step retried for ever;
    A kept its node and never drew again (the waits were not bounded)."""
    _, holder, _ = _lapse(restart=True)
    assert holder.lease.valid, repr(holder.lease)


def _segment_episode(**fields: Any) -> simulator.Episode:
    ep = simulator.Episode(1, "segment", "redis")
    ep.block, ep.procs, ep.draw_every = 8, 0, 1e9  # the scenario draws, nobody else
    for name, value in fields.items():
        setattr(ep, name, value)
    return ep


def _take(world: Any, proc: Any, n: int) -> None:
    """n values from a counter's C half (never a draw that would wait), checked as the simulator
    checks every value; the engine reserves as a draw makes it want to."""
    if not proc.alive:
        return
    values = []
    for _ in range(n):
        nxt, end, spare, _ = proc.counter._state()
        assert nxt < end or spare, f"{proc.name} has no value at hand"
        values.append(proc.counter.next())
        proc._feed()
    world.checker.handed_out(proc, values)


def test_moving_a_lost_sequence_above_every_block_still_held():
    """After the store loses a sequence, the refusals say to stop every process that uses it,
    then create it again above the last value handed out. Blocks that nobody hands out (a
    process that died holding them, a reservation whose reply was lost) lie between the last
    value handed out and the blocks a running process holds: here X holds [17, 21) when the
    last value handed out is 5, so a formula from the last value handed out alone (5 + 1 + 8 =
    14, the remedy the refusals once gave: simulator.py --operator documented) repeats values.
    The operator who stops the running counters first is safe."""
    procs: list[Any] = []

    def create(world: Any) -> None:
        ops = simulator.MemorySegment(
            simulator.SEQUENCE, trust_failover=False, assume_durable=True, flavor="redis"
        )
        drive(ops.create(1), world.server.perform)

    def start(world: Any) -> None:
        procs.append(simulator.SegmentProc(world))

    def repair(world: Any) -> None:
        assert simulator.Operator.mode == "kill"
        world.operator.repair()
        procs.append(simulator.SegmentProc(world))  # Y

    actions = [
        (0.0, create),
        (0.01, start),  # X: [1, 5) and a spare [5, 9)
        (0.1, lambda world: _take(world, procs[0], 4)),  # 1..4
        (0.2, start),  # D: [9, 13) and [13, 17)
        (0.3, lambda world: procs[1].kill()),  # D dies: 9..16 are a gap
        (0.4, lambda world: _take(world, procs[0], 1)),  # 5, from the spare: X reserves [17, 21)
        (0.5, lambda world: world.server.flush()),
        (0.6, repair),
        (0.7, lambda world: _take(world, procs[-1], 4)),  # Y
        (0.8, lambda world: _take(world, procs[0], 4)),  # X: 6, 7, 8, then its spare
    ]
    world, violation = simulator.run_script(_segment_episode(), actions, until=1.0)
    assert world.checker.drawn >= 9
    assert violation is None, violation

"""A store in memory: the lease and segment operations of Redis and PostgreSQL, with their
semantics, in this process. It exists for the deterministic simulator
(tests/python/support/simulator.py), which runs the real protocol code against it under every
fault the engines can suffer, and for tests that need a store without a server.

A MemoryServer holds what one Redis server or one PostgreSQL database holds for this package
(``flavor`` "redis" or "postgres": where the engines differ, it behaves as the one it plays):
lease namespaces and sequences, keyed as Redis keys them. Each operation is one atomic step
(a Redis script, a PostgreSQL transaction) on the server's clock, recorded as a new version of
the data, so that the faults can put any earlier version back. The faults are methods of the
server, each named after what causes it on a real one (``restart``, ``flush``, ``delete``,
``rollback``, ``failover``, ``configure``, ``stop``/``start``); what a network does to requests
and replies (lost, delayed) is the simulator's.

tests/python/test_simulation.py runs the same random sequences of operations and faults here and
on real redis-server and PostgreSQL servers and compares every reply: that is what keeps this
model honest. Use ``memory://<name>`` (``?engine=postgres`` for PostgreSQL's semantics) or a
MemoryServer wherever a store is taken.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SegmentRefusedError, StoreUnavailableError
from .protocols import (
    Claim,
    Claimed,
    ClaimReply,
    Confirm,
    Confirmed,
    ConfirmReply,
    Exchange,
    Full,
    Lost,
    Refusal,
    Refused,
    Release,
    Renew,
    Renewed,
    RenewReply,
    Restarted,
    Suspicion,
    T,
)

NAME = "memory"
CLIENTS = "a MemoryServer"  # for messages
SYNC_CLIENT = ASYNC_CLIENT = "atomic_counter.stores.memory.MemoryServer"
SCHEMES = ("memory://",)
ADVERTISED = False  # a store for tests: messages name the production engines only

_MAX_VALUE = 2**63 - 1  # a Redis integer, a PostgreSQL bigint
_HISTORY = 256  # versions kept for rollbacks


# -- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One atomic step on the server (what a script or a transaction does): a method of
    MemoryServer and its arguments. The reply is the method's result."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Version:
    """The data after one write: its number, and every key's value then."""

    number: int
    data: dict[str, Any]


class MemoryServer:
    """What one Redis server or PostgreSQL database holds for atomic-counter, in memory.

    ``clock`` is the server's wall clock in ns (time.time_ns by default; the simulator passes
    its own). Values are immutable: every write replaces a key's value, and the mapping of keys
    to values after each operation is kept (the last 256), so a rollback can restore any of
    them.
    """

    def __init__(
        self, flavor: str = "redis", *, clock: Callable[[], int] = time.time_ns, name: str = ""
    ) -> None:
        if flavor not in ("redis", "postgres"):
            raise ValueError(f"MemoryServer flavor must be 'redis' or 'postgres', got {flavor!r}")
        self.flavor = flavor
        self.name = name
        self.clock = clock
        self.data: dict[str, Any] = {}
        self.version = 0
        self.history: list[Version] = [Version(0, self.data)]
        self.up = True
        # Redis: INFO's run_id and its settings; PostgreSQL: system identifier and timeline.
        self._runs = itertools.count(1)
        self.run_id = self._new_run_id()
        self.system_id = 7000000000000000001
        self.timeline = 1
        # What the server starts with (its configuration file); CONFIG SET changes last until
        # a restart.
        self.startup = {
            "appendonly": "yes",
            "appendfsync": "always",
            "maxmemory-policy": "noeviction",
            "role": "master",
        }
        self.settings = dict(self.startup)
        # Checks a mutation run switches off (the simulator's "incarnation" mutation).
        self.see_incarnation = True
        self.lock = threading.Lock()  # for MemoryIO's threads; the simulator has one

    def _new_run_id(self) -> str:
        return f"{next(self._runs):040x}"

    @property
    def incarnation(self) -> str:
        """What the protocols compare to tell a restarted or failed-over store."""
        if not self.see_incarnation:
            return "1"
        if self.flavor == "redis":
            return self.run_id
        return f"{self.system_id}/{self.timeline:08X}"

    def now_ms(self) -> int:
        return self.clock() // 1_000_000

    # -- writes and versions -------------------------------------------------------------

    def _commit(self, changes: dict[str, Any]) -> None:
        """Replaces the values of some keys (None deletes) as one new version."""
        data = dict(self.data)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        self.data = data
        self.version += 1
        self.history.append(Version(self.version, data))
        if len(self.history) > _HISTORY:
            del self.history[: len(self.history) - _HISTORY]

    def perform(self, op: Op) -> Any:
        """Runs one operation atomically; StoreUnavailableError while the server is down."""
        if not self.up:
            raise StoreUnavailableError(f"{self.flavor} (in memory) is unavailable: stopped")
        with self.lock:
            return getattr(self, "op_" + op.name)(*op.args)

    # -- faults: what happens to real servers --------------------------------------------

    def stop(self) -> None:
        """The server stops answering (down, paused, unreachable)."""
        self.up = False

    def start(self) -> None:
        self.up = True

    def restart(self, *, persisted: bool = True) -> None:
        """A restart (or a crash and a restart). Redis gets a new run_id and keeps its data only
        if it persists every write (appendonly yes, appendfsync always); PostgreSQL keeps every
        committed write and its incarnation."""
        if self.flavor == "redis":
            self.run_id = self._new_run_id()
            if not persisted or self.settings["appendonly"] != "yes":
                self._commit(dict.fromkeys(self.data))
            self.settings = dict(self.startup)
        self.up = True

    def flush(self) -> None:
        """Everything is lost, the server keeps running (FLUSHALL; DROP or TRUNCATE of every
        table)."""
        self._commit(dict.fromkeys(self.data))

    def delete(self, key: str) -> None:
        """One key or row set is lost (DEL, eviction, DELETE)."""
        self._commit({key: None})

    def keys(self) -> list[str]:
        return sorted(self.data)

    def rollback(
        self, version: int, *, new_incarnation: bool, keys: list[str] | None = None
    ) -> None:
        """The data goes back to an earlier version (of every key, or only of `keys`). With a
        new incarnation: a restart from an older snapshot, a failover to a replica or standby
        that missed the writes since, a point-in-time restore. Without: a dump loaded into the
        running Redis, keys RESTOREd, a PostgreSQL data directory copied back by hand."""
        old = self.at(version)
        if keys is None:
            changes = {key: old.get(key) for key in set(self.data) | set(old)}
        else:
            changes = {key: old.get(key) for key in keys}
        self._commit(changes)
        if new_incarnation:
            self.new_incarnation()

    def failover(self, *, lag: int = 0) -> None:
        """A replica or standby that missed the last `lag` writes becomes the server."""
        self.rollback(max(0, self.version - lag), new_incarnation=True)

    def new_incarnation(self) -> None:
        if self.flavor == "redis":
            # Another server process: its own configuration, not the CONFIG SETs of this one.
            self.run_id = self._new_run_id()
            self.settings = dict(self.startup)
        else:
            self.timeline += 1

    def at(self, version: int) -> dict[str, Any]:
        """The data as it was after `version` (the oldest kept if it is older)."""
        for kept in reversed(self.history):
            if kept.number <= version:
                return kept.data
        return self.history[0].data

    def configure(self, **settings: str) -> None:
        """CONFIG SET (maxmemory_policy=..., appendfsync=..., appendonly=..., role=...)."""
        for key, value in settings.items():
            self.settings[key.replace("_", "-")] = value

    # -- lease operations (what stores/redis.py's scripts and postgres.py's SQL do) -------

    def _evicting(self) -> Refused | None:
        policy = self.settings["maxmemory-policy"]
        if self.flavor == "redis" and policy.startswith("allkeys"):
            return Refused(Refusal.EVICTION, policy)
        return None

    def op_claim(self, key: str, request: Claim) -> ClaimReply:
        refused = self._evicting()
        if refused is not None:
            return refused
        now, run_id, ttl = self.now_ms(), self.incarnation, request.ttl_ms
        stored = self.data.get(key)
        suspicion = None
        ns: dict[str, Any]
        if stored is None:
            suspicion = Suspicion.MISSING
            ns = {
                "layout": request.layout,
                "incarnation": "",
                "gen": 0,
                "floor_ms": 0,
                "max_ttl_ms": ttl,
                "nodes": {},
            }
        else:
            if stored["layout"] != request.layout:
                return Refused(Refusal.LAYOUT, stored["layout"])
            ns = dict(stored)
            if ns["incarnation"] == "":
                suspicion = Suspicion.UNCONFIRMED
            elif ns["incarnation"] != run_id:
                suspicion = Suspicion.RESTARTED
            if ns["gen"] < request.seen_gen:
                suspicion = Suspicion.ROLLED_BACK
                ns["incarnation"] = ""
            if ttl > ns["max_ttl_ms"]:
                ns["max_ttl_ms"] = ttl
        max_ttl = ns["max_ttl_ms"]
        nodes = ns["nodes"]
        for i in range(request.nodes):
            owner, expires, hwm = nodes.get(i, (None, 0, 0))
            # An expiry further away than the longest ttl: the store's clock went back.
            if owner is None or expires <= now or expires > now + max_ttl:
                nodes = ns["nodes"] = dict(nodes)
                nodes[i] = (request.token, now + ttl, hwm)
                ns["gen"] += 1
                self._commit({key: ns})
                return Claimed(
                    node=i,
                    hwm=hwm,
                    floor_ms=ns["floor_ms"],
                    suspicion=suspicion,
                    store_ms=now,
                    gen=ns["gen"],
                    max_ttl_ms=max_ttl,
                    incarnation=run_id,
                )
        if ns != stored:
            self._commit({key: ns})  # the namespace created or marked, as the engines do
        return Full()

    def _held(self, key: str, token: str, node: int) -> dict[str, Any] | None:
        """The namespace, copied for a write, when `node` is the token's; else None."""
        stored = self.data.get(key)
        if stored is None:
            return None
        owner = stored["nodes"].get(node, (None, 0, 0))[0]
        if owner != token:
            return None
        ns = dict(stored)
        ns["nodes"] = dict(stored["nodes"])
        return ns

    def op_renew(self, key: str, request: Renew) -> RenewReply:
        refused = self._evicting()
        if refused is not None:
            return refused
        now, run_id = self.now_ms(), self.incarnation
        ns = self._held(key, request.token, request.node)
        if ns is None:
            return Lost()
        rolled_back = ns["gen"] < request.seen_gen
        if rolled_back:
            ns["incarnation"] = ""
        owner, _, hwm = ns["nodes"][request.node]
        ns["nodes"][request.node] = (owner, now + request.ttl_ms, max(hwm, request.mark))
        ns["gen"] += 1
        self._commit({key: ns})
        return Renewed(rolled_back=rolled_back, store_ms=now, gen=ns["gen"], incarnation=run_id)

    def op_confirm(self, key: str, request: Confirm) -> ConfirmReply:
        refused = self._evicting()
        if refused is not None:
            return refused
        run_id = self.incarnation
        ns = self._held(key, request.token, request.node)
        if ns is None:
            return Lost()
        if run_id != request.claimed_on:
            return Restarted()
        floor = max(request.floor_ms, ns["floor_ms"])
        ns["floor_ms"] = floor
        ns["incarnation"] = run_id
        ns["gen"] += 1
        self._commit({key: ns})
        return Confirmed(floor_ms=floor, gen=ns["gen"])

    def op_release(self, key: str, request: Release) -> bool:
        if self._evicting() is not None:
            return False
        ns = self._held(key, request.token, request.node)
        if ns is None:
            return False
        hwm = ns["nodes"][request.node][2]
        ns["nodes"][request.node] = (None, 0, hwm if request.mark is None else request.mark)
        ns["gen"] += 1
        self._commit({key: ns})
        return True

    def op_exists(self, key: str) -> bool:
        return key in self.data

    def op_set(self, key: str, value: Any) -> None:
        """A value written by something other than this package (a test, an operator)."""
        self._commit({key: value})

    # -- segment operations ----------------------------------------------------------------

    def op_settings(self) -> dict[str, str]:
        return {**self.settings, "flavor": self.flavor}

    def op_reserve(self, key: str, start: int, n: int, trust: bool) -> int | None:
        """Moves the sequence up by n (creating it at start + n); the new value, or None when
        PostgreSQL's row was last written on another incarnation (and `trust` is off)."""
        stored = self.data.get(key)
        here = self.incarnation
        if stored is None:
            value = start + n
        elif self.flavor == "postgres" and not (stored[1] == here or stored[1] == "" or trust):
            return None
        else:
            value = stored[0] + n
        if value > _MAX_VALUE:
            raise OverflowError("increment or decrement would overflow")
        self._commit({key: (value, here)})
        return value

    def op_give_back(self, key: str, lo: int, hi: int) -> bool:
        stored = self.data.get(key)
        if stored is None or stored[0] != hi:
            return False
        if self.flavor == "postgres" and stored[1] != self.incarnation:
            return False
        self._commit({key: (lo, stored[1])})
        return True

    def op_skip(self, key: str, by: int) -> int | None:
        stored = self.data.get(key)
        if stored is None:
            return None
        value: int = stored[0] + by
        if value > _MAX_VALUE:
            raise OverflowError("increment or decrement would overflow")
        self._commit({key: (value, self.incarnation)})
        return value


# -- the operations (protocols.LeaseStore, protocols.SegmentStore) -------------------------


def _display(flavor: str) -> str:
    return ("Redis" if flavor == "redis" else "PostgreSQL") + " (in memory)"


class MemoryLeases:
    """A lease namespace on a MemoryServer: each operation is one Op."""

    def __init__(self, namespace: str, flavor: str = "redis") -> None:
        self.name = _display(flavor)
        self.key = f"atomic_counter:{{{namespace}}}"
        self._legacy = f"atomic_counter:{namespace}:safe_after"

    def claim(self, request: Claim) -> Exchange[ClaimReply]:
        return (yield Op("claim", (self.key, request)))  # type: ignore[no-any-return]

    def renew(self, request: Renew) -> Exchange[RenewReply]:
        return (yield Op("renew", (self.key, request)))  # type: ignore[no-any-return]

    def confirm(self, request: Confirm) -> Exchange[ConfirmReply]:
        return (yield Op("confirm", (self.key, request)))  # type: ignore[no-any-return]

    def release(self, request: Release) -> Exchange[bool]:
        return bool((yield Op("release", (self.key, request))))

    def legacy_key(self) -> Exchange[str | None]:
        exists = yield Op("exists", (self._legacy,))
        return self._legacy if exists else None


class MemorySegment:
    """A sequence on a MemoryServer, as redis.py's RedisSegment or postgres.py's
    PostgresSegment treats it (the server's flavor decides)."""

    def __init__(
        self, name: str, *, trust_failover: bool, assume_durable: bool, flavor: str = "redis"
    ) -> None:
        self.name = _display(flavor)
        self._name = name
        self.key = f"atomic_counter:segment:{name}"
        self._trust = trust_failover
        self._checked = assume_durable

    def _check_durability(self) -> Exchange[None]:
        """Redis's: the first reservation refuses a server that can lose or evict the key."""
        config = yield Op("settings", ())
        if config.get("flavor", "redis") != "redis":
            return
        problems = []
        if config["appendonly"] != "yes" or config["appendfsync"] != "always":
            problems.append(
                f"appendonly {config['appendonly']}, appendfsync {config['appendfsync']}"
            )
        if config["maxmemory-policy"].startswith("allkeys"):
            problems.append(f"maxmemory-policy {config['maxmemory-policy']}")
        if config["role"] != "master":
            problems.append(f"role {config['role']}")
        if problems:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: this server could hand out a value twice: "
                f"{'; '.join(problems)}"
            )
        self._checked = True

    def reserve(self, start: int, n: int) -> Exchange[tuple[int, int]]:
        if not self._checked:
            yield from self._check_durability()
        try:
            hi = yield Op("reserve", (self.key, start, n, self._trust))
        except OverflowError as exc:
            raise OverflowError(
                f"SegmentCounter {self._name!r} is used up: its next block would pass 2**63 - 1"
            ) from exc
        if hi is None:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: the store is on another incarnation than when "
                f"the sequence was last reserved"
            )
        return hi - n, hi

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        return bool((yield Op("give_back", (self.key, lo, hi))))

    def skip(self, by: int) -> Exchange[int]:
        value = yield Op("skip", (self.key, by))
        if value is None:
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(value)


# -- I/O ---------------------------------------------------------------------------------------


class MemoryIO:
    """Runs exchanges on a MemoryServer (protocols.StoreIO)."""

    def __init__(self, server: MemoryServer) -> None:
        self.server = server

    def run(self, exchange: Exchange[T]) -> T:
        from .._drive import drive

        return drive(exchange, self.server.perform)

    def close(self) -> None:
        pass


class AsyncMemoryIO:
    """MemoryIO for asyncio (protocols.AsyncStoreIO)."""

    def __init__(self, server: MemoryServer) -> None:
        self.server = server

    async def run(self, exchange: Exchange[T]) -> T:
        from .._drive import drive

        return drive(exchange, self.server.perform)

    async def close(self) -> None:
        pass


# -- the engine (protocols.Engine) -------------------------------------------------------------

_SERVERS: dict[str, MemoryServer] = {}
_SERVERS_LOCK = threading.Lock()


def server(url: str) -> MemoryServer:
    """The server of a ``memory://<name>[?engine=redis|postgres]`` URL: one per name in this
    process, made on first use."""
    name, _, query = url[len("memory://") :].partition("?")
    flavor = "redis"
    for part in query.split("&") if query else ():
        field, _, value = part.partition("=")
        if field != "engine" or value not in ("redis", "postgres"):
            raise ValueError(
                f"a memory:// URL takes ?engine=redis or ?engine=postgres, got {url!r}"
            )
        flavor = value
    with _SERVERS_LOCK:
        found = _SERVERS.get(name)
        if found is None:
            found = _SERVERS[name] = MemoryServer(flavor, name=name)
        elif found.flavor != flavor:
            raise ValueError(f"memory://{name} is a {found.flavor} server, not {flavor}")
        return found


def _server_of(client: Any) -> MemoryServer:
    found: MemoryServer = server(client) if isinstance(client, str) else client
    return found


def accepts(client: Any) -> bool:
    return isinstance(client, MemoryServer)


def is_async(client: Any) -> bool:
    return False


def lease_store(
    client: Any, namespace: str, *, timeout: float, asynchronous: bool, func: str
) -> tuple[MemoryLeases, MemoryIO | AsyncMemoryIO]:
    found = _server_of(client)
    io = (AsyncMemoryIO if asynchronous else MemoryIO)(found)
    return MemoryLeases(namespace, found.flavor), io


def segment_store(
    client: Any, name: str, *, timeout: float, trust_failover: bool, assume_durable: bool
) -> tuple[MemorySegment, MemoryIO]:
    found = _server_of(client)
    ops = MemorySegment(
        name, trust_failover=trust_failover, assume_durable=assume_durable, flavor=found.flavor
    )
    return ops, MemoryIO(found)

"""A store in memory: the lease and segment operations of Redis and PostgreSQL, with their
semantics, in this process. It exists for the deterministic simulator
(tests/python/support/simulator.py), which runs the real protocol code against it under every
fault the engines can suffer, and for tests that need a store without a server.

A MemoryServer holds what one Redis server or one PostgreSQL database holds for this package
(``flavor`` "redis" or "postgres": where the engines differ, it behaves as the one it plays):
lease namespaces and sequences, keyed as Redis keys them. Each operation is one atomic step
(a Redis script or MULTI/EXEC, a PostgreSQL transaction) on the server's clock, recorded as a
new version of the data, so that the faults can put any earlier version back. The faults are
methods of the server, each named after what causes it on a real one (``restart``, ``crash``,
``flush``, ``delete``, ``rollback``, ``failover``, ``configure``, ``stop``/``start``); what a
network does to requests and replies (lost, delayed) is the simulator's.

PostgreSQL's rows carry whether they are "ours" (`stamp = xmin`, see
stores/postgres.py): every write of an operation makes its rows ours; a logical restore, a
re-insert or an edit by hand (``rollback(..., rewritten=True)``, ``edit``) leaves rows that are
not; a physical copy, a failover or a crash keeps the flags as they were.

tests/python/test_simulation.py runs the same random sequences of operations and faults here and
on real redis-server and PostgreSQL servers and compares every reply: that is what keeps this
model honest. Pass a MemoryServer wherever a store is taken, or ``memory://<name>``
(``?engine=postgres`` for PostgreSQL's semantics) once ``serve(url)`` has made that server.

Its data lives in one process: another process (a fork child's copy included) sees none of
what this one writes, so two processes "sharing" it would hand out the same ids. A server
therefore refuses every operation from a process other than the one that made it, and a
``memory://`` URL names only a server this process made with ``serve()`` (never one made on
first use). FleetCounter, whose point is many processes, takes no memory:// URL.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import LeaseRefusedError, SegmentRefusedError, StoreUnavailableError
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
    """One atomic step on the server (what a script, a MULTI/EXEC or a transaction does): a
    method of MemoryServer (``op_<name>``) and its arguments. The reply is the method's."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Version:
    """The data after one write: its number, and every key's value then."""

    number: int
    data: dict[str, Any]


# A lease namespace is a dict: layout, incarnation, gen, floor_ms, max_ttl_ms, ours (the
# namespace's row, PostgreSQL), nodes: {node: (owner or None, expires_ms, hwm, ours)}. A
# sequence is a tuple (next value, incarnation of its last write, ours). Values are never
# changed in place: a write makes new ones.


class MemoryServer:
    """What one Redis server or PostgreSQL database holds for atomic-counter, in memory.

    ``clock`` is the server's wall clock in ns (time.time_ns by default; the simulator passes
    its own). The mapping of keys to values after each operation is kept (the last 256), so a
    rollback can restore any of them.
    """

    def __init__(
        self, flavor: str = "redis", *, clock: Callable[[], int] = time.time_ns, name: str = ""
    ) -> None:
        if flavor not in ("redis", "postgres"):
            raise ValueError(f"MemoryServer flavor must be 'redis' or 'postgres', got {flavor!r}")
        self.flavor = flavor
        self.name = name
        self.clock = clock
        self.pid = os.getpid()
        self.data: dict[str, Any] = {}
        self.version = 0
        self.history: list[Version] = [Version(0, self.data)]
        self.up = True
        # Redis: INFO's run_id; PostgreSQL: the system identifier and the timeline.
        self._runs = itertools.count(1)
        self.run_id = self._new_run_id()
        self.system_id = 7000000000000000001
        self.timeline = 1
        # What the server starts with (its configuration); CONFIG SET (Redis) changes last
        # until a restart. PostgreSQL: fsync, default_transaction_read_only, in recovery.
        if flavor == "redis":
            self.startup = {
                "appendonly": "yes",
                "appendfsync": "always",
                "maxmemory-policy": "noeviction",
                "role": "master",
            }
        else:
            self.startup = {"fsync": "on", "read-only": "off", "recovery": "off"}
        self.settings = dict(self.startup)
        # The first version a crash may lose: writes since persistence was weakened (Redis:
        # appendfsync not always or appendonly no; PostgreSQL: fsync off). None: nothing.
        self.unsafe_since: int | None = None
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
        """An operation's writes, as one new version. A Redis replica refuses the write
        (READONLY), and with it the whole script: nothing is written."""
        if self.flavor == "redis" and self.settings["role"] != "master":
            raise StoreUnavailableError(
                "Redis (in memory) is unavailable: READONLY You can't write against a read "
                "only replica."
            )
        self._change(changes)

    def _change(self, changes: dict[str, Any]) -> None:
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
        if os.getpid() != self.pid:
            raise ValueError(
                f"a memory store serves only the process that made it (pid {self.pid}), not "
                f"pid {os.getpid()}: its data is that process's alone. Use a redis:// or "
                f"postgresql:// store for more than one process"
            )
        if not self.up:
            raise StoreUnavailableError(f"{self.flavor} (in memory) is unavailable: stopped")
        with self.lock:
            return getattr(self, "op_" + op.name)(*op.args)

    def at(self, version: int) -> dict[str, Any]:
        """The data as it was after `version` (the oldest kept if it is older)."""
        for kept in reversed(self.history):
            if kept.number <= version:
                return kept.data
        return self.history[0].data

    def keys(self) -> list[str]:
        return sorted(self.data)

    # -- faults: what happens to real servers --------------------------------------------

    def stop(self) -> None:
        """The server stops answering (down, paused, unreachable)."""
        self.up = False

    def start(self) -> None:
        self.up = True

    def restart(self) -> None:
        """A clean restart (shutdown, start). Redis: a new run_id, its configuration file's
        settings again, and its data as persisted (all of it with appendonly; none without).
        PostgreSQL: every committed write, the same incarnation."""
        if self.flavor == "redis":
            if self.settings["appendonly"] != "yes":
                self._lose_since(self.unsafe_since or 0)
            self.run_id = self._new_run_id()
            self.settings = dict(self.startup)
            self.unsafe_since = None
        self.up = True

    def crash(self, lost: int = 0) -> None:
        """kill -9 (or a power loss) and a restart: writes acknowledged since persistence was
        weakened may be lost, the last `lost` of them (none while every write is persisted
        before its reply). Redis then restarts as restart() says."""
        if self.unsafe_since is not None and lost > 0:
            self._lose_since(max(self.unsafe_since, self.version - lost + 1))
        if self.flavor == "redis":
            self.restart()
        else:
            self.unsafe_since = None if self.settings["fsync"] == "on" else self.version + 1
        self.up = True

    def _lose_since(self, version: int) -> None:
        """The writes from `version` on are gone (the data as after version - 1)."""
        if version <= self.version:
            self.rollback(version - 1, new_incarnation=False)

    def flush(self) -> None:
        """Everything is lost, the server keeps running (FLUSHALL; TRUNCATE or DROP)."""
        self._change(dict.fromkeys(self.data))

    def delete(self, key: str) -> None:
        """One key or one namespace's rows are lost (DEL, eviction, DELETE)."""
        self._change({key: None})

    def rollback(
        self,
        version: int,
        *,
        new_incarnation: bool,
        keys: list[str] | None = None,
        rewritten: bool = False,
    ) -> None:
        """The data goes back to an earlier version (of every key, or only of `keys`). With a
        new incarnation: a restart from an older snapshot, a failover to a replica or standby
        that missed the writes since, a point-in-time restore. Without: a dump loaded into the
        running Redis, keys RESTOREd, a PostgreSQL data directory copied back by hand; with
        `rewritten` (PostgreSQL), a logical restore (pg_restore, COPY): the rows come back as
        they were, written by something other than this package."""
        old = self.at(version)
        chosen = set(self.data) | set(old) if keys is None else set(keys)
        changes = {key: old.get(key) for key in sorted(chosen)}
        if rewritten:
            changes = {key: _rewritten(value) for key, value in changes.items()}
        self._change(changes)
        if new_incarnation:
            self.new_incarnation()

    def edit(self, key: str) -> None:
        """An UPDATE by hand (PostgreSQL) that leaves the values as they are: the rows are no
        longer ours."""
        self._change({key: _rewritten(self.data.get(key))})

    def failover(self, *, lag: int = 0) -> None:
        """A replica or standby that missed the last `lag` writes becomes the server."""
        self.rollback(max(0, self.version - lag), new_incarnation=True)

    def new_incarnation(self) -> None:
        """Another server process or timeline (a restart, a promotion, a restore)."""
        if self.flavor == "redis":
            self.run_id = self._new_run_id()
            self.settings = dict(self.startup)  # its own configuration, not our CONFIG SETs
            self.unsafe_since = None
        else:
            self.timeline += 1

    def configure(self, **settings: str) -> None:
        """CONFIG SET (Redis: maxmemory_policy, appendfsync, appendonly, role) or ALTER SYSTEM
        (PostgreSQL: fsync, read_only, recovery)."""
        for key, value in settings.items():
            self.settings[key.replace("_", "-")] = value
        if self._persisting():
            self.unsafe_since = None
        elif self.unsafe_since is None:
            self.unsafe_since = self.version + 1

    def _persisting(self) -> bool:
        if self.flavor == "redis":
            return self.settings["appendonly"] == "yes" and self.settings["appendfsync"] == "always"
        return self.settings["fsync"] == "on"

    # -- lease operations (stores/redis.py's scripts, stores/postgres.py's transactions) --

    def op_begin(self, durable_commits: bool) -> str | None:
        """PostgreSQL's checks as every transaction begins (postgres.py, _Session._begin): a
        refusal's reason, or None."""
        if self.flavor != "postgres":
            return None
        if self.settings["recovery"] == "on":
            return "the server is a standby (in recovery)"
        if self.settings["read-only"] == "on":
            return "the database is read-only"
        if durable_commits and self.settings["fsync"] != "on":
            return "the server runs with fsync = off"
        return None

    def _evicting(self) -> Refused | None:
        policy = self.settings.get("maxmemory-policy", "")
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
        wrote = stored is None  # whether the script or transaction writes before 'full'
        ns: dict[str, Any]
        if stored is None:
            suspicion = Suspicion.MISSING
            ns = {
                "layout": request.layout,
                "incarnation": "",
                "gen": 0,
                "floor_ms": 0,
                "max_ttl_ms": ttl,
                "max_skew_ms": request.skew_ms,
                "max_lead_ms": request.lead_ms,
                "ours": True,
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
            if self.flavor == "postgres" and not (
                ns["ours"] and all(row[3] for i, row in ns["nodes"].items() if i < request.nodes)
            ):
                suspicion = Suspicion.REWRITTEN
                ns["incarnation"], ns["ours"], wrote = "", True, True
            if ns["gen"] < request.seen_gen:
                suspicion = Suspicion.ROLLED_BACK
                ns["incarnation"], ns["ours"], wrote = "", True, True
            for field, value in (
                ("max_ttl_ms", ttl),
                ("max_skew_ms", request.skew_ms),
                ("max_lead_ms", request.lead_ms),
            ):
                if field not in ns or value > ns[field]:
                    ns[field], ns["ours"], wrote = value, True, True
        max_ttl = ns["max_ttl_ms"]
        nodes = ns["nodes"]
        for i in range(request.nodes):
            owner, expires, hwm, _ = nodes.get(i, (None, 0, 0, True))
            # An expiry further away than the longest ttl: the store's clock went back.
            if owner is None or expires <= now or expires > now + max_ttl:
                nodes = ns["nodes"] = dict(nodes)
                nodes[i] = (request.token, now + ttl, hwm, True)
                ns["gen"] += 1
                ns["ours"] = True
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
                    max_skew_ms=ns.get("max_skew_ms", 0),
                    max_lead_ms=ns.get("max_lead_ms", 0),
                )
        if wrote:
            self._commit({key: ns})  # created or marked, as the engines do before 'full'
        return Full()

    def _held(self, key: str, token: str, node: int) -> dict[str, Any] | None:
        """The namespace, copied for a write, when `node` is the token's; else None."""
        stored = self.data.get(key)
        if stored is None:
            return None
        owner = stored["nodes"].get(node, (None,))[0]
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
        owner, _, hwm, _ = ns["nodes"][request.node]
        last_mark = getattr(request, "last_mark", 0)
        rolled_back = ns["gen"] < request.seen_gen or hwm < last_mark
        if rolled_back:
            ns["incarnation"] = ""
        ns["nodes"][request.node] = (owner, now + request.ttl_ms, max(hwm, request.mark), True)
        ns["gen"] += 1
        ns["ours"] = True
        self._commit({key: ns})
        return Renewed(
            rolled_back=rolled_back,
            store_ms=now,
            gen=ns["gen"],
            incarnation=run_id,
            max_ttl_ms=ns.get("max_ttl_ms", 0),
            max_skew_ms=ns.get("max_skew_ms", 0),
            max_lead_ms=ns.get("max_lead_ms", 0),
        )

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
        ns["floor_ms"], ns["incarnation"], ns["ours"] = floor, run_id, True
        # Whole again: PostgreSQL stamps every node row as ours.
        ns["nodes"] = {i: (*row[:3], True) for i, row in ns["nodes"].items()}
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
        ns["nodes"][request.node] = (None, 0, hwm if request.mark is None else request.mark, True)
        ns["gen"] += 1
        ns["ours"] = True
        self._commit({key: ns})
        return True

    def op_exists(self, key: str) -> bool:
        return key in self.data

    def op_set(self, key: str, value: Any) -> None:
        """A value written by something other than this package (a test, an operator)."""
        self._change({key: value})

    # -- segment operations ----------------------------------------------------------------

    def op_create(self, key: str, start: int) -> int | None:
        if self.flavor == "redis" and self.settings["role"] != "master":
            self._commit({})  # SET NX is refused on a replica, whether or not the key exists
        stored = self.data.get(key)
        if stored is not None:
            return int(stored[0])
        self._commit({key: (start, self.incarnation, True)})
        return None

    def op_reserve(self, key: str, n: int, check: bool, trust: bool) -> tuple[str, Any]:
        """One reservation, as redis.py's MULTI/EXEC (CONFIG GET appendfsync, then the script)
        or postgres.py's UPDATE: ("ok", new value) or a refusal ("role", "eviction",
        "appendonly", "missing", "rewritten", "timeline") and what names it. Redis's
        reservation with an appendfsync other than always is made, then refused:
        ("appendfsync", setting)."""
        stored = self.data.get(key)
        here = self.incarnation
        if self.flavor == "redis":
            settings = self.settings
            if settings["role"] != "master":
                return ("role", settings["role"])
            if settings["maxmemory-policy"].startswith("allkeys"):
                return ("eviction", settings["maxmemory-policy"])
            if check and settings["appendonly"] != "yes":
                return ("appendonly", None)
            if stored is None:
                return ("missing", None)
        else:
            if stored is None:
                return ("missing", None)
            if not stored[2]:
                return ("rewritten", None)
            if stored[1] != here and not trust:
                return ("timeline", (stored[1], here))
        value = stored[0] + n
        if value > _MAX_VALUE:
            raise OverflowError("increment or decrement would overflow")
        self._commit({key: (value, here, True)})
        if self.flavor == "redis" and check and self.settings["appendfsync"] != "always":
            return ("appendfsync", self.settings["appendfsync"])
        return ("ok", value)

    def op_give_back(self, key: str, lo: int, hi: int) -> bool:
        stored = self.data.get(key)
        if stored is None or stored[0] != hi:
            return False
        if self.flavor == "postgres" and (stored[1] != self.incarnation or not stored[2]):
            return False
        self._commit({key: (lo, stored[1], True)})
        return True

    def op_skip(self, key: str, by: int, to: int) -> int | None:
        stored = self.data.get(key)
        if stored is None:
            return None
        value: int = max(stored[0] + by, to)
        if stored[0] + by > _MAX_VALUE:
            raise OverflowError("increment or decrement would overflow")
        self._commit({key: (value, self.incarnation, True)})
        return value


def _rewritten(value: Any) -> Any:
    """A key's value as something other than this package wrote it (PostgreSQL's rows)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return (*value[:2], False)
    ns = dict(value)
    ns["ours"] = False
    ns["nodes"] = {i: (*row[:3], False) for i, row in value["nodes"].items()}
    return ns


# -- the operations (protocols.LeaseStore, protocols.SegmentStore) -------------------------


def _display(flavor: str) -> str:
    return ("Redis" if flavor == "redis" else "PostgreSQL") + " (in memory)"


def _begin(durable_commits: bool, refusal: type[Exception], action: str) -> Exchange[None]:
    """PostgreSQL's transaction start: a refusal for a standby, a read-only database, or (for
    what needs commits that survive a crash) fsync off."""
    why = yield Op("begin", (durable_commits,))
    if why is not None:
        raise refusal(f"PostgreSQL (in memory) cannot {action} here: {why}")


class MemoryLeases:
    """A lease namespace on a MemoryServer: each operation is one Op."""

    def __init__(self, namespace: str, flavor: str = "redis", *, trust_store: bool = False):
        self.name = _display(flavor)
        self.key = f"atomic_counter:{{{namespace}}}"
        self._legacy = f"atomic_counter:{namespace}:safe_after"
        # PostgreSQL refuses fsync = off only to trust_store leases (postgres.py says why).
        self._durable = trust_store
        self._postgres = flavor == "postgres"

    def _op(self, name: str, request: Any) -> Exchange[Any]:
        if self._postgres:
            yield from _begin(self._durable, LeaseRefusedError, "hold leases")
        return (yield Op(name, (self.key, request)))

    def claim(self, request: Claim) -> Exchange[ClaimReply]:
        return (yield from self._op("claim", request))  # type: ignore[no-any-return]

    def renew(self, request: Renew) -> Exchange[RenewReply]:
        return (yield from self._op("renew", request))  # type: ignore[no-any-return]

    def confirm(self, request: Confirm) -> Exchange[ConfirmReply]:
        return (yield from self._op("confirm", request))  # type: ignore[no-any-return]

    def release(self, request: Release) -> Exchange[bool]:
        return bool((yield from self._op("release", request)))

    def legacy_key(self) -> Exchange[str | None]:
        if self._postgres:  # no such key, in a transaction that checks the server as all do
            yield from _begin(self._durable, LeaseRefusedError, "hold leases")
            return None
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
        self._check = not assume_durable
        self._postgres = flavor == "postgres"

    def _begin(self) -> Exchange[None]:
        if self._postgres:
            yield from _begin(True, SegmentRefusedError, "reserve blocks")

    def create(self, start: int) -> Exchange[int | None]:
        yield from self._begin()
        return (yield Op("create", (self.key, start)))  # type: ignore[no-any-return]

    def reserve(self, n: int) -> Exchange[tuple[int, int]]:
        yield from self._begin()
        try:
            status, value = yield Op("reserve", (self.key, n, self._check, self._trust))
        except OverflowError as exc:
            raise OverflowError(
                f"SegmentCounter {self._name!r} is used up: its next block would pass 2**63 - 1"
            ) from exc
        if status == "ok":
            return value - n, value
        reasons = {
            "missing": "no such sequence: never created, or the store lost it",
            "rewritten": "its row was last written by something other than atomic-counter",
            "timeline": f"another timeline than its last reservation's ({value})",
            "role": f"role {value} (connect to the primary)",
            "eviction": f"maxmemory-policy {value}",
            "appendonly": "appendonly no",
            "appendfsync": f"appendfsync {value}",
        }
        raise SegmentRefusedError(f"SegmentCounter {self._name!r}: {reasons[status]}")

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        yield from self._begin()
        return bool((yield Op("give_back", (self.key, lo, hi))))

    def skip(self, by: int, to: int) -> Exchange[int]:
        yield from self._begin()
        try:
            value = yield Op("skip", (self.key, by, to))
        except OverflowError as exc:
            raise OverflowError(f"SegmentCounter {self._name!r} is used up") from exc
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


def serve(url: str) -> MemoryServer:
    """Makes (or finds) the server of a ``memory://<name>[?engine=redis|postgres]`` URL in this
    process, so that the URL may be used as a store here."""
    return server(url, make=True)


def server(url: str, *, make: bool = False) -> MemoryServer:
    """The server of a ``memory://<name>[?engine=redis|postgres]`` URL in this process: made by
    serve() (or here with make=True); ValueError when there is none."""
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
        if found is None or found.pid != os.getpid():
            if not make:
                raise ValueError(
                    f"memory://{name} names no memory store of this process: it holds data "
                    f"for this process alone and is made by atomic_counter.stores.memory."
                    f"serve() (for tests). Use a redis:// or postgresql:// URL"
                )
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
    client: Any,
    namespace: str,
    *,
    timeout: float,
    asynchronous: bool,
    func: str,
    trust_store: bool = False,
) -> tuple[MemoryLeases, MemoryIO | AsyncMemoryIO]:
    found = _server_of(client)
    io = (AsyncMemoryIO if asynchronous else MemoryIO)(found)
    return MemoryLeases(namespace, found.flavor, trust_store=trust_store), io


def segment_store(
    client: Any, name: str, *, timeout: float, trust_failover: bool, assume_durable: bool
) -> tuple[MemorySegment, MemoryIO]:
    found = _server_of(client)
    ops = MemorySegment(
        name, trust_failover=trust_failover, assume_durable=assume_durable, flavor=found.flavor
    )
    return ops, MemoryIO(found)

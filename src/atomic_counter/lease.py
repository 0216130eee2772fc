"""Node ids leased from Redis or PostgreSQL, for SnowflakeCounter ids that never repeat across a
fleet.

``lease_node_id()`` claims the lowest node id of a namespace that no live process holds,
renews it in a background thread, and lets it go on ``close()`` or at exit. Ids come from
``lease.counter()``, the lease's one SnowflakeCounter. ``alease_node_id()`` does the same for a
``redis.asyncio`` client or a ``psycopg.AsyncConnection``, renewing in an asyncio task.

The safety argument (assumptions, invariants, and why no failure of the store, the network, the
clocks or the process yields a duplicate) is in docs/design.md, "Leases". In short:

- Each holder draws only before a deadline (a ttl, less a margin, after the start of its last
  confirmed renewal, on its monotonic clock), never above the high-water mark its renewal
  recorded for the node, and never more than ``max_lead`` ahead of its clock.
- A claimant starts above the node's recorded high-water mark and the namespace's floor.
- When the store may have lost or rolled back the namespace (it is missing; Redis restarted or
  failed over, or PostgreSQL moved to a new timeline, since the namespace was last confirmed; a
  holder saw its generation go back), a claimant holds its node without drawing for the longest
  ttl plus ``max_skew``, so every holder the store forgot has passed its deadline, and starts
  above anything they could have drawn: its clock + longest ttl + ``max_skew`` + ``max_lead``.
  PostgreSQL's committed writes survive a restart or a crash, so those cost no wait there.
- Every claim and renewal compares this host's clock with the store's: beyond ``max_skew`` the
  lease refuses instead of drawing.

In Redis a namespace is one hash, ``atomic_counter:{<namespace>}`` (a hash tag, so the scripts
run on Redis Cluster too); in PostgreSQL two tables, created on first use
(``atomic_counter_lease_namespaces`` and ``atomic_counter_lease_nodes``). Both clients are
optional: ``pip install atomic-counter[redis]`` or ``atomic-counter[postgres]``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from . import _stores
from ._core import LeaseExpiredError, SnowflakeCounter
from .layout import Layout

__all__ = [
    "AsyncNodeLease",
    "LeaseExpiredError",
    "LeaseRefusedError",
    "NoFreeNodeError",
    "NodeLease",
    "alease_node_id",
    "lease_node_id",
]

log = logging.getLogger("atomic_counter.lease")


class NoFreeNodeError(RuntimeError):
    """Every node id of the namespace is held by a live lease."""


class LeaseRefusedError(RuntimeError):
    """The lease cannot be made safe here: Redis may evict its keys, this host's clock is
    further from the store's than ``max_skew``, the namespace's data is damaged, it is used by
    an older version of atomic-counter, or PostgreSQL refuses the tables (permissions, a
    standby). Raised by claims; counters raise LeaseExpiredError."""


# --------------------------------------------------------------------------------------------
# The scripts. Each runs atomically in Redis on the namespace's hash (KEYS[1]). Ids travel as
# decimal strings (Lua numbers are doubles); times are Redis's own clock in ms.

_PRELUDE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local policy = string.match(redis.call('INFO', 'memory'), 'maxmemory_policy:([%w%-]+)') or ''
if string.sub(policy, 1, 7) == 'allkeys' then return {'eviction', policy} end
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or ''
local function raise_hwm(node, id)
  local old = redis.call('HGET', key, 'hwm:' .. node) or '0'
  if #id > #old or (#id == #old and id > old) then redis.call('HSET', key, 'hwm:' .. node, id) end
end
"""

# ARGV: token, ttl ms, node count, layout fingerprint, highest generation this lease has seen.
# -> {'ok', node, hwm, floor ms, suspicion ('' when none), now ms, generation, longest ttl ms,
#     run id} | {'full'} | {'layout', stored} | {'eviction', policy}
_CLAIM = (
    _PRELUDE
    + """
local token, ttl, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local layout, seen = ARGV[4], tonumber(ARGV[5])
local suspicion = ''
if redis.call('EXISTS', key) == 0 then
  suspicion = 'missing'
  redis.call('HSET', key, 'version', '2', 'layout', layout, 'incarnation', '', 'gen', '0',
             'floor_ms', '0', 'max_ttl_ms', tostring(ttl))
else
  local stored = redis.call('HGET', key, 'layout') or ''
  if stored ~= layout then return {'layout', stored} end
  local incarnation = redis.call('HGET', key, 'incarnation') or ''
  if incarnation == '' then suspicion = 'unconfirmed'
  elseif incarnation ~= run_id then suspicion = 'restarted' end
  if tonumber(redis.call('HGET', key, 'gen') or '0') < seen then
    suspicion = 'rolled back'
    redis.call('HSET', key, 'incarnation', '')
  end
  if ttl > tonumber(redis.call('HGET', key, 'max_ttl_ms') or '0') then
    redis.call('HSET', key, 'max_ttl_ms', tostring(ttl))
  end
end
local max_ttl = tonumber(redis.call('HGET', key, 'max_ttl_ms'))
for i = 0, count - 1 do
  local owner = redis.call('HGET', key, 'owner:' .. i)
  local expires = tonumber(redis.call('HGET', key, 'expires:' .. i) or '0')
  -- An expiry further away than the longest ttl means Redis's clock went back: the holder's
  -- own deadline (its monotonic clock) has passed, and the node's high-water mark fences it.
  if not owner or expires <= now or expires > now + max_ttl then
    redis.call('HSET', key, 'owner:' .. i, token, 'expires:' .. i, tostring(now + ttl))
    local gen = redis.call('HINCRBY', key, 'gen', 1)
    return {'ok', i, redis.call('HGET', key, 'hwm:' .. i) or '0',
            redis.call('HGET', key, 'floor_ms'), suspicion, tostring(now), gen, tostring(max_ttl),
            run_id}
  end
end
return {'full'}
"""
)

# ARGV: token, node, ttl ms, high-water mark, highest generation seen.
# -> {'ok' | 'rolled back', now ms, generation, run id} | {'lost'} | {'eviction', policy}
_RENEW = (
    _PRELUDE
    + """
local token, node, ttl, mark, seen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {'lost'} end
local status = 'ok'
if tonumber(redis.call('HGET', key, 'gen') or '0') < seen then
  status = 'rolled back'
  redis.call('HSET', key, 'incarnation', '')
end
redis.call('HSET', key, 'expires:' .. node, tostring(now + ttl))
raise_hwm(node, mark)
local gen = redis.call('HINCRBY', key, 'gen', 1)
return {status, tostring(now), gen, run_id}
"""
)

# After a claimant's wait: the namespace is whole again on this server.
# ARGV: token, node, run id at the claim, floor ms. -> {'ok', floor ms, generation} | {'lost'}
#   | {'restarted'} | {'eviction', policy}
_CONFIRM = (
    _PRELUDE
    + """
local token, node, claimed_on, floor = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {'lost'} end
if run_id ~= claimed_on then return {'restarted'} end
local old = tonumber(redis.call('HGET', key, 'floor_ms') or '0')
if floor > old then redis.call('HSET', key, 'floor_ms', tostring(floor)) else floor = old end
redis.call('HSET', key, 'incarnation', run_id)
local gen = redis.call('HINCRBY', key, 'gen', 1)
return {'ok', tostring(floor), gen}
"""
)

# Lets the node go. ARGV: token, node, high-water mark ('' to leave it as it is: a node given
# back before anything was drawn on it). -> {1} | {0} (not ours) | {'eviction', policy}
_RELEASE = (
    _PRELUDE
    + """
local token, node, mark = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {0} end
-- The sealed counter's mark is at or above every id this holder drew, and its renewals recorded
-- more (a reservation): the exact mark lets the next holder start right above the last id.
if mark ~= '' then redis.call('HSET', key, 'hwm:' .. node, mark) end
redis.call('HDEL', key, 'owner:' .. node, 'expires:' .. node)
redis.call('HINCRBY', key, 'gen', 1)
return {1}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _redis_reply(op: str, reply: Any) -> tuple[Any, ...]:
    """A script's reply in the protocol's terms: ints as ints, strings as str."""
    status = _text(reply[0])
    if status == "eviction" or status == "layout":
        return (status, _text(reply[1]))
    if op == "claim" and status == "ok":
        return (
            "ok",
            int(reply[1]),
            int(_text(reply[2])),
            int(_text(reply[3])),
            _text(reply[4]),
            int(_text(reply[5])),
            int(reply[6]),
            int(_text(reply[7])),
            _text(reply[8]),
        )
    if op == "renew" and status in ("ok", "rolled back"):
        return (status, int(_text(reply[1])), int(reply[2]), _text(reply[3]))
    if op == "confirm" and status == "ok":
        return ("ok", int(_text(reply[1])), int(reply[2]))
    if op == "release":
        return (int(reply[0]),)
    return (status,)


class _RedisStore:
    """A namespace in one Redis hash, through the scripts above (a redis-py client)."""

    name = "Redis"
    _scripts: ClassVar[dict[str, str]] = {
        "claim": _CLAIM,
        "renew": _RENEW,
        "confirm": _CONFIRM,
        "release": _RELEASE,
    }

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.key = f"atomic_counter:{{{namespace}}}"
        self.legacy = f"atomic_counter:{namespace}:safe_after"

    def call(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _redis_reply(op, self.client.eval(self._scripts[op], 1, self.key, *args))

    def uses_legacy_namespace(self) -> bool:
        try:
            return bool(self.client.exists(self.legacy))
        except Exception:
            return False  # the claim reports Redis's errors

    def close(self) -> None:
        pass  # redis-py's pool closes its connections with the client

    async def aclose(self) -> None:
        pass

    @staticmethod
    def transient(exc: BaseException) -> bool:
        return _stores.redis_transient(exc)


class _AsyncRedisStore(_RedisStore):
    async def call(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:  # type: ignore[override]
        return _redis_reply(op, await self.client.eval(self._scripts[op], 1, self.key, *args))

    async def uses_legacy_namespace(self) -> bool:  # type: ignore[override]
        try:
            return bool(await self.client.exists(self.legacy))
        except Exception:
            return False


# --------------------------------------------------------------------------------------------
# PostgreSQL: the same operations as the scripts, each one transaction that locks the
# namespace's row, on the database's clock (clock_timestamp()). A server's incarnation is its
# system identifier and timeline: a restart or a crash keeps both, and a committed write
# survives them (the transactions insist on synchronous_commit), so only a promoted standby or
# a restored backup (a new timeline) makes claims wait. The operations are written once, as
# generators of (sql, parameters) that receive (rows, rowcount), for a connection of either kind.

_PG_NAMESPACES = "atomic_counter_lease_namespaces"
_PG_NODES = "atomic_counter_lease_nodes"

_PG_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_PG_NAMESPACES} (
    namespace text PRIMARY KEY,
    version integer NOT NULL,
    layout text NOT NULL,
    incarnation text NOT NULL,
    gen bigint NOT NULL,
    floor_ms bigint NOT NULL,
    max_ttl_ms bigint NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS {_PG_NODES} (
    namespace text NOT NULL REFERENCES {_PG_NAMESPACES} ON DELETE CASCADE,
    node integer NOT NULL,
    owner text,
    expires_ms bigint NOT NULL DEFAULT 0,
    hwm numeric(20, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, node)
)""",
)

_PG_NOW = _stores.POSTGRES_NOW

# A holder saw the data go back: every later claim waits until one confirms the namespace.
_PG_UNCONFIRM = f"UPDATE {_PG_NAMESPACES} SET incarnation = '' WHERE namespace = %s"

_PgOp = Generator[tuple[str, tuple[Any, ...]], tuple[list[Any], int], tuple[Any, ...]]


def _pg_lock(namespace: str) -> Generator[Any, Any, Any]:
    rows, _ = yield (
        f"SELECT layout, incarnation, gen, floor_ms, max_ttl_ms FROM {_PG_NAMESPACES} "
        "WHERE namespace = %s FOR UPDATE",
        (namespace,),
    )
    return rows[0] if rows else None


def _pg_owner(namespace: str, node: int) -> Generator[Any, Any, Any]:
    rows, _ = yield (
        f"SELECT owner FROM {_PG_NODES} WHERE namespace = %s AND node = %s",
        (namespace, node),
    )
    return rows[0][0] if rows else None


def _pg_next_gen(namespace: str) -> Generator[Any, Any, int]:
    rows, _ = yield (
        f"UPDATE {_PG_NAMESPACES} SET gen = gen + 1 WHERE namespace = %s RETURNING gen",
        (namespace,),
    )
    return int(rows[0][0])


def _pg_claim(namespace: str, token: str, ttl: int, count: int, layout: str, seen: int) -> _PgOp:
    (now, run_id), *_ = (yield (_PG_NOW, ()))[0]
    _, created = yield (
        f"INSERT INTO {_PG_NAMESPACES} VALUES (%s, 2, %s, '', 0, 0, %s) "
        "ON CONFLICT (namespace) DO NOTHING",
        (namespace, layout, ttl),
    )
    stored, incarnation, gen, floor_ms, max_ttl = yield from _pg_lock(namespace)
    suspicion = "missing" if created else ""
    if not created:
        if stored != layout:
            return ("layout", stored)
        if incarnation == "":
            suspicion = "unconfirmed"
        elif incarnation != run_id:
            suspicion = "restarted"
        if gen < seen:
            suspicion = "rolled back"
            yield (_PG_UNCONFIRM, (namespace,))
        if ttl > max_ttl:
            max_ttl = ttl
            yield (
                f"UPDATE {_PG_NAMESPACES} SET max_ttl_ms = %s WHERE namespace = %s",
                (ttl, namespace),
            )
    rows, _ = yield (
        f"SELECT node, owner, expires_ms, hwm FROM {_PG_NODES} WHERE namespace = %s AND node < %s",
        (namespace, count),
    )
    held = {int(node): (owner, int(expires), int(hwm)) for node, owner, expires, hwm in rows}
    for i in range(count):
        owner, expires, hwm = held.get(i, (None, 0, 0))
        # An expiry further away than the longest ttl means the server's clock went back: the
        # holder's own deadline (its monotonic clock) has passed, and the node's mark fences it.
        if owner is None or expires <= now or expires > now + max_ttl:
            yield (
                f"INSERT INTO {_PG_NODES} (namespace, node, owner, expires_ms) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, node) DO UPDATE "
                "SET owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms",
                (namespace, i, token, now + ttl),
            )
            gen = yield from _pg_next_gen(namespace)
            return ("ok", i, hwm, int(floor_ms), suspicion, int(now), gen, int(max_ttl), run_id)
    return ("full",)


def _pg_renew(namespace: str, token: str, node: int, ttl: int, mark: str, seen: int) -> _PgOp:
    (now, run_id), *_ = (yield (_PG_NOW, ()))[0]
    locked = yield from _pg_lock(namespace)
    if locked is None or (yield from _pg_owner(namespace, node)) != token:
        return ("lost",)
    status = "ok"
    if locked[2] < seen:
        status = "rolled back"
        yield (_PG_UNCONFIRM, (namespace,))
    yield (
        f"UPDATE {_PG_NODES} SET expires_ms = %s, hwm = GREATEST(hwm, %s::numeric) "
        "WHERE namespace = %s AND node = %s",
        (now + ttl, mark, namespace, node),
    )
    gen = yield from _pg_next_gen(namespace)
    return (status, int(now), gen, run_id)


def _pg_confirm(namespace: str, token: str, node: int, claimed_on: str, floor: int) -> _PgOp:
    (_now, run_id), *_ = (yield (_PG_NOW, ()))[0]
    locked = yield from _pg_lock(namespace)
    if locked is None or (yield from _pg_owner(namespace, node)) != token:
        return ("lost",)
    if run_id != claimed_on:
        return ("restarted",)
    floor = max(floor, int(locked[3]))
    yield (
        f"UPDATE {_PG_NAMESPACES} SET floor_ms = %s, incarnation = %s WHERE namespace = %s",
        (floor, run_id, namespace),
    )
    gen = yield from _pg_next_gen(namespace)
    return ("ok", floor, gen)


def _pg_release(namespace: str, token: str, node: int, mark: str) -> _PgOp:
    if (yield from _pg_lock(namespace)) is None:
        return (0,)
    if (yield from _pg_owner(namespace, node)) != token:
        return (0,)
    # The sealed counter's mark is at or above every id this holder drew, and its renewals
    # recorded more (a reservation): the exact mark lets the next holder start right above it.
    if mark:
        yield (
            f"UPDATE {_PG_NODES} SET hwm = %s::numeric WHERE namespace = %s AND node = %s",
            (mark, namespace, node),
        )
    yield (
        f"UPDATE {_PG_NODES} SET owner = NULL, expires_ms = 0 WHERE namespace = %s AND node = %s",
        (namespace, node),
    )
    yield from _pg_next_gen(namespace)
    return (1,)


_PG_OPS: dict[str, Callable[..., _PgOp]] = {
    "claim": _pg_claim,
    "renew": _pg_renew,
    "confirm": _pg_confirm,
    "release": _pg_release,
}


def _pg_refusal(exc: BaseException) -> LeaseRefusedError | None:
    """A clear refusal for what retrying cannot fix: privileges, a read-only server."""
    why = _stores.postgres_refusal(
        exc, tables=f"{_PG_NAMESPACES} and {_PG_NODES}", action="hold leases"
    )
    return LeaseRefusedError(why) if why is not None else None


class _PostgresStore:
    """A namespace in two PostgreSQL tables (a psycopg 3 connection, or a URL to open one)."""

    name = "PostgreSQL"

    def __init__(self, connect: Callable[[], Any], namespace: str, *, owned: bool = True) -> None:
        self._connect = connect
        self._conn: Any = None
        self._owned = owned  # opened from a URL: closed with the lease
        self._schema_ready = False
        self._lock = threading.Lock()  # a connection runs one transaction at a time
        self.namespace = namespace

    def close(self) -> None:
        if self._owned and self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            self._schema_ready = False
        return self._conn

    def _run(self, conn: Any, op: _PgOp) -> tuple[Any, ...]:
        with conn.transaction():
            # Committed means on disk (and on synchronous standbys) before the lease acts on it.
            conn.execute("SET LOCAL synchronous_commit = on")
            reply: Any = None
            while True:
                try:
                    sql, params = op.send(reply)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                cursor = conn.execute(sql, params)
                rows = cursor.fetchall() if cursor.description is not None else []
                reply = (rows, cursor.rowcount)

    def _ensure_schema(self, conn: Any) -> None:
        if self._schema_ready:
            return
        with conn.transaction():
            # Two first users at once: the second waits here instead of failing on a race.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('atomic_counter lease schema'))")
            for statement in _PG_SCHEMA:
                conn.execute(statement)
        self._schema_ready = True

    def call(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        with self._lock:
            try:
                conn = self._connection()
                self._ensure_schema(conn)
                return self._run(conn, _PG_OPS[op](self.namespace, *args))
            except Exception as exc:
                self._drop_if_broken()
                refusal = _pg_refusal(exc)
                if refusal is not None:
                    raise refusal from exc
                raise

    def _drop_if_broken(self) -> None:
        if self._conn is not None and self._conn.broken:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def uses_legacy_namespace(self) -> bool:
        return False

    @staticmethod
    def transient(exc: BaseException) -> bool:
        return _stores.postgres_transient(exc)


class _AsyncPostgresStore(_PostgresStore):
    """_PostgresStore over a psycopg AsyncConnection."""

    def __init__(self, connect: Callable[[], Any], namespace: str, *, owned: bool = True) -> None:
        super().__init__(connect, namespace, owned=owned)
        self._alock: Any = None

    async def aclose(self) -> None:
        if self._owned and self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _aconnection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
            self._schema_ready = False
        return self._conn

    async def call(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:  # type: ignore[override]
        import asyncio

        if self._alock is None:
            self._alock = asyncio.Lock()
        async with self._alock:
            try:
                conn = await self._aconnection()
                if not self._schema_ready:
                    async with conn.transaction():
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtext('atomic_counter lease schema'))"
                        )
                        for statement in _PG_SCHEMA:
                            await conn.execute(statement)
                    self._schema_ready = True
                steps = _PG_OPS[op](self.namespace, *args)
                async with conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = on")
                    reply: Any = None
                    while True:
                        try:
                            sql, params = steps.send(reply)
                        except StopIteration as stop:
                            return stop.value  # type: ignore[no-any-return]
                        cursor = await conn.execute(sql, params)
                        rows = await cursor.fetchall() if cursor.description is not None else []
                        reply = (rows, cursor.rowcount)
            except Exception as exc:
                if self._conn is not None and self._conn.broken:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    self._conn = None
                refusal = _pg_refusal(exc)
                if refusal is not None:
                    raise refusal from exc
                raise

    async def uses_legacy_namespace(self) -> bool:  # type: ignore[override]
        return False


# --------------------------------------------------------------------------------------------
# The protocol, free of I/O: generators that yield the store calls and sleeps they need and
# receive the replies. NodeLease drives them in a thread, AsyncNodeLease in an asyncio task.


@dataclass(frozen=True)
class _Call:
    op: str  # claim, renew, confirm, release
    args: tuple[Any, ...]


@dataclass(frozen=True)
class _Sleep:
    seconds: float


_Steps = Generator["_Call | _Sleep", Any, Any]


class _Closed(Exception):
    """The lease was closed (or forked) while a step was under way."""


class _Again(Exception):
    """The claim must start over: the node was lost, or the store restarted again, meanwhile."""


class _LeaseBase:
    """State and protocol shared by NodeLease and AsyncNodeLease."""

    _store: Any  # _RedisStore or _PostgresStore (or their asyncio kinds), set by the subclass

    def __init__(
        self,
        namespace: str,
        layout: Layout,
        ttl: float,
        max_nodes: int | None,
        max_skew: float,
        max_lead: float,
    ) -> None:
        if (
            not isinstance(namespace, str)
            or not namespace
            or len(namespace) > 200
            or any(c in namespace for c in "{}")
        ):
            raise ValueError(
                "lease_node_id() argument 'namespace' must be a non-empty str of at "
                "most 200 characters without '{' or '}'"
            )
        if not isinstance(layout, Layout):
            raise TypeError(
                f"lease_node_id() argument 'layout' must be a Layout, not {type(layout).__name__}"
            )
        for name, value, low, high in (
            ("ttl", ttl, 0.5, 86400.0),
            ("max_skew", max_skew, 0.0, 86400.0),
            ("max_lead", max_lead, layout.tick_ns / 1e9, 3600.0),
        ):
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not low <= value <= high
            ):
                raise ValueError(
                    f"lease_node_id() argument '{name}' must be in [{low:g}, "
                    f"{high:g}] seconds, got {value!r}"
                )
        limit = layout.max_node + 1
        if max_nodes is None:
            max_nodes = limit
        if (
            not isinstance(max_nodes, int)
            or isinstance(max_nodes, bool)
            or not 1 <= max_nodes <= limit
        ):
            raise ValueError(
                f"lease_node_id() argument 'max_nodes' must be in [1, {limit}] for "
                f"the {layout.name} layout, got {max_nodes!r}"
            )
        self.layout = layout
        self.namespace = namespace
        self.ttl = float(ttl)
        self.max_nodes = max_nodes
        self.max_skew = float(max_skew)
        self.max_lead = float(max_lead)
        self.node: int = -1
        self._token = uuid.uuid4().hex
        self._ttl_ms = int(self.ttl * 1000)
        # Stop handing out ids this long before the lease could expire: absorbs the coarse
        # monotonic clock, the renewal's own latency and scheduling delays.
        self._margin_ns = int(max(0.1, 0.2 * self.ttl) * 1e9)
        self._lock = threading.RLock()
        self._state = "claiming"  # claiming, waiting, ready, lost, closed, forked
        self._seen_gen = 0
        self._run_id = ""
        self._deadline_ns = 0
        self._max_ttl = self.ttl
        self._counter = SnowflakeCounter(layout, 0)
        self._counter._revoke()  # nothing is drawn before the first confirmed renewal
        self._counter._limit_lead(int(self.max_lead * 1e9))
        _LIVE.add(self)

    # -- what both kinds of lease offer ------------------------------------------------------

    def counter(self) -> SnowflakeCounter:
        """The lease's SnowflakeCounter (always the same object): ids on the node this process
        holds, above every previous holder's, handed out only while the lease is confirmed."""
        with self._lock:
            if self._state == "forked":
                raise RuntimeError(
                    "this lease belongs to the parent process (it was copied by "
                    "fork()); take a lease of the child's own"
                )
            if self._state == "closed":
                raise ValueError(f"the lease of {self.namespace!r} is closed")
            return self._counter

    @property
    def valid(self) -> bool:
        """Whether the lease's counter may hand out ids now."""
        return self._state == "ready" and time.monotonic_ns() < self._deadline_ns

    def __repr__(self) -> str:
        state = self._state
        if state == "ready" and not self.valid:
            state = "unconfirmed"
        return f"{type(self).__name__}({self.namespace!r}, node={self.node}, {state})"

    # -- helpers -----------------------------------------------------------------------------

    def _id_after(self, unix_ns: int, node: int) -> int:
        """The largest id of `node` at the tick of unix_ns: ids above it are later."""
        layout = self.layout
        return layout.pack(layout.ticks_at(unix_ns), node, layout.max_sequence)

    def _time_of(self, id_: int) -> int:
        """The Unix time in ns of the tick after the one id_ was drawn in."""
        layout = self.layout
        ticks = id_ >> (layout.node_bits + layout.sequence_bits)
        return layout.epoch_ns + (ticks + 1) * layout.tick_ns

    def _reservation(self, wall_ns: int) -> int:
        """The high-water mark a renewal records: no id this lease may draw before the deadline
        that renewal sets (a ttl away, at most max_lead ahead of the clock) exceeds it."""
        ahead = int((self.ttl + self.max_lead) * 1e9)
        return self._id_after(wall_ns + ahead, self.node)

    def _check_skew(self, store_ms: int, before_ns: int, after_ns: int) -> str | None:
        """A message when this host's clock and the store's differ by more than max_skew (plus
        half the round trip), else None."""
        middle = (before_ns + after_ns) // 2
        allowed = self.max_skew * 1e9 + (after_ns - before_ns) / 2 + 1e6
        offset = middle - store_ms * 1_000_000
        if abs(offset) <= allowed:
            return None
        return (
            f"this host's clock is {offset / 1e9:+.3f} s from {self._store.name}'s, beyond "
            f"max_skew={self.max_skew:g} s: ids could repeat if the store then lost data"
        )

    def _ensure_open(self) -> None:
        if self._state in ("closed", "forked"):
            raise _Closed

    def _set_counter(self, apply: Callable[[SnowflakeCounter], None]) -> None:
        """Changes the counter only while the lease is open: a renewal or a claim that finishes
        after close() must not bring a sealed counter back."""
        with self._lock:
            self._ensure_open()
            apply(self._counter)

    # -- the protocol ------------------------------------------------------------------------

    def _claim(self, wait: float) -> _Steps:
        """Claims a node and returns once the counter may draw on it (or raises)."""
        give_up = time.monotonic() + wait
        delay = 0.01
        while True:
            self._ensure_open()
            try:
                if (yield from self._try_claim()):
                    return
                failure: BaseException = NoFreeNodeError(
                    f"all {self.max_nodes} node ids of namespace {self.namespace!r} are held by "
                    f"live leases"
                )
            except _Again:
                if self.node >= 0:  # nothing was drawn on it: give it back as it is
                    yield from self._abandon(self.node)
                delay = 0.01
                continue
            except (_Closed, LeaseRefusedError, ValueError, TypeError):
                raise
            except Exception as exc:
                if not self._store.transient(exc):
                    raise
                log.warning(
                    "claim in %r failed (%s: %s); retrying", self.namespace, type(exc).__name__, exc
                )
                failure = exc
            if time.monotonic() >= give_up:
                raise failure
            yield _Sleep(min(delay, max(0.0, give_up - time.monotonic())))
            delay = min(delay * 2, self.ttl / 4, 1.0)

    def _try_claim(self) -> Generator[Any, Any, bool]:
        before = time.time_ns()
        reply = yield _Call(
            "claim",
            (self._token, self._ttl_ms, self.max_nodes, self.layout.fingerprint, self._seen_gen),
        )
        received_mono = time.monotonic_ns()
        received = time.time_ns()
        status = reply[0]
        if status == "full":
            return False
        self._refuse_on(status, reply)
        _, node, hwm, floor_ms, suspicion, store_ms, gen, max_ttl_ms, run_id = reply
        self._seen_gen = gen
        self._run_id = run_id
        self._max_ttl = max(self.ttl, max_ttl_ms / 1000)
        with self._lock:
            self.node = node
            self._state = "waiting" if suspicion else "claiming"
        skew = self._check_skew(store_ms, before, received)
        if skew is not None:
            yield from self._abandon(node)
            raise LeaseRefusedError(f"lease of {self.namespace!r} refused: {skew}")
        if hwm > self.layout.max_id:
            yield from self._abandon(node)
            raise LeaseRefusedError(
                f"namespace {self.namespace!r} is damaged: node {node}'s high-water mark {hwm} "
                f"is not an id of the {self.layout.name} layout"
            )
        floor = max(hwm, self._id_after(floor_ms * 1_000_000, node) if floor_ms else 0)
        if suspicion:
            floor = max(floor, (yield from self._sit_out(node, suspicion, received_mono, received)))
        try:
            self._set_counter(lambda c: c._rebind(node, floor))
        except (ValueError, OverflowError):
            yield from self._abandon(node)
            raise
        # Ids start above `floor`; wait until it is at most half of max_lead ahead of the
        # clock, so that the counter starts with room for bursts.
        ahead_ns = self._time_of(floor) - int(self.max_lead * 1e9 / 2) - time.time_ns()
        if ahead_ns > 0:
            cap = self._max_ttl + self.max_skew + self.max_lead
            if ahead_ns / 1e9 <= cap:
                log.info(
                    "lease of %r node %d: waiting %.3f s for the clock to come within "
                    "half of max_lead of the node's floor",
                    self.namespace,
                    node,
                    ahead_ns / 1e9,
                )
                yield from self._hold(node, time.monotonic_ns() + ahead_ns)
            else:
                log.error(
                    "lease of %r node %d: its high-water mark is %.1f s ahead of this "
                    "host's clock (a clock set back, or a holder whose clock ran ahead); "
                    "the counter refuses until the clock catches up",
                    self.namespace,
                    node,
                    ahead_ns / 1e9,
                )
        if (yield from self._renew(extend=True)) != "ok":
            raise _Again
        log.info("lease of %r: holding node %d (ids above %d)", self.namespace, node, floor)
        return True

    def _refuse_on(self, status: str, reply: Any) -> None:
        if status == "eviction":
            raise LeaseRefusedError(
                f"Redis may evict the lease's keys (maxmemory-policy {reply[1]}): a "
                f"forgotten high-water mark would let ids repeat. Use noeviction or a volatile-* "
                f"policy (the lease's hash has no expiry)"
            )
        if status == "layout":
            raise ValueError(
                f"namespace {self.namespace!r} holds ids of another layout ({reply[1]}), "
                f"not {self.layout.fingerprint} ({self.layout.name}); use another namespace"
            )

    def _sit_out(
        self, node: int, suspicion: str, received_mono: int, received: int
    ) -> Generator[Any, Any, int]:
        """The store may have forgotten live holders: hold the node without drawing until all
        of them have passed their deadlines, then confirm the namespace. Returns the floor id."""
        wait_s = self._max_ttl + self.max_skew
        floor_ns = received + int((self._max_ttl + self.max_skew + self.max_lead) * 1e9)
        store = self._store.name
        reasons = {
            "missing": f"the namespace is new, or {store} lost it",
            "restarted": (
                "PostgreSQL is on a new timeline (a promoted standby or a restored backup)"
                if store == "PostgreSQL"
                else "Redis restarted or failed over"
            )
            + " since the namespace was confirmed",
            "unconfirmed": "a previous wait was not confirmed",
            "rolled back": f"a holder saw {store}'s data go back",
        }
        log.warning(
            "lease of %r: %s; holding node %d without drawing for %.1f s (longest ttl "
            "%.1f s + max_skew %.1f s) so that every holder the store may have forgotten has "
            "stopped",
            self.namespace,
            reasons.get(suspicion, suspicion),
            node,
            wait_s,
            self._max_ttl,
            self.max_skew,
        )
        yield from self._hold(node, received_mono + int(wait_s * 1e9))
        floor_ms = -(-floor_ns // 1_000_000)
        reply = yield _Call("confirm", (self._token, node, self._run_id, floor_ms))
        status = reply[0]
        self._refuse_on(status, reply)
        if status != "ok":
            log.warning(
                "lease of %r: %s during the wait; claiming again",
                self.namespace,
                "node lost" if status == "lost" else f"{self._store.name} restarted",
            )
            raise _Again
        self._seen_gen = reply[2]
        return self._id_after(reply[1] * 1_000_000, node)

    def _hold(self, node: int, until_mono_ns: int) -> _Steps:
        """Keeps the node (renewing without letting the counter draw) until the monotonic
        clock reaches until_mono_ns. _Again when the node is lost or the store restarted."""
        confirmed = time.monotonic_ns()
        while (left := until_mono_ns - time.monotonic_ns()) > 0:
            yield _Sleep(min(left / 1e9, self.ttl / 4))
            self._ensure_open()
            try:
                status = yield from self._renew(extend=False)
            except Exception as exc:
                if not self._store.transient(exc):
                    raise
                log.warning(
                    "lease of %r: renewal during the wait failed (%s); retrying",
                    self.namespace,
                    exc,
                )
                if time.monotonic_ns() - confirmed > self._ttl_ms * 1_000_000 - self._margin_ns:
                    raise _Again from exc  # the node may have expired meanwhile
                continue
            if status in ("lost", "restarted"):
                raise _Again
            if status == "ok":
                confirmed = time.monotonic_ns()

    def _renew(self, extend: bool) -> Generator[Any, Any, str]:
        """One renewal: 'ok', 'lost', 'restarted' (the store restarted during a wait), or
        'skewed'. Extends the counter when `extend` and the store confirmed in time."""
        started_mono = time.monotonic_ns()
        before = time.time_ns()
        node = self.node
        mark = self._reservation(before)
        reply = yield _Call("renew", (self._token, node, self._ttl_ms, str(mark), self._seen_gen))
        after = time.time_ns()
        status = reply[0]
        if status == "eviction":
            self._revoke()
            log.error(
                "lease of %r: Redis now evicts keys (maxmemory-policy %s); the counter refuses",
                self.namespace,
                reply[1],
            )
            return "skewed"
        if status == "lost":
            return "lost"
        _, store_ms, gen, run_id = reply
        self._seen_gen = gen
        if status == "rolled back":
            log.warning(
                "lease of %r: %s's data went back (generation below %d); the "
                "namespace will be confirmed again before new claims draw",
                self.namespace,
                self._store.name,
                gen,
            )
        if run_id != self._run_id:
            if self._state == "waiting":
                return "restarted"
            log.info(
                "lease of %r: %s restarted or failed over; node %d is still ours",
                self.namespace,
                self._store.name,
                node,
            )
            self._run_id = run_id
        skew = self._check_skew(store_ms, before, after)
        if skew is not None:
            log.error("lease of %r: %s; not extending the counter", self.namespace, skew)
            return "skewed"
        if extend:
            deadline = started_mono + self._ttl_ms * 1_000_000 - self._margin_ns

            def apply(counter: SnowflakeCounter) -> None:
                if self.node == node and self._state in ("claiming", "waiting", "ready"):
                    self._state = "ready"
                    self._deadline_ns = deadline
                    counter._extend(deadline, mark)

            self._set_counter(apply)
        return "ok"

    def _abandon(self, node: int) -> _Steps:
        """Gives back a node this lease claimed but will not use."""
        with self._lock:
            if self.node == node:
                self.node = -1
        try:
            yield _Call("release", (self._token, node, ""))
        except Exception as exc:
            log.warning(
                "lease of %r: could not give back node %d (%s); it expires in %.1f s",
                self.namespace,
                node,
                exc,
                self.ttl,
            )

    def _revoke(self) -> None:
        with self._lock:
            self._deadline_ns = 0
            self._counter._revoke()

    def _renew_step(self) -> Generator[Any, Any, float]:
        """One turn of the background loop; returns how long to sleep before the next."""
        if self._state == "lost" or self.node < 0:
            return (yield from self._claim_again())
        try:
            status = yield from self._renew(extend=True)
        except _Closed:
            raise
        except Exception as exc:
            log.warning(
                "lease of %r: renewal failed (%s: %s); the counter stops in %.2f s "
                "unless a retry succeeds",
                self.namespace,
                type(exc).__name__,
                exc,
                max(0.0, (self._deadline_ns - time.monotonic_ns()) / 1e9),
            )
            return min(0.2, self.ttl / 10)
        if status == "ok":
            return self.ttl / 4
        if status == "lost":
            log.warning(
                "lease of %r: node %d was lost (expired, or %s forgot it); the "
                "counter stops, claiming again",
                self.namespace,
                self.node,
                self._store.name,
            )
            with self._lock:
                self._ensure_open()
                self._state = "lost"
            self._revoke()
            return (yield from self._claim_again())
        return min(0.2, self.ttl / 10)

    def _claim_again(self) -> Generator[Any, Any, float]:
        """Claims a node for a lease that lost its own; the counter stays stopped meanwhile."""
        try:
            yield from self._claim(wait=0.0)
        except _Closed:
            raise
        except Exception as exc:
            with self._lock:
                if self._state not in ("closed", "forked"):
                    self._state = "lost"
            self._revoke()
            log.warning(
                "lease of %r: claiming again failed (%s: %s); retrying",
                self.namespace,
                type(exc).__name__,
                exc,
            )
            return 1.0 if isinstance(exc, LeaseRefusedError) else min(0.2, self.ttl / 10)
        return self.ttl / 4

    def _seal_for_close(self) -> tuple[int, int] | None:
        """Marks the lease closed and stops the counter for good. Returns (node, mark) to give
        back, or None when there is nothing to give back (already closed, forked, no node)."""
        with self._lock:
            if self._state in ("closed", "forked"):
                return None
            self._state = "closed"
            mark = self._counter._seal()
            node = self.node
            self._deadline_ns = 0
        _LIVE.discard(self)
        if node < 0:
            return None
        return node, mark

    def _forked(self) -> None:
        """In a fork child: the lease and its counter are the parent's; forget them without a
        word to the store (the parent still holds the node)."""
        self._lock = threading.RLock()  # another thread may have held the parent's
        self._state = "forked"
        self._deadline_ns = 0


# Leases alive in this process, for the fork handler.
_LIVE: weakref.WeakSet[_LeaseBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lease in list(_LIVE):
        lease._forked()
    _LIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------------------------
# The synchronous lease.


def _store_for(client: Any, namespace: str, ttl: float, *, asynchronous: bool) -> Any:
    """The store behind a client or URL: Redis or PostgreSQL."""
    func = "alease_node_id()" if asynchronous else "lease_node_id()"
    timeout = min(ttl / 2, 5.0)
    if isinstance(client, str):
        if client.startswith(_stores.POSTGRES_SCHEMES):
            connect = _stores.postgres_connector(
                client,
                timeout,
                func=func,
                application="atomic-counter lease",
                asynchronous=asynchronous,
            )
            return (_AsyncPostgresStore if asynchronous else _PostgresStore)(connect, namespace)
        if client.startswith(_stores.REDIS_SCHEMES):
            redis_client = _stores.redis_client(
                client, timeout, func=func, asynchronous=asynchronous
            )
            return (_AsyncRedisStore if asynchronous else _RedisStore)(redis_client, namespace)
        raise _stores.url_error(func, client)
    if _stores.is_async_client(client) != asynchronous:
        if asynchronous:
            raise TypeError(
                "alease_node_id() needs a redis.asyncio client or a psycopg.AsyncConnection; "
                "for a synchronous client use lease_node_id()"
            )
        raise TypeError(
            "lease_node_id() needs a synchronous redis client or psycopg connection; for a "
            "redis.asyncio client or a psycopg.AsyncConnection use alease_node_id()"
        )
    if _stores.is_postgres_client(client):
        # A connection given is the lease's own from then on, used as it is (a URL lets the
        # lease reconnect after the server or the network drops it).
        if asynchronous:

            async def given() -> Any:
                return client

            return _AsyncPostgresStore(given, namespace, owned=False)
        return _PostgresStore(lambda: client, namespace, owned=False)
    return (_AsyncRedisStore if asynchronous else _RedisStore)(client, namespace)


class NodeLease(_LeaseBase):
    """A node id held in Redis or PostgreSQL for this process; see :func:`lease_node_id`."""

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        layout: Layout = Layout.TWITTER,
        ttl: float = 10.0,
        max_nodes: int | None = None,
        wait: float = 0.0,
        max_skew: float = 1.0,
        max_lead: float = 2.0,
    ) -> None:
        super().__init__(namespace, layout, ttl, max_nodes, max_skew, max_lead)
        try:
            self._store = _store_for(client, namespace, self.ttl, asynchronous=False)
        except BaseException:
            _LIVE.discard(self)
            raise
        self._stop = threading.Event()
        self._refuse_legacy()
        try:
            self._drive(self._claim(wait))
        except BaseException:
            self._give_back_now()
            raise
        self._thread = threading.Thread(
            target=self._renew_loop, daemon=True, name=f"atomic-counter-lease-{namespace}"
        )
        self._thread.start()
        atexit.register(self.close)

    def close(self, timeout: float | None = None) -> None:
        """Stops the counter for good, records the last id it handed out as the node's
        high-water mark and frees the node. Never holds the lease's lock across a call to the
        store, and returns within `timeout` seconds (default: the smaller of ttl and 2 s) even
        when the store is unreachable: the node then expires on its own."""
        sealed = self._seal_for_close()
        self._stop.set()
        atexit.unregister(self.close)
        limit = min(self.ttl, 2.0) if timeout is None else timeout
        if sealed is not None:
            node, mark = sealed

            def give_back() -> None:
                try:
                    self._store.call("release", (self._token, node, str(mark)))
                except Exception as exc:
                    log.warning(
                        "lease of %r: could not give back node %d (%s); it expires in %.1f s",
                        self.namespace,
                        node,
                        exc,
                        self.ttl,
                    )
                finally:
                    self._store.close()

            helper = threading.Thread(
                target=give_back, daemon=True, name=f"atomic-counter-release-{self.namespace}"
            )
            helper.start()
            helper.join(timeout=limit)
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=limit)

    def __enter__(self) -> NodeLease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _drive(self, steps: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            try:
                if isinstance(step, _Sleep):
                    if self._stop.wait(step.seconds):
                        error = _Closed()
                else:
                    reply = self._store.call(step.op, step.args)
            except Exception as exc:
                error = exc

    def _renew_loop(self) -> None:
        interval = self.ttl / 4
        while not self._stop.wait(interval):
            try:
                interval = self._drive(self._renew_step())
            except _Closed:
                return
            except Exception as exc:
                log.error("lease of %r: %s", self.namespace, exc)
                self._revoke()
                interval = min(1.0, self.ttl / 4)

    def _refuse_legacy(self) -> None:
        if self._store.uses_legacy_namespace():
            _LIVE.discard(self)
            raise LeaseRefusedError(
                f"namespace {self.namespace!r} is in use by atomic-counter 0.2 (key "
                f"{self._store.legacy} exists), whose leases do not see this version's: stop "
                f"them and delete atomic_counter:{self.namespace}:*, or use another namespace"
            )

    def _give_back_now(self) -> None:
        """A claim failed part-way: stop and give back whatever node it holds."""
        sealed = self._seal_for_close()
        if sealed is not None:
            with contextlib.suppress(Exception):
                self._store.call("release", (self._token, sealed[0], str(sealed[1])))
        self._store.close()


def lease_node_id(
    client: Any,
    namespace: str,
    *,
    layout: Layout = Layout.TWITTER,
    ttl: float = 10.0,
    max_nodes: int | None = None,
    wait: float = 0.0,
    max_skew: float = 1.0,
    max_lead: float = 2.0,
) -> NodeLease:
    """Claims the lowest free node id of ``namespace`` in Redis or PostgreSQL for this process.

    ``client`` is a redis-py client (``redis.Redis`` or ``redis.cluster.RedisCluster``) or a
    ``redis://`` URL, or a ``postgresql://`` URL or psycopg 3 connection (the lease's own: a
    URL lets it reconnect); ``ttl`` the lease's time to live in seconds ([0.5, 86400]; renewed
    every ttl/4); ``max_nodes`` how many node ids the namespace uses (default: all the layout
    has); ``wait`` how long to keep trying when every node is held or the store errs (default:
    raise at once); ``max_skew`` the most, in seconds, that the clocks of the namespace's hosts
    and the store's may differ (checked at every claim and renewal); ``max_lead`` how far ids
    may run ahead of the clock (bursts beyond the layout's ids per tick borrow up to that far).

    When the store may have lost or rolled back the namespace (a new namespace; Redis restarted
    or failed over; PostgreSQL on a new timeline), the claim holds its node without drawing for
    the longest ttl plus ``max_skew`` before it returns; the ``atomic_counter.lease`` logger
    says so. PostgreSQL tables are created on first use. Use ``lease.counter()`` for ids and
    ``close()`` (or a ``with`` block) to free the node; at interpreter exit it is freed too.
    After ``fork()`` the child's copy is inert: it neither draws nor frees the parent's node.
    Raises NoFreeNodeError, LeaseRefusedError (Redis may evict keys, a clock beyond
    ``max_skew``, a damaged or 0.2 namespace, PostgreSQL privileges or a standby), ValueError
    (arguments, another layout), ImportError (redis-py or psycopg missing).
    """
    return NodeLease(
        client,
        namespace,
        layout=layout,
        ttl=ttl,
        max_nodes=max_nodes,
        wait=wait,
        max_skew=max_skew,
        max_lead=max_lead,
    )


# --------------------------------------------------------------------------------------------
# The asyncio lease.


class AsyncNodeLease(_LeaseBase):
    """A node id held in Redis or PostgreSQL for this process, renewed by an asyncio task; see
    :func:`alease_node_id`. Use ``await lease.aclose()`` or ``async with``."""

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        layout: Layout = Layout.TWITTER,
        ttl: float = 10.0,
        max_nodes: int | None = None,
        max_skew: float = 1.0,
        max_lead: float = 2.0,
    ) -> None:
        super().__init__(namespace, layout, ttl, max_nodes, max_skew, max_lead)
        try:
            self._store = _store_for(client, namespace, self.ttl, asynchronous=True)
        except BaseException:
            _LIVE.discard(self)
            raise
        self._task: Any = None
        self._closing: Any = None

    async def _start(self, wait: float) -> None:
        import asyncio

        self._closing = asyncio.Event()
        if await self._store.uses_legacy_namespace():
            _LIVE.discard(self)
            raise LeaseRefusedError(
                f"namespace {self.namespace!r} is in use by atomic-counter "
                f"0.2 (key {self._store.legacy} exists); use another namespace"
            )
        try:
            await self._drive(self._claim(wait))
        except BaseException:
            sealed = self._seal_for_close()
            if sealed is not None:
                with contextlib.suppress(Exception):
                    await self._store.call("release", (self._token, sealed[0], str(sealed[1])))
            raise
        self._task = asyncio.get_running_loop().create_task(self._renew_loop())

    async def aclose(self, timeout: float | None = None) -> None:
        """As NodeLease.close(): seals the counter, records its last id and frees the node,
        within `timeout` seconds (default: the smaller of ttl and 2 s)."""
        import asyncio

        sealed = self._seal_for_close()
        if self._closing is not None:
            self._closing.set()
        limit = min(self.ttl, 2.0) if timeout is None else timeout
        if sealed is not None:
            try:
                await asyncio.wait_for(
                    self._store.call("release", (self._token, sealed[0], str(sealed[1]))), limit
                )
            except Exception as exc:
                log.warning(
                    "lease of %r: could not give back node %d (%s); it expires in %.1f s",
                    self.namespace,
                    sealed[0],
                    exc,
                    self.ttl,
                )
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._store.aclose()

    async def __aenter__(self) -> AsyncNodeLease:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _drive(self, steps: Generator[Any, Any, Any]) -> Any:
        import asyncio

        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            try:
                if isinstance(step, _Sleep):
                    try:
                        await asyncio.wait_for(self._closing.wait(), step.seconds)
                        error = _Closed()
                    except asyncio.TimeoutError:
                        pass
                else:
                    reply = await self._store.call(step.op, step.args)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc

    async def _renew_loop(self) -> None:
        import asyncio

        interval = self.ttl / 4
        while True:
            try:
                await asyncio.wait_for(self._closing.wait(), interval)
                return
            except asyncio.TimeoutError:
                pass
            try:
                interval = await self._drive(self._renew_step())
            except _Closed:
                return
            except Exception as exc:
                log.error("lease of %r: %s", self.namespace, exc)
                self._revoke()
                interval = min(1.0, self.ttl / 4)


async def alease_node_id(
    client: Any,
    namespace: str,
    *,
    layout: Layout = Layout.TWITTER,
    ttl: float = 10.0,
    max_nodes: int | None = None,
    wait: float = 0.0,
    max_skew: float = 1.0,
    max_lead: float = 2.0,
) -> AsyncNodeLease:
    """:func:`lease_node_id` for a ``redis.asyncio`` client or a ``psycopg.AsyncConnection``
    (or a ``redis://`` or ``postgresql://`` URL): the same protocol and guarantees, renewed by
    a task on the running event loop. Close it with
    ``await lease.aclose()`` or ``async with``; at interpreter exit it is not freed (no loop
    runs then), so its node expires after the ttl."""
    lease = AsyncNodeLease(
        client,
        namespace,
        layout=layout,
        ttl=ttl,
        max_nodes=max_nodes,
        max_skew=max_skew,
        max_lead=max_lead,
    )
    await lease._start(wait)
    return lease

"""SegmentCounter: a dense integer sequence shared by a fleet, at in-process speed.

Every process reserves blocks of the sequence in a database (one row updated in PostgreSQL, one
INCRBY in Redis) and hands out their values from memory. A background thread reserves the next
block while the current one is in use, so next() costs what Counter.next() does and waits on
the database only when a whole block is used up before its successor arrives.

The argument (docs/design.md, "Segments", has it in full):

- The database holds, per name, the first value nobody has reserved. A reservation moves it up
  by one half block in one durable write (PostgreSQL: a committed UPDATE with synchronous_commit
  on; Redis: INCRBY with appendfsync always) and returns the range it moved over, which is then
  this process's alone. Values are handed out only from ranges whose reservation has returned.
- A process reserves in order from one thread, and the stored value only grows, so the ranges a
  process receives increase, and so do its values.
- Closing gives the unused tail back only when nobody reserved after it (a compare-and-set on the
  stored value), so a given-back value was never handed out and is handed out once later.
- What the database may forget, it must not: a PostgreSQL standby promoted after missing
  reservations starts a new timeline, which the row's incarnation catches, and the counter
  refuses (SegmentRefusedError) until an operator moves the sequence past what may have been
  lost (SegmentCounter.skip_ahead) or declares the failover safe (trust_failover=True, for
  synchronous replication). A Redis store must persist every write before replying (AOF with
  appendfsync always) and never evict the key; it is refused otherwise.

Gaps: a process holds at most `block` unused values (the rest of its half block and the one
reserved ahead), lost when it dies or when another process reserved after it; a reservation
whose reply was lost to a broken connection loses half a block more.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
import time
import weakref
from types import FunctionType
from typing import TYPE_CHECKING, Any

from . import _stores
from ._core import _SegmentCounter

__all__ = ["SegmentCounter", "SegmentRefusedError"]

_MAX_VALUE = 2**63 - 1  # a PostgreSQL bigint, a Redis integer
_MAX_BLOCK = 2**40
_MAX_NAME = 200
_CLOSE_WAIT = 2.0  # seconds close() waits for a reservation in flight


class SegmentRefusedError(RuntimeError):
    """A SegmentCounter refused to hand out values: its store may have lost reservations (a
    PostgreSQL failover to a standby on a new timeline), is not durable enough (Redis without
    appendfsync always, or with eviction), or refused the counter's table or key."""


# --------------------------------------------------------------------------------------------
# PostgreSQL: one row per sequence.

_PG_TABLE = "atomic_counter_segments"
_PG_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {_PG_TABLE} (
    name text PRIMARY KEY,
    next_value bigint NOT NULL,
    incarnation text NOT NULL
)"""

_PG_INCARNATION = (
    "(SELECT system_identifier FROM pg_control_system())::text || '/' || "
    "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
)

# Moves the stored value up by n (creating the row at start + n), unless the row was last
# written on another incarnation of the server: then no row comes back.
_PG_RESERVE = f"""WITH here AS (SELECT {_PG_INCARNATION} AS incarnation)
INSERT INTO {_PG_TABLE} AS s (name, next_value, incarnation)
SELECT %(name)s, %(start)s::bigint + %(n)s::bigint, here.incarnation FROM here
ON CONFLICT (name) DO UPDATE
    SET next_value = s.next_value + %(n)s::bigint, incarnation = EXCLUDED.incarnation
    WHERE s.incarnation = EXCLUDED.incarnation OR s.incarnation = '' OR %(trust)s
RETURNING s.next_value"""

_PG_ROW = f"SELECT next_value, incarnation, {_PG_INCARNATION} FROM {_PG_TABLE} WHERE name = %s"

_PG_GIVE_BACK = f"""UPDATE {_PG_TABLE} SET next_value = %(lo)s
WHERE name = %(name)s AND next_value = %(hi)s AND incarnation = {_PG_INCARNATION}
RETURNING next_value"""

_PG_SKIP = f"""UPDATE {_PG_TABLE}
SET next_value = next_value + %(by)s::bigint, incarnation = {_PG_INCARNATION}
WHERE name = %(name)s RETURNING next_value"""


class _PostgresSegments:
    name = "PostgreSQL"

    def __init__(self, url: str, name: str, timeout: float, trust_failover: bool) -> None:
        self._connect = _stores.postgres_connector(
            url, timeout, func="SegmentCounter()", application="atomic_counter segment"
        )
        self._conn: Any = None
        self._name = name
        self._trust = trust_failover

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            with contextlib.suppress(Exception):
                if self._conn is not None:
                    self._conn.close()
            conn = self._connect()
            # Committed means on disk (and on synchronous standbys) before a value is handed out.
            conn.execute("SET synchronous_commit = on")
            with conn.transaction():
                # Two first users at once: the second waits here instead of failing on a race.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('atomic_counter segments'))")
                conn.execute(_PG_SCHEMA)
            self._conn = conn
        return self._conn

    def _execute(self, sql: str, params: Any) -> list[Any]:
        try:
            cursor = self._connection().execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
        except Exception as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> Exception:
        if _stores.postgres_out_of_range(exc):
            return OverflowError(
                f"SegmentCounter {self._name!r} is used up: its next block would pass "
                f"2**63 - 1 (PostgreSQL bigint)"
            )
        why = _stores.postgres_refusal(exc, tables=_PG_TABLE, action="reserve blocks")
        if why is not None:
            return SegmentRefusedError(why)
        return exc

    def reserve(self, start: int, n: int) -> tuple[int, int]:
        params = {"name": self._name, "start": start, "n": n, "trust": self._trust}
        rows = self._execute(_PG_RESERVE, params)
        if not rows:
            row = self._execute(_PG_ROW, (self._name,))
            stored = row[0][1] if row else "?"
            current = row[0][2] if row else "?"
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: PostgreSQL is on another timeline than when "
                f"the sequence was last reserved ({stored} then, {current} now): a failover or "
                f"a restored backup may have lost reservations, and values handed out since "
                f"could repeat. Move the sequence past them with SegmentCounter.skip_ahead(url, "
                f"{self._name!r}, by=...), or pass trust_failover=True if every reservation "
                f"commits on the standby that was promoted (synchronous replication)"
            )
        hi = int(rows[0][0])
        return hi - n, hi

    def give_back(self, lo: int, hi: int) -> bool:
        return bool(self._execute(_PG_GIVE_BACK, {"name": self._name, "lo": lo, "hi": hi}))

    def skip(self, by: int) -> int:
        rows = self._execute(_PG_SKIP, {"name": self._name, "by": by})
        if not rows:
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(rows[0][0])

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    @staticmethod
    def transient(exc: BaseException) -> bool:
        return _stores.postgres_transient(exc)


# --------------------------------------------------------------------------------------------
# Redis: one integer key per sequence.

# INCRBY's reply would reach the script as a Lua number, a double, exact only below 2**53: the
# script returns the stored string instead, exact to 2**63 - 1.
_REDIS_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('INCRBY', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
"""

_REDIS_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""


class _RedisSegments:
    name = "Redis"

    def __init__(self, client: Any, name: str, assume_durable: bool) -> None:
        self._client = client
        self._name = name
        self._key = f"atomic_counter:segment:{name}"
        self._checked = assume_durable

    def _check_durability(self) -> None:
        """Refuses a server that can lose or evict the key: a reservation it forgets would be
        handed out again."""
        import redis.exceptions

        try:
            config = {}
            for key in ("appendonly", "appendfsync", "maxmemory-policy"):
                config.update(
                    {
                        (k.decode() if isinstance(k, bytes) else k): (
                            v.decode() if isinstance(v, bytes) else v
                        )
                        for k, v in self._client.config_get(key).items()
                    }
                )
            role = self._client.execute_command("ROLE")[0]
        except redis.exceptions.ResponseError as exc:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: cannot read the Redis server's persistence "
                f"settings ({exc}); pass assume_durable=True if it runs appendonly yes with "
                f"appendfsync always and never evicts the key"
            ) from exc
        role = role.decode() if isinstance(role, bytes) else role
        problems = []
        if config.get("appendonly") != "yes" or config.get("appendfsync") != "always":
            problems.append(
                f"appendonly {config.get('appendonly')}, appendfsync {config.get('appendfsync')}"
                f" (a crash would forget acknowledged reservations: needs appendonly yes and "
                f"appendfsync always)"
            )
        if str(config.get("maxmemory-policy", "")).startswith("allkeys"):
            problems.append(
                f"maxmemory-policy {config['maxmemory-policy']} (may evict the sequence's key)"
            )
        if role != "master":
            problems.append(f"role {role} (connect to the primary)")
        if problems:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: this Redis server could hand out a value "
                f"twice: {'; '.join(problems)}. Use PostgreSQL, fix the settings, or pass "
                f"assume_durable=True if something else makes writes durable"
            )
        self._checked = True

    def reserve(self, start: int, n: int) -> tuple[int, int]:
        import redis.exceptions

        if not self._checked:
            self._check_durability()
        try:
            hi = int(self._client.eval(_REDIS_RESERVE, 1, self._key, start, n))
        except redis.exceptions.ResponseError as exc:
            if "overflow" in str(exc):
                raise OverflowError(
                    f"SegmentCounter {self._name!r} is used up: its next block would pass "
                    f"2**63 - 1 (a Redis integer)"
                ) from exc
            if "WRONGTYPE" in str(exc) or "not an integer" in str(exc):
                raise SegmentRefusedError(
                    f"SegmentCounter {self._name!r}: the Redis key {self._key!r} holds "
                    f"something other than the sequence ({exc})"
                ) from exc
            raise
        return hi - n, hi

    def give_back(self, lo: int, hi: int) -> bool:
        return bool(self._client.eval(_REDIS_GIVE_BACK, 1, self._key, lo, hi))

    def skip(self, by: int) -> int:
        if not self._client.exists(self._key):
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(self._client.incrby(self._key, by))

    def close(self) -> None:
        pass

    @staticmethod
    def transient(exc: BaseException) -> bool:
        return _stores.redis_transient(exc)


def _store_for(
    store: Any, name: str, timeout: float, trust_failover: bool, assume_durable: bool
) -> _PostgresSegments | _RedisSegments:
    func = "SegmentCounter()"
    if isinstance(store, str):
        if store.startswith(_stores.POSTGRES_SCHEMES):
            return _PostgresSegments(store, name, timeout, trust_failover)
        if store.startswith(_stores.REDIS_SCHEMES):
            client = _stores.redis_client(store, timeout, func=func)
            return _RedisSegments(client, name, assume_durable)
        scheme = store.split("://")[0] + "://..." if "://" in store else store[:40]
        raise ValueError(
            f"SegmentCounter() argument 'store' must be a postgresql:// or redis:// URL (or a "
            f"redis.Redis client), got {scheme!r}"
        )
    if _stores.is_postgres_client(store):
        raise TypeError(
            "SegmentCounter() argument 'store' must be a postgresql:// URL, not a psycopg "
            "connection: the counter reserves from its own thread on a connection of its own"
        )
    if _stores.is_async_client(store):
        raise TypeError(
            "SegmentCounter() argument 'store' must be a synchronous redis.Redis client or a "
            "URL: it reserves from a thread of its own"
        )
    if callable(getattr(store, "eval", None)) and callable(getattr(store, "config_get", None)):
        return _RedisSegments(store, name, assume_durable)
    raise TypeError(
        f"SegmentCounter() argument 'store' must be a postgresql:// or redis:// URL or a "
        f"redis.Redis client, not {type(store).__name__}"
    )


def _check_int(value: Any, arg: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"SegmentCounter() argument {arg!r} must be an int, not {type(value).__name__}"
        )
    if not low <= value <= high:
        raise ValueError(
            f"SegmentCounter() argument {arg!r} must be in [{low}, {high}], got {value}"
        )
    return int(value)


# --------------------------------------------------------------------------------------------
# The engine: the thread that feeds a counter's cursor, and what they share. It holds the
# counter weakly, so that a counter nobody uses is collected (and closed) while the thread runs.


class _Engine:
    def __init__(self, store: Any, name: str, block: int, start: int, timeout: float) -> None:
        self.store = store
        self.name = name
        self.block = block
        self.half = block // 2
        self.start = start
        self.timeout = timeout
        self.counter: weakref.ref[SegmentCounter] | None = None
        self.cond = threading.Condition()
        self.wanted = False  # the cursor wants a spare
        self.closing = False
        self.closed = False
        self.forked = False
        self.error: BaseException | None = None  # what stops the counter for good
        self.last_error: BaseException | None = None  # the last failure worth retrying
        self.blocks = 0
        self.retries = 0
        self.unoffered: list[tuple[int, int]] = []  # reserved after close: given back
        self.thread: threading.Thread | None = None

    def need(self) -> None:
        with self.cond:
            self.wanted = True
            self.cond.notify_all()

    def stalled(self, counter: SegmentCounter) -> None:
        deadline = time.monotonic() + self.timeout
        with self.cond:
            while True:
                nxt, end, spare, _ = counter._state()
                if nxt < end or spare:
                    return
                if self.error is not None:
                    raise _again(self.error)
                if self.closed or self.closing:
                    raise ValueError("SegmentCounter.next(): the counter is closed")
                self.wanted = True
                self.cond.notify_all()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"SegmentCounter {self.name!r}: no block from {self.store.name} within "
                        f"{self.timeout:g} s (last error: {self.last_error!r})"
                    )
                self.cond.wait(left)

    def reserve_now(self) -> tuple[int, int]:
        """One reservation, retried while the failures are transient, for up to timeout."""
        deadline = time.monotonic() + self.timeout
        pause = 0.01
        while True:
            try:
                lo, hi = self.store.reserve(self.start, self.half)
            except Exception as exc:
                if self.closing and self.thread is threading.current_thread():
                    raise TimeoutError("closed while reserving") from exc
                transient = self.store.transient(exc)
                if transient and time.monotonic() + pause <= deadline:
                    with self.cond:
                        self.last_error = exc
                        self.retries += 1
                    time.sleep(pause)
                    pause = min(pause * 2, 0.5)
                    continue
                if transient:
                    raise TimeoutError(
                        f"SegmentCounter {self.name!r}: {self.store.name} did not reserve a "
                        f"block within {self.timeout:g} s (last error: {exc!r})"
                    ) from exc
                raise
            if hi > _MAX_VALUE or lo < 0:
                raise OverflowError(f"SegmentCounter {self.name!r} is used up")
            self.blocks += 1
            return lo, hi

    def offer(self, lo: int, hi: int) -> None:
        with self.cond:
            counter = self.counter() if self.counter is not None else None
            if counter is None or self.closing or self.closed or self.forked:
                self.unoffered.append((lo, hi))
                return
            self.wanted = bool(counter._offer(lo, hi))
            self.cond.notify_all()

    def run(self) -> None:
        """The feeding thread: reserves a block whenever the cursor wants a spare."""
        while True:
            with self.cond:
                while not self.wanted and not self.closing:
                    self.cond.wait()
                if self.closing:
                    return
            try:
                lo, hi = self.reserve_now()
            except TimeoutError as exc:
                # Keep trying: next() reports the wait to its callers when it stalls.
                with self.cond:
                    self.last_error = exc.__cause__ or exc
                continue
            except BaseException as exc:
                with self.cond:
                    self.error = exc
                    self.cond.notify_all()
                return
            self.offer(lo, hi)

    def start_thread(self) -> None:
        self.thread = threading.Thread(
            target=self.run, name=f"atomic_counter segment {self.name}", daemon=True
        )
        self.thread.start()

    def close(self, counter: SegmentCounter) -> None:
        """close(): the counter stops handing out values; its unused tail goes back."""
        if self._begin_closing():
            self._finish(counter._close())

    def collected(self, nxt: int, end: int, spare_next: int, spare_end: int) -> None:
        """Called by the counter's dealloc (never closed): the same, from its last state."""
        if self._begin_closing():
            self._finish((nxt, end, spare_next, spare_end))

    def _begin_closing(self) -> bool:
        with self.cond:
            if self.closing or self.closed:
                return False
            self.closing = True
            self.cond.notify_all()
            return True

    def _finish(self, left: tuple[int, int, int, int]) -> None:
        thread = self.thread
        if thread is not None and thread is not threading.current_thread() and not self.forked:
            # Its reservation in flight, if any, lands in unoffered. Bounded, so that an exit
            # does not hang on an unreachable store.
            thread.join(min(self.timeout, _CLOSE_WAIT))
        with self.cond:
            self.closed = True
        if self.forked:
            return  # the blocks are the parent's: never give them back from here
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self.store.close()  # the store is not answering: the tail stays a gap
            return
        # Give back the unused tail when it ends where the stored value is: the highest range
        # this process holds, extended down over the ranges contiguous with it.
        ranges = sorted(
            [(left[0], left[1]), (left[2], left[3]), *self.unoffered], key=lambda r: r[1]
        )
        ranges = [r for r in ranges if r[0] < r[1]]
        tail = None
        if ranges:
            lo, hi = ranges[-1]
            for prev_lo, prev_hi in reversed(ranges[:-1]):
                if prev_hi != lo:
                    break
                lo = prev_lo
            tail = (lo, hi)

        def give_back() -> None:
            if tail is not None:
                with contextlib.suppress(Exception):
                    self.store.give_back(*tail)
            self.store.close()

        # In a thread of its own, waited for a bounded time: a store that stopped answering
        # must not hold up close() or the interpreter's exit (the tail then stays a gap).
        try:
            worker = threading.Thread(target=give_back, name="atomic_counter give-back")
            worker.daemon = True
            worker.start()
        except RuntimeError:  # no new threads at interpreter shutdown
            return
        worker.join(_CLOSE_WAIT)


def _again(error: BaseException) -> BaseException:
    """A fresh exception like `error`, so that raising it again does not grow its traceback."""
    try:
        fresh = type(error)(*error.args)
    except Exception:
        return error
    fresh.__cause__ = error
    return fresh


# Counters alive in this process: closed at exit (giving their tails back), marked in a fork
# child (whose copies hold the parent's blocks; the feeding thread did not survive the fork).
_LIVE: weakref.WeakSet[SegmentCounter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for counter in list(_LIVE):
        engine = counter._engine
        if engine is None:
            continue
        engine.forked = True
        engine.cond = threading.Condition()  # another thread may have held the parent's
        engine.error = RuntimeError(
            f"SegmentCounter {engine.name!r} was copied into a child process by fork(); "
            f"create a SegmentCounter in the child"
        )
    _LIVE.clear()


def _close_all_at_exit() -> None:
    for counter in list(_LIVE):
        counter.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


class SegmentCounter:
    """A dense integer sequence shared by every process that opens the same name in the same
    store, handed out from blocks reserved ahead: unique across the fleet, strictly increasing
    within each process, at in-process speed.

    ``store`` is a ``postgresql://`` URL (needs ``atomic-counter[postgres]``), a ``redis://``
    URL or a ``redis.Redis`` client (needs ``atomic-counter[redis]``; the server must run
    ``appendonly yes`` with ``appendfsync always`` and must not evict the key). ``name`` names
    the sequence; the first process to use it starts it at ``start``. ``block`` bounds the gap:
    a process reserves half a block at a time, one half in use and one ahead, so at most
    ``block`` values are lost when it exits without closing (fewer when it closes: the unused
    tail goes back when nobody reserved after it). Pick a block that lasts several round trips
    to the database at your peak rate; ``stats()['stalls']`` counts the next() calls that had
    to wait. ``timeout`` (seconds) bounds every wait for the store: a next() that finds no
    value at hand raises TimeoutError after it.

    ``trust_failover=True`` accepts a PostgreSQL standby promoted on a new timeline (only when
    every commit reaches it: synchronous replication); ``assume_durable=True`` skips the check
    of a Redis server's persistence settings (for a server that hides them).
    """

    if TYPE_CHECKING:  # what the C half (_core._SegmentCounter) defines
        _engine: _Engine | None

        def next(self) -> int:
            """Return the next value: unique across every process that uses the sequence,
            larger than every value this counter handed out before."""

        def __iter__(self) -> SegmentCounter: ...
        def __next__(self) -> int: ...
        def _close(self) -> tuple[int, int, int, int]: ...
        def _offer(self, next: int, end: int, /) -> bool: ...
        def _state(self) -> tuple[int, int, bool, int]: ...

    def __init__(
        self,
        store: Any,
        name: str,
        block: int = 1000,
        *,
        start: int = 1,
        timeout: float = 30.0,
        trust_failover: bool = False,
        assume_durable: bool = False,
    ) -> None:
        if self._engine is not None:
            raise RuntimeError("SegmentCounter.__init__() called twice")
        if not isinstance(name, str):
            raise TypeError(
                f"SegmentCounter() argument 'name' must be a str, not {type(name).__name__}"
            )
        if not 1 <= len(name) <= _MAX_NAME:
            raise ValueError(
                f"SegmentCounter() argument 'name' must be 1 to {_MAX_NAME} characters, "
                f"got {len(name)}"
            )
        block = _check_int(block, "block", 2, _MAX_BLOCK)
        start = _check_int(start, "start", 0, _MAX_VALUE - _MAX_BLOCK)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(
                f"SegmentCounter() argument 'timeout' must be a number of seconds, not "
                f"{type(timeout).__name__}"
            )
        if not (math.isfinite(timeout) and 0 < timeout <= 3600):
            raise ValueError(
                f"SegmentCounter() argument 'timeout' must be in (0, 3600] seconds, got {timeout}"
            )
        backend = _store_for(store, name, float(timeout), trust_failover, assume_durable)
        engine = _Engine(backend, name, block, start, float(timeout))
        try:
            lo, hi = engine.reserve_now()  # the first block here, so that errors show here
        except BaseException:
            backend.close()
            raise
        engine.counter = weakref.ref(self)
        self._engine = engine
        engine.offer(lo, hi)
        engine.start_thread()
        _LIVE.add(self)

    @property
    def name(self) -> str:
        """The sequence's name in its store."""
        return self._opened().name

    @property
    def block(self) -> int:
        """The most values this process can leave unused (two reservations of block // 2)."""
        return self._opened().block

    def _opened(self) -> _Engine:
        engine = self._engine
        if engine is None:
            raise ValueError("SegmentCounter: the counter was never opened")
        return engine

    def close(self) -> None:
        """Stops handing out values and gives the unused tail back when nobody reserved after
        it. Later next() calls raise ValueError. Also runs when the counter is collected and
        at interpreter exit."""
        if self._engine is not None:
            self._engine.close(self)
            _LIVE.discard(self)

    def __enter__(self) -> SegmentCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """blocks (reservations made), stalls (next() calls that found no value at hand and
        waited), retries (store calls that failed and were retried), last_error."""
        engine = self._opened()
        return {
            "blocks": engine.blocks,
            "stalls": self._state()[3],
            "retries": engine.retries,
            "last_error": repr(engine.last_error) if engine.last_error else None,
        }

    def __repr__(self) -> str:
        engine = self._engine
        if engine is None:
            return "SegmentCounter(unopened)"
        return (
            f"SegmentCounter({engine.store.name}, {engine.name!r}, block={engine.block}"
            f"{', closed' if engine.closed else ''})"
        )

    @staticmethod
    def skip_ahead(store: Any, name: str, by: int, *, timeout: float = 30.0) -> int:
        """Moves the sequence `name` up by `by` values, past any a lost reservation may have
        handed out, and accepts the store's current incarnation (after a PostgreSQL failover
        refused with SegmentRefusedError). Returns the next value a reservation will start at.
        """
        by = _check_int(by, "by", 0, _MAX_VALUE)
        backend = _store_for(store, name, float(timeout), False, True)
        try:
            return backend.skip(by)
        finally:
            backend.close()


def _adopt(methods: type) -> type:
    """SegmentCounter is the C type (see bindings/segment.cpp for why); the class above gives it
    its Python methods, docstring and name."""
    target = _SegmentCounter
    for key, value in vars(methods).items():
        if isinstance(value, (FunctionType, property, staticmethod)):
            setattr(target, key, value)
    target.__doc__ = methods.__doc__
    target.__name__ = target.__qualname__ = "SegmentCounter"
    target.__module__ = "atomic_counter"
    return target


if not TYPE_CHECKING:
    SegmentCounter = _adopt(SegmentCounter)

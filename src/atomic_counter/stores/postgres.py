"""PostgreSQL: everything atomic-counter says to a PostgreSQL server, for leases and segments.

Leases live in two tables, ``atomic_counter_lease_namespaces`` (a row per namespace) and
``atomic_counter_lease_nodes`` (a row per node); segments in ``atomic_counter_segments`` (a row
per sequence). Every table is created on first use, under an advisory lock so that two first
users wait for each other instead of failing on a race.

Every operation is one transaction on an autocommit connection, with its settings local to it
(``synchronous_commit = on``, so that a commit is on disk before the protocol acts on it, and
the statement and lock timeouts): nothing depends on the session, so a transaction-pooling
proxy (PgBouncer) cannot drop a setting between two statements. The row locks that the UPDATEs
take stand in for a Redis script's atomicity, and ``clock_timestamp()`` is the store's clock.
A server's incarnation is its system identifier and timeline. psycopg 3 is imported when a store
is made.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

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

NAME = "PostgreSQL"
CLIENTS = "a psycopg 3 connection"  # for messages
SYNC_CLIENT, ASYNC_CLIENT = "psycopg.Connection", "psycopg.AsyncConnection"
# Also SQLAlchemy's form, postgresql+<driver>:// (what Django and SQLAlchemy settings hold): the
# driver part is dropped, psycopg 3 connects.
SCHEMES = ("postgresql://", "postgres://", "postgresql+")

# The server's incarnation: its system identifier and timeline, and the database's oid. A
# restart or a crash keeps them; a promoted standby or a backup restored through recovery starts
# a new timeline; a database copied back into place (CREATE DATABASE ... TEMPLATE, then renamed)
# has a new oid.
_INCARNATION = (
    "(SELECT system_identifier FROM pg_control_system())::text || '/' || "
    "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '/' || "
    "(SELECT oid FROM pg_database WHERE datname = current_database())::text"
)
# The server's clock in ms, and its incarnation.
_NOW = f"SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint, {_INCARNATION}"

# Every row carries `stamp`, the 32-bit id of the transaction that last wrote it, set by the
# writing statement. PostgreSQL gives each row version the id of the transaction that wrote it
# (xmin), so a row is ours (last written by this package, on this history of the data) exactly
# when its stamp equals its xmin: pg_restore, COPY, a re-insert after TRUNCATE or an UPDATE by
# hand write a new xmin beside the old stamp; VACUUM FULL, CLUSTER, freezing and pg_upgrade keep
# xmin. A physical copy keeps both, and is told by the incarnation instead.
_STAMP = "mod(txid_current(), 4294967296)"


def _ours(alias: str) -> str:
    return f"{alias}.stamp IS NOT DISTINCT FROM {alias}.xmin::text::bigint"


@dataclass(frozen=True)
class Statement:
    """Execute one statement (or several, without parameters); the reply is (rows, rowcount) of
    the last."""

    sql: str
    params: Any = None  # None: the simple protocol, which takes several statements at once


def _one(sql: str, *params: Any) -> Exchange[Any]:
    """The first row of a statement's result, or None. One dict argument passes named
    parameters."""
    named = len(params) == 1 and isinstance(params[0], dict)
    rows, _ = yield Statement(sql, params[0] if named else (params or None))
    return rows[0] if rows else None


class _Tables:
    """What the I/O needs to know of a store's operations: its tables, created on first use,
    how to word a refusal, and whether its safety needs commits that survive a crash."""

    name = NAME
    schema: tuple[str, ...]
    # Every table and column the schema makes: when the catalog shows them all, the schema
    # statements (whose ALTER TABLEs lock the table, even when they change nothing) are skipped.
    columns: ClassVar[dict[str, frozenset[str]]]
    tables: str  # named in a refusal
    action: str  # what the role could not do, for a refusal
    refusal: type[Exception]
    durable_commits: bool  # refuse a server running with fsync = off


# -- leases ------------------------------------------------------------------------------------

_NAMESPACES = "atomic_counter_lease_namespaces"
_NODES = "atomic_counter_lease_nodes"

_LEASE_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_NAMESPACES} (
    namespace text PRIMARY KEY,
    version integer NOT NULL,
    layout text NOT NULL,
    incarnation text NOT NULL,
    gen bigint NOT NULL,
    floor_ms bigint NOT NULL,
    max_ttl_ms bigint NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS {_NODES} (
    namespace text NOT NULL REFERENCES {_NAMESPACES} ON DELETE CASCADE,
    node integer NOT NULL,
    owner text,
    expires_ms bigint NOT NULL DEFAULT 0,
    hwm numeric(20, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, node)
)""",
    # Tables made by an earlier version have no stamps: their rows are not ours until written.
    f"ALTER TABLE {_NAMESPACES} ADD COLUMN IF NOT EXISTS stamp bigint",
    f"ALTER TABLE {_NODES} ADD COLUMN IF NOT EXISTS stamp bigint",
    # How many nodes have rows: a row missing below it was deleted (TRUNCATE, DELETE).
    f"ALTER TABLE {_NAMESPACES} ADD COLUMN IF NOT EXISTS nodes_used integer NOT NULL DEFAULT 0",
    # The longest max_skew and max_lead of any claimant (A4), as max_ttl_ms.
    f"ALTER TABLE {_NAMESPACES} ADD COLUMN IF NOT EXISTS max_skew_ms bigint NOT NULL DEFAULT 0",
    f"ALTER TABLE {_NAMESPACES} ADD COLUMN IF NOT EXISTS max_lead_ms bigint NOT NULL DEFAULT 0",
)

# A holder saw the data go back: every later claim waits until one confirms the namespace.
_UNCONFIRM = f"UPDATE {_NAMESPACES} SET incarnation = '', stamp = {_STAMP} WHERE namespace = %s"


class PostgresLeases(_Tables):
    """A lease namespace in two tables (protocols.LeaseStore): the same operations as the Redis
    scripts, each one transaction that locks the namespace's row. A claim that reads a row this
    package did not write last (see _STAMP) reports a suspicion."""

    schema = _LEASE_SCHEMA
    columns: ClassVar[dict[str, frozenset[str]]] = {
        _NAMESPACES: frozenset(
            {
                "namespace",
                "version",
                "layout",
                "incarnation",
                "gen",
                "floor_ms",
                "max_ttl_ms",
                "stamp",
                "nodes_used",
                "max_skew_ms",
                "max_lead_ms",
            }
        ),
        _NODES: frozenset({"namespace", "node", "owner", "expires_ms", "hwm", "stamp"}),
    }
    tables = f"{_NAMESPACES} and {_NODES}"
    action = "hold leases"
    refusal = LeaseRefusedError

    def __init__(self, namespace: str, *, trust_store: bool) -> None:
        self.namespace = namespace
        # Without trust_store the claims wait whatever the store remembers, so a server whose
        # commits may not survive a crash (fsync = off) does not matter to them.
        self.durable_commits = trust_store

    def _lock(self) -> Exchange[Any]:
        """The namespace's row, locked: (layout, incarnation, gen, floor_ms, max_ttl_ms, ours,
        nodes_used, max_skew_ms, max_lead_ms)."""
        return (
            yield from _one(
                f"SELECT layout, incarnation, gen, floor_ms, max_ttl_ms, {_ours('n')}, nodes_used, "
                f"max_skew_ms, max_lead_ms FROM {_NAMESPACES} AS n WHERE namespace = %s FOR UPDATE",
                self.namespace,
            )
        )

    def _owner(self, node: int) -> Exchange[str | None]:
        row = yield from _one(
            f"SELECT owner FROM {_NODES} WHERE namespace = %s AND node = %s",
            self.namespace,
            node,
        )
        return row[0] if row else None

    def _next_gen(self, used: int = 0) -> Exchange[int]:
        row = yield from _one(
            f"UPDATE {_NAMESPACES} SET gen = gen + 1, stamp = {_STAMP}, "
            "nodes_used = GREATEST(nodes_used, %s) WHERE namespace = %s RETURNING gen",
            used,
            self.namespace,
        )
        return int(row[0])

    def claim(self, request: Claim) -> Exchange[ClaimReply]:
        namespace, ttl = self.namespace, request.ttl_ms
        now, run_id = yield from _one(_NOW)
        _, created = yield Statement(
            f"INSERT INTO {_NAMESPACES} (namespace, version, layout, incarnation, gen, "
            f"floor_ms, max_ttl_ms, stamp) VALUES (%s, 2, %s, '', 0, 0, %s, {_STAMP}) "
            "ON CONFLICT (namespace) DO NOTHING",
            (namespace, request.layout, ttl),
        )
        locked = yield from self._lock()
        stored, incarnation, gen, floor_ms, max_ttl, ours, used, max_skew, max_lead = locked
        suspicion = Suspicion.MISSING if created else None
        rows, _ = yield Statement(
            f"SELECT node, owner, expires_ms, hwm, {_ours('d')} FROM {_NODES} AS d "
            "WHERE namespace = %s AND node < %s",
            (namespace, request.nodes),
        )
        held = {int(row[0]): row[1:] for row in rows}
        if not created:
            if stored != request.layout:
                return Refused(Refusal.LAYOUT, stored)
            if incarnation == "":
                suspicion = Suspicion.UNCONFIRMED
            elif incarnation != run_id:
                suspicion = Suspicion.RESTARTED
            vanished = any(j not in held for j in range(min(used, request.nodes)))
            if not ours or vanished or not all(row[3] for row in held.values()):
                suspicion = Suspicion.REWRITTEN
                yield Statement(_UNCONFIRM, (namespace,))
            if gen < request.seen_gen:
                suspicion = Suspicion.ROLLED_BACK
                yield Statement(_UNCONFIRM, (namespace,))
        # The longest ttl, max_skew and max_lead of any claimant: the waits use them (A4).
        if created or ttl > max_ttl or request.skew_ms > max_skew or request.lead_ms > max_lead:
            max_ttl = max(max_ttl, ttl)
            max_skew = max(max_skew, request.skew_ms)
            max_lead = max(max_lead, request.lead_ms)
            yield Statement(
                f"UPDATE {_NAMESPACES} SET max_ttl_ms = %s, max_skew_ms = %s, max_lead_ms = %s, "
                f"stamp = {_STAMP} WHERE namespace = %s",
                (max_ttl, max_skew, max_lead, namespace),
            )
        for i in range(request.nodes):
            owner, expires, hwm, _ = held.get(i, (None, 0, 0, True))
            # An expiry further away than the longest ttl means the server's clock went back:
            # the holder's own deadline (its monotonic clock) has passed, and the node's mark
            # fences it.
            if owner is None or expires <= now or expires > now + max_ttl:
                yield Statement(
                    f"INSERT INTO {_NODES} (namespace, node, owner, expires_ms, stamp) "
                    f"VALUES (%s, %s, %s, %s, {_STAMP}) ON CONFLICT (namespace, node) DO UPDATE "
                    "SET owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms, "
                    "stamp = EXCLUDED.stamp",
                    (namespace, i, request.token, now + ttl),
                )
                gen = yield from self._next_gen(used=i + 1)
                return Claimed(
                    node=i,
                    hwm=int(hwm),
                    floor_ms=int(floor_ms),
                    suspicion=suspicion,
                    store_ms=int(now),
                    gen=gen,
                    max_ttl_ms=int(max_ttl),
                    incarnation=run_id,
                    max_skew_ms=int(max_skew),
                    max_lead_ms=int(max_lead),
                )
        return Full()

    def renew(self, request: Renew) -> Exchange[RenewReply]:
        now, run_id = yield from _one(_NOW)
        locked = yield from self._lock()
        where = (self.namespace, request.node)
        row = yield from _one(
            f"SELECT owner, hwm FROM {_NODES} WHERE namespace = %s AND node = %s", *where
        )
        if locked is None or row is None or row[0] != request.token:
            return Lost()
        # The namespace, or this node's mark, went below what this lease's renewals saw.
        rolled_back = locked[2] < request.seen_gen or int(row[1]) < request.last_mark
        if rolled_back:
            yield Statement(_UNCONFIRM, (self.namespace,))
        yield Statement(
            f"UPDATE {_NODES} SET expires_ms = %s, hwm = GREATEST(hwm, %s::numeric), "
            f"stamp = {_STAMP} WHERE namespace = %s AND node = %s",
            (now + request.ttl_ms, str(request.mark), *where),
        )
        gen = yield from self._next_gen()
        return Renewed(
            rolled_back=rolled_back,
            store_ms=int(now),
            gen=gen,
            incarnation=run_id,
            max_ttl_ms=int(locked[4]),
            max_skew_ms=int(locked[7]),
            max_lead_ms=int(locked[8]),
        )

    def confirm(self, request: Confirm) -> Exchange[ConfirmReply]:
        _now, run_id = yield from _one(_NOW)
        locked = yield from self._lock()
        if locked is None or (yield from self._owner(request.node)) != request.token:
            return Lost()
        if run_id != request.claimed_on:
            return Restarted()
        floor = max(request.floor_ms, int(locked[3]))
        yield Statement(
            f"UPDATE {_NAMESPACES} SET floor_ms = %s, incarnation = %s, stamp = {_STAMP} "
            "WHERE namespace = %s",
            (floor, run_id, self.namespace),
        )
        # Whole again, after a wait that outlasted every holder the store may have forgotten:
        # the rows as they are now are the namespace's, and are stamped as ours.
        yield Statement(
            f"UPDATE {_NODES} SET stamp = {_STAMP} WHERE namespace = %s", (self.namespace,)
        )
        gen = yield from self._next_gen()
        return Confirmed(floor_ms=floor, gen=gen)

    def release(self, request: Release) -> Exchange[bool]:
        if (yield from self._lock()) is None:
            return False
        if (yield from self._owner(request.node)) != request.token:
            return False
        where = (self.namespace, request.node)
        # The sealed counter's mark is at or above every id this holder drew, and its renewals
        # recorded more (a reservation): the exact mark lets the next holder start right above.
        if request.mark is not None:
            yield Statement(
                f"UPDATE {_NODES} SET hwm = %s::numeric WHERE namespace = %s AND node = %s",
                (str(request.mark), *where),
            )
        yield Statement(
            f"UPDATE {_NODES} SET owner = NULL, expires_ms = 0, stamp = {_STAMP} "
            "WHERE namespace = %s AND node = %s",
            where,
        )
        yield from self._next_gen()
        return True

    def legacy_key(self) -> Exchange[str | None]:
        return None  # atomic-counter 0.2 had no PostgreSQL leases
        yield  # an exchange with no request


# -- segments ----------------------------------------------------------------------------------

_SEGMENTS = "atomic_counter_segments"
_SEGMENT_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_SEGMENTS} (
    name text PRIMARY KEY,
    next_value bigint NOT NULL,
    incarnation text NOT NULL
)""",
    f"ALTER TABLE {_SEGMENTS} ADD COLUMN IF NOT EXISTS stamp bigint",
)

_CREATE = f"""INSERT INTO {_SEGMENTS} AS s (name, next_value, incarnation, stamp)
VALUES (%(name)s, %(start)s, {_INCARNATION}, {_STAMP}) ON CONFLICT (name) DO NOTHING
RETURNING next_value"""

# Moves the stored value up by n, only on the data this package last wrote on this server's
# history (design.md, Segments, R3): the row's incarnation is the server's (or trust_failover)
# and its stamp is its xmin. Otherwise no row comes back, and _ROW tells why.
_RESERVE = f"""WITH here AS (SELECT {_INCARNATION} AS incarnation)
UPDATE {_SEGMENTS} AS s
SET next_value = s.next_value + %(n)s::bigint, incarnation = here.incarnation, stamp = {_STAMP}
FROM here
WHERE s.name = %(name)s AND {_ours("s")}
    AND (s.incarnation = here.incarnation OR %(trust)s)
RETURNING s.next_value"""

_ROW = f"""SELECT next_value, incarnation, {_INCARNATION}, {_ours("s")}
FROM {_SEGMENTS} AS s WHERE name = %s"""

_GIVE_BACK = f"""UPDATE {_SEGMENTS} AS s SET next_value = %(lo)s, stamp = {_STAMP}
WHERE name = %(name)s AND next_value = %(hi)s AND incarnation = {_INCARNATION} AND {_ours("s")}
RETURNING next_value"""

_SKIP = f"""UPDATE {_SEGMENTS}
SET next_value = GREATEST(next_value + %(by)s::bigint, %(to)s::bigint),
    incarnation = {_INCARNATION}, stamp = {_STAMP}
WHERE name = %(name)s RETURNING next_value"""


class PostgresSegment(_Tables):
    """A sequence in one row (protocols.SegmentStore), created once, with the incarnation of
    its last reservation and the stamp of its last writer: a reservation on another timeline or
    on a row this package did not write last (a restore, an edit) is refused."""

    schema = _SEGMENT_SCHEMA
    columns: ClassVar[dict[str, frozenset[str]]] = {
        _SEGMENTS: frozenset({"name", "next_value", "incarnation", "stamp"})
    }
    tables = _SEGMENTS
    action = "reserve blocks"
    refusal = SegmentRefusedError
    durable_commits = True

    def __init__(self, name: str, *, trust_failover: bool) -> None:
        self._name = name
        self._trust = trust_failover

    def create(self, start: int) -> Exchange[int | None]:
        row = yield from _one(_CREATE, {"name": self._name, "start": start})
        if row is not None:
            return None
        row = yield from _one(f"SELECT next_value FROM {_SEGMENTS} WHERE name = %s", self._name)
        return int(row[0])

    def reserve(self, n: int) -> Exchange[tuple[int, int]]:
        from psycopg import errors  # type: ignore[import-not-found, unused-ignore]

        params = {"name": self._name, "n": n, "trust": self._trust}
        try:
            row = yield from _one(_RESERVE, params)
        except errors.NumericValueOutOfRange as exc:
            raise OverflowError(
                f"SegmentCounter {self._name!r} is used up: its next block would pass "
                f"2**63 - 1 (PostgreSQL bigint)"
            ) from exc
        if row is None:
            raise self._why_not((yield from _one(_ROW, self._name)))
        hi = int(row[0])
        return hi - n, hi

    def _why_not(self, row: Any) -> SegmentRefusedError:
        """Why a reservation found no row to move: missing, rewritten, or another timeline."""
        name = self._name
        skip = (
            f"Stop every process that uses it (they hand out blocks they reserved before), then "
            f"move it above everything reserved with SegmentCounter.skip_ahead(store, {name!r}, "
            f"to=...): the value it had at the event, or the last value handed out + 1"
        )
        if row is None:
            return SegmentRefusedError(
                f"SegmentCounter {name!r}: PostgreSQL has no such sequence (no row in "
                f"{_SEGMENTS}): it was never created, or its row was lost (deleted, truncated, "
                f"a restore from before it existed). A lost sequence is never restarted at its "
                f"start: stop every process that uses it, then create it again above everything "
                f"reserved, SegmentCounter.create(store, {name!r}, start=last + 1) with last the "
                f"last value handed out; a new one with SegmentCounter.create()"
            )
        _, stored, current, ours = row
        if not ours:
            return SegmentRefusedError(
                f"SegmentCounter {name!r}: the sequence's row was last written by something "
                f"other than atomic-counter (a logical restore or COPY, a re-insert after "
                f"TRUNCATE, an UPDATE by hand, a logical replica), so it may be older than "
                f"values already handed out, which could repeat. {skip}"
            )
        return SegmentRefusedError(
            f"SegmentCounter {name!r}: PostgreSQL is on another timeline than when the sequence "
            f"was last reserved ({stored} then, {current} now): a failover or a restored backup "
            f"may have lost reservations, and values handed out since could repeat (pg_upgrade "
            f"changes the system identifier too). {skip}, or pass trust_failover=True if every "
            f"reservation commits on the standby that was promoted (synchronous replication; "
            f"it accepts the new timeline for every process of the sequence)"
        )

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        row = yield from _one(_GIVE_BACK, {"name": self._name, "lo": lo, "hi": hi})
        return row is not None

    def skip(self, by: int, to: int) -> Exchange[int]:
        from psycopg import errors  # type: ignore[import-not-found, unused-ignore]

        try:
            row = yield from _one(_SKIP, {"name": self._name, "by": by, "to": to})
        except errors.NumericValueOutOfRange as exc:
            raise OverflowError(
                f"SegmentCounter.skip_ahead(): {self._name!r} would pass 2**63 - 1 (PostgreSQL "
                f"bigint)"
            ) from exc
        if row is None:
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(row[0])


# -- I/O ---------------------------------------------------------------------------------------


class _Connect:
    """(Re)open the connection when there is none or it broke; reply: whether it is new."""


class _Reset:
    """After a failure: roll back what the transaction did, or drop a broken connection."""


class _State:
    """Reply: (autocommit, transaction status name) of the connection."""


_CONNECT, _RESET, _STATE = _Connect(), _Reset(), _State()


def _translate(exc: BaseException, ops: _Tables) -> Exception | None:
    """The package's error for what psycopg raised, or None to let it through."""
    import psycopg  # type: ignore[import-not-found, unused-ignore]
    from psycopg import errors  # type: ignore[import-not-found, unused-ignore]

    if isinstance(exc, errors.InsufficientPrivilege):
        return ops.refusal(
            f"PostgreSQL refused to {ops.action} ({exc}): the role needs CREATE on the schema "
            f"the first time, then SELECT, INSERT and UPDATE on {ops.tables}, and EXECUTE on "
            f"pg_control_system() and pg_current_wal_lsn()"
        )
    if isinstance(exc, (errors.ReadOnlySqlTransaction, errors.ObjectNotInPrerequisiteState)):
        return ops.refusal(
            f"PostgreSQL cannot {ops.action} here ({exc}): the database is read-only (a standby, "
            f"or default_transaction_read_only)"
        )
    if isinstance(
        exc,
        (
            psycopg.OperationalError,  # connection lost, server shutting down, timeouts
            psycopg.InterfaceError,  # a connection closed under us
            errors.SerializationFailure,
            errors.DeadlockDetected,
        ),
    ):
        return StoreUnavailableError(f"PostgreSQL is unavailable: {type(exc).__name__}: {exc}")
    return None


def _literal(text: str) -> str:
    """A string as an SQL literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"


class _Session:
    """What both I/O kinds do around an exchange, written once as requests: (re)connect, create
    the tables the first time on each connection, check a caller's connection is fit, then one
    transaction with local settings; on failure, roll back or drop the connection."""

    def __init__(
        self, connect: Callable[[], Any], ops: _Tables, *, owned: bool, timeout: float
    ) -> None:
        self._connect = connect
        self._ops = ops
        self._owned = owned  # opened from a URL: closed (and reopened) by us
        self._timeout_ms = max(1, int(timeout * 1000))
        self._conn: Any = None
        self._schema_ready = False
        # The search_path of the store's first transaction, set again (transaction-locally) in
        # every later one: a session's search_path changed since (another client of a
        # transaction pool, a caller's SET on its own connection) must not move the tables.
        self._search_path: str | None = None

    def _begin(self) -> Exchange[None]:
        """Opens the transaction with its settings (local to it, so that a transaction-pooling
        proxy cannot drop them) in one round trip, and refuses a server that cannot keep what
        the step writes."""
        ms = self._timeout_ms
        path = self._search_path
        pinned = "" if path is None else f", set_config('search_path', {_literal(path)}, true)"
        rows, _ = yield Statement(
            "BEGIN; SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
            "current_setting('fsync'), current_setting('search_path'), "
            "set_config('synchronous_commit', 'on', true), "
            f"set_config('statement_timeout', '{ms}', true), "
            f"set_config('lock_timeout', '{ms}', true){pinned}"
        )
        standby, read_only, fsync, session_path = rows[0][:4]
        if path is None:
            self._search_path = session_path
        ops = self._ops
        if standby:
            raise ops.refusal(
                f"PostgreSQL cannot {ops.action} here: the server is a standby (in recovery); "
                f"connect to the primary"
            )
        if read_only == "on":
            raise ops.refusal(
                f"PostgreSQL cannot {ops.action} here: the database is read-only "
                f"(default_transaction_read_only, set for the database, the role or the "
                f"server); a primary that was made read-only must be made writable again"
            )
        if ops.durable_commits and fsync != "on":
            raise ops.refusal(
                f"PostgreSQL cannot {ops.action} safely here: the server runs with fsync = off, "
                f"so a crash could forget committed writes and values could repeat"
            )

    def _session(self, exchange: Exchange[T]) -> Exchange[T]:
        began = False  # whether a transaction of ours is open: only that one is rolled back
        try:
            if (yield _CONNECT):
                self._schema_ready = False
            if not self._owned:
                autocommit, status = yield _STATE
                if not autocommit or status != "IDLE":
                    raise self._unfit(autocommit, status)  # the caller's: left as it is
            if not self._schema_ready:
                began = True
                yield from self._begin()
                if not (yield from self._schema_present()):
                    yield Statement(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        (f"atomic_counter {self._ops.tables}",),
                    )
                    for statement in self._ops.schema:
                        yield Statement(statement)
                yield Statement("COMMIT")
                self._schema_ready = True
            began = True
            yield from self._begin()
            result = yield from exchange
            yield Statement("COMMIT")
            return result
        except Exception as exc:
            if began:
                with contextlib.suppress(Exception):
                    yield _RESET
            translated = _translate(exc, self._ops)
            if translated is not None:
                raise translated from exc
            raise

    def _schema_present(self) -> Exchange[bool]:
        """Whether every table and column of the schema exists (found as the unqualified names
        in the statements are, through search_path), read from the catalog without a lock."""
        wanted = self._ops.columns
        rows, _ = yield Statement(
            "SELECT c.relname::text, a.attname::text FROM pg_catalog.pg_attribute AS a "
            "JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid "
            "WHERE c.oid = ANY(ARRAY[" + ", ".join("to_regclass(%s)" for _ in wanted) + "]) "
            "AND a.attnum > 0 AND NOT a.attisdropped",
            tuple(wanted),
        )
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        return all(columns <= found.get(table, set()) for table, columns in wanted.items())

    def _unfit(self, autocommit: bool, status: str) -> Exception:
        if not autocommit:
            why = (
                "is not in autocommit mode, so each step would join a transaction that only "
                "the caller commits: open it with psycopg.connect(url, autocommit=True)"
            )
        else:
            why = (
                f"has a transaction open (status {status}): commit or roll it back first, "
                f"and use the connection for nothing else"
            )
        return self._ops.refusal(
            f"the psycopg connection given to {self._ops.name} {why}; or pass a "
            f"postgresql:// URL and the store opens connections of its own"
        )

    # What the two performs share: the replies that need no I/O.
    def _reset_needed(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        if conn.broken or conn.closed:
            if self._owned:
                self._conn = None
            return False
        return bool(conn.info.transaction_status.name != "IDLE")

    def _state(self) -> tuple[bool, str]:
        return bool(self._conn.autocommit), str(self._conn.info.transaction_status.name)

    def _needs_connection(self) -> bool:
        return self._conn is None or self._conn.closed or self._conn.broken

    @staticmethod
    def _reply(cursor: Any, rows: list[Any]) -> tuple[list[Any], int]:
        return rows, cursor.rowcount


class PostgresIO(_Session):
    """Runs exchanges on one psycopg connection (protocols.StoreIO), one at a time."""

    def __init__(self, connect: Callable[[], Any], ops: Any, *, owned: bool, timeout: float):
        super().__init__(connect, ops, owned=owned, timeout=timeout)
        self._lock = threading.Lock()

    def _perform(self, request: Any) -> Any:
        if request is _CONNECT:
            if not self._needs_connection():
                return False
            if self._conn is not None and self._owned:
                self._conn.close()
            self._conn = self._connect()
            return True
        if request is _STATE:
            return self._state()
        if request is _RESET:
            if self._reset_needed():
                self._conn.rollback()
            return None
        # Never prepared: a transaction-pooling proxy (PgBouncer) runs each transaction on any
        # server connection, where a prepared statement of another may not exist.
        cursor = self._conn.execute(request.sql, request.params, prepare=False)
        rows: list[Any] = []
        while True:  # the rows of the last statement that returned any
            if cursor.description is not None:
                rows = cursor.fetchall()
            if not cursor.nextset():
                return self._reply(cursor, rows)

    def run(self, exchange: Exchange[T]) -> T:
        from .._drive import drive

        with self._lock:
            return drive(self._session(exchange), self._perform)

    def close(self) -> None:
        """Closes the connection; when another thread is running an exchange on it (a store
        that does not answer), shuts its socket down instead, so that the exchange fails and
        the connection is dropped by the thread using it: closing a psycopg connection under
        a thread in the middle of a call crashes the process."""
        if not self._owned or self._conn is None:
            return
        if self._lock.acquire(blocking=False):
            try:
                with contextlib.suppress(Exception):
                    self._conn.close()
            finally:
                self._lock.release()
            return
        import socket

        with contextlib.suppress(Exception):
            duplicate = socket.socket(fileno=os.dup(self._conn.fileno()))
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            finally:
                duplicate.close()


class AsyncPostgresIO(_Session):
    """PostgresIO for a psycopg AsyncConnection."""

    def __init__(self, connect: Callable[[], Any], ops: Any, *, owned: bool, timeout: float):
        super().__init__(connect, ops, owned=owned, timeout=timeout)
        self._lock: Any = None

    async def _perform(self, request: Any) -> Any:
        if request is _CONNECT:
            if not self._needs_connection():
                return False
            if self._conn is not None and self._owned:
                await self._conn.close()
            self._conn = await self._connect()
            return True
        if request is _STATE:
            return self._state()
        if request is _RESET:
            if self._reset_needed():
                await self._conn.rollback()
            return None
        cursor = await self._conn.execute(request.sql, request.params, prepare=False)
        rows: list[Any] = []
        while True:  # the rows of the last statement that returned any
            if cursor.description is not None:
                rows = await cursor.fetchall()
            if not cursor.nextset():
                return self._reply(cursor, rows)

    async def run(self, exchange: Exchange[T]) -> T:
        import asyncio

        from .._drive import adrive

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await adrive(self._session(exchange), self._perform)

    async def close(self) -> None:
        if self._owned and self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


# -- the engine (protocols.Engine) -------------------------------------------------------------


def accepts(client: Any) -> bool:
    return type(client).__module__.startswith("psycopg")


def is_async(client: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(client, "execute", None))


def _plain_url(url: str) -> str:
    """postgresql+psycopg://... (SQLAlchemy's form) as the postgresql://... libpq reads."""
    if url.startswith("postgresql+"):
        return "postgresql://" + url.split("://", 1)[1]
    return url


def _connector(
    url: str, timeout: float, *, func: str, application: str, asynchronous: bool
) -> Callable[[], Any]:
    """A function that opens a psycopg connection to the URL, in autocommit, that gives up on
    a connection that stops acknowledging within about `timeout` seconds (the statement and
    lock timeouts are set by every transaction)."""
    try:
        import psycopg  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            f"{func} with a postgresql:// URL needs psycopg 3: pip install atomic-counter[postgres]"
        ) from exc
    url = _plain_url(url)
    timeout_ms = int(timeout * 1000)
    params: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(2, timeout_ms // 1000),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": timeout_ms,
        "application_name": application,
    }
    if asynchronous:
        return lambda: psycopg.AsyncConnection.connect(url, **params)
    return lambda: psycopg.connect(url, **params)


def _io(
    client: Any, ops: _Tables, *, timeout: float, asynchronous: bool, func: str, application: str
) -> Any:
    owned = isinstance(client, str)
    if owned:
        connect = _connector(
            client, timeout, func=func, application=application, asynchronous=asynchronous
        )
    elif asynchronous:

        async def given() -> Any:
            return client

        connect = given
    else:
        connect = lambda: client  # noqa: E731
    kind = AsyncPostgresIO if asynchronous else PostgresIO
    return kind(connect, ops, owned=owned, timeout=timeout)


def lease_store(
    client: Any,
    namespace: str,
    *,
    timeout: float,
    asynchronous: bool,
    func: str,
    trust_store: bool,
) -> tuple[PostgresLeases, PostgresIO | AsyncPostgresIO]:
    # A connection given is the lease's own from then on, used as it is (a URL lets the lease
    # reconnect after the server or the network drops it).
    ops = PostgresLeases(namespace, trust_store=trust_store)
    io = _io(
        client,
        ops,
        timeout=timeout,
        asynchronous=asynchronous,
        func=func,
        application="atomic-counter lease",
    )
    return ops, io


def segment_store(
    client: Any, name: str, *, timeout: float, trust_failover: bool, assume_durable: bool
) -> tuple[PostgresSegment, PostgresIO]:
    if not isinstance(client, str):
        raise TypeError(
            "SegmentCounter() argument 'store' must be a postgresql:// URL, not a psycopg "
            "connection: the counter reserves from its own thread on a connection of its own"
        )
    ops = PostgresSegment(name, trust_failover=trust_failover)
    io = _io(
        client,
        ops,
        timeout=timeout,
        asynchronous=False,
        func="SegmentCounter()",
        application="atomic_counter segment",
    )
    return ops, io

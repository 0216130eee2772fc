"""The exceptions of the fleet rungs (leases and segments), in one module below every other, so
that the stores raise them without importing the protocols above them.

``LeaseExpiredError`` is the extension's (a SnowflakeCounter raises it from C); the rest are
plain Python classes. Every one is also importable from ``atomic_counter``.
"""

from __future__ import annotations

from ._core import LeaseExpiredError

__all__ = [
    "LeaseExpiredError",
    "LeaseRefusedError",
    "NoFreeNodeError",
    "SegmentRefusedError",
    "StoreTimeoutError",
    "StoreUnavailableError",
]


class NoFreeNodeError(RuntimeError):
    """Every node id of the namespace is held by a live lease."""


class LeaseRefusedError(RuntimeError):
    """The lease cannot be made safe here: Redis may evict its keys, this host's clock is
    further from the store's than ``max_skew``, the namespace's data is damaged, it is used by
    an older version of atomic-counter, or PostgreSQL refuses the tables (permissions, a
    standby, a connection in the wrong state). Raised by claims; counters raise
    LeaseExpiredError."""


class SegmentRefusedError(RuntimeError):
    """A SegmentCounter refused to hand out values: its store may have lost reservations (a
    PostgreSQL failover to a standby on a new timeline), is not durable enough (Redis without
    appendfsync always, or with eviction), or refused the counter's table or key."""


class StoreUnavailableError(ConnectionError):
    """Redis or PostgreSQL could not be reached, dropped the connection, or answered that it
    cannot serve now (loading, failing over, read-only for a moment). Calls that retry do so
    while their time allows and raise this when it runs out; the driver's own exception
    (redis-py's, psycopg's) is its ``__cause__``. A ConnectionError, so an OSError too."""


class StoreTimeoutError(StoreUnavailableError, TimeoutError):
    """The store did not answer within the time the call allows (a SegmentCounter's
    ``timeout``): both a StoreUnavailableError and the built-in TimeoutError."""

"""What the fleet protocols need from a store, as types: the requests they make and the replies
they get, and the interfaces every engine implements (redis.py, postgres.py).

A store is two objects. Its *operations* (LeaseStore, SegmentStore) are free of I/O: each
method returns an Exchange, a generator that yields the engine's own requests (a script to run,
a statement to execute) and returns a typed reply; they hold the engine's knowledge (scripts,
SQL, what a reply means). Its *I/O* (StoreIO, AsyncStoreIO) runs an exchange on a connection:
it opens and reopens connections, wraps the exchange in whatever makes it atomic (a transaction),
and turns the driver's errors into this package's (errors.py). The protocols (_lease_protocol.py,
segment.py) speak only these types, so an engine is one file, and a simulator can run the real
protocol code against a store in memory.

Ids and marks travel as Python ints (exact to 2**64); times are the store's clock in ms.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# An operation: yields the engine's requests, receives their results, returns the reply.
Exchange = Generator[Any, Any, T]


# -- leases ----------------------------------------------------------------------------------


class Suspicion(enum.Enum):
    """Why a claimant cannot trust the namespace's records, and must wait before drawing."""

    MISSING = "missing"  # the namespace is new, or the store lost it
    UNCONFIRMED = "unconfirmed"  # an earlier wait was never confirmed
    RESTARTED = "restarted"  # another incarnation of the store since the last confirmation
    ROLLED_BACK = "rolled back"  # a holder saw the namespace's generation or a mark go back
    REWRITTEN = "rewritten"  # its rows were last written by something else (PostgreSQL stamps)


class Refusal(enum.Enum):
    """What the store refuses, whatever is retried."""

    EVICTION = "eviction"  # Redis may evict the namespace (an allkeys-* maxmemory policy)
    LAYOUT = "layout"  # the namespace holds ids of another layout


@dataclass(frozen=True)
class Refused:
    why: Refusal
    detail: str  # the eviction policy, or the stored layout's fingerprint


@dataclass(frozen=True)
class Claim:
    token: str  # this lease's, unique
    ttl_ms: int
    nodes: int  # claim among node ids [0, nodes)
    layout: str  # the layout's fingerprint
    seen_gen: int  # the highest generation this lease has seen
    skew_ms: int  # this lease's max_skew
    lead_ms: int  # this lease's max_lead


@dataclass(frozen=True)
class Claimed:
    node: int
    hwm: int  # the node's high-water mark: ids must start above it
    floor_ms: int  # the namespace's floor: ids must start after this time
    suspicion: Suspicion | None
    store_ms: int  # the store's clock
    gen: int  # the namespace's generation after the claim
    max_ttl_ms: int  # the longest ttl the namespace has recorded
    incarnation: str  # the store's incarnation now (Redis: run_id; PostgreSQL: id/timeline)
    max_skew_ms: int  # the longest max_skew the namespace has recorded
    max_lead_ms: int  # the longest max_lead the namespace has recorded


@dataclass(frozen=True)
class Full:
    """Every node of the namespace is held."""


@dataclass(frozen=True)
class Renew:
    token: str
    node: int
    ttl_ms: int
    mark: int  # the high-water mark to record: no id up to the next deadline exceeds it
    seen_gen: int
    last_mark: int  # the mark this lease's last renewal recorded on the node (0: none)


@dataclass(frozen=True)
class Renewed:
    rolled_back: bool  # the generation, or the node's mark, had gone below what this lease saw
    store_ms: int
    gen: int
    incarnation: str
    # The namespace's longest ttl, max_skew and max_lead now (a lapsed holder's wait uses them)
    max_ttl_ms: int
    max_skew_ms: int
    max_lead_ms: int


@dataclass(frozen=True)
class Lost:
    """The node is not this lease's any more (expired, taken, or forgotten by the store)."""


@dataclass(frozen=True)
class Confirm:
    token: str
    node: int
    claimed_on: str  # the incarnation the claim saw
    floor_ms: int  # raise the namespace's floor to this


@dataclass(frozen=True)
class Confirmed:
    floor_ms: int  # the namespace's floor after the confirmation
    gen: int


@dataclass(frozen=True)
class Restarted:
    """The store's incarnation changed during a claimant's wait."""


@dataclass(frozen=True)
class Release:
    token: str
    node: int
    mark: int | None  # the sealed counter's last id; None leaves the mark as it is


ClaimReply = Claimed | Full | Refused
RenewReply = Renewed | Lost | Refused
ConfirmReply = Confirmed | Lost | Restarted | Refused


class LeaseStore(Protocol):
    """A namespace of node leases. Each operation runs atomically in the store."""

    name: str  # "Redis", "PostgreSQL": for messages

    def claim(self, request: Claim) -> Exchange[ClaimReply]: ...
    def renew(self, request: Renew) -> Exchange[RenewReply]: ...
    def confirm(self, request: Confirm) -> Exchange[ConfirmReply]: ...
    def release(self, request: Release) -> Exchange[bool]: ...

    def legacy_key(self) -> Exchange[str | None]:
        """The key of a namespace of atomic-counter 0.2 under the same name, if one exists."""
        ...


# -- segments --------------------------------------------------------------------------------


class SegmentStore(Protocol):
    """One sequence: the first value nobody has reserved, moved up atomically and durably."""

    name: str

    def create(self, start: int) -> Exchange[int | None]:
        """Creates the sequence at `start`; returns None, or the next value of the sequence
        that exists already (which is left as it is)."""
        ...

    def reserve(self, n: int) -> Exchange[tuple[int, int]]:
        """Moves the sequence up by n; returns the range [lo, hi) moved over. Raises
        SegmentRefusedError when the sequence is missing, when the store cannot keep the
        reservation, or when its data is not what this package last wrote (design.md,
        Segments, R1 to R4); OverflowError when the sequence is used up."""
        ...

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        """Moves the sequence down to lo only if it is still at hi (and still ours)."""
        ...

    def skip(self, by: int, to: int) -> Exchange[int]:
        """Moves the sequence up by `by` and to at least `to`, and accepts the store's present
        incarnation and rows; returns where the next reservation starts. ValueError when the
        sequence is missing."""
        ...


# -- I/O ---------------------------------------------------------------------------------------


class StoreIO(Protocol):
    """Runs exchanges, one at a time, for threads."""

    def run(self, exchange: Exchange[T]) -> T:
        """Runs the exchange atomically; raises StoreUnavailableError when the store cannot be
        reached (retrying is the caller's choice) and the package's refusals for the rest."""
        ...

    def close(self) -> None: ...


class AsyncStoreIO(Protocol):
    """StoreIO for asyncio."""

    async def run(self, exchange: Exchange[T]) -> T: ...
    async def close(self) -> None: ...


# -- engines -----------------------------------------------------------------------------------


class Engine(Protocol):
    """What each engine module (stores/redis.py, stores/postgres.py) provides at its top level.
    stores/__init__.py finds the modules of this package and asks each in turn; the first that
    accepts a URL or a client serves it."""

    NAME: str
    CLIENTS: str  # its client objects, for messages ("a redis-py client")
    SYNC_CLIENT: str  # its synchronous and asyncio clients' names, for messages
    ASYNC_CLIENT: str
    SCHEMES: tuple[str, ...]  # the URL schemes it serves, with "://"

    def accepts(self, client: Any) -> bool:
        """Whether `client` is one of this engine's client objects (sync or async)."""
        ...

    def is_async(self, client: Any) -> bool: ...

    def lease_store(
        self,
        client: Any,
        namespace: str,
        *,
        timeout: float,
        asynchronous: bool,
        func: str,
        trust_store: bool,
    ) -> tuple[LeaseStore, Any]:
        """The namespace's operations and the I/O that runs them (StoreIO, or AsyncStoreIO
        when `asynchronous`). `client` is a URL of this engine's or one of its clients."""
        ...

    def segment_store(
        self,
        client: Any,
        name: str,
        *,
        timeout: float,
        trust_failover: bool,
        assume_durable: bool,
    ) -> tuple[SegmentStore, StoreIO]: ...

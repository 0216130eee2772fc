"""FleetCounter: ids unique across a fleet from one object, right in every process model.

``FleetCounter(store_url, namespace)`` may be created anywhere, at import time included (a
settings or models module, a gunicorn master with ``--preload``, a Celery prefork parent): it
does no I/O. Each process that draws from it leases a node of its own (``lease_node_id`` with the
URL) at its first draw, or when ``warm()`` asks; a fork child leases again; many threads share
one claim; ``anext()`` waits for the claim without blocking the event loop; the lease is closed
at exit. The argument is in docs/design.md, "FleetCounter": it adds no rule to the lease's, it
only makes sure that every id comes from a lease the drawing process holds itself.

    ORDER_IDS = FleetCounter("redis://localhost:6379/0", "orders")   # at import: no I/O
    order_id = ORDER_IDS.next()    # the first draw in a process waits for its claim
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ._core import SnowflakeCounter
from .errors import LeaseExpiredError
from .layout import Layout

if TYPE_CHECKING:
    import asyncio

    from .lease import NodeLease

__all__ = ["FleetCounter"]

T = TypeVar("T")

# The defaults, chosen for processes that start often (docs/design.md, "FleetCounter"): a claim
# waits ttl + max_skew + max_lead / 2 = 5 s; a draw waits at most WAIT for a counter that
# refuses for a moment.
TTL, MAX_SKEW, MAX_LEAD, WAIT = 3.0, 1.0, 2.0, 10.0


_MAKING = threading.Lock()  # held only while a _Lock makes its lock


class _Lock:
    """A threading.Lock made at first use, not when the counter is made or forked: gevent's
    workers monkey-patch threading after the fork (and after a module-level counter is made),
    and a lock made before that would block the whole worker instead of one greenlet."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: threading.Lock | None = None

    def __enter__(self) -> None:
        lock = self._lock
        if lock is None:
            with _MAKING:
                if self._lock is None:
                    self._lock = threading.Lock()
                lock = self._lock
        lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        assert self._lock is not None
        self._lock.release()


class _Claim:
    """One attempt to lease a node for this process, run by a thread of its own. Threads wait on
    `done`; asyncio tasks on a future in `waiters`, resolved through their loop."""

    __slots__ = ("done", "error", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []


class _Process:
    """What a FleetCounter holds in one process. A fork child gets a new, empty one."""

    __slots__ = ("claim", "counter", "lease", "prepared")

    def __init__(self) -> None:
        self.lease: NodeLease | None = None
        self.counter: SnowflakeCounter | None = None  # the lease's counter, once claimed
        self.claim: _Claim | None = None  # the attempt under way (or the one that succeeded)
        self.prepared = False  # what the claim's thread imports is imported (_prepare)


def _number(value: object, name: str, low: float, high: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(
            f"FleetCounter() argument {name!r} must be an int or a float (seconds), not "
            f"{type(value).__name__}"
        )
    if not low <= value <= high:
        raise ValueError(
            f"FleetCounter() argument {name!r} must be in [{low:g}, {high:g}] seconds, "
            f"got {value!r}"
        )
    return float(value)


def _masked(url: str) -> str:
    """The URL without its password, for messages and repr."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "<a URL that does not parse>"


class FleetCounter:
    """Ids unique across every process of a fleet that uses the same store and namespace.

    ``store_url``: a ``redis://`` (or ``rediss://``, ``unix://``) or ``postgresql://`` URL: the
    store of the node leases (each process connects on its own). ``namespace``: the lease
    namespace; every process that must not collide uses the same one. ``layout``: the ids'
    layout (default INT64: positive int64 until 2093, for BIGINT columns). ``ttl``, ``max_skew``,
    ``max_lead``, ``max_nodes``, ``trust_store``: the lease's (see lease_node_id); the ttl
    defaults to 3 s, so the first draw in a process waits about ttl + max_skew + max_lead / 2
    = 5 s while its claim waits out forgotten holders; ``warm()`` starts that wait early.
    ``wait``: how long a claim keeps trying while the store is unreachable or every node is
    held, and how long a draw waits while the lease's counter refuses for a moment (a burst run
    into ``max_lead``, a renewal not yet confirmed) before it raises.

    Creating one does no I/O. Each process leases its own node at its first draw (a fork child
    too: the parent's lease is inert there); threads share one claim; the lease is closed at
    exit. Pickles as its configuration: the copy leases a node of its own where it is used.
    Draws raise LeaseExpiredError when no id could be handed out within ``wait``, and the
    claim's errors (StoreUnavailableError, NoFreeNodeError, LeaseRefusedError, ImportError
    for a missing client library); ValueError after ``close()``.
    """

    def __init__(
        self,
        store_url: str,
        namespace: str,
        *,
        layout: Layout = Layout.INT64,
        ttl: float = TTL,
        max_skew: float = MAX_SKEW,
        max_lead: float = MAX_LEAD,
        max_nodes: int | None = None,
        wait: float = WAIT,
        trust_store: bool = False,
    ) -> None:
        if not isinstance(store_url, str):
            raise TypeError(
                f"FleetCounter() argument 'store_url' must be a str (a redis:// or "
                f"postgresql:// URL: each process connects on its own), not "
                f"{type(store_url).__name__}"
            )
        from . import stores

        # Not the memory store: its data is one process's, and FleetCounter's are many.
        schemes = [scheme for engine in stores._advertised() for scheme in engine.SCHEMES]
        if not store_url.startswith(tuple(schemes)):
            raise ValueError(
                f"FleetCounter() argument 'store_url' must be a URL starting with "
                f"{', '.join(schemes)}; got {_masked(store_url)!r}"
            )
        if not isinstance(namespace, str):
            raise TypeError(
                f"FleetCounter() argument 'namespace' must be a str, not {type(namespace).__name__}"
            )
        if not namespace or len(namespace) > 200 or any(c in namespace for c in "{}"):
            raise ValueError(
                "FleetCounter() argument 'namespace' must be a non-empty str of at most 200 "
                f"characters without '{{' or '}}', got {namespace!r}"
            )
        if not isinstance(layout, Layout):
            raise TypeError(
                f"FleetCounter() argument 'layout' must be a Layout (such as Layout.INT64), "
                f"not {type(layout).__name__}"
            )
        if layout.node_bits == 0:
            raise ValueError(
                f"FleetCounter() argument 'layout' must have node bits: the {layout.name} "
                f"layout has none, so no two processes could draw apart"
            )
        limit = layout.max_node + 1
        if max_nodes is not None and (
            not isinstance(max_nodes, int) or isinstance(max_nodes, bool)
        ):
            raise TypeError(
                f"FleetCounter() argument 'max_nodes' must be an int or None, not "
                f"{type(max_nodes).__name__}"
            )
        if max_nodes is not None and not 1 <= max_nodes <= limit:
            raise ValueError(
                f"FleetCounter() argument 'max_nodes' must be in [1, {limit}] for the "
                f"{layout.name} layout, got {max_nodes!r}"
            )
        if not isinstance(trust_store, bool):
            raise TypeError(
                f"FleetCounter() argument 'trust_store' must be a bool, not "
                f"{type(trust_store).__name__}"
            )
        self._store_url = store_url
        self._namespace = namespace
        self._layout = layout
        self._ttl = _number(ttl, "ttl", 0.5, 86400.0)
        self._max_skew = _number(max_skew, "max_skew", 0.0, 86400.0)
        self._max_lead = _number(max_lead, "max_lead", layout.tick_ns / 1e9, 3600.0)
        self._wait = _number(wait, "wait", 0.0, 86400.0)
        self._max_nodes = max_nodes
        self._trust_store = trust_store
        self._lock = _Lock()
        self._proc = _Process()
        self._closed = False
        _LIVE.add(self)

    # -- configuration -----------------------------------------------------------------------

    @property
    def store_url(self) -> str:
        """The store of the leases, as given."""
        return self._store_url

    @property
    def namespace(self) -> str:
        """The lease namespace."""
        return self._namespace

    @property
    def layout(self) -> Layout:
        """The layout of the ids."""
        return self._layout

    @property
    def wait(self) -> float:
        """How long a claim retries and a draw waits, in seconds."""
        return self._wait

    def _options(self) -> dict[str, Any]:
        return {
            "layout": self._layout,
            "ttl": self._ttl,
            "max_skew": self._max_skew,
            "max_lead": self._max_lead,
            "max_nodes": self._max_nodes,
            "wait": self._wait,
            "trust_store": self._trust_store,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._store_url, self._namespace, self._options()))

    # -- this process ------------------------------------------------------------------------

    @property
    def node(self) -> int | None:
        """The node this process holds now, or None (not leased yet here, closed)."""
        lease = self._proc.lease
        if lease is None or lease.node < 0:
            return None
        return lease.node

    def __repr__(self) -> str:
        proc = self._proc
        if self._closed:
            state = "closed"
        elif proc.lease is not None:
            state = f"node={self.node}"
        elif proc.claim is not None:
            state = "claiming"
        else:
            state = "not leased in this process"
        return (
            f"FleetCounter({_masked(self._store_url)!r}, {self._namespace!r}, "
            f"layout={self._layout!r}, {state})"
        )

    # -- drawing -----------------------------------------------------------------------------

    def next(self) -> int:
        """The next id. The first call in a process waits for its claim (see warm())."""
        counter = self._proc.counter
        if counter is not None:
            try:
                return counter.next()
            except LeaseExpiredError:
                pass
        return self._draw(_next, "next()")

    def __next__(self) -> int:
        return self.next()

    def __iter__(self) -> FleetCounter:
        return self

    def next_many(self, n: int) -> memoryview:
        """``n`` ids at once, as the lease counter's next_many() (int64 buffer for the INT64
        layout): unique and increasing."""
        if isinstance(n, bool) or not hasattr(type(n), "__index__"):
            raise TypeError(
                f"FleetCounter.next_many() argument 'n' must be an int, not {type(n).__name__}"
            )
        n = n.__index__()  # numpy's integers too, as the counters' next_many() takes them
        if n < 0:
            raise ValueError(f"FleetCounter.next_many() argument 'n' must be >= 0, got {n}")
        return self._draw(lambda counter: counter.next_many(n), "next_many()")

    async def anext(self) -> int:
        """next() for asyncio: the claim runs in a thread while the loop runs on, and a draw
        that must wait for the counter sleeps with asyncio.sleep."""
        counter = self._proc.counter
        if counter is not None:
            try:
                return counter.next()
            except LeaseExpiredError:
                pass
        import asyncio

        loop = asyncio.get_running_loop()
        if counter is None and not self._proc.prepared:
            # The imports a claim needs, off the loop (a client library takes ~0.1 s).
            await asyncio.to_thread(self._prepare)
            self._proc.prepared = True
        while counter is None:
            with self._lock:
                claim = self._claim_locked("anext()")
                if claim is None:
                    counter = self._proc.counter
                    break
                future: asyncio.Future[None] = loop.create_future()
                if claim.done.is_set():
                    future.set_result(None)
                else:
                    claim.waiters.append((loop, future))
            await future
            if claim.error is not None:
                raise claim.error
            counter = self._proc.counter
        assert counter is not None
        give_up = loop.time() + self._wait
        delay = 0.001
        while True:
            try:
                return counter.next()
            except LeaseExpiredError as exc:
                self._check_open("anext()")
                if loop.time() >= give_up:
                    raise self._expired(exc, "anext()") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def warm(self) -> None:
        """Starts this process's claim now, in the background, and returns at once: for
        gunicorn's post_worker_init hook or a worker's startup, so the first request does not wait
        for the claim. Does nothing when the process holds its lease or a claim is under way."""
        with self._lock:
            self._claim_locked("warm()")

    def close(self) -> None:
        """Closes this process's lease (its last id recorded, its node freed): later draws in
        this process raise ValueError. The lease is closed at exit without it."""
        with self._lock:
            self._closed = True
            proc = self._proc
            lease, proc.lease, proc.counter = proc.lease, None, None
            _HOLDING.discard(self)
        if lease is not None:
            lease.close()

    def __enter__(self) -> FleetCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self, call: str) -> None:
        if self._closed:
            raise ValueError(f"FleetCounter.{call}: the counter of {self._namespace!r} is closed")

    def _claim_locked(self, call: str) -> _Claim | None:
        """Under the lock: None when this process holds its lease, else the claim under way,
        started now when there is none."""
        self._check_open(call)
        proc = self._proc
        if proc.counter is not None:
            return None
        if proc.claim is None:
            if not proc.prepared:
                self._prepare()
                proc.prepared = True
            claim = proc.claim = _Claim()
            threading.Thread(
                target=self._run_claim,
                args=(proc, claim),
                daemon=True,
                name=f"atomic-counter-fleet-{self._namespace}",
            ).start()
        return proc.claim

    def _prepare(self) -> None:
        """Imports what the claim's thread needs (the lease protocol, the store's client
        library) here, in the caller's thread: a fork while that thread was importing would
        leave the child a half-initialised module (gunicorn forking its workers while a claim
        that AppConfig.ready() warmed runs in the master). Making a store opens no connection."""
        import importlib.metadata

        from . import stores
        from .lease import lease_node_id  # noqa: F401

        # What connecting imports on first use: the codec socket.getaddrinfo() encodes host
        # names with, and the metadata reader (email.parser and more) behind redis-py's
        # CLIENT SETINFO lib-ver and psycopg's version checks.
        "localhost".encode("idna")
        for library in ("redis", "psycopg"):
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                importlib.metadata.version(library)
        _, io = stores.for_leases(
            self._store_url,
            self._namespace,
            timeout=self._ttl / 2,
            asynchronous=False,
            trust_store=self._trust_store,
        )
        io.close()

    def _run_claim(self, proc: _Process, claim: _Claim) -> None:
        from .lease import lease_node_id

        lease: NodeLease | None = None
        error: BaseException | None = None
        try:
            lease = lease_node_id(self._store_url, self._namespace, **self._options())
        except BaseException as exc:
            error = exc
        surplus = None
        with self._lock:
            if lease is not None and (self._closed or proc is not self._proc):
                surplus, error = (
                    lease,
                    ValueError(
                        f"FleetCounter: the counter of {self._namespace!r} was closed during "
                        f"its claim"
                    ),
                )
            elif lease is not None:
                proc.lease, proc.counter = lease, lease.counter()
                _HOLDING.add(self)  # kept while it holds the lease: copies unpickled find it
            else:
                proc.claim = None  # the next draw tries again
            claim.error = error
            claim.done.set()
            waiters, claim.waiters = claim.waiters, []
        if surplus is not None:
            surplus.close()
        elif lease is not None and "multiprocessing" in sys.modules:
            _close_in_multiprocessing_child(lease)
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there
                loop.call_soon_threadsafe(_settle, future)

    def _claimed(self, call: str) -> SnowflakeCounter:
        """This process's counter, once its claim has succeeded (waits for it)."""
        while True:
            with self._lock:
                claim = self._claim_locked(call)
                if claim is None:
                    counter = self._proc.counter
                    assert counter is not None
                    return counter
            claim.done.wait()
            if claim.error is not None:
                raise claim.error

    def _draw(self, draw: Callable[[SnowflakeCounter], T], call: str) -> T:
        """The slow path: claims for this process when needed, then draws, and while the counter
        refuses for a moment (LeaseExpiredError) tries again for up to `wait` seconds."""
        counter = self._proc.counter
        if counter is None:
            counter = self._claimed(call)
        give_up = time.monotonic() + self._wait
        delay = 0.001
        while True:
            try:
                return draw(counter)
            except LeaseExpiredError as exc:
                self._check_open(call)
                if time.monotonic() >= give_up:
                    raise self._expired(exc, call) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _expired(self, exc: LeaseExpiredError, call: str) -> LeaseExpiredError:
        node = self.node
        return LeaseExpiredError(
            f"FleetCounter.{call}: no id within wait={self._wait:g} s from the lease of "
            f"{self._namespace!r} (node {node}): its store is unreachable or slow, its node was "
            f"lost and not claimed again yet, or ids ran max_lead ahead of the clock ({exc})"
        )

    def _forked(self) -> None:
        """In a fork child: the parent's lease, claim and lock are the parent's; start empty."""
        self._lock = _Lock()
        self._proc = _Process()


def _next(counter: SnowflakeCounter) -> int:
    return counter.next()


def _restore(store_url: str, namespace: str, options: dict[str, Any]) -> FleetCounter:
    """Unpickles a FleetCounter: the open one of this process with the same configuration when
    there is one (closing the copy closes it), else a new one. A counter passed with every task
    of a pool arrives as many copies: each new one would lease a node of its own and hold it
    until the process exits."""
    return _shared(FleetCounter(store_url, namespace, **options))


def _shared(made: FleetCounter) -> FleetCounter:
    """The open FleetCounter of this process configured as `made` (made to compare, holding
    nothing), or `made` itself when there is none: one lease per configuration and process."""
    for counter in list(_LIVE):
        if (
            counter is not made
            and not counter._closed
            and counter._store_url == made._store_url
            and counter._namespace == made._namespace
            and counter._options() == made._options()
        ):
            return counter
    return made


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():  # the waiting task may have been cancelled
        future.set_result(None)


def _close_in_multiprocessing_child(lease: NodeLease) -> None:
    """A multiprocessing child made by fork leaves with os._exit, without atexit: close the
    lease from multiprocessing's own exit finalizers too (close() is idempotent)."""
    from multiprocessing import util

    util.Finalize(lease, lease.close, exitpriority=0)


# Kept across importlib.reload() (which runs the module again in its own dict): the objects
# made before a reload must still be found by the hooks, which are registered once.
# FleetCounters alive in this process: reset in a fork child, closed at exit.
_LIVE: weakref.WeakSet[FleetCounter] = globals().get("_LIVE") or weakref.WeakSet()
# Those holding a lease in this process, kept alive with it: a lease lives until closed or
# exit, and the next copy unpickled here (_restore) must find its counter and share it.
_HOLDING: set[FleetCounter] = globals().get("_HOLDING") or set()


def _after_fork_in_child() -> None:
    global _MAKING
    _MAKING = threading.Lock()  # a thread of the parent may have held it
    _HOLDING.clear()  # the parent's leases
    for counter in list(_LIVE):
        counter._forked()


def _close_all() -> None:
    for counter in list(_LIVE):
        counter.close()


if not globals().get("_HOOKED"):
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _after_fork_in_child())
    atexit.register(lambda: _close_all())
    _HOOKED = True

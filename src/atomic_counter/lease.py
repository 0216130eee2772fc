"""Node ids leased from Redis or PostgreSQL, for SnowflakeCounter ids that never repeat across a
fleet.

``lease_node_id()`` claims the lowest node id of a namespace that no live process holds,
renews it in a background thread, and lets it go on ``close()`` or at exit. Ids come from
``lease.counter()``, the lease's one SnowflakeCounter. ``alease_node_id()`` does the same for a
``redis.asyncio`` client or a ``psycopg.AsyncConnection``, renewing in an asyncio task.

The safety argument (assumptions, the holder's rules D1-D4, the claimant's wait C1, and why no
failure of the store, the network, the clocks or the process yields a duplicate) is in
docs/design.md, "Leases". In short: a holder draws only before a deadline on its monotonic
clock, below the mark its last renewal recorded and within ``max_lead`` of its clock; a claimant
waits out every holder the store may have forgotten (unless ``trust_store=True`` and the store
shows no loss) and starts above anything they could have drawn.

This module is the protocol's two drivers (NodeLease in a thread, AsyncNodeLease in an asyncio
task) and the public functions. The protocol itself, free of I/O (generators that yield the
store exchanges and sleeps they need), is ``_lease_protocol._LeaseBase``; what each store keeps
and how (a hash in Redis, two tables in PostgreSQL) is in atomic_counter/stores/. Both clients
are optional: ``pip install atomic-counter[redis]`` or ``atomic-counter[postgres]``.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from typing import Any, TypeVar

from ._checks import check_seconds
from ._drive import Steps, adrive, drive
from ._lease_protocol import Sleep, _Closed, _LeaseBase
from .errors import LeaseExpiredError, LeaseRefusedError, NoFreeNodeError
from .layout import Layout
from .stores.protocols import Release

__all__ = [
    "AsyncNodeLease",
    "LeaseExpiredError",
    "LeaseRefusedError",
    "NoFreeNodeError",
    "NodeLease",
    "alease_node_id",
    "lease_node_id",
]

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# The synchronous lease.


class NodeLease(_LeaseBase):
    """A node id held in Redis or PostgreSQL for this process; see :func:`lease_node_id`."""

    def __init__(self, client: Any, namespace: str, *, wait: float = 0.0, **options: Any) -> None:
        super().__init__(client, namespace, **options)
        self._stop = threading.Event()
        try:
            check_seconds(self._func, "wait", wait, 0.0, 1e9)
            self._refuse_legacy(self._legacy_key())
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
            release = self._store.release(Release(self._token, *sealed))

            def give_back() -> None:
                try:
                    self._io.run(release)
                except Exception as exc:
                    self._log_not_given_back(sealed[0], exc)
                finally:
                    self._io.close()

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

    def _perform(self, step: Any) -> Any:
        if isinstance(step, Sleep):
            if self._stop.wait(step.seconds):
                raise _Closed
            return None
        return self._io.run(step)

    def _drive(self, steps: Steps[T]) -> T:
        return drive(steps, self._perform)

    def _renew_loop(self) -> None:
        with contextlib.suppress(_Closed):
            self._drive(self._renew_forever())

    def _legacy_key(self) -> str | None:
        try:
            key: str | None = self._io.run(self._store.legacy_key())
        except Exception:
            return None  # the claim reports the store's errors
        return key

    def _give_back_now(self) -> None:
        """A claim failed part-way: stop and give back whatever node it holds."""
        sealed = self._seal_for_close()
        if sealed is not None:
            with contextlib.suppress(Exception):
                self._io.run(self._store.release(Release(self._token, *sealed)))
        self._io.close()


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
    trust_store: bool = False,
) -> NodeLease:
    """Claims the lowest free node id of ``namespace`` in Redis or PostgreSQL for this process.

    ``client`` is a redis-py client (``redis.Redis`` or ``redis.cluster.RedisCluster``) or a
    ``redis://`` URL, or a ``postgresql://`` URL or psycopg 3 connection in autocommit mode
    (the lease's own: a URL lets it reconnect); ``ttl`` the lease's time to live in seconds
    ([0.5, 86400]; renewed every ttl/4); ``max_nodes`` how many node ids the namespace uses
    (default: all the layout has); ``wait`` how long to keep trying when every node is held or
    the store is unreachable (default: raise at once); ``max_skew`` the most, in seconds, that
    the clocks of the namespace's hosts and the store's may differ (checked at every claim and
    renewal); ``max_lead`` how far ids may run ahead of the clock (bursts beyond the layout's
    ids per tick borrow up to that far).

    Every claim holds its node without drawing for the longest ttl plus ``max_skew`` (then
    until its floor is within half of ``max_lead`` of the clock) before it returns, so that any
    holder the store may have forgotten (a restart, a failover, a restored backup or dump) has
    stopped; a holder whose renewals lapsed for a ttl waits the same before it draws again. The
    ``atomic_counter.lease`` logger says so. ``trust_store=True`` skips the claim's wait unless
    the store shows a sign of a loss: only for a store whose data never goes back in place (no
    dump loaded into a running Redis, no PostgreSQL data directory copied back by hand).
    PostgreSQL tables are created on first use. Use ``lease.counter()`` for ids and ``close()``
    (or a ``with`` block) to free the node; at interpreter exit it is freed too.
    After ``fork()`` the child's copy is inert: it neither draws nor frees the parent's node.
    Raises NoFreeNodeError, StoreUnavailableError (the store unreachable for longer than
    ``wait``, or a claim whose wait had to start over a third time after ``wait``: the store
    restarting or losing the node again and again; a ConnectionError), LeaseRefusedError
    (Redis may evict keys, a clock beyond ``max_skew``, a damaged or 0.2 namespace,
    PostgreSQL privileges, a standby or a connection with a transaction open), ValueError
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
        trust_store=trust_store,
    )


# --------------------------------------------------------------------------------------------
# The asyncio lease.


class AsyncNodeLease(_LeaseBase):
    """A node id held in Redis or PostgreSQL for this process, renewed by an asyncio task; see
    :func:`alease_node_id`. Use ``await lease.aclose()`` or ``async with``."""

    _func = "alease_node_id()"
    _asynchronous = True

    def __init__(self, client: Any, namespace: str, **options: Any) -> None:
        super().__init__(client, namespace, **options)
        self._task: Any = None
        self._closing: Any = None

    async def _start(self, wait: float) -> None:
        import asyncio

        self._closing = asyncio.Event()
        try:
            try:
                legacy = await self._io.run(self._store.legacy_key())
            except Exception:
                legacy = None  # the claim reports the store's errors
            self._refuse_legacy(legacy)
            await self._drive(self._claim(wait))
        except BaseException:
            sealed = self._seal_for_close()
            if sealed is not None:
                with contextlib.suppress(Exception):
                    await self._io.run(self._store.release(Release(self._token, *sealed)))
            with contextlib.suppress(Exception):
                await self._io.close()
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
            release = self._store.release(Release(self._token, *sealed))
            try:
                await asyncio.wait_for(self._io.run(release), limit)
            except Exception as exc:
                self._log_not_given_back(sealed[0], exc)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._io.close()

    async def __aenter__(self) -> AsyncNodeLease:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _perform(self, step: Any) -> Any:
        import asyncio

        if isinstance(step, Sleep):
            try:
                await asyncio.wait_for(self._closing.wait(), step.seconds)
            except asyncio.TimeoutError:
                return None
            raise _Closed
        return await self._io.run(step)

    async def _drive(self, steps: Steps[T]) -> T:
        return await adrive(steps, self._perform)

    async def _renew_loop(self) -> None:
        with contextlib.suppress(_Closed):
            await self._drive(self._renew_forever())


class _AsyncLeaseStart:
    """What alease_node_id() returns: awaited, the lease (``lease = await alease_node_id(...)``);
    as an async context manager, the lease for the block, closed after it
    (``async with alease_node_id(...) as lease:``)."""

    def __init__(self, lease: AsyncNodeLease, wait: float) -> None:
        self._lease = lease
        self._wait = wait
        self._started = False

    async def _start(self) -> AsyncNodeLease:
        if self._started:
            raise RuntimeError("alease_node_id(): this claim was awaited already")
        self._started = True
        await self._lease._start(self._wait)
        return self._lease

    def __await__(self) -> Any:
        return self._start().__await__()

    async def __aenter__(self) -> AsyncNodeLease:
        return await self._start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._lease.aclose()


def alease_node_id(
    client: Any,
    namespace: str,
    *,
    layout: Layout = Layout.TWITTER,
    ttl: float = 10.0,
    max_nodes: int | None = None,
    wait: float = 0.0,
    max_skew: float = 1.0,
    max_lead: float = 2.0,
    trust_store: bool = False,
) -> _AsyncLeaseStart:
    """:func:`lease_node_id` for a ``redis.asyncio`` client or a ``psycopg.AsyncConnection``
    (or a ``redis://`` or ``postgresql://`` URL): the same protocol and guarantees, renewed by
    a task on the running event loop. Await it (``lease = await alease_node_id(...)``, then
    ``await lease.aclose()``) or use it directly in ``async with alease_node_id(...) as
    lease:``. At interpreter exit an unclosed lease is not freed (no loop runs then), so its
    node expires after the ttl."""
    check_seconds("alease_node_id()", "wait", wait, 0.0, 1e9)
    lease = AsyncNodeLease(
        client,
        namespace,
        layout=layout,
        ttl=ttl,
        max_nodes=max_nodes,
        max_skew=max_skew,
        max_lead=max_lead,
        trust_store=trust_store,
    )
    return _AsyncLeaseStart(lease, wait)

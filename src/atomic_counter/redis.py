"""Node ids leased from Redis, for SnowflakeCounter ids that never collide across a fleet.

``lease_node_id()`` claims the lowest node id that no live process holds (``SET NX PX`` inside
one Lua script), renews it in a background thread well before it expires, and releases it on
``close()`` or at interpreter exit. Ids come from ``lease.counter()``, a SnowflakeCounter bound
to the lease.

Safety over liveness:

- A counter hands out ids only until ``deadline = (monotonic time before the last confirmed
  renewal) + ttl - margin``: if a renewal cannot be confirmed in time (Redis down, a network
  partition, a stalled process), ``next()`` raises LeaseExpiredError instead of risking an id
  that another holder of the node could also draw. When Redis answers again the lease re-claims
  a node id (possibly another one) and the counters resume above every id they drew.
- Each renewal records a high-water mark for the node: an id above anything the holder may draw
  before its deadline, which the counter also refuses to pass. The next holder of the node
  starts above it, so a node taken over after its holder died never reissues an id.
- A namespace whose data Redis has lost (or one used for the first time) is not trusted until
  one ttl has passed since the first claim: every claimant waits that long, so any holder from
  before the loss has stopped. Run Redis with persistence (AOF or RDB) to skip that wait after
  a restart.

The keys live under ``atomic_counter:<namespace>:`` in a single Redis (not a cluster: the
scripts compute key names). redis-py is optional: ``pip install atomic-counter[redis]``.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
import weakref
from typing import Any

from ._core import LeaseExpiredError, SnowflakeCounter
from .layout import Layout

__all__ = ["LeaseExpiredError", "NodeLease", "NoFreeNodeError", "lease_node_id"]


class NoFreeNodeError(RuntimeError):
    """Every node id of the namespace is held by a live lease."""


# Claims the lowest free node id; returns {node, high-water mark, ms to wait before use}, or
# false when none is free. ARGV: prefix, token, ttl ms, node count.
_CLAIM = """
local prefix, token, ttl, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local safe = redis.call('GET', prefix .. ':safe_after')
if not safe then
  safe = now + ttl
  redis.call('SET', prefix .. ':safe_after', tostring(safe))
else
  safe = tonumber(safe)
end
for i = 0, count - 1 do
  if redis.call('SET', prefix .. ':node:' .. i, token, 'NX', 'PX', ttl) then
    local hwm = redis.call('GET', prefix .. ':hwm:' .. i) or '0'
    return {i, hwm, math.max(0, safe - now)}
  end
end
return false
"""

# Extends the lease if this token still holds it, and raises the node's high-water mark (ids are
# compared as decimal strings: Lua numbers are doubles). Returns 1, or 0 when the lease is lost.
# ARGV: prefix, node, token, ttl ms, high-water mark.
_RENEW = """
local key = ARGV[1] .. ':node:' .. ARGV[2]
if redis.call('GET', key) ~= ARGV[3] then return 0 end
redis.call('PEXPIRE', key, ARGV[4])
local hwm_key = ARGV[1] .. ':hwm:' .. ARGV[2]
local old = redis.call('GET', hwm_key) or '0'
local new = ARGV[5]
if #new > #old or (#new == #old and new > old) then redis.call('SET', hwm_key, new) end
return 1
"""

# Records the high-water mark and frees the node if this token holds it.
_RELEASE = """
local key = ARGV[1] .. ':node:' .. ARGV[2]
if redis.call('GET', key) ~= ARGV[3] then return 0 end
local hwm_key = ARGV[1] .. ':hwm:' .. ARGV[2]
local old = redis.call('GET', hwm_key) or '0'
local new = ARGV[4]
if #new > #old or (#new == #old and new > old) then redis.call('SET', hwm_key, new) end
redis.call('DEL', key)
return 1
"""


def _client(client_or_url: Any) -> Any:
    if isinstance(client_or_url, str):
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise ImportError(
                "lease_node_id() with a URL needs redis-py: pip install atomic-counter[redis]"
            ) from exc
        return redis.Redis.from_url(client_or_url, socket_timeout=5, socket_connect_timeout=5)
    return client_or_url


class NodeLease:
    """A node id held in Redis for this process; see :func:`lease_node_id`."""

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        layout: Layout = Layout.TWITTER,
        ttl: float = 10.0,
        max_nodes: int | None = None,
        wait: float = 0.0,
    ) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError("lease_node_id() argument 'namespace' must be a non-empty str")
        if not isinstance(ttl, (int, float)) or not 0.5 <= ttl <= 86400:
            raise ValueError(f"lease_node_id() argument 'ttl' must be in [0.5, 86400] seconds, "
                             f"got {ttl!r}")
        limit = layout.max_node + 1
        if max_nodes is None:
            max_nodes = limit
        if not isinstance(max_nodes, int) or not 1 <= max_nodes <= limit:
            raise ValueError(f"lease_node_id() argument 'max_nodes' must be in [1, {limit}] for "
                             f"the {layout.name} layout, got {max_nodes!r}")
        self.layout = layout
        self.namespace = namespace
        self.ttl = float(ttl)
        self.max_nodes = max_nodes
        self._redis = _client(client)
        self._prefix = f"atomic_counter:{namespace}"
        self._token = uuid.uuid4().hex
        self._ttl_ms = int(self.ttl * 1000)
        # Stop handing out ids this long before the lease could expire: absorbs the coarse
        # monotonic clock, the renewal's own latency and scheduling delays.
        self._margin_ns = int(max(0.1, 0.2 * self.ttl) * 1e9)
        self._lock = threading.RLock()
        self._counters: weakref.WeakSet[SnowflakeCounter] = weakref.WeakSet()
        self._stop = threading.Event()
        self._closed = False
        self.node: int = -1
        self._floor = 0
        self._deadline_ns = 0
        self._reservation = 0
        self._claim(wait)
        self._thread = threading.Thread(target=self._renew_loop, name=f"atomic-counter-lease-"
                                        f"{namespace}", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- public -----------------------------------------------------------------------------

    def counter(self) -> SnowflakeCounter:
        """A SnowflakeCounter of this lease's layout and node, above the node's previous
        holders' ids, handing out ids only while the lease is confirmed."""
        with self._lock:
            if self._closed:
                raise ValueError("the lease is closed")
            counter = SnowflakeCounter(self.layout, self.node, floor=self._floor)
            counter._extend(self._deadline_ns, self._reservation)
            self._counters.add(counter)
            return counter

    @property
    def valid(self) -> bool:
        """Whether counters of this lease may hand out ids now."""
        return not self._closed and time.monotonic_ns() < self._deadline_ns

    def close(self) -> None:
        """Stops renewing, stops the counters, records the high-water mark and frees the node."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            for counter in list(self._counters):
                counter._revoke()
            try:
                self._redis.eval(_RELEASE, 0, self._prefix, self.node, self._token,
                                 str(self._high_water()))
            except Exception:  # noqa: BLE001 - Redis down: the lease expires on its own
                pass
        atexit.unregister(self.close)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.ttl)

    def __enter__(self) -> NodeLease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("valid" if self.valid else "unconfirmed")
        return f"NodeLease({self.namespace!r}, node={self.node}, {state})"

    # -- internals --------------------------------------------------------------------------

    def _high_water(self) -> int:
        """The largest id any counter of this lease may hand out before its deadline."""
        return max([self._reservation] + [c.current() for c in list(self._counters)])

    def _reserve(self) -> int:
        """A high-water mark for the next renewal: an id above any this lease's counters may
        draw before the deadline that renewal sets (a ttl, plus a second, of clock time beyond
        both the clock and the ids drawn so far)."""
        layout = self.layout
        ahead = int((self.ttl + 1.0) * 1e9) // layout.tick_ns + 1
        now_ticks = max(0, time.time_ns() - layout.epoch_ns) // layout.tick_ns
        drawn = max([self._floor] + [c.current() for c in list(self._counters)])
        drawn_ticks = drawn >> (layout.node_bits + layout.sequence_bits)
        ticks = min(max(now_ticks, drawn_ticks) + ahead, (1 << layout.time_bits) - 1)
        return (ticks << (layout.node_bits + layout.sequence_bits)) | (
            self.node << layout.sequence_bits) | layout.max_sequence

    def _claim(self, wait: float) -> None:
        give_up = time.monotonic() + wait
        while True:
            result = self._redis.eval(_CLAIM, 0, self._prefix, self._token, self._ttl_ms,
                                      self.max_nodes)
            if result:
                break
            if time.monotonic() >= give_up:
                raise NoFreeNodeError(
                    f"all {self.max_nodes} node ids of namespace {self.namespace!r} are held by "
                    f"live leases")
            time.sleep(min(0.05, self.ttl / 10))
        node, hwm, wait_ms = int(result[0]), int(result[1]), int(result[2])
        with self._lock:
            previous = self.node
            self.node = node
            self._floor = hwm
            for counter in list(self._counters):
                counter._rebind(node, hwm)  # above the new node's holders and our own ids
        # The namespace's data is new or was lost: let any earlier holder's deadline pass,
        # holding the node meanwhile but handing out no id.
        ready = time.monotonic() + wait_ms / 1000
        while (remaining := ready - time.monotonic()) > 0:
            time.sleep(min(remaining, self.ttl / 4))
            if not self._renew(extend=False):
                raise NoFreeNodeError(f"lost node {node} of {self.namespace!r} while waiting for "
                                      f"the namespace to become safe")
        if not self._renew():
            raise NoFreeNodeError(f"lost node {node} of {self.namespace!r} right after claiming "
                                  f"it (was {previous})")

    def _renew(self, extend: bool = True) -> bool:
        """One renewal; extends the counters (unless extend is False) when Redis confirms it.
        False when the lease is lost (another token holds the node, or it expired)."""
        started = time.monotonic_ns()
        reservation = self._reserve()
        confirmed = self._redis.eval(_RENEW, 0, self._prefix, self.node, self._token,
                                     self._ttl_ms, str(reservation))
        if not confirmed:
            return False
        if not extend:
            return True
        with self._lock:
            if self._closed:
                return True
            self._reservation = reservation
            self._deadline_ns = started + self._ttl_ms * 1_000_000 - self._margin_ns
            for counter in list(self._counters):
                counter._extend(self._deadline_ns, reservation)
        return True

    def _renew_loop(self) -> None:
        interval = self.ttl / 4
        while not self._stop.wait(interval):
            try:
                if self._renew():
                    interval = self.ttl / 4
                    continue
                # Lost: stop the counters at once, then claim again (maybe another node).
                with self._lock:
                    for counter in list(self._counters):
                        counter._revoke()
                    self._deadline_ns = 0
                self._claim(wait=0.0)
                interval = self.ttl / 4
            except Exception:  # noqa: BLE001 - Redis unreachable or all nodes held: retry soon;
                interval = min(0.2, self.ttl / 10)  # the counters stop at their deadline


def lease_node_id(
    client: Any,
    namespace: str,
    *,
    layout: Layout = Layout.TWITTER,
    ttl: float = 10.0,
    max_nodes: int | None = None,
    wait: float = 0.0,
) -> NodeLease:
    """Claims the lowest free node id of ``namespace`` in Redis for this process.

    ``client`` is a redis-py client or a ``redis://`` URL; ``ttl`` the lease's time to live in
    seconds ([0.5, 86400]; renewed every ttl/4); ``max_nodes`` how many node ids the namespace
    uses (default: all the layout has); ``wait`` how long to keep trying when every node is
    held (default: raise NoFreeNodeError at once). Use ``lease.counter()`` for ids, and
    ``close()`` (or a ``with`` block) to free the node; at interpreter exit it is freed too.
    """
    return NodeLease(client, namespace, layout=layout, ttl=ttl, max_nodes=max_nodes, wait=wait)

"""The lease protocol, free of I/O (the rules of docs/design.md, "Leases"): how a process claims a
node, waits out the holders the store may have forgotten (C1), renews, requalifies after a
lapse (D4) and gives the node back. Each step is a generator that yields the store exchanges
(stores/protocols.py) and the sleeps it needs and receives the replies; lease.py's two drivers
perform them (NodeLease in a thread, AsyncNodeLease in an asyncio task), and the simulator
(tests/python/support/simulator.py) on simulated clocks, network and store. This module also
keeps the process's live leases for the fork handler. It logs to ``atomic_counter.lease``.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import stores
from ._checks import check_bool, check_int, check_name, check_seconds
from ._core import SnowflakeCounter
from ._drive import Steps
from .errors import LeaseRefusedError, NoFreeNodeError, StoreUnavailableError
from .layout import Layout
from .stores.protocols import (
    Claim,
    Confirm,
    Confirmed,
    Full,
    LeaseStore,
    Lost,
    Refusal,
    Refused,
    Release,
    Renew,
    Suspicion,
)

log = logging.getLogger("atomic_counter.lease")

T = TypeVar("T")


@dataclass(frozen=True)
class Sleep:
    """A step of the protocol: wait this long (or until the lease is closed)."""

    seconds: float


class _Clock:
    """The clocks the protocol reads: this host's monotonic and wall clocks, in ns."""

    monotonic_ns = staticmethod(time.monotonic_ns)
    time_ns = staticmethod(time.time_ns)


class _Renewal(enum.Enum):
    """What a renewal found."""

    OK = "ok"
    LOST = "lost"  # the node is not ours any more
    RESTARTED = "restarted"  # the store's incarnation changed during a claimant's wait
    SKEWED = "skewed"  # this host's clock is beyond max_skew of the store's: not extended
    REFUSED = "refused"  # the store now refuses (Redis evicts keys): the counter stops
    LAPSED = "lapsed"  # the counter's deadline passed before this renewal: draw only after C1


class _Closed(Exception):
    """The lease was closed (or forked) while a step was under way."""


class _Again(Exception):
    """The claim must start over: the node was lost, or the store restarted again, meanwhile."""


class _LeaseBase:
    """State and protocol shared by NodeLease and AsyncNodeLease."""

    _store: LeaseStore  # the namespace's operations, set by the subclass with its I/O
    _clock = _Clock  # the simulator replaces it
    # The counter's type: the simulator's reads the simulated clocks (tests/python/support).
    _counter_type: type[SnowflakeCounter] = SnowflakeCounter
    _func = "lease_node_id()"  # for messages
    _asynchronous = False  # which store I/O the driver needs

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
        trust_store: bool = False,
    ) -> None:
        func = self._func
        check_name(func, "namespace", namespace, 200, forbidden="{}")
        if not isinstance(layout, Layout):
            raise TypeError(
                f"{func} argument 'layout' must be a Layout, not {type(layout).__name__}"
            )
        check_seconds(func, "ttl", ttl, 0.5, 86400.0)
        check_seconds(func, "max_skew", max_skew, 0.0, 86400.0)
        check_seconds(func, "max_lead", max_lead, layout.tick_ns / 1e9, 3600.0)
        limit = layout.max_node + 1
        if max_nodes is None:
            max_nodes = limit
        elif not isinstance(max_nodes, int) or isinstance(max_nodes, bool):
            raise TypeError(
                f"{func} argument 'max_nodes' must be an int or None, not "
                f"{type(max_nodes).__name__}"
            )
        check_int(f"{func} ({layout.name} layout)", "max_nodes", max_nodes, 1, limit)
        check_bool(func, "trust_store", trust_store)
        self.trust_store = trust_store
        self.layout = layout
        self.namespace = namespace
        self.ttl = float(ttl)
        self.max_nodes = max_nodes
        self.max_skew = float(max_skew)
        self.max_lead = float(max_lead)
        self.node: int = -1
        self._token = os.urandom(16).hex()
        self._ttl_ms = int(self.ttl * 1000)
        # Stop handing out ids this long before the lease could expire: absorbs the coarse
        # monotonic clock, the renewal's own latency and scheduling delays.
        self._margin_ns = int(max(0.1, 0.2 * self.ttl) * 1e9)
        self._lock = threading.RLock()
        self._state = "claiming"  # claiming, waiting, ready, lost, closed, forked
        self._pid = os.getpid()
        self._seen_gen = 0
        self._owned_at = 0  # when the last claim or renewal that the store confirmed was sent
        self._last_mark = 0  # the mark this lease's last renewal recorded, on node:
        self._last_mark_node = -1
        self._run_id = ""
        self._deadline_ns = 0
        # The longest ttl, max_skew and max_lead of the namespace's claimants (A4): a claim's
        # wait and floor must outlast every holder's, not only this one's.
        self._max_ttl = self.ttl
        self._max_skew = self.max_skew
        self._max_lead = self.max_lead
        self._counter = self._counter_type(layout, 0)
        self._counter._revoke()  # nothing is drawn before the first confirmed renewal
        self._counter._limit_lead(int(self.max_lead * 1e9))
        self._store, self._io = stores.for_leases(
            client,
            namespace,
            timeout=min(self.ttl / 2, 5.0),  # a renewal every ttl/4 must not wait longer
            asynchronous=self._asynchronous,
            trust_store=trust_store,
        )
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
        return self._state == "ready" and self._clock.monotonic_ns() < self._deadline_ns

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

    def _refuse_legacy(self, key: str | None) -> None:
        if key is not None:
            raise LeaseRefusedError(
                f"namespace {self.namespace!r} is in use by atomic-counter 0.2 (key {key} "
                f"exists), whose leases do not see this version's: stop them and delete "
                f"atomic_counter:{self.namespace}:*, or use another namespace"
            )

    def _log_not_given_back(self, node: int, exc: BaseException) -> None:
        log.warning(
            "lease of %r: could not give back node %d (%s); it expires in %.1f s",
            self.namespace,
            node,
            exc,
            self.ttl,
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

    def _claim(self, wait: float) -> Steps[None]:
        """Claims a node and returns once the counter may draw on it (or raises)."""
        give_up = self._clock.monotonic_ns() + int(wait * 1e9)
        delay = 0.01
        restarts = 0
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
                # A store that keeps failing the claim's wait (restarting, losing the node,
                # unreachable for a ttl) is unavailable: `wait` bounds the claim then too, once
                # it has started over twice (one restart or failover is no reason to give up).
                restarts += 1
                if restarts > 2 and self._clock.monotonic_ns() >= give_up:
                    raise StoreUnavailableError(
                        f"claim in {self.namespace!r} found no stable {self._store.name} within "
                        f"wait={wait:g} s: its wait started over {restarts} times (the node "
                        f"lost, the store restarted or unreachable for a ttl meanwhile)"
                    ) from None
                delay = 0.01
                continue
            except (_Closed, LeaseRefusedError, ValueError, TypeError):
                raise
            except StoreUnavailableError as exc:
                failure = exc
            left = give_up - self._clock.monotonic_ns()
            if left <= 0:
                raise failure
            log.warning(
                "claim in %r failed (%s); retrying for %.1f s more",
                self.namespace,
                failure,
                left / 1e9,
            )
            yield Sleep(min(delay, left / 1e9))
            delay = min(delay * 2, self.ttl / 4, 1.0)

    def _try_claim(self) -> Steps[bool]:
        before = self._clock.time_ns()
        sent_mono = self._clock.monotonic_ns()
        reply = yield self._store.claim(
            Claim(
                self._token,
                self._ttl_ms,
                self.max_nodes,
                self.layout.fingerprint,
                self._seen_gen,
                skew_ms=math.ceil(self.max_skew * 1000),
                lead_ms=math.ceil(self.max_lead * 1000),
            )
        )
        received_mono = self._clock.monotonic_ns()
        received = self._clock.time_ns()
        if isinstance(reply, Full):
            return False
        claimed = self._accepted(reply)
        node, hwm, suspicion = claimed.node, claimed.hwm, claimed.suspicion
        self._owned_at = sent_mono
        self._seen_gen = claimed.gen
        self._run_id = claimed.incarnation
        self._max_ttl = max(self.ttl, claimed.max_ttl_ms / 1000)
        self._max_skew = max(self.max_skew, claimed.max_skew_ms / 1000)
        self._max_lead = max(self.max_lead, claimed.max_lead_ms / 1000)
        with self._lock:
            self.node = node
            self._state = "waiting" if suspicion or not self.trust_store else "claiming"
        skew = self._check_skew(claimed.store_ms, before, received)
        if skew is not None:
            yield from self._abandon(node)
            raise LeaseRefusedError(f"lease of {self.namespace!r} refused: {skew}")
        if hwm > self.layout.max_id:
            yield from self._abandon(node)
            raise LeaseRefusedError(
                f"namespace {self.namespace!r} is damaged: node {node}'s high-water mark {hwm} "
                f"is not an id of the {self.layout.name} layout"
            )
        floor_ms = claimed.floor_ms
        floor = max(hwm, self._id_after(floor_ms * 1_000_000, node) if floor_ms else 0)
        if suspicion is not None or not self.trust_store:
            wait = yield from self._sit_out(node, suspicion, received_mono, received)
            floor = max(floor, wait)
        yield from self._qualify(node, floor)
        return True

    def _qualify(self, node: int, floor: int) -> Steps[None]:
        """Moves the counter onto `node` above `floor` and lets it draw: waits until the floor
        is at most half of max_lead ahead of the clock (so the counter starts with room for
        bursts), then renews. _Again when that renewal does not confirm the node."""
        try:
            self._set_counter(lambda c: c._rebind(node, floor))
        except (ValueError, OverflowError):
            yield from self._abandon(node)
            raise
        ahead_ns = self._time_of(floor) - int(self.max_lead * 1e9 / 2) - self._clock.time_ns()
        if ahead_ns > 0:
            cap = self._max_ttl + self._max_skew + self._max_lead
            if ahead_ns / 1e9 <= cap:
                log.info(
                    "lease of %r node %d: waiting %.3f s for the clock to come within "
                    "half of max_lead of the node's floor",
                    self.namespace,
                    node,
                    ahead_ns / 1e9,
                )
                yield from self._hold(node, self._clock.monotonic_ns() + ahead_ns)
            else:
                log.error(
                    "lease of %r node %d: its high-water mark is %.1f s ahead of this "
                    "host's clock (a clock set back, or a holder whose clock ran ahead); "
                    "the counter refuses until the clock catches up",
                    self.namespace,
                    node,
                    ahead_ns / 1e9,
                )
        self._check_held()
        if (yield from self._renew(extend=True)) is not _Renewal.OK:
            raise _Again
        log.info("lease of %r: holding node %d (ids above %d)", self.namespace, node, floor)

    def _accepted(self, reply: T) -> T:
        """The reply, unless the store refused: then the refusal, raised."""
        if not isinstance(reply, Refused):
            return reply
        if reply.why is Refusal.EVICTION:
            raise LeaseRefusedError(
                f"Redis may evict the lease's keys (maxmemory-policy {reply.detail}): a "
                f"forgotten high-water mark would let ids repeat. Use noeviction or a volatile-* "
                f"policy (the lease's hash has no expiry)"
            )
        raise ValueError(
            f"namespace {self.namespace!r} holds ids of another layout ({reply.detail}), "
            f"not {self.layout.fingerprint} ({self.layout.name}); use another namespace"
        )

    def _sit_out(
        self, node: int, suspicion: Suspicion | str | None, received_mono: int, received: int
    ) -> Steps[int]:
        """C1: the store may have forgotten live holders: hold the node without drawing until
        all of them have passed their deadlines, then confirm the namespace. Returns the floor
        id (above B). `suspicion` says why the store is doubted; None is the wait every claim
        makes without trust_store, a str the reason for a lapsed holder's wait (D4)."""
        wait_s = self._max_ttl + self._max_skew
        floor_ns = received + int((self._max_ttl + self._max_skew + self._max_lead) * 1e9)
        store = self._store.name
        reasons: dict[Suspicion | str | None, str] = {
            None: "every claim waits (trust_store=True skips this when the store shows no loss)",
            Suspicion.MISSING: f"the namespace is new, or {store} lost it",
            Suspicion.RESTARTED: (
                "PostgreSQL is on a new timeline (a promoted standby or a restored backup)"
                if store == "PostgreSQL"
                else f"{store} restarted or failed over"
            )
            + " since the namespace was confirmed",
            Suspicion.UNCONFIRMED: "a previous wait was not confirmed",
            Suspicion.ROLLED_BACK: f"a holder saw {store}'s data go back",
            Suspicion.REWRITTEN: (
                "the namespace's rows were last written by something other than atomic-counter "
                "(a logical restore, COPY, TRUNCATE, an edit by hand)"
            ),
        }
        log.log(
            logging.INFO if suspicion is None else logging.WARNING,
            "lease of %r: %s; holding node %d without drawing for %.1f s (longest ttl "
            "%.1f s + longest max_skew %.1f s) so that every holder the store may have "
            "forgotten has stopped",
            self.namespace,
            reasons.get(suspicion, suspicion),
            node,
            wait_s,
            self._max_ttl,
            self._max_skew,
        )
        yield from self._hold(node, received_mono + int(wait_s * 1e9))
        floor_ms = -(-floor_ns // 1_000_000)
        reply = self._accepted(
            (yield self._store.confirm(Confirm(self._token, node, self._run_id, floor_ms)))
        )
        if not isinstance(reply, Confirmed):
            log.warning(
                "lease of %r: %s during the wait; claiming again",
                self.namespace,
                "node lost" if isinstance(reply, Lost) else f"{self._store.name} restarted",
            )
            raise _Again
        self._seen_gen = reply.gen
        return self._id_after(reply.floor_ms * 1_000_000, node)

    def _hold(self, node: int, until_mono_ns: int) -> Steps[None]:
        """Keeps the node (renewing without letting the counter draw) until the monotonic
        clock reaches until_mono_ns. _Again when the node is lost, the store restarted, or no
        renewal was confirmed for a ttl (a pause, an outage): the store may have handed the
        node on meanwhile, so the wait does not count (C1 holds the node throughout)."""
        clock = self._clock
        while (left := until_mono_ns - clock.monotonic_ns()) > 0:
            self._check_held()
            yield Sleep(min(left / 1e9, self.ttl / 4))
            self._ensure_open()
            self._check_held()
            try:
                status = yield from self._renew(extend=False)
            except StoreUnavailableError as exc:
                log.warning(
                    "lease of %r: renewal during the wait failed (%s); retrying",
                    self.namespace,
                    exc,
                )
                continue
            if status in (_Renewal.LOST, _Renewal.RESTARTED):
                raise _Again
        self._check_held()

    def _check_held(self) -> None:
        """_Again unless a renewal (or the claim) the store confirmed was sent less than a ttl
        (less the margin) ago: past that, the node may have expired and been handed on."""
        gap = self._clock.monotonic_ns() - self._owned_at
        if gap > self._ttl_ms * 1_000_000 - self._margin_ns:
            log.warning(
                "lease of %r: node %d not renewed for %.2f s during a wait; claiming again",
                self.namespace,
                self.node,
                gap / 1e9,
            )
            raise _Again

    def _renew(self, extend: bool) -> Steps[_Renewal]:
        """One renewal. Extends the counter when `extend` and the store confirmed in time."""
        clock = self._clock
        started_mono = clock.monotonic_ns()
        before = clock.time_ns()
        node = self.node
        if extend and started_mono >= self._deadline_ns:
            if self._state == "ready":
                return _Renewal.LAPSED  # D4: a renewal now would revive a tenure that ended
            if started_mono - self._owned_at > self._ttl_ms * 1_000_000 - self._margin_ns:
                return _Renewal.LAPSED  # the wait before it was not held throughout (C1)
        mark = self._reservation(before)
        last_mark = self._last_mark if self._last_mark_node == node else 0
        reply = yield self._store.renew(
            Renew(self._token, node, self._ttl_ms, mark, self._seen_gen, last_mark)
        )
        after = clock.time_ns()
        if isinstance(reply, Refused):
            self._revoke()
            log.error(
                "lease of %r: Redis now evicts keys (maxmemory-policy %s); the counter refuses",
                self.namespace,
                reply.detail,
            )
            return _Renewal.REFUSED
        if isinstance(reply, Lost):
            return _Renewal.LOST
        store_ms, gen, run_id = reply.store_ms, reply.gen, reply.incarnation
        # The namespace's longest settings now, for a wait this renewal starts (D4 uses W and B
        # as a claim does); never lowered.
        self._max_ttl = max(self._max_ttl, reply.max_ttl_ms / 1000)
        self._max_skew = max(self._max_skew, reply.max_skew_ms / 1000)
        self._max_lead = max(self._max_lead, reply.max_lead_ms / 1000)
        self._owned_at = started_mono
        self._seen_gen = gen
        self._last_mark, self._last_mark_node = max(mark, last_mark), node
        if reply.rolled_back:
            log.warning(
                "lease of %r: %s's data went back (its generation, or node %d's mark, below "
                "what this lease recorded); the namespace will be confirmed again before new "
                "claims draw",
                self.namespace,
                self._store.name,
                node,
            )
        if run_id != self._run_id:
            if self._state == "waiting":
                return _Renewal.RESTARTED
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
            return _Renewal.SKEWED
        if extend:
            deadline = started_mono + self._ttl_ms * 1_000_000 - self._margin_ns

            def apply(counter: SnowflakeCounter) -> None:
                if self.node == node and self._state in ("claiming", "waiting", "ready"):
                    self._state = "ready"
                    self._deadline_ns = deadline
                    counter._extend(deadline, mark)

            self._set_counter(apply)
        return _Renewal.OK

    def _abandon(self, node: int) -> Steps[None]:
        """Gives back a node this lease claimed but will not use."""
        with self._lock:
            if self.node == node:
                self.node = -1
        try:
            yield self._store.release(Release(self._token, node, None))
        except Exception as exc:
            self._log_not_given_back(node, exc)

    def _revoke(self) -> None:
        with self._lock:
            self._deadline_ns = 0
            self._counter._revoke()

    def _renew_forever(self) -> Steps[None]:
        """The background loop (a thread's or a task's): renews every ttl/4, claims again when
        the node is lost, until the lease is closed (_Closed at a Sleep)."""
        interval = self.ttl / 4
        while True:
            yield Sleep(interval)
            try:
                interval = yield from self._renew_step()
            except _Closed:
                raise
            except Exception as exc:
                log.error("lease of %r: %s", self.namespace, exc)
                self._revoke()
                interval = min(1.0, self.ttl / 4)

    def _renew_step(self) -> Steps[float]:
        """One turn of the background loop; returns how long to sleep before the next."""
        if self._state == "lost" or self.node < 0:
            return (yield from self._claim_again())
        if self._state != "ready":
            return (yield from self._requalify())  # a requalification that did not finish
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
                max(0.0, (self._deadline_ns - self._clock.monotonic_ns()) / 1e9),
            )
            return min(0.2, self.ttl / 10)
        if status is _Renewal.OK:
            return self.ttl / 4
        if status is _Renewal.LAPSED:
            return (yield from self._requalify())
        if status is _Renewal.LOST:
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

    def _requalify(self) -> Steps[float]:
        """D4: the counter's deadline passed (renewals failed, or the process was paused, for
        longer than the ttl). Meanwhile the store may have handed the node on and forgotten
        that: hold it without drawing as a claimant does (C1), from a renewal the store
        confirms now, and draw again above that wait's floor. Claims afresh when the node is
        lost meanwhile; stays waiting (and starts over at the next turn) when the store fails."""
        node = self.node
        with self._lock:
            self._ensure_open()
            self._state = "waiting"
        self._revoke()
        reason = "its counter's deadline passed (no renewal for a ttl)"
        try:
            if (yield from self._renew(extend=False)) is not _Renewal.OK:
                raise _Again
            received_mono, received = self._owned_at, self._clock.time_ns()
            floor = yield from self._sit_out(node, reason, received_mono, received)
            yield from self._qualify(node, floor)
        except _Again:
            with self._lock:
                self._ensure_open()
                self._state = "lost"
            self._revoke()
            return (yield from self._claim_again())
        except _Closed:
            raise
        except Exception as exc:
            self._revoke()
            log.warning(
                "lease of %r: waiting again on node %d failed (%s: %s); starting over",
                self.namespace,
                node,
                type(exc).__name__,
                exc,
            )
            return min(0.2, self.ttl / 10)
        return self.ttl / 4

    def _claim_again(self) -> Steps[float]:
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

    def _seal_for_close(self) -> tuple[int, int | None] | None:
        """Marks the lease closed and stops the counter for good. Returns (node, mark) to give
        back, or None when there is nothing to give back (already closed, forked, no node). The
        mark is the sealed id only while the counter draws on the node (a tenure that has not
        lapsed): a lease closed during a wait, or after its tenure ended, never drew above the
        node's mark since, and leaves the mark as it is (None) rather than lowering it."""
        with self._lock:
            if self._state in ("closed", "forked") or os.getpid() != self._pid:
                return None  # another process's copy (a fork the hooks did not see) is inert
            drawing = self._state == "ready" and self._clock.monotonic_ns() < self._deadline_ns
            self._state = "closed"
            mark = self._counter._seal()
            node = self.node
            self._deadline_ns = 0
        _LIVE.discard(self)
        if node < 0:
            return None
        return node, mark if drawing else None

    def _forked(self) -> None:
        """In a fork child: the lease and its counter are the parent's; forget them without a
        word to the store (the parent still holds the node)."""
        self._lock = threading.RLock()  # another thread may have held the parent's
        self._state = "forked"
        self._deadline_ns = 0


# Kept across importlib.reload() (which runs the module again in its own dict): the objects
# made before a reload must still be found by the hooks, which are registered once.
# Leases alive in this process, for the fork handler.
_LIVE: weakref.WeakSet[_LeaseBase] = globals().get("_LIVE") or weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lease in list(_LIVE):
        lease._forked()
    _LIVE.clear()


if hasattr(os, "register_at_fork") and not globals().get("_HOOKED"):
    os.register_at_fork(after_in_child=lambda: _after_fork_in_child())
    _HOOKED = True

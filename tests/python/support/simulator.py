"""Deterministic simulation of the lease and segment protocols (issue 23).

The real protocol code runs here: _lease_protocol.py's _LeaseBase (its claim, renewal, wait and
release generators), segment.py's _Engine with the real C half of SegmentCounter
(_SegmentCounter: its _offer, next, _close), and the store operations of stores/memory.py.
Everything around them is simulated and owned by one seeded random generator: every process's
monotonic and wall clock, the store's clock, every request and reply on the network (lost,
delayed past later steps, applied with the reply lost), the store's faults (restarts, loss of
everything, of one key, of a suffix of writes, rollbacks to any earlier version with or without
a new incarnation, settings changed at run time, outages), and the processes' own (pauses of any
length, death, fork, clocks stepped or skewed within and beyond max_skew). A scheduler pops one
event at a time (a draw, a message delivered, a timer, a fault): that is a step.

After every step the checker asserts what the design promises (docs/design.md, "Leases" and
"Segments"): no id or value handed out twice, each counter's values strictly increasing, and,
once the faults stop, every live lease drawing again within the documented bound. A failure
prints its seed and the last steps that led to it; ``--seed N`` replays it exactly.

    python tests/python/support/simulator.py --steps 3000000            # what CI runs
    python tests/python/support/simulator.py --seconds 3600 --first-seed 1000  # the long run
    python tests/python/support/simulator.py --seed 17 --trace           # replay one episode
    python tests/python/support/simulator.py --mutation hwm              # a check taken out

Regimes: consecutive seeds take turns (REGIMES): leases with and without trust_store, segments
with every fault but R5 and with R5's too (then only each counter's own order is checked), on
Redis's or PostgreSQL's semantics. The rest of an episode is drawn from its seed: layouts, ttl,
max_skew, max_lead, how many nodes and processes, how hostile the network is. Faults stay
within what the design assumes for the episode (trust_store narrows the store's to A3t).
docs/simulation.md has the fault model, the checks and the figures.

Mutations (``--mutation``) take one safety check out of the protocol, by patching the
simulation's copy only, to show the simulator finds what each check prevents.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import heapq
import itertools
import logging
import random
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))

from atomic_counter import _lease_protocol as lease_protocol
from atomic_counter import segment as segment_module
from atomic_counter._core import LeaseExpiredError, _SegmentCounter
from atomic_counter._drive import drive
from atomic_counter.errors import (
    LeaseRefusedError,
    NoFreeNodeError,
    SegmentRefusedError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from atomic_counter.layout import Layout
from atomic_counter.stores import memory as memory_module
from atomic_counter.stores.memory import MemorySegment, MemoryServer
from atomic_counter.stores.protocols import Claimed, Confirm, Confirmed, Release

Sleep = lease_protocol.Sleep
_Closed = lease_protocol._Closed

MS = 1_000_000
SECOND = 1_000_000_000
# Wall time at the start of every episode (2026-01-01), plus a random part.
EPOCH_NS = 1_767_225_600 * SECOND

# A layout with coarse ticks and few ids a tick, so that two holders on one node collide on
# their first draws of a tick, and bursts borrow from later ticks (ids ahead of the clock).
COARSE = Layout(EPOCH_NS - 86400 * SECOND, "10ms", 41, 2, 3, name="coarse")
LAYOUTS = (COARSE, Layout.JS_SAFE, Layout.TWITTER)


class Violation(AssertionError):
    """What the checker found: the design's promise broken."""


# --------------------------------------------------------------------------------------------
# SnowflakeCounter, modelled: include/atomic_counter/snowflake_counter.hpp's rules on the
# simulated clocks. test_simulation.py checks it against the extension's counter.


class ModelSnowflake:
    """SnowflakeCounter's state and lease limits, reading a process's simulated clocks."""

    __slots__ = (
        "_clock",
        "_deadline",
        "_epoch",
        "_forked",
        "_lead_span",
        "_max_compressed",
        "_max_id",
        "_node_bits",
        "_node_shift",
        "_seq_bits",
        "_seq_mask",
        "_state",
        "_tick",
        "layout",
        "limit_ignored",
    )

    NO_DEADLINE = 2**64 - 1

    def __init__(self, layout: Layout, node: int, floor: int = 0, *, clock: Any) -> None:
        self.layout = layout
        self._clock = clock
        self._epoch = layout.epoch_ns
        self._tick = layout.tick_ns
        self._seq_bits = layout.sequence_bits
        self._node_bits = layout.node_bits
        self._node_shift = layout.node_bits + layout.sequence_bits
        self._seq_mask = layout.max_sequence
        self._max_compressed = (1 << (layout.time_bits + layout.sequence_bits)) - 1
        self._deadline = self.NO_DEADLINE
        self._max_id = 2**64 - 1
        self._lead_span = 2**64 - 1
        self._forked = False
        self.limit_ignored = False  # the "mark_limit" mutation: D2 off
        self._check_node(node)
        now = self._ticks_at(clock.time_ns())
        if now > layout.max_ticks:
            raise OverflowError("snowflake_counter: time has run out")
        floor_c = self._compress(self._decoded(floor))
        fresh = now << self._seq_bits
        self._state = self._expand(max(fresh, floor_c), node)

    # -- the layout's arithmetic (layout.hpp) --
    def _ticks_at(self, unix_ns: int) -> int:
        return 0 if unix_ns < self._epoch else (unix_ns - self._epoch) // self._tick

    def _compress(self, id_: int) -> int:
        return ((id_ >> self._node_shift) << self._seq_bits) | (id_ & self._seq_mask)

    def _expand(self, c: int, node: int) -> int:
        return (
            ((c >> self._seq_bits) << self._node_shift)
            | (node << self._seq_bits)
            | (c & self._seq_mask)
        )

    def _node_of(self, id_: int) -> int:
        return (id_ >> self._seq_bits) & ((1 << self._node_bits) - 1)

    def _check_node(self, node: int) -> None:
        if not 0 <= node <= self.layout.max_node:
            raise ValueError(f"node must be in [0, {self.layout.max_node}], got {node}")

    def _decoded(self, id_: int) -> int:
        if not 0 <= id_ <= self.layout.max_id:
            raise ValueError(f"id must be in [0, {self.layout.max_id}], got {id_}")
        return id_

    # -- draws --
    def _check_deadline(self) -> None:
        if self._forked:
            raise RuntimeError("SnowflakeCounter: copied into a child process by fork()")
        deadline = self._deadline
        if deadline != self.NO_DEADLINE and self._clock.monotonic_ns() >= deadline:
            raise LeaseExpiredError("the node lease could not be confirmed before it expired")

    def _following(self, fresh: int, count: int) -> int:
        last = self._compress(self._state)
        after = fresh - 1 if fresh > last else last
        if after > self._max_compressed or self._max_compressed - after < count:
            raise OverflowError("snowflake_counter: the layout's time bits have run out")
        position = after + count
        if position - fresh > self._lead_span:
            raise LeaseExpiredError("the next id would run past the lease's lead limit")
        id_ = self._expand(position, self._node_of(self._state))
        if id_ > self._max_id and not self.limit_ignored:
            raise LeaseExpiredError("ids reached the high-water mark the lease recorded")
        return id_

    def next(self) -> int:
        self._check_deadline()
        fresh = self._ticks_at(self._clock.time_ns()) << self._seq_bits
        self._state = self._following(fresh, 1)
        return self._state

    def next_many(self, n: int) -> list[int]:
        if n == 0:
            return []
        span = self._lead_span
        if n - 1 > span:
            raise ValueError(f"n ({n}) ids can never fit within the lease's lead limit")
        self._check_deadline()
        fresh = self._ticks_at(self._clock.time_ns()) << self._seq_bits
        final = self._following(fresh, n)
        node = self._node_of(final)
        first = self._compress(final) - (n - 1)
        self._state = final
        return [self._expand(first + i, node) for i in range(n)]

    def current(self) -> int:
        return self._state

    @property
    def node(self) -> int:
        return self._node_of(self._state)

    def lead_ns(self) -> int:
        last_ticks = self._compress(self._state) >> self._seq_bits
        now_ticks = self._ticks_at(self._clock.time_ns())
        return (last_ticks - now_ticks) * self._tick if last_ticks > now_ticks else 0

    # -- the lease's limits --
    def _extend(self, deadline_ns: int, max_id: int) -> None:
        self._max_id = max_id
        self._deadline = deadline_ns

    def _revoke(self) -> None:
        self._deadline = 0

    def _limit_lead(self, lead_ns: int) -> None:
        ticks = lead_ns // self._tick
        if ticks > (self._max_compressed >> self._seq_bits):
            self._lead_span = self._max_compressed
        else:
            self._lead_span = (ticks << self._seq_bits) | self._seq_mask

    def _seal(self) -> int:
        self._max_id = 0
        self._deadline = 0
        c = self._compress(self._state)
        if c < self._max_compressed:
            self._state = self._expand(c + 1, self._node_of(self._state))
        return self._state

    def _rebind(self, node: int, floor_id: int) -> None:
        self._check_node(node)
        floor = self._compress(self._decoded(floor_id))
        past_last = ((self._compress(self._state) >> self._seq_bits) + 1) << self._seq_bits
        moved = max(past_last, floor)
        if moved > self._max_compressed:
            raise OverflowError("snowflake_counter: the layout's time bits have run out")
        self._state = self._expand(moved, node)

    def forked_copy(self) -> ModelSnowflake:
        child = copy.copy(self)
        child._forked = True
        return child


# --------------------------------------------------------------------------------------------
# SegmentCounter's C half, modelled (bindings/segment.cpp), for the mutation that takes its
# range check (R2) out: the simulation otherwise runs the real one. test_simulation.py checks
# that the two agree.


class ModelCursor:
    """_SegmentCounter's cursor: the block in use, one spare, the end of the last block
    accepted (R2), the failure that stopped it."""

    check_ranges = True  # R2; the "range" mutation turns it off

    def __init__(self) -> None:
        self.next_ = self.end = self.spare_next = self.spare_end = self.stalls = 0
        self.accepted = 0
        self.has_spare = self.closed = False
        self.need: Any = None
        self.failure: BaseException | None = None
        self.refused_error: Any = SegmentRefusedError
        self.prefix = ""

    def _bind(
        self,
        engine: Any,
        need: Any,
        collected: Any,
        timeout: float,
        timeout_error: Any,
        timeout_message: str,
        refused_error: Any,
        prefix: str,
    ) -> None:
        self._engine = engine
        self.need = need
        self.refused_error, self.prefix = refused_error, prefix

    def _offer(self, lo: int, hi: int) -> bool:
        if self.closed or lo >= hi:
            return False
        if lo < self.accepted and self.check_ranges:
            error = self.refused_error(
                f"{self.prefix}: the store handed out [{lo}, {hi}), below {self.accepted}"
            )
            if self.failure is None:
                self.failure = error
            raise error
        if self.next_ >= self.end:
            self.next_, self.end = lo, hi
            wanted = not self.has_spare
        elif not self.has_spare:
            self.spare_next, self.spare_end, self.has_spare = lo, hi, True
            wanted = False
        else:
            raise RuntimeError("_offer(): a block and a spare are at hand")
        self.accepted = hi
        return wanted

    def next(self) -> int:
        if self.next_ < self.end:
            value = self.next_
            self.next_ += 1
            return value
        if self.closed:
            raise ValueError("SegmentCounter.next(): the counter is closed")
        if self.has_spare:
            self.next_, self.end, self.has_spare = self.spare_next, self.spare_end, False
            value = self.next_
            self.next_ += 1
            self.need()
            return value
        self.stalls += 1
        if self.failure is not None:
            raise type(self.failure)(*self.failure.args)
        raise AssertionError("the simulation draws only when next() would not wait")

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error

    def _note(self, error: BaseException | None) -> None:
        pass

    def _close(self) -> tuple[int, int, int, int]:
        left = (
            self.next_,
            self.end,
            self.spare_next if self.has_spare else 0,
            self.spare_end if self.has_spare else 0,
        )
        self.closed = True
        self.next_ = self.end
        self.has_spare = False
        return left

    def _state(self) -> tuple[int, int, bool, int]:
        return self.next_, self.end, self.has_spare, self.stalls


# --------------------------------------------------------------------------------------------
# The world: simulated time, the event queue, the network, the store, the checker.


class ProcClock:
    """One process's clocks, as _lease_protocol._Clock offers them: monotonic (an offset from true
    time, at its rate) and wall (true time plus a skew that faults move)."""

    __slots__ = ("mono_offset", "wall_offset", "world")

    def __init__(self, world: World, mono_offset: int, wall_offset: int) -> None:
        self.world = world
        self.mono_offset = mono_offset
        self.wall_offset = wall_offset

    def monotonic_ns(self) -> int:
        return self.world.now + self.mono_offset

    def time_ns(self) -> int:
        return self.world.now + self.wall_offset


# (kind, flavor, special): special is trust_store for leases, and for segments the episodes with
# every fault, R5's included, that check only each counter's own order.
REGIMES = [
    ("lease", "redis", False),
    ("segment", "redis", False),
    ("lease", "postgres", True),
    ("segment", "postgres", True),
    ("lease", "postgres", False),
    ("segment", "postgres", False),
    ("lease", "redis", True),
    ("segment", "redis", True),
]


@dataclasses.dataclass
class Episode:
    """One episode's parameters, all drawn from its seed."""

    seed: int
    kind: str  # "lease" or "segment"
    flavor: str  # the memory store plays "redis" or "postgres"
    trust_store: bool = False
    layout: Layout = COARSE
    ttl: float = 1.0
    max_skew: float = 0.2
    max_lead: float = 0.5
    max_nodes: int = 2
    procs: int = 3
    block: int = 8
    own_order_only: bool = False  # segments: R5 faults allowed, only each counter's order checked
    p_drop: float = 0.01  # each of request and reply
    p_slow: float = 0.02
    latency_ms: float = 1.0
    fault_every: float = 3.0  # seconds, mean
    draw_every: float = 0.01  # seconds, mean, per process
    duration: float = 60.0  # seconds of faults, then the heal

    @staticmethod
    def draw(seed: int, kind: str | None = None, trust: bool | None = None) -> Episode:
        """The episode of a seed. Consecutive seeds go round the regimes (REGIMES), so that
        any run of eight covers them all; the rest is drawn at random."""
        rng = random.Random(seed * 7919 + 13)
        regimes = [
            r
            for r in REGIMES
            if (kind is None or r[0] == kind)
            and (trust is None or r[0] != "lease" or r[2] == trust)
        ]
        kind, flavor, special = regimes[seed % len(regimes)]
        ep = Episode(seed, kind, flavor)
        # trust_store also narrows the store's faults to A3t's (Nemesis).
        ep.trust_store = kind == "lease" and special
        ep.own_order_only = kind == "segment" and special
        ep.layout = rng.choice(LAYOUTS)
        ep.ttl = rng.choice((0.5, 1.0, 2.0))
        ep.max_skew = rng.choice((0.02, 0.2, 1.0))
        ep.max_lead = max(ep.layout.tick_ns / 1e9, rng.choice((0.05, 0.5, 2.0)))
        ep.max_nodes = rng.choice((1, 2, 2, 3))
        ep.procs = rng.choice((2, 3, 4))
        ep.block = rng.choice((2, 4, 8, 64))
        ep.p_drop = rng.choice((0.0, 0.01, 0.05))
        ep.p_slow = rng.choice((0.0, 0.02, 0.1))
        ep.latency_ms = rng.choice((0.2, 1.0, 5.0))
        ep.fault_every = rng.choice((0.5, 2.0, 5.0))
        ep.draw_every = rng.choice((0.002, 0.01, 0.03))
        ep.duration = rng.choice((20.0, 40.0, 60.0))
        return ep

    def describe(self) -> str:
        if self.kind == "lease":
            what = (
                f"leases on {self.flavor}, {self.layout.name} layout, ttl {self.ttl:g} s, "
                f"max_skew {self.max_skew:g} s, max_lead {self.max_lead:g} s, "
                f"{self.max_nodes} node(s), {self.procs} holders, trust_store={self.trust_store}"
            )
        else:
            what = f"segments on {self.flavor}, block {self.block}, {self.procs} counters" + (
                ", every fault (each counter's own order checked)" if self.own_order_only else ""
            )
        return (
            f"seed {self.seed}: {what}; network: drop {self.p_drop:g}, slow {self.p_slow:g}, "
            f"latency {self.latency_ms:g} ms; a fault every {self.fault_every:g} s for "
            f"{self.duration:g} s"
        )


class World:
    """Simulated time, the events, the store and the checker of one episode."""

    def __init__(self, ep: Episode, *, trace_all: bool = False) -> None:
        self.ep = ep
        self.rng = random.Random(ep.seed)
        self.now = EPOCH_NS + self.rng.randrange(3600 * SECOND)
        self.start = self.now
        self.queue: list[tuple[int, int, Any, Callable[..., Any], tuple[Any, ...]]] = []
        self.seq = itertools.count()
        self.steps = 0
        self.trace: deque[tuple[int, str]] = deque(maxlen=100_000 if trace_all else 400)
        self.trace_all = trace_all
        self.store_skew = self.rng.randint(
            -int(ep.max_skew * SECOND) // 2, int(ep.max_skew * SECOND) // 2
        )
        self.server = MemoryServer(ep.flavor, clock=self.store_clock)
        self.procs: list[Any] = []
        self.names = itertools.count(1)
        self.healing = False
        self.last_claim = 0  # the store's version just before the last claim
        self.checker = Checker(self)
        self.stats: dict[str, int] = {}

    # -- time and events --
    def store_clock(self) -> int:
        return self.now + self.store_skew

    def at(self, when: int, fn: Callable[..., Any], *args: Any, proc: Any = None) -> None:
        heapq.heappush(self.queue, (when, next(self.seq), proc, fn, args))

    def after(self, delay: float, fn: Callable[..., Any], *args: Any, proc: Any = None) -> None:
        self.at(self.now + max(0, int(delay * SECOND)), fn, *args, proc=proc)

    def note(self, text: str) -> None:
        self.trace.append((self.now, text))

    def count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def run_until(self, end: int, max_steps: int) -> None:
        queue = self.queue
        pop, push = heapq.heappop, heapq.heappush
        while queue and self.steps < max_steps:
            when, seq, proc, fn, args = queue[0]
            if when > end:
                break
            pop(queue)
            if proc is not None:
                if not proc.alive:
                    continue
                if proc.paused_until > when:
                    push(queue, (proc.paused_until, seq, proc, fn, args))
                    continue
            self.now = when
            self.steps += 1
            fn(*args)

    def elapsed(self) -> float:
        return (self.now - self.start) / SECOND


class Checker:
    """The promises, checked as every value is handed out."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seen: dict[int, tuple[str, int]] = {}
        self.highest = 0  # the largest value handed out (the operator's knowledge)
        self.drawn = 0

    def handed_out(self, proc: Any, values: list[int], *, fleet: bool = True) -> None:
        seen = self.seen
        last = proc.last_value
        for value in values:
            if value <= last:
                raise Violation(
                    f"{proc.name} handed out {value} after {last}: its values went back or repeated"
                )
            last = value
            if fleet:
                first = seen.get(value)
                if first is not None:
                    who, when = first
                    raise Violation(
                        f"{value} handed out twice: by {who} at t={self.world_time(when)} and by "
                        f"{proc.name} now"
                    )
                seen[value] = (proc.name, self.world.now)
        proc.last_value = last
        self.drawn += len(values)
        if last > self.highest:
            self.highest = last

    def world_time(self, when: int) -> str:
        return f"{(when - self.world.start) / SECOND:.6f}"


# --------------------------------------------------------------------------------------------
# The network: each exchange a process sends is applied atomically by the store at some time
# (or never), and its outcome reaches the process at some later time (or never: then the
# process's timeout fires).


class Call:
    """An exchange in flight."""

    __slots__ = ("done", "label", "proc", "resume")

    def __init__(self, proc: Any, label: str, resume: Callable[[bool, Any], None]) -> None:
        self.proc = proc
        self.label = label
        self.resume = resume
        self.done = False


class Network:
    def __init__(self, world: World) -> None:
        self.world = world
        self.healthy = False

    def latency(self) -> float:
        ep, rng = self.world.ep, self.world.rng
        base = ep.latency_ms / 1000 * (0.2 + rng.random())
        if not self.healthy and rng.random() < ep.p_slow:
            return base + rng.random() * 0.8 * self.timeout_of()
        return base

    def timeout_of(self) -> float:
        return min(self.world.ep.ttl / 2, 5.0)

    def send(
        self, proc: Any, exchange: Any, resume: Callable[[bool, Any], None], label: str
    ) -> Call:
        """Sends `exchange` for `proc`; resume(ok, value) runs once, with the outcome or with
        StoreUnavailableError when no reply comes within the timeout."""
        world, rng, ep = self.world, self.world.rng, self.world.ep
        call = Call(proc, label, resume)
        timeout = self.timeout_of()
        paused = 0.0
        if not self.healthy and rng.random() < 0.003:
            # Paused between reading its clocks and sending (a GC, a SIGSTOP): the request
            # leaves late, and no timeout runs meanwhile.
            paused = ep.ttl * rng.uniform(0.1, 3.0)
            proc.pause(paused)
            world.count("paused before sending")
        world.after(paused + timeout, self._timed_out, call, proc=proc)
        if not self.healthy and rng.random() < ep.p_drop:
            world.count("requests lost")
            world.note(f"{proc.name}: {label} lost on the way")
            return call
        world.after(paused + self.latency(), self._apply, call, exchange)
        return call

    def _apply(self, call: Call, exchange: Any) -> None:
        world = self.world
        try:
            ok, value = True, drive(exchange, world.server.perform)
        except Exception as exc:
            ok, value = False, exc
        if world.trace_all or not ok or type(value).__name__ not in ("Renewed", "tuple"):
            world.note(f"store: {call.label} -> {value!r}")
        if ok and isinstance(value, Claimed):
            world.last_claim = world.server.version - 1  # the data just before it
        if not self.healthy and world.rng.random() < world.ep.p_drop:
            world.count("replies lost")
            world.note(f"{call.proc.name}: reply to {call.label} lost")
            return
        world.after(self.latency(), self._deliver, call, ok, value, proc=call.proc)

    def _deliver(self, call: Call, ok: bool, value: Any) -> None:
        if not call.done:
            call.done = True
            call.resume(ok, value)

    def _timed_out(self, call: Call) -> None:
        if not call.done:
            call.done = True
            self.world.count("timeouts")
            call.resume(False, StoreUnavailableError(f"timed out: {call.label}"))


# --------------------------------------------------------------------------------------------
# Processes.


class Proc:
    """What every simulated process has: a name, clocks, and whether it is alive or paused."""

    def __init__(self, world: World, kind: str) -> None:
        self.world = world
        self.name = f"{kind}{next(world.names)}"
        rng = world.rng
        skew = int(world.ep.max_skew * SECOND / 2)
        self.clock = ProcClock(world, rng.randrange(10**15), rng.randint(-skew, skew))
        self.alive = True
        self.paused_until = 0
        self.last_value = 0
        self.drawn = 0
        world.procs.append(self)

    def pause(self, seconds: float) -> None:
        until = self.world.now + int(seconds * SECOND)
        if until > self.paused_until:
            self.paused_until = until
            self.world.note(f"{self.name} paused for {seconds:.3f} s")

    def kill(self) -> None:
        self.alive = False
        self.world.note(f"{self.name} killed")

    def traced_state(self) -> None:
        pass


class Program:
    """Runs a protocol generator (_lease_protocol.py's steps, yielding Sleep and store exchanges)
    for a process: what NodeLease's _drive does with a thread, with simulated time."""

    def __init__(self, proc: Any, steps: Generator[Any, Any, Any], done: Callable[[Any], None]):
        self.proc = proc
        self.steps = steps
        self.done = done
        self.sleeping = False
        self.wake_token = 0
        self.finished = False

    def start(self) -> None:
        self._advance(True, None)

    def _advance(self, ok: bool, value: Any) -> None:
        proc, steps = self.proc, self.steps
        world = proc.world
        while True:
            try:
                request = steps.send(value) if ok else steps.throw(value)
            except StopIteration as stop:
                self.finished = True
                self.done(stop.value)
                return
            except BaseException as exc:
                self.finished = True
                self.done(exc)
                return
            if isinstance(request, Sleep):
                if proc.stopping:
                    ok, value = False, _Closed()
                    continue
                self.sleeping = True
                self.wake_token += 1
                world.after(request.seconds, self._wake, self.wake_token, proc=proc)
                return
            label = _label(request)
            world.network.send(proc, request, self._reply, label)
            return

    def _wake(self, token: int) -> None:
        if token == self.wake_token and self.sleeping and not self.finished:
            self.sleeping = False
            self._advance(True, None)
            self.proc.traced_state()

    def interrupt(self) -> None:
        """close(): a sleeping step ends at once with _Closed (NodeLease's stop event)."""
        if self.sleeping and not self.finished:
            self.sleeping = False
            self.wake_token += 1
            self._advance(False, _Closed())

    def _reply(self, ok: bool, value: Any) -> None:
        if not self.finished:
            self._advance(ok, value)
            self.proc.traced_state()


def _label(exchange: Any) -> str:
    frame = getattr(exchange, "gi_frame", None)
    name = getattr(exchange, "__name__", "exchange")
    if frame is not None:
        request = frame.f_locals.get("request")
        if request is not None:
            fields = ", ".join(
                f"{f.name}={getattr(request, f.name)!r}"
                for f in dataclasses.fields(request)
                if f.name not in ("token", "layout")
            )
            return f"{name}({fields})"
    return name


class SimLease(lease_protocol._LeaseBase):
    """The real lease protocol (_lease_protocol.py's _LeaseBase) on a process's simulated clocks
    and a modelled SnowflakeCounter, talking to the memory store."""

    def __init__(self, proc: LeaseProc, ep: Episode, token: str) -> None:
        self._clock = proc.clock  # type: ignore[assignment]
        self._counter_type = functools.partial(ModelSnowflake, clock=proc.clock)  # type: ignore[assignment]
        super().__init__(
            proc.world.server,  # the memory store, found as any engine is (stores/memory.py)
            "sim",
            layout=ep.layout,
            ttl=ep.ttl,
            max_nodes=ep.max_nodes,
            max_skew=ep.max_skew,
            max_lead=ep.max_lead,
            trust_store=ep.trust_store,
        )
        self._token = token


class LeaseProc(Proc):
    """A process holding a lease: NodeLease's constructor (claim), its renewal thread, its
    close(), and a thread that draws ids, all on simulated time."""

    def __init__(self, world: World, *, child_of: LeaseProc | None = None) -> None:
        super().__init__(world, "holder" if child_of is None else "child")
        ep = world.ep
        self.stopping = False
        self.state = "claiming"
        self.program: Program | None = None
        self.last_state: Any = None
        self.tenure: Any = None
        if child_of is not None:
            # fork(): the child has a copy of the parent's lease and counter, and no threads;
            # _lease_protocol.py's fork handler makes the copy inert.
            self.clock = child_of.clock
            self.lease = copy.copy(child_of.lease)
            self.lease._counter = child_of.lease._counter.forked_copy()
            self.lease._forked()
            self.state = "forked"
            world.note(f"{child_of.name} forked {self.name}")
            world.after(world.rng.random() * 0.05, self.draw, proc=self)
            world.after(world.rng.random() * 0.2, self.close, proc=self)
            return
        self.wait = world.rng.choice((0.0, 0.0, 2 * ep.ttl))
        self.lease = SimLease(self, ep, token=f"token-{self.name}")
        world.note(f"{self.name} starts (clock skew {self.clock.wall_offset / SECOND:+.3f} s)")
        self.program = Program(self, self._constructor(), self._claimed)
        self.program.start()

    # NodeLease.__init__ after the store is made: the legacy check, then the claim.
    def _constructor(self) -> Generator[Any, Any, None]:
        lease = self.lease
        try:
            try:
                key = yield lease._store.legacy_key()
            except Exception:
                key = None
            lease._refuse_legacy(key)
            yield from lease._claim(self.wait)
        except GeneratorExit:
            raise
        except BaseException:
            # NodeLease._give_back_now
            sealed = lease._seal_for_close()
            if sealed is not None:
                with contextlib.suppress(Exception):
                    yield lease._store.release(Release(lease._token, *sealed))
            raise

    def _claimed(self, outcome: Any) -> None:
        world = self.world
        if isinstance(outcome, BaseException):
            self.state = "gone"
            world.note(f"{self.name}: claim failed: {type(outcome).__name__}: {outcome}")
            if not isinstance(outcome, (NoFreeNodeError, StoreUnavailableError, LeaseRefusedError)):
                raise Violation(f"{self.name}: the claim raised {outcome!r}") from outcome
            self.alive = False
            # The service tries again soon, in a new process (a restart, a new deployment).
            if not world.healing and world.rng.random() < 0.8:
                world.after(world.rng.random() * world.ep.ttl / 2, start_proc, world)
            return
        self.state = "holding"
        world.note(f"{self.name} holds node {self.lease.node}")
        self.program = Program(self, self.lease._renew_forever(), self._loop_ended)
        self.program.start()
        world.after(world.rng.random() * world.ep.draw_every * 2, self.draw, proc=self)

    def traced_state(self) -> None:
        """Notes the lease's state when a step changed it."""
        lease = self.lease
        now = (lease._state, lease.node)
        if now != self.last_state:
            self.last_state = now
            counter = lease._counter
            limits = ""
            if lease._state == "ready":
                deadline = (lease._deadline_ns - lease._clock.monotonic_ns()) / SECOND
                limits = f", mark {counter._max_id}, deadline in {deadline:.3f} s"
            self.world.note(
                f"{self.name}: {lease._state} on node {lease.node}, counter at "
                f"{counter.current()}{limits}"
            )

    def _loop_ended(self, outcome: Any) -> None:
        if isinstance(outcome, BaseException) and not isinstance(outcome, _Closed):
            raise Violation(f"{self.name}: the renewal loop raised {outcome!r}") from outcome

    def draw(self) -> None:
        world, ep = self.world, self.world.ep
        if self.state not in ("holding", "forked"):
            return
        rng = world.rng
        try:
            counter = self.lease.counter()
            if rng.random() < 0.1:
                values = counter.next_many(rng.choice((2, 8, 64)))
                values = list(values)
            else:
                values = [counter.next()]
        except (LeaseExpiredError, ValueError, OverflowError):
            values = []
        except RuntimeError:
            if self.state != "forked":
                raise
            values = []
        if values:
            if self.state == "forked":
                raise Violation(f"{self.name}, a fork child, drew {values[0]} on its parent's node")
            world.checker.handed_out(self, values)
            self.drawn += len(values)
            if world.trace_all:
                world.note(f"{self.name} drew {values[0]}..{values[-1]}")
            elif self.tenure != self.last_state:
                self.tenure = self.last_state
                world.note(f"{self.name} draws from {values[0]}")
        if self.state != "forked":
            world.after(rng.expovariate(1 / ep.draw_every), self.draw, proc=self)

    def close(self) -> None:
        """NodeLease.close(): seal, stop the renewal thread, release in a helper."""
        world = self.world
        if self.state == "forked":
            self.lease._seal_for_close()  # inert: returns None, sends nothing
            self.stopping = True
            self.state = "closed"
            return
        if self.state != "holding":
            return
        sealed = self.lease._seal_for_close()
        self.stopping = True
        self.state = "closed"
        world.note(f"{self.name} closes (sealed {sealed})")
        if self.program is not None:
            self.program.interrupt()
        if sealed is not None:
            release = self.lease._store.release(Release(self.lease._token, *sealed))
            world.network.send(self, release, lambda ok, value: None, _label(release))

    def fork(self) -> None:
        if self.state == "holding":
            LeaseProc(self.world, child_of=self)


class SimIO:
    """The StoreIO segment.py's engine calls from close() (its give-back, in a helper thread
    that close() waits for): the exchange goes out on the simulated network, and its outcome,
    which the engine ignores, is not awaited."""

    def __init__(self, proc: SegmentProc) -> None:
        self.proc = proc

    def run(self, exchange: Any) -> Any:
        self.proc.world.network.send(self.proc, exchange, lambda ok, value: None, "give_back")
        return False

    def close(self) -> None:
        pass


def _new_engine(ops: Any, io: Any, name: str, block: int, timeout: float) -> Any:
    return segment_module._Engine(ops, io, name, block, timeout)


def _bind(counter: Any, engine: Any, timeout: float, name: str) -> None:
    """SegmentCounter.__init__'s _bind."""
    counter._bind(
        engine,
        engine.need,
        engine.collected,
        timeout,
        StoreTimeoutError,
        f"SegmentCounter {name!r}: no block within {timeout:g} s",
        SegmentRefusedError,
        f"SegmentCounter {name!r}",
    )


SEQUENCE = "sim"
SEGMENT_TIMEOUT = 5.0


def _real_cursor() -> Any:
    return _SegmentCounter.__new__(_SegmentCounter)


# What a SegmentProc's C half is: the extension's, unless a mutation says otherwise.
CURSOR: list[Callable[[], Any]] = [_real_cursor]


class SegmentProc(Proc):
    """A process with a SegmentCounter: segment.py's engine and the real C half, with the
    engine's thread (reserve when the cursor wants a spare, offer in order) run on simulated
    time."""

    def __init__(self, world: World) -> None:
        super().__init__(world, "counter")
        ep = world.ep
        self.stopping = False
        self.ops = MemorySegment(
            SEQUENCE, trust_failover=False, assume_durable=False, flavor=ep.flavor
        )
        self.engine = _new_engine(self.ops, SimIO(self), SEQUENCE, ep.block, SEGMENT_TIMEOUT)
        self.counter: Any = None
        self.state = "opening"
        self.in_flight = False
        self.pause_s = 0.01
        self.deadline = 0
        self.failure: BaseException | None = None
        self.drew_since_heal = False
        world.note(f"{self.name} opens the sequence")
        self._reserve()

    def _reserve(self) -> None:
        """_Engine.reserve_now(): one reservation, retried while the failures are transient
        (one at a time, as the engine's one thread makes them)."""
        if self.in_flight:
            return
        self.in_flight = True
        self.deadline = self.world.now + int(self.engine.timeout * SECOND)
        self.pause_s = 0.01
        self._attempt()

    def _attempt(self) -> None:
        engine = self.engine
        exchange = engine.store.reserve(engine.half)
        self.world.network.send(self, exchange, self._reserved, f"reserve({engine.half})")

    def _reserved(self, ok: bool, value: Any) -> None:
        """reserve_now()'s retries, and _Engine.run()'s handling of what it returns."""
        world, engine = self.world, self.engine
        if not ok and isinstance(value, StoreUnavailableError):
            if engine.closing:
                self.in_flight = False
                return
            if world.now + int(self.pause_s * SECOND) <= self.deadline:
                engine.retries += 1
                world.after(self.pause_s, self._attempt, proc=self)
                self.pause_s = min(self.pause_s * 2, 0.5)
                return
            self.in_flight = False
            if self.counter is None:
                return self._gone(value)
            # StoreTimeoutError: noted, and the thread keeps trying.
            engine.last_error = value
            self.counter._note(value)
            self._reserve()
            return
        self.in_flight = False
        if not ok:
            if self.counter is None:
                return self._gone(value)
            self._fail(value)
            return
        lo, hi = value
        engine.blocks += 1
        if self.counter is None:
            # SegmentCounter.__init__: the first block, then _bind, then the thread.
            counter = CURSOR[0]()
            engine.counter = weakref.ref(counter)
            _bind(counter, engine, SEGMENT_TIMEOUT, SEQUENCE)
            self.counter = counter
            self.state = "open"
            world.note(f"{self.name} opened with [{lo}, {hi})")
            engine.offer(lo, hi)
            world.after(world.rng.random() * world.ep.draw_every * 2, self.draw, proc=self)
            self._feed()
            return
        try:
            engine.offer(lo, hi)
        except SegmentRefusedError as exc:
            world.note(f"{self.name}: [{lo}, {hi}) refused: {exc}")
            self._fail(exc)
            return
        world.note(f"{self.name} got [{lo}, {hi})")
        self._feed()

    def _fail(self, error: BaseException) -> None:
        with self.engine.cond:
            self.engine.error = error
        self.engine._tell(error, fatal=True)
        self.failure = error
        self.state = "failed"
        self.world.note(f"{self.name} stops: {type(error).__name__}: {error}")
        self.world.operator.refused(self, error)

    def _gone(self, error: BaseException) -> None:
        self.state = "gone"
        self.alive = False
        self.world.note(f"{self.name} could not open: {type(error).__name__}: {error}")
        self.world.operator.refused(self, error)

    def _feed(self) -> None:
        """_Engine.run(): reserve whenever the cursor wants a spare."""
        engine = self.engine
        if engine.wanted and not engine.closing and engine.error is None and self.alive:
            self._reserve()

    def draw(self) -> None:
        world, ep = self.world, self.world.ep
        if self.state not in ("open", "failed"):
            return
        counter = self.counter
        nxt, end, has_spare, _ = counter._state()
        values = []
        if nxt < end or has_spare or self.failure is not None:
            burst = world.rng.choice((1, 1, 1, 3, ep.block))
            for _ in range(burst):
                nxt, end, has_spare, _ = counter._state()
                if not (nxt < end or has_spare or self.failure is not None):
                    break
                try:
                    values.append(counter.next())
                except (SegmentRefusedError, StoreTimeoutError, OverflowError, RuntimeError):
                    break
        else:
            # A draw that finds nothing calls need() and waits: the engine reserves.
            world.count("stalls")
            engine = self.engine
            engine.need()
            self._feed()
        if values:
            world.checker.handed_out(self, values, fleet=not ep.own_order_only)
            self.drawn += len(values)
            if world.healing:
                self.drew_since_heal = True
            self._feed()
        world.after(world.rng.expovariate(1 / ep.draw_every), self.draw, proc=self)

    def close(self) -> None:
        if self.state != "open":
            return
        if self.in_flight:  # close() waits (at most 2 s) for the reservation in flight
            self.world.after(0.05, self.close, proc=self)
            return
        self.state = "closed"
        self.world.note(f"{self.name} closes: {self.counter._state()}")
        self.engine.close(self.counter)

    def kill(self) -> None:
        super().kill()
        self.engine.closed = True  # its collection must not give anything back


class Operator:
    """What an operator does after a counter refuses (docs/design.md, Segments: R1, R5; the
    refusals' messages): fixes the settings, creates the sequence again when the store lost it,
    or moves it up (skip_ahead) when the data went back, and starts counters again.

    Where to, and what happens to the counters still running, is the mode:
    - "kill" (the default): the running counters are stopped first (a crash, or kill -9, of the
      fleet), then the sequence goes to the last value handed out + 1. Nothing still running
      holds a block, so that is above everything that can be handed out.
    - "close": the same, but the counters are closed (a graceful restart: close() gives tails
      back, and their give-backs may land after the move).
    - "documented": the counters keep running, and the sequence goes to the last value handed
      out + 1 + block for each process still running, as the refusals' messages said before
      this simulator showed it unsafe (they now say to stop every process first).
    - "naive": the counters keep running, and the sequence goes to the last value handed out
      + 1."""

    mode = "kill"

    def __init__(self, world: World) -> None:
        self.world = world
        self.pending = False

    def refused(self, proc: SegmentProc, error: BaseException) -> None:
        if not self.pending:
            self.pending = True
            self.world.after(0.05 + self.world.rng.random() * 0.5, self.repair)

    def needed(self) -> bool:
        world = self.world
        return (
            self.pending
            or f"atomic_counter:segment:{SEQUENCE}" not in world.server.data
            or any(
                isinstance(p, SegmentProc) and p.alive and p.state in ("failed", "gone")
                for p in world.procs
            )
        )

    def repair(self) -> None:
        world = self.world
        self.pending = False
        server = world.server
        server.configure(**server.startup)
        server.start()
        running = [p for p in world.procs if isinstance(p, SegmentProc) and p.alive]
        if self.mode == "kill":
            for proc in running:
                proc.kill()
        elif self.mode == "close":
            for proc in running:
                proc.close()
                proc.kill()  # and the process exits
        target = world.checker.highest + 1
        if self.mode == "documented":
            target += world.ep.block * len(running)
        ops = MemorySegment(
            SEQUENCE, trust_failover=False, assume_durable=True, flavor=world.ep.flavor
        )
        if drive(ops.create(target), server.perform) is None:
            world.note(f"operator ({self.mode}): creates the sequence at {target}")
        else:
            value = drive(ops.skip(0, target), server.perform)
            world.note(f"operator ({self.mode}): skip_ahead(to={target}) -> {value}")
        live = sum(
            1
            for p in world.procs
            if isinstance(p, SegmentProc) and p.alive and p.state in ("open", "opening")
        )
        for _ in range(max(0, world.ep.procs - live)):
            SegmentProc(world)


# --------------------------------------------------------------------------------------------
# The nemesis: faults at random times, within the episode's assumptions.


class Nemesis:
    """The faults of an episode, at random times. Which ones depends on what the design
    assumes for it (docs/design.md, "The fleet", A3t, R5):
    - leases without trust_store: any way the store can go back;
    - leases with trust_store: only losses A3t says the lease sees (a new incarnation, the
      namespace gone, PostgreSQL rows rewritten), and no rollback in place;
    - segments: everything but R5 (Redis data rolled back in place or by a failover that lost
      writes, a PostgreSQL data directory copied back), which episodes that check only each
      counter's own order add."""

    def __init__(self, world: World) -> None:
        self.world = world
        ep = world.ep
        postgres = ep.flavor == "postgres"
        self.store_faults: list[tuple[str, float]] = [
            ("restart", 2),
            ("crash", 2),
            ("stop", 2),
            ("flush", 1),
            ("delete", 1),
            ("failover", 2),
            ("rollback_new_incarnation", 2),
            ("weaken", 1),
        ]
        if postgres:
            self.store_faults += [("logical_restore", 2), ("edit", 1)]
        if ep.kind == "lease":
            if not ep.trust_store:
                # Outside A3t: the data goes back in place, the incarnation unchanged.
                self.store_faults += [
                    ("rollback_in_place", 3),
                    ("rollback_key", 2),
                    ("forget_claim", 3),
                    ("lapse", 2),
                ]
            if not postgres:
                self.store_faults += [("evict_policy", 1)]
        elif not postgres and not ep.own_order_only:
            # R5: Redis cannot tell a failover that lost writes, or a snapshot restored.
            self.store_faults.remove(("failover", 2))
            self.store_faults.remove(("rollback_new_incarnation", 2))
        elif ep.own_order_only:
            self.store_faults += [("rollback_in_place", 3), ("rollback_key", 2)]
        self.proc_faults: list[tuple[str, float]] = [
            ("pause_short", 4),
            ("pause_long", 2),
            ("kill", 1),
            ("close", 1),
            ("start", 2),
        ]
        if ep.kind == "lease":
            self.proc_faults += [
                ("clock_drift", 3),
                ("clock_back", 1),
                ("clock_forward", 1),
                ("clock_fix", 2),
                ("store_clock", 1),
                ("fork", 1),
                ("ahead_then_leave", 3),
            ]

    def schedule(self) -> None:
        world = self.world
        world.after(world.rng.expovariate(1 / world.ep.fault_every), self.strike)

    def strike(self) -> None:
        world = self.world
        if world.healing:
            return
        rng = world.rng
        faults = self.store_faults if rng.random() < 0.45 else self.proc_faults
        names = [name for name, _ in faults]
        weights = [w for _, w in faults]
        fault = rng.choices(names, weights)[0]
        world.count(fault)
        getattr(self, "do_" + fault)()
        if faults is self.store_faults and rng.random() < 0.5:
            # A process starting (and claiming) just after the store's fault.
            world.after(rng.random() * world.ep.ttl / 2, start_proc, world)
        self.schedule()

    # -- store faults --
    def _key(self) -> str:
        if self.world.ep.kind == "lease":
            return "atomic_counter:{sim}"
        return f"atomic_counter:segment:{SEQUENCE}"

    def do_restart(self) -> None:
        self.world.server.restart()
        self.world.note(f"store restarts (incarnation {self.world.server.incarnation[-6:]})")

    def do_stop(self) -> None:
        world = self.world
        world.server.stop()
        seconds = world.rng.choice((0.05, 0.5, 2.0, 3 * world.ep.ttl))
        world.note(f"store down for {seconds:g} s")
        world.after(seconds, world.server.start)

    def do_flush(self) -> None:
        self.world.server.flush()
        self.world.note("store loses everything")

    def do_delete(self) -> None:
        self.world.server.delete(self._key())
        self.world.note("store loses the key")

    def _older(self) -> int:
        server, rng = self.world.server, self.world.rng
        oldest = server.history[0].number
        back = min(server.version - oldest, int(rng.expovariate(1 / 20)) + 1)
        return server.version - back

    def do_failover(self) -> None:
        lag = int(self.world.rng.expovariate(1 / 5))
        self.world.server.failover(lag=lag)
        self.world.note(f"failover to a replica {lag} writes behind")

    def do_rollback_new_incarnation(self) -> None:
        version = self._older()
        self.world.server.rollback(version, new_incarnation=True)
        self.world.note(f"store restored to version {version}, new incarnation")

    def do_rollback_in_place(self) -> None:
        version = self._older()
        self.world.server.rollback(version, new_incarnation=False)
        self.world.note(f"store rolled back in place to version {version}")

    def do_forget_claim(self) -> None:
        """The data goes back, in place, to just before the last claim: the store forgets who
        holds a node now (a dump from a moment ago loaded into the running server)."""
        if self.world.healing:
            return
        version = max(self.world.last_claim, self.world.server.history[0].number)
        self.world.server.rollback(version, new_incarnation=False)
        self.world.note(f"store rolled back in place to version {version}, before the last claim")

    def do_rollback_key(self) -> None:
        version = self._older()
        self.world.server.rollback(version, new_incarnation=False, keys=[self._key()])
        self.world.note(f"key restored from version {version}")

    def do_evict_policy(self) -> None:
        world = self.world
        world.server.configure(maxmemory_policy="allkeys-lru")
        world.note("store: maxmemory-policy allkeys-lru")
        world.after(
            world.rng.random() * 2 * world.ep.ttl,
            lambda: world.server.configure(maxmemory_policy="noeviction"),
        )

    def do_weaken(self) -> None:
        """A setting changed at run time that lets the store lose or refuse writes, put back
        a while later (unless a restart does first)."""
        world = self.world
        if world.ep.flavor == "redis":
            choices: tuple[dict[str, str], ...] = (
                {"appendfsync": "everysec"},
                {"appendonly": "no"},
                {"maxmemory_policy": "allkeys-lru"},
                {"role": "slave"},
            )
        else:
            choices = ({"fsync": "off"}, {"read_only": "on"})
        setting = world.rng.choice(choices)
        world.server.configure(**setting)
        world.note(f"store settings: {setting}")
        back = {key: world.server.startup[key.replace("_", "-")] for key in setting}
        window = world.rng.random() * 4 * world.ep.ttl
        world.after(window, lambda: world.server.configure(**back))
        if world.rng.random() < 0.5:
            world.after(world.rng.random() * window, self.do_crash)

    def do_crash(self) -> None:
        """The store's machine loses power: what was not persisted yet is lost (the last writes,
        if a setting let them wait), then it starts again."""
        if self.world.healing:
            return
        world = self.world
        lost = world.rng.choice((0, 1, 3, 20))
        world.server.crash(lost)
        world.note(f"store crashes, up to {lost} unpersisted writes lost")

    def do_logical_restore(self) -> None:
        """PostgreSQL: the tables dumped earlier are restored (pg_restore, COPY)."""
        version = self._older()
        self.world.server.rollback(
            version, new_incarnation=False, keys=[self._key()], rewritten=True
        )
        self.world.note(f"logical restore of the rows as of version {version}")

    def do_edit(self) -> None:
        """PostgreSQL: an UPDATE by hand that leaves the values as they were."""
        self.world.server.edit(self._key())
        self.world.note("rows updated by hand")

    # -- process faults --
    def _pick(self) -> Any:
        world = self.world
        live = [p for p in world.procs if p.alive and p.state not in ("gone", "closed")]
        return world.rng.choice(live) if live else None

    def do_pause_short(self) -> None:
        proc = self._pick()
        if proc is not None:
            proc.pause(self.world.rng.random() * self.world.ep.ttl / 2)

    def do_pause_long(self) -> None:
        proc = self._pick()
        if proc is not None:
            proc.pause(self.world.ep.ttl * (0.5 + self.world.rng.random() * 3))

    def do_kill(self) -> None:
        proc = self._pick()
        if proc is not None:
            proc.kill()

    def do_close(self) -> None:
        proc = self._pick()
        if proc is not None:
            proc.close()

    def do_start(self) -> None:
        world = self.world
        live = sum(
            1 for p in world.procs if p.alive and p.state not in ("gone", "closed", "forked")
        )
        if live < world.ep.procs + 1:
            start_proc(world)

    def do_fork(self) -> None:
        proc = self._pick()
        if isinstance(proc, LeaseProc):
            proc.fork()

    def _clock_proc(self) -> Any:
        proc = self._pick()
        return proc if isinstance(proc, LeaseProc) and proc.state != "forked" else None

    def do_clock_drift(self) -> None:
        proc = self._clock_proc()
        if proc is not None:
            half = int(self.world.ep.max_skew * SECOND / 2)
            proc.clock.wall_offset = self.world.rng.randint(-half, half)
            self.world.note(f"{proc.name}'s clock now {proc.clock.wall_offset / SECOND:+.3f} s off")

    def do_clock_back(self) -> None:
        proc = self._clock_proc()
        if proc is not None:
            step = self.world.rng.choice((0.01, 0.3, 2.0, 60.0)) * SECOND
            proc.clock.wall_offset -= int(step)
            self.world.note(f"{proc.name}'s clock steps back {step / SECOND:g} s")

    def do_clock_forward(self) -> None:
        proc = self._clock_proc()
        if proc is not None:
            step = self.world.rng.choice((0.01, 0.3, 2.0, 60.0)) * SECOND
            proc.clock.wall_offset += int(step)
            self.world.note(f"{proc.name}'s clock steps forward {step / SECOND:g} s")

    def do_ahead_then_leave(self) -> None:
        """A holder's clock moves to the far edge of A1 (max_skew / 2 ahead of true time, a
        step of up to max_skew) and another's to the other edge; within a ttl the first dies
        without a word to the store, or closes: its last ids are as far ahead of the next
        holder's clock as the rules let them be."""
        proc = self._clock_proc()
        if proc is not None:
            world = self.world
            half = int(world.ep.max_skew * SECOND / 2)
            proc.clock.wall_offset = half
            world.note(f"{proc.name}'s clock now {half / SECOND:+.3f} s off")
            other = self._clock_proc()
            if other is not None and other is not proc:
                other.clock.wall_offset = -half
                world.note(f"{other.name}'s clock now {-half / SECOND:+.3f} s off")
            leave = proc.kill if world.rng.random() < 0.5 else proc.close
            world.after(world.rng.random() * world.ep.ttl, leave, proc=proc)

    def do_lapse(self) -> None:
        """A holder is paused past its ttl and the wait another claimant of its node makes;
        just before it runs again, the store goes back to before the last claim, which names
        the paused holder the node's owner again (D4's case)."""
        proc = self._clock_proc()
        if proc is not None:
            world, ep = self.world, self.world.ep
            seconds = ep.ttl * world.rng.uniform(2.0, 3.5) + ep.max_skew + ep.max_lead
            proc.pause(seconds)
            # A process starts, and may claim the paused one's node once it expires.
            world.after(ep.ttl * world.rng.uniform(1.0, 1.3), start_proc, world)
            world.after(seconds - world.rng.random() * ep.ttl / 4, self._back_to, proc)

    def _back_to(self, proc: LeaseProc) -> None:
        """The data goes back, in place, to the last version in which `proc` held its node."""
        world, lease = self.world, proc.lease
        if world.healing or not proc.alive:
            return
        key = self._key()
        for kept in reversed(world.server.history):
            ns = kept.data.get(key)
            if ns is not None and ns["nodes"].get(lease.node, (None,))[0] == lease._token:
                if kept.number < world.server.version:
                    world.server.rollback(kept.number, new_incarnation=False)
                    world.note(
                        f"store rolled back in place to version {kept.number}, when "
                        f"{proc.name} last held node {lease.node}"
                    )
                return

    def do_clock_fix(self) -> None:
        proc = self._clock_proc()
        if proc is not None:
            proc.clock.wall_offset = 0
            self.world.note(f"{proc.name}'s clock set right")

    def do_store_clock(self) -> None:
        world = self.world
        half = int(world.ep.max_skew * SECOND / 2)
        world.store_skew = world.rng.randint(-half, half)
        world.note(f"store clock now {world.store_skew / SECOND:+.3f} s off")


def start_proc(world: World) -> Proc:
    if world.ep.kind == "lease":
        return LeaseProc(world)
    return SegmentProc(world)


# --------------------------------------------------------------------------------------------
# Mutations: one safety check taken out, in the simulation's copy of the protocol only.


@contextlib.contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    old = target.__dict__[name]
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, old)


def _without_wait(lapsed: bool) -> contextlib.AbstractContextManager[None]:
    """The wait out of holders the store may have forgotten, taken out of claims (C1) or of
    lapsed holders (D4, _lease_protocol.py's _requalify, whose reason is a str): neither the hold
    for the longest ttl + max_skew nor the floor B; only the confirmation (so that later claims see
    the namespace whole) and the node's mark stay."""
    original = lease_protocol._LeaseBase._sit_out

    def sit_out(self: Any, node: int, suspicion: Any, received_mono: int, received: int) -> Any:
        if isinstance(suspicion, str) != lapsed:
            return (yield from original(self, node, suspicion, received_mono, received))
        reply = yield self._store.confirm(Confirm(self._token, node, self._run_id, 0))
        if not isinstance(reply, Confirmed):
            raise lease_protocol._Again
        self._seen_gen = reply.gen
        return 0

    return _patched(lease_protocol._LeaseBase, "_sit_out", sit_out)


def _mutate_c1() -> contextlib.AbstractContextManager[None]:
    """C1: a claim does not wait out forgotten holders."""
    return _without_wait(lapsed=False)


def _mutate_d4() -> contextlib.AbstractContextManager[None]:
    """D4: a holder whose deadline passed draws again after one renewal."""
    return _without_wait(lapsed=True)


def _mutate_hwm() -> contextlib.AbstractContextManager[None]:
    """The node's high-water mark: a claimant does not start above it."""
    original = MemoryServer.op_claim

    def op_claim(self: MemoryServer, key: str, request: Any) -> Any:
        reply = original(self, key, request)
        if isinstance(reply, Claimed):
            reply = dataclasses.replace(reply, hwm=0)
        return reply

    return _patched(MemoryServer, "op_claim", op_claim)


def _mutate_mark_limit() -> contextlib.AbstractContextManager[None]:
    """D2: the counter draws past the mark its renewal recorded."""
    original = ModelSnowflake.__init__

    def init(self: ModelSnowflake, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.limit_ignored = True

    return _patched(ModelSnowflake, "__init__", init)


def _mutate_incarnation() -> contextlib.AbstractContextManager[None]:
    """The store's incarnation: restarts, failovers and restores look like nothing happened."""
    original = MemoryServer.__init__

    def init(self: MemoryServer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.see_incarnation = False

    return _patched(MemoryServer, "__init__", init)


@contextlib.contextmanager
def _mutate_range() -> Iterator[None]:
    """R2: the C half accepts a block below the last it accepted (the modelled C half, since
    the extension's check is compiled in)."""
    CURSOR[0] = ModelCursor
    ModelCursor.check_ranges = False
    try:
        yield
    finally:
        CURSOR[0] = _real_cursor
        ModelCursor.check_ranges = True


def _mutate_stamps() -> contextlib.AbstractContextManager[None]:
    """PostgreSQL's stamps (R3, REWRITTEN): rows restored or edited by something else look as
    if this package wrote them."""
    return _patched(memory_module, "_rewritten", lambda value: value)


def _mutate_create() -> contextlib.AbstractContextManager[None]:
    """R1: a reservation on a missing sequence creates it at 1 (as before issue 20)."""
    original = MemoryServer.op_reserve

    def op_reserve(self: MemoryServer, key: str, *args: Any) -> Any:
        if key not in self.data:
            self.data = {**self.data, key: (1, self.incarnation, True)}
        return original(self, key, *args)

    return _patched(MemoryServer, "op_reserve", op_reserve)


def _mutate_durability() -> contextlib.AbstractContextManager[None]:
    """R4: reservations do not check that the store keeps them (Redis: appendonly,
    appendfsync; PostgreSQL: fsync, read-only)."""
    original = MemoryServer.op_reserve

    def op_reserve(self: MemoryServer, key: str, n: int, check: bool, trust: bool) -> Any:
        return original(self, key, n, False, trust)

    def op_begin(self: MemoryServer, durable_commits: bool) -> Any:
        return None

    stack = contextlib.ExitStack()
    stack.enter_context(_patched(MemoryServer, "op_reserve", op_reserve))
    stack.enter_context(_patched(MemoryServer, "op_begin", op_begin))
    return stack


# The issue's four first (the post-loss wait, the high-water mark, the incarnation, the range
# check), then the other checks of design.md.
MUTATIONS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "c1": _mutate_c1,
    "d4": _mutate_d4,
    "hwm": _mutate_hwm,
    "incarnation": _mutate_incarnation,
    "range": _mutate_range,
    "mark_limit": _mutate_mark_limit,
    "stamps": _mutate_stamps,
    "create": _mutate_create,
    "durability": _mutate_durability,
}


# --------------------------------------------------------------------------------------------
# Episodes.


@dataclasses.dataclass
class Result:
    ep: Episode
    steps: int
    sim_seconds: float
    drawn: int
    violation: str | None = None
    trace: list[str] = dataclasses.field(default_factory=list)
    stats: dict[str, int] = dataclasses.field(default_factory=dict)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The lease's log lines cost time and say nothing the trace does not."""
    logger = logging.getLogger("atomic_counter.lease")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


# The faults of an episode stop after its duration or this many steps, whichever comes first,
# so that an episode of fast draws does not take a run's whole budget.
EPISODE_STEPS = 30_000


def heal_bound(ep: Episode) -> float:
    """How long after the faults stop every live lease must be drawing again: a node left by a
    dead holder expires within a ttl; a claim then waits W + L/2 = longest ttl + max_skew +
    max_lead / 2 (docs/design.md, "What the claims cost"), and renewals run every ttl/4; plus
    a second for retries and round trips."""
    return 2 * ep.ttl + ep.max_skew + ep.max_lead + 1.0


def run_script(
    ep: Episode,
    actions: list[tuple[float, Callable[[World], Any]]],
    until: float,
    *,
    trace_all: bool = False,
) -> tuple[World, str | None]:
    """A scenario instead of random faults: `actions` run at their times (seconds into the
    episode) on a world whose network delivers everything; the checker watches as always.
    Returns the world and the violation, if any. For tests that pin a sequence of events the
    random search found."""
    violation = None
    with quiet():
        world = World(ep, trace_all=trace_all)
        world.network = Network(world)  # type: ignore[attr-defined]
        world.network.healthy = True  # type: ignore[attr-defined]
        world.operator = Operator(world)  # type: ignore[attr-defined]
        for when, action in actions:
            world.at(world.start + int(when * SECOND), action, world)
        try:
            world.run_until(world.start + int(until * SECOND), 10**9)
        except Violation as exc:
            violation = str(exc)
        finally:
            _retire(world)
    return world, violation


def _retire(world: World) -> None:
    """Nothing may reach a SegmentCounter's engine after its episode: the C half calls the
    engine's collected() when it is freed, unless it was closed (which would start a give-back
    thread, maybe as the interpreter exits)."""
    for proc in world.procs:
        if isinstance(proc, SegmentProc):
            proc.engine.closed = True
            if proc.counter is not None:
                proc.counter._close()


def run_episode(
    ep: Episode, *, max_steps: int = 10**9, trace_all: bool = False, mutation: str | None = None
) -> Result:
    patch = MUTATIONS[mutation]() if mutation else contextlib.nullcontext()
    violation = None
    with quiet(), patch:
        world = World(ep, trace_all=trace_all)
        world.network = Network(world)  # type: ignore[attr-defined]
        world.operator = Operator(world)  # type: ignore[attr-defined]
        try:
            if ep.kind == "segment":
                ops = MemorySegment(
                    SEQUENCE, trust_failover=False, assume_durable=True, flavor=ep.flavor
                )
                drive(ops.create(1), world.server.perform)  # SegmentCounter.create()
            for _ in range(ep.procs):
                start_proc(world)
            nemesis = Nemesis(world)
            nemesis.schedule()
            end = world.start + int(ep.duration * SECOND)
            world.run_until(end, min(max_steps, EPISODE_STEPS))
            if world.steps < max_steps:
                heal(world)
                # A pause under way goes on (its process's events are due when it ends).
                resumed = max([world.now] + [p.paused_until for p in world.procs if p.alive])
                check_end = resumed + int(heal_bound(ep) * SECOND)
                world.run_until(check_end, max_steps)
                if world.steps < max_steps:
                    world.now = check_end
                    check_healed(world)
        except Violation as exc:
            violation = str(exc)
        finally:
            _retire(world)
    trace = compress_trace(world.trace, world.start, keep=10**9 if trace_all else 50)
    return Result(
        ep, world.steps, world.elapsed(), world.checker.drawn, violation, trace, world.stats
    )


def compress_trace(entries: Any, start: int, keep: int) -> list[str]:
    """The trace as lines, the last `keep` of them, with repeats (a poller's claims) folded."""
    lines: list[str] = []
    recent: deque[str] = deque(maxlen=4)
    folded = 0
    for t, text in entries:
        if text in recent:
            folded += 1
            continue
        if folded:
            lines.append(f"{'':12}  ... {folded} more like the lines above")
            folded = 0
        recent.append(text)
        lines.append(f"t={(t - start) / SECOND:10.6f}  {text}")
    if folded:
        lines.append(f"{'':12}  ... {folded} more like the lines above")
    return lines[-keep:]


def heal(world: World) -> None:
    """The faults stop: the store is up with its settings right, the network delivers, clocks
    are set right, paused processes run."""
    world.healing = True
    world.network.healthy = True  # type: ignore[attr-defined]
    server = world.server
    server.start()
    server.configure(**server.startup)
    world.store_skew = 0
    for proc in world.procs:
        if isinstance(proc, LeaseProc) and proc.state != "forked":
            proc.clock.wall_offset = 0
    world.note("heal: faults stop")
    if world.ep.kind == "segment" and world.operator.needed():  # type: ignore[attr-defined]
        world.operator.repair()  # type: ignore[attr-defined]


def check_healed(world: World) -> None:
    """Waits bounded: every live holder draws again within heal_bound() of the faults
    stopping, as many as there are nodes; every open counter has drawn since."""
    ep = world.ep
    if ep.kind == "lease":
        live = [
            p for p in world.procs if isinstance(p, LeaseProc) and p.alive and p.state == "holding"
        ]
        valid = [p for p in live if p.lease.valid]
        world.stats["holders drawing after the heal"] = len(valid)
        if len(valid) < min(len(live), ep.max_nodes):
            stuck = ", ".join(f"{p.name}: {p.lease!r}" for p in live if not p.lease.valid)
            raise Violation(
                f"{heal_bound(ep):g} s after the faults stopped, {len(valid)} of {len(live)} "
                f"live holders may draw ({ep.max_nodes} nodes): {stuck}"
            )
    else:
        stuck = [
            p.name
            for p in world.procs
            if isinstance(p, SegmentProc)
            and p.alive
            and p.state == "open"
            and not p.drew_since_heal
        ]
        if stuck:
            raise Violation(f"counters that drew nothing after the faults stopped: {stuck}")
        world.stats["counters drawing after the heal"] = sum(
            1 for p in world.procs if isinstance(p, SegmentProc) and p.drew_since_heal
        )


# --------------------------------------------------------------------------------------------
# Runs.


def run_many(
    first_seed: int,
    *,
    max_steps: int | None = None,
    seconds: float | None = None,
    kind: str | None = None,
    trust: bool | None = None,
    mutation: str | None = None,
    stop_at_first: bool = True,
    out: Any = sys.stdout,
) -> tuple[int, int, list[Result]]:
    """Episodes from first_seed on until max_steps steps or seconds of real time; returns
    (episodes, steps, failures)."""
    started = time.monotonic()
    steps = episodes = 0
    failures: list[Result] = []
    sim_seconds = 0.0
    for seed in itertools.count(first_seed):
        if max_steps is not None and steps >= max_steps:
            break
        if seconds is not None and time.monotonic() - started >= seconds:
            break
        ep = Episode.draw(seed, kind, trust)
        left = None if max_steps is None else max_steps - steps
        result = run_episode(ep, mutation=mutation, max_steps=left or 10**9)
        steps += result.steps
        sim_seconds += result.sim_seconds
        episodes += 1
        if result.violation:
            failures.append(result)
            report(result, out, sim_before=sim_seconds - result.sim_seconds)
            if stop_at_first:
                break
    took = time.monotonic() - started
    print(
        f"{episodes} episodes, {steps} steps ({steps / max(took, 1e-9):,.0f} a second), "
        f"{sim_seconds:,.0f} simulated seconds in {took:.1f} s: "
        f"{len(failures)} failure(s)" + (f" [mutation {mutation}]" if mutation else ""),
        file=out,
    )
    return episodes, steps, failures


def report(result: Result, out: Any, sim_before: float = 0.0) -> None:
    print(f"FAILED: {result.ep.describe()}", file=out)
    print(f"  {result.violation}", file=out)
    print(
        f"  after {result.steps} steps, {result.sim_seconds:.3f} simulated seconds into the "
        f"episode ({sim_before + result.sim_seconds:.1f} s into the run)",
        file=out,
    )
    print("  the last steps:", file=out)
    for line in result.trace:
        print(f"    {line}", file=out)
    print(f"  replay: python {Path(__file__).name} --seed {result.ep.seed} --trace", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="run (replay) this episode only")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--kind", choices=("lease", "segment"), default=None)
    parser.add_argument(
        "--trust",
        choices=("yes", "no"),
        default=None,
        help="leases: only trust_store=True episodes (faults within A3t), or only without",
    )
    parser.add_argument("--mutation", choices=sorted(MUTATIONS), default=None)
    parser.add_argument("--trace", action="store_true", help="with --seed: every step")
    parser.add_argument(
        "--operator",
        choices=("kill", "close", "documented", "naive"),
        default="kill",
        help="segments: what the operator does to running counters before moving the sequence",
    )
    parser.add_argument("--keep-going", action="store_true", help="do not stop at a failure")
    args = parser.parse_args(argv)
    trust = None if args.trust is None else args.trust == "yes"
    Operator.mode = args.operator
    if args.seed is not None:
        ep = Episode.draw(args.seed, args.kind, trust)
        print(ep.describe())
        result = run_episode(ep, trace_all=args.trace, mutation=args.mutation)
        if result.violation:
            report(result, sys.stdout)
            return 1
        if args.trace:
            for line in result.trace:
                print(line)
        print(
            f"ok: {result.steps} steps, {result.sim_seconds:.1f} simulated s, {result.drawn} values"
        )
        print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(result.stats.items())))
        return 0
    if args.steps is None and args.seconds is None:
        args.steps = 1_000_000
    _, _, failures = run_many(
        args.first_seed,
        max_steps=args.steps,
        seconds=args.seconds,
        kind=args.kind,
        trust=trust,
        mutation=args.mutation,
        stop_at_first=not args.keep_going,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

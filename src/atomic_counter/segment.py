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
import os
import threading
import time
import weakref
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any

from . import stores
from ._checks import check_int, check_name, check_seconds
from ._core import _SegmentCounter
from .errors import SegmentRefusedError, StoreTimeoutError, StoreUnavailableError

__all__ = ["SegmentCounter", "SegmentRefusedError"]

_MAX_VALUE = 2**63 - 1  # a PostgreSQL bigint, a Redis integer
_MAX_BLOCK = 2**40
_MAX_NAME = 200
_CLOSE_WAIT = 2.0  # seconds close() waits for a reservation in flight


def _check_int(value: Any, arg: str, low: int, high: int, func: str = "SegmentCounter()") -> int:
    return check_int(func, arg, value, low, high)


def _check_name(name: Any, func: str) -> None:
    check_name(func, "name", name, _MAX_NAME)


def _check_timeout(timeout: Any, func: str) -> float:
    return check_seconds(func, "timeout", timeout, 0.0, 3600.0, above_low=True)


# --------------------------------------------------------------------------------------------
# The engine: the thread that feeds a counter's cursor, and what they share. It holds the
# counter weakly, so that a counter nobody uses is collected (and closed) while the thread runs.


class _Engine:
    def __init__(self, store: Any, io: Any, name: str, block: int, timeout: float) -> None:
        self.store = store
        self.io = io
        self.name = name
        self.block = block
        self.half = block // 2
        self.timeout = timeout
        self.counter: weakref.ref[SegmentCounter] | None = None
        self.cond = threading.Condition()
        self.wanted = False  # the cursor wants a spare
        self.closing = False
        self.closed = False
        self.forked = False
        self.pid = os.getpid()  # a fork the hooks did not see (libc's, through ctypes) shows here
        self.error: BaseException | None = None  # what stops the counter for good
        self.last_error: BaseException | None = None  # the last failure worth retrying
        self.blocks = 0
        self.retries = 0
        self.unoffered: list[tuple[int, int]] = []  # reserved after close: given back
        self.thread: threading.Thread | None = None

    def need(self) -> None:
        """Called by the C half: the cursor wants a spare (or a draw waits for a block)."""
        with self.cond:
            self.wanted = True
            self.cond.notify_all()

    def reserve_now(self) -> tuple[int, int]:
        """One reservation, retried while the failures are transient, for up to timeout."""
        deadline = time.monotonic() + self.timeout
        pause = 0.01
        while True:
            try:
                lo, hi = self.io.run(self.store.reserve(self.half))
            except Exception as exc:
                if self.closing and self.thread is threading.current_thread():
                    raise StoreTimeoutError("closed while reserving") from exc
                transient = isinstance(exc, StoreUnavailableError)
                if transient and time.monotonic() + pause <= deadline:
                    with self.cond:
                        self.last_error = exc.__cause__ or exc
                        self.retries += 1
                    time.sleep(pause)
                    pause = min(pause * 2, 0.5)
                    continue
                if transient:
                    raise StoreTimeoutError(
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
            counter = self._counter()
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
                self.offer(lo, hi)  # the C half refuses a block below its last (R2)
            except StoreTimeoutError as exc:
                # Keep trying: a draw that waits names the last error when it gives up.
                with self.cond:
                    self.last_error = exc.__cause__ or exc
                self._tell(self.last_error, fatal=False)
                continue
            except BaseException as exc:
                with self.cond:
                    self.error = exc
                self._tell(exc, fatal=True)
                return

    def _counter(self) -> SegmentCounter | None:
        return self.counter() if self.counter is not None else None

    def _tell(self, error: BaseException, *, fatal: bool) -> None:
        """Hands the C half a failure: fatal (draws raise it) or the last retried one. A
        method of its own, so that the loop holds no reference to the counter while it waits."""
        counter = self._counter()
        if counter is not None:
            if fatal:
                counter._fail(error)
            else:
                counter._note(error)

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
        if os.getpid() != self.pid:
            self.forked = True
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
            self.io.close()  # the store is not answering: the tail stays a gap
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
                    self.io.run(self.store.give_back(*tail))
            self.io.close()

        # In a thread of its own, waited for a bounded time: a store that stopped answering
        # must not hold up close() or the interpreter's exit (the tail then stays a gap).
        try:
            worker = threading.Thread(target=give_back, name="atomic_counter give-back")
            worker.daemon = True
            worker.start()
        except RuntimeError:  # no new threads at interpreter shutdown
            return
        worker.join(_CLOSE_WAIT)


# Counters alive in this process: closed at exit (giving their tails back), marked in a fork
# child (whose copies hold the parent's blocks; the feeding thread did not survive the fork).
# (Kept across importlib.reload(), as its hooks are registered once.)
_LIVE: weakref.WeakSet[SegmentCounter] = globals().get("_LIVE") or weakref.WeakSet()


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


if not globals().get("_HOOKED"):
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _after_fork_in_child())
    atexit.register(lambda: _close_all_at_exit())
    _HOOKED = True


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
    value at hand raises StoreTimeoutError (a TimeoutError and a ConnectionError) after it.

    ``trust_failover=True`` accepts a PostgreSQL standby promoted on a new timeline (only when
    every commit reaches it: synchronous replication); ``assume_durable=True`` skips the check
    of a Redis server's persistence settings (for a server that hides them).
    """

    if TYPE_CHECKING:
        # The interface with the C half (bindings/segment.cpp lists the same). The C type
        # defines these; the engine calls them from its thread, and the C half calls back only
        # the two callables handed to _bind (need, collected), never a method by name.
        _engine: _Engine | None  # set by _bind

        def next(self) -> int:
            """Return the next value: unique across every process that uses the sequence,
            larger than every value this counter handed out before."""

        def __iter__(self) -> SegmentCounter: ...
        def __next__(self) -> int: ...
        def _bind(
            self,
            engine: _Engine,
            need: Callable[[], None],
            collected: Callable[[int, int, int, int], None],
            timeout: float,
            timeout_error: type[BaseException],
            timeout_message: str,
            refused_error: type[BaseException],
            prefix: str,
            /,
        ) -> None: ...
        def _offer(self, next: int, end: int, /) -> bool: ...
        def _fail(self, error: BaseException, /) -> None: ...
        def _note(self, error: BaseException | None, /) -> None: ...
        def _close(self) -> tuple[int, int, int, int]: ...
        def _state(self) -> tuple[int, int, bool, int]: ...
        def _poll(self) -> int | None: ...

    def __init__(
        self,
        store: Any,
        name: str,
        block: int = 1000,
        *,
        timeout: float = 30.0,
        trust_failover: bool = False,
        assume_durable: bool = False,
    ) -> None:
        if self._engine is not None:
            raise RuntimeError("SegmentCounter.__init__() called twice")
        _check_name(name, "SegmentCounter()")
        block = _check_int(block, "block", 2, _MAX_BLOCK)
        timeout = _check_timeout(timeout, "SegmentCounter()")
        ops, io = stores.for_segments(
            store,
            name,
            timeout=timeout,
            trust_failover=trust_failover,
            assume_durable=assume_durable,
        )
        engine = _Engine(ops, io, name, block, timeout)
        try:
            lo, hi = engine.reserve_now()  # the first block here, so that errors show here
        except BaseException:
            io.close()
            raise
        engine.counter = weakref.ref(self)
        self._bind(
            engine,
            engine.need,
            engine.collected,
            timeout,
            StoreTimeoutError,
            f"SegmentCounter {name!r}: no block from {ops.name} within {timeout:g} s",
            SegmentRefusedError,
            f"SegmentCounter {name!r}",
        )
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

    async def anext(self) -> int:
        """next() for asyncio: a value at hand is returned at once; with none (a block is being
        reserved, the store is slow or down), the wait happens in a worker thread, so the event
        loop keeps running. Raises what next() raises."""
        value = self._poll()
        if value is not None:
            return value
        import asyncio

        return await asyncio.to_thread(self.next)

    def __aiter__(self) -> SegmentCounter:
        return self

    async def __anext__(self) -> int:
        return await self.anext()

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
    def create(store: Any, name: str, *, start: int = 1, timeout: float = 30.0) -> None:
        """Creates the sequence `name`, whose first value is `start`: once, as CREATE SEQUENCE
        would (in a migration or a setup script). Counters never create a sequence, so one the
        store lost (FLUSHALL, DEL, eviction, a restore from before it existed) is refused, not
        restarted; after such a loss create it again above the last value handed out. Raises
        ValueError when the sequence exists."""
        _check_name(name, "SegmentCounter.create()")
        start = _check_int(start, "start", 0, _MAX_VALUE - _MAX_BLOCK, "SegmentCounter.create()")
        timeout = _check_timeout(timeout, "SegmentCounter.create()")
        ops, io = stores.for_segments(
            store, name, timeout=timeout, trust_failover=False, assume_durable=True
        )
        try:
            existing = io.run(ops.create(start))
        finally:
            io.close()
        if existing is not None:
            raise ValueError(
                f"SegmentCounter.create(): a sequence named {name!r} exists (next value "
                f"{existing}); to move it up use SegmentCounter.skip_ahead()"
            )

    @staticmethod
    def skip_ahead(
        store: Any,
        name: str,
        by: int | None = None,
        *,
        to: int | None = None,
        timeout: float = 30.0,
    ) -> int:
        """Moves the sequence `name` up: by `by` values, and/or to at least `to`, and accepts
        the store's present incarnation and rows. Use it after a refusal for data that went
        back (a failover, a restore), with `to` above everything reserved: the sequence's value
        at the moment of the event, or, once every process using it has stopped, the last value
        handed out + 1. Returns the next value a reservation will start at."""
        func = "SegmentCounter.skip_ahead()"
        _check_name(name, func)
        if by is None and to is None:
            raise TypeError(
                f"{func} needs 'by' or 'to': accepting the store as it is without moving the "
                f"sequence would hand out again what it may have lost"
            )
        # by=0 alone would accept the store without moving the sequence, as no argument would.
        by = 0 if by is None else _check_int(by, "by", 0 if to is not None else 1, _MAX_VALUE, func)
        to = 0 if to is None else _check_int(to, "to", 0, _MAX_VALUE, func)
        timeout = _check_timeout(timeout, func)
        ops, io = stores.for_segments(
            store, name, timeout=timeout, trust_failover=False, assume_durable=True
        )
        try:
            return io.run(ops.skip(by, to))
        finally:
            io.close()


def _adopt(methods: type) -> type:
    """SegmentCounter is the C type (bindings/segment.cpp says why: a C method is fastest
    called on its own type); the class above gives it its Python methods (everything but next
    and the underscored interface), docstring and name."""
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

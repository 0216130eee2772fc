"""Type stubs for atomic_counter._core, the C++ extension. Import from atomic_counter."""

from datetime import datetime, timedelta
from os import PathLike
from types import TracebackType
from typing import Any, Final, TypeVar, final, overload

from typing_extensions import Buffer, Self

from .layout import Layout

__version__: Final[str]
_BASE: Final[int]

_BufferT = TypeVar("_BufferT", bound=Buffer)

def _decode_many(
    ids: Any,
    times: Buffer,
    nodes: Buffer,
    sequences: Buffer,
    epoch_ns: int,
    tick_ns: int,
    time_bits: int,
    node_bits: int,
    sequence_bits: int,
    positive_int64: bool,
    /,
) -> Any: ...

class LeaseExpiredError(RuntimeError):
    """A SnowflakeCounter governed by a node lease refused to hand out an id: the lease could
    not be confirmed before it could have expired (another process may hold the node now),
    or its ids reached the high-water mark recorded for the node's next holder.
    """

def format_id(value: int, form: str = "base32") -> str:
    """Return the id as a string: 'base32' (13 characters of Crockford's alphabet),
    'base62' (11 characters) or 'hex' (16 lowercase digits), fixed-width forms that
    sort as text like the numbers they hold, or 'decimal' (the plain number, as in
    Twitter's id_str; it sorts as text only among ids of one length). value is an
    int in [0, 2**64 - 1]; parse_id() reads it back.
    """

def parse_id(text: str, form: str = "base32") -> int:
    """Return the id a string of format_id() holds. base32 also reads lowercase and
    Crockford's aliases (I and L as 1, O as 0); hex reads uppercase. A wrong length, a
    character outside the form, or a value above 2**64 - 1 raises ValueError.
    """

def to_datetime(value: int) -> datetime:
    """Return the time encoded in a TimeCounter id as an aware UTC datetime, exact to
    the microsecond. value is an int in [0, 2**64 - 1].
    """

def get_timedelta(later: int, earlier: int) -> timedelta:
    """Return the time from earlier's timestamp to later's as a timedelta (negative when
    earlier is the later id). Both are TimeCounter ids, ints in [0, 2**64 - 1].
    """

@final
class Counter:
    """A lock-free counter that starts at now - base and adds interval on every next().

    base and now are nanoseconds since the Unix epoch; base defaults to _BASE
    (2020-01-01T05:00:00Z, the original atomic-counter's), now to the current UTC time, and
    interval to 1. Each is an int in [0, 2**64 - 1]; now must be >= base and interval >= 1.
    A counter created later starts higher, so ids continue above a previous run's as long as
    that run drew no faster than one interval per nanosecond. Iterating a Counter draws
    values with next().
    """

    def __new__(
        cls, base: int | None = None, now: int | None = None, interval: int | None = None
    ) -> Self: ...
    def next(self) -> int:
        """Add the interval to the counter and return the new value.

        Safe to call from any number of threads: every caller gets a distinct value
        and each caller's values strictly increase. Raises OverflowError, keeping the
        value, once the value has passed limit (never wrapping past 2**64 - 1).
        """
    @overload
    def next_many(self, n: int, out: None = None) -> memoryview:
        """Draw n values at once: exactly what n calls of next() would return, in order.

        Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a
        copy. With out, writes them into that buffer instead and returns it: a writable,
        C-contiguous buffer of n uint64 items or 8 * n bytes (a numpy.uint64 array,
        array.array('Q'), bytearray, memoryview); TypeError or ValueError, drawing
        nothing, for any other. One atomic step reserves the whole block, so values drawn
        concurrently by other threads never fall inside it. n is an int in
        [0, 2**60 - 1]; raises OverflowError, drawing nothing, if the last value would
        pass limit + interval, and MemoryError naming n when no buffer that large can be
        had.
        """
    @overload
    def next_many(self, n: int, out: _BufferT) -> _BufferT:
        """Draw n values at once: exactly what n calls of next() would return, in order.

        Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a
        copy. With out, writes them into that buffer instead and returns it: a writable,
        C-contiguous buffer of n uint64 items or 8 * n bytes (a numpy.uint64 array,
        array.array('Q'), bytearray, memoryview); TypeError or ValueError, drawing
        nothing, for any other. One atomic step reserves the whole block, so values drawn
        concurrently by other threads never fall inside it. n is an int in
        [0, 2**60 - 1]; raises OverflowError, drawing nothing, if the last value would
        pass limit + interval, and MemoryError naming n when no buffer that large can be
        had.
        """
    def current(self) -> int:
        """Return the last value handed out (the start value before the first next())."""
    def set(self, val: int) -> None:
        """Set the counter to val, an int in [0, limit]; the next value is val + interval.

        A store: setting a lower value lets the counter hand out values again, so use it
        only to restore a known position. To skip ahead without ever going back, use
        advance_to().
        """
    def advance_to(self, value: int) -> None:
        """Raise the counter to value (an int in [0, limit]) unless it is already there or
        beyond: an atomic maximum, so the next value is above value and the counter never
        moves backwards, whatever other threads draw meanwhile.
        """
    @property
    def base(self) -> int:
        """The base, in ns since the Unix epoch."""
    @property
    def interval(self) -> int:
        """The step added by every next()."""
    @property
    def limit(self) -> int:
        """The largest value a draw may start from: 2**64 - 1 - 2**32 * interval (headroom that lets
        a draw be one atomic add), or 2**64 - 1 - interval for intervals above 2**31. Past it,
        next() raises OverflowError.
        """
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

@final
class TimeCounter:
    """Lock-free ids that are their own timestamps: (microseconds since the Unix epoch, low 52
    bits) << 12 | a 12-bit sequence, the original atomic-counter's layout.

    Ids strictly increase for every caller, across threads, when the wall clock steps back,
    and past 4096 ids in one microsecond (borrowing from the next microsecond instead of
    failing; lead_us() reports how far ahead of the clock that put the counter). Decode with
    to_datetime(), decode_timestamp_microseconds() and get_timedelta(). Iterating a
    TimeCounter draws ids with next().
    """

    def __new__(cls) -> Self: ...
    def next(self) -> int:
        """Return the next id: (microseconds since the Unix epoch << 12) | sequence.

        The sequence is 0 in a microsecond later than the last id's; otherwise the id is
        the last one + 1, so ids strictly increase even when the clock steps back or more
        than 4096 ids are drawn in one microsecond (they then borrow from the following
        microseconds: see lead_us()). Safe to call from any number of threads.
        """
    @overload
    def next_many(self, n: int, out: None = None) -> memoryview:
        """Draw n consecutive ids at once: the first is what next() would return, the rest
        follow it by 1, borrowing from later microseconds (n / 4096 at most; see
        lead_us()).

        Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a
        copy, or, with out, writes into that buffer and returns it (as
        Counter.next_many()). One atomic step reserves the whole block, so ids drawn
        concurrently by other threads never fall inside it. n is an int in
        [0, 2**60 - 1].
        """
    @overload
    def next_many(self, n: int, out: _BufferT) -> _BufferT:
        """Draw n consecutive ids at once: the first is what next() would return, the rest
        follow it by 1, borrowing from later microseconds (n / 4096 at most; see
        lead_us()).

        Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a
        copy, or, with out, writes into that buffer and returns it (as
        Counter.next_many()). One atomic step reserves the whole block, so ids drawn
        concurrently by other threads never fall inside it. n is an int in
        [0, 2**60 - 1].
        """
    def current(self) -> int:
        """Return the last id handed out; a new counter holds the current microsecond with
        sequence 2048.
        """
    def lead_us(self) -> int:
        """Return how many microseconds the last id's timestamp runs ahead of the clock.

        0 in normal operation; positive after the wall clock stepped back or a burst of
        more than 4096 ids per microsecond borrowed from later microseconds. Ids stay
        unique and increasing either way; monitor this to see when they stop matching
        the time they were drawn.
        """
    def advance_to(self, value: int) -> None:
        """Raise the last id to value (an int in [0, 2**64 - 1]) unless it is already there
        or beyond, so that every later id is above it: for continuing above ids handed out
        elsewhere (a previous run's). Never moves backwards.
        """
    @staticmethod
    def decode_timestamp_microseconds(value: int) -> int:
        """Return the microseconds since the Unix epoch encoded in a TimeCounter id
        (value >> 12). value is an int in [0, 2**64 - 1].
        """
    @staticmethod
    def to_datetime(value: int) -> datetime:
        """Return the time encoded in a TimeCounter id as an aware UTC datetime, exact to
        the microsecond. value is an int in [0, 2**64 - 1].
        """
    @staticmethod
    def get_timedelta(later: int, earlier: int) -> timedelta:
        """Return the time from earlier's timestamp to later's as a timedelta (negative when
        earlier is the later id). Both are TimeCounter ids, ints in [0, 2**64 - 1].
        """
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

@final
class SharedCounter:
    """A Counter whose value lives in shared memory: one sequence for every process on the host
    that opens the same name, unique across all of them and increasing within each.

    name without '/' is a POSIX shared-memory object (survives any process, not a reboot);
    with '/', a file path (survives reboots). The first process to open a name creates it
    from base, now and interval (defaults as for Counter); later ones attach, and a base,
    interval or durability that differs from the region's raises ValueError. durable=True
    (file paths on a disk-backed file system) msyncs a high-water mark block draws ahead
    (default 65536) before handing out values past it, so not even a machine crash reissues
    a value. A new region gets exactly mode (default 0o600: this user only); a region owned
    by another user, writable by every user, a symlink or a hard link is refused with
    PermissionError unless allow_other_owner=True (and a mode granting it) says it is shared
    on purpose. A region that is not a SharedCounter's, or is empty, truncated or corrupt,
    raises ValueError and is left untouched; a file system too full to back its page raises
    OSError (ENOSPC). Pickles attach to this same region, never create one.
    A context manager that closes on exit.
    """

    def __new__(
        cls,
        name: str | PathLike[str],
        base: int | None = None,
        now: int | None = None,
        interval: int | None = None,
        *,
        durable: bool | None = None,
        block: int | None = None,
        mode: int = 0o600,
        allow_other_owner: bool = False,
    ) -> Self: ...
    def next(self) -> int:
        """Add the interval and return the new value: unique across every process and thread
        drawing from this name, and strictly increasing for each of them. Raises
        OverflowError past limit, FileNotFoundError once the region was unlinked, and
        OSError if a durable region cannot be synced (the value is then skipped, never
        reissued, and every later draw raises until the region is opened again).
        """
    @overload
    def next_many(self, n: int, out: None = None) -> memoryview:
        """Draw n values at once, as Counter.next_many() (out included): one atomic step on
        the shared value.
        """
    @overload
    def next_many(self, n: int, out: _BufferT) -> _BufferT:
        """Draw n values at once, as Counter.next_many() (out included): one atomic step on
        the shared value.
        """
    def current(self) -> int:
        """Return the last value any process drew."""
    def set(self, val: int) -> None:
        """Set the shared value to val, an int in [0, limit], for every process: a store, so
        values above val drawn before the call can be drawn again (the caller's decision;
        to skip ahead without ever going back, use advance_to()). A durable region first
        syncs a mark covering val; values other processes draw meanwhile are never undone:
        the value then becomes the larger of theirs and val.
        """
    def advance_to(self, value: int) -> None:
        """Raise the shared value to value (an int in [0, limit]) unless it is already there
        or beyond: an atomic maximum, so the next draw returns more than value and the
        counter never moves backwards, whatever other processes draw meanwhile.
        """
    def close(self) -> None:
        """Release the mapping; the region and its value stay. Later calls raise ValueError."""
    def unlink(self) -> None:
        """End this region's sequence for every process that has it open (their next draw,
        and this object's, raises FileNotFoundError), then remove its name (the path taken
        at open) if the name still names this region; the next open of the name creates a
        new region, from its own base and now. FileNotFoundError when the name no longer
        names it (another unlink removed it; a region that has the name now is left alone):
        the sequence is ended all the same. Once closed, the same for the region its path
        names, if that is still this region.
        """
    @classmethod
    def _attach(
        cls,
        path: str,
        region_id: str,
        base: int,
        interval: int,
        durable_block: int,
        mode: int,
        allow_other_owner: bool,
        /,
    ) -> Self: ...
    @property
    def name(self) -> str:
        """The region's name or path, as given."""
    @property
    def path(self) -> str:
        """The absolute path of a file region (as opened), or the shared-memory name."""
    @property
    def region_id(self) -> str:
        """The region's identity: 32 hex digits drawn when it was created."""
    @property
    def closed(self) -> bool:
        """Whether close() was called."""
    @property
    def base(self) -> int:
        """The region's base, in ns since the epoch."""
    @property
    def interval(self) -> int:
        """The region's interval."""
    @property
    def limit(self) -> int:
        """As Counter.limit."""
    @property
    def durable(self) -> bool:
        """Whether the region msyncs a high-water mark before handing out values past it."""
    @property
    def block(self) -> int | None:
        """Draws reserved per msync in a durable region (for SharedTimeCounter, microseconds of ids); None otherwise."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

@final
class SharedTimeCounter:
    """A TimeCounter whose last id lives in shared memory: ids unique across every process on
    the host that opens the same name, and increasing within each (two processes with their
    own TimeCounter can collide; these cannot). Naming, creation, permissions, checks,
    pickling and closing are as for SharedCounter; a durable block is in microseconds of ids
    (default 1000000), so after a machine crash ids restart at most that far ahead of the
    clock. Decode ids with the TimeCounter static methods, which this class also has.
    """

    def __new__(
        cls,
        name: str | PathLike[str],
        *,
        durable: bool | None = None,
        block: int | None = None,
        mode: int = 0o600,
        allow_other_owner: bool = False,
    ) -> Self: ...
    def next(self) -> int:
        """Return the next id, as TimeCounter.next(): unique across every process and thread
        drawing from this name, and strictly increasing for each of them. Raises
        FileNotFoundError once the region was unlinked, and OSError once a durable
        region's msync has failed (until it is opened again).
        """
    @overload
    def next_many(self, n: int, out: None = None) -> memoryview:
        """Draw n consecutive ids at once, as TimeCounter.next_many() (out included)."""
    @overload
    def next_many(self, n: int, out: _BufferT) -> _BufferT:
        """Draw n consecutive ids at once, as TimeCounter.next_many() (out included)."""
    def current(self) -> int:
        """Return the last id any process drew."""
    def advance_to(self, value: int) -> None:
        """Raise the last id to value unless it is already there or beyond, for every
        process: the next id is above value, and the counter never moves backwards.
        """
    def lead_us(self) -> int:
        """Return how many microseconds the last id runs ahead of this host's clock."""
    def close(self) -> None:
        """Release the mapping; the region and its value stay. Later calls raise ValueError."""
    def unlink(self) -> None:
        """End this region's sequence for every process that has it open (their next draw,
        and this object's, raises FileNotFoundError), then remove its name (the path taken
        at open) if the name still names this region; the next open of the name creates a
        new region, from its own base and now. FileNotFoundError when the name no longer
        names it (another unlink removed it; a region that has the name now is left alone):
        the sequence is ended all the same. Once closed, the same for the region its path
        names, if that is still this region.
        """
    @classmethod
    def _attach(
        cls,
        path: str,
        region_id: str,
        base: int,
        interval: int,
        durable_block: int,
        mode: int,
        allow_other_owner: bool,
        /,
    ) -> Self: ...
    @property
    def name(self) -> str:
        """The region's name or path, as given."""
    @property
    def path(self) -> str:
        """The absolute path of a file region (as opened), or the shared-memory name."""
    @property
    def region_id(self) -> str:
        """The region's identity: 32 hex digits drawn when it was created."""
    @property
    def closed(self) -> bool:
        """Whether close() was called."""
    @property
    def durable(self) -> bool:
        """Whether the region msyncs a high-water mark before handing out values past it."""
    @property
    def block(self) -> int | None:
        """Draws reserved per msync in a durable region (for SharedTimeCounter, microseconds of ids); None otherwise."""
    @staticmethod
    def decode_timestamp_microseconds(value: int) -> int:
        """Return the microseconds since the Unix epoch encoded in a TimeCounter id
        (value >> 12). value is an int in [0, 2**64 - 1].
        """
    @staticmethod
    def to_datetime(value: int) -> datetime:
        """Return the time encoded in a TimeCounter id as an aware UTC datetime, exact to
        the microsecond. value is an int in [0, 2**64 - 1].
        """
    @staticmethod
    def get_timedelta(later: int, earlier: int) -> timedelta:
        """Return the time from earlier's timestamp to later's as a timedelta (negative when
        earlier is the later id). Both are TimeCounter ids, ints in [0, 2**64 - 1].
        """
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

@final
class SnowflakeCounter:
    """Snowflake-style ids of a Layout (time | node | sequence) for one node: unique
    across a fleet whose live processes hold distinct node ids (see lease_node_id()),
    strictly increasing within the process, lock-free across threads.

    node is an int in [0, layout.max_node] (ValueError naming the range otherwise);
    floor, an id of the layout, makes the first id larger than it (a previous
    holder's high-water mark).
    """

    def __new__(cls, layout: Layout, node: int, *, floor: int | None = None) -> Self: ...
    def next(self) -> int:
        """Return the next id: (ticks since the layout's epoch, this node, a sequence).

        Strictly increasing for every caller in the process, unique across nodes. When the
        sequence of a tick is used up the id borrows from the next tick (see lead_ns());
        a clock step back never makes an id go back. Raises OverflowError when the
        layout's time runs out, and LeaseExpiredError when a lease governs the counter
        and could not be confirmed in time.
        """
    @overload
    def next_many(self, n: int, out: None = None) -> memoryview:
        """Draw n ids at once (one atomic step), as a memoryview: of int64 (format 'q') for a
        layout whose ids stay positive int64 (positive_int64, as every preset but
        TIME_COUNTER), so numpy, pandas and pyarrow see a signed column; of uint64 ('Q')
        otherwise. With out, writes them into that buffer instead and returns it (as
        Counter.next_many(); int64 or uint64 items for a positive-int64 layout, uint64
        otherwise). n is an int in [0, 2**60 - 1], and at most the lease's lead limit
        allows (ValueError).
        """
    @overload
    def next_many(self, n: int, out: _BufferT) -> _BufferT:
        """Draw n ids at once (one atomic step), as a memoryview: of int64 (format 'q') for a
        layout whose ids stay positive int64 (positive_int64, as every preset but
        TIME_COUNTER), so numpy, pandas and pyarrow see a signed column; of uint64 ('Q')
        otherwise. With out, writes them into that buffer instead and returns it (as
        Counter.next_many(); int64 or uint64 items for a positive-int64 layout, uint64
        otherwise). n is an int in [0, 2**60 - 1], and at most the lease's lead limit
        allows (ValueError).
        """
    def current(self) -> int:
        """Return the last id handed out."""
    def lead_ns(self) -> int:
        """Return how far the last id's time runs ahead of the clock, in nanoseconds."""
    @property
    def node(self) -> int:
        """The node id in the ids drawn now."""
    @property
    def layout(self) -> Layout:
        """The Layout of the ids."""
    def _extend(self, deadline_ns: int, max_id: int, /) -> None: ...
    def _revoke(self) -> None: ...
    def _seal(self) -> int: ...
    def _limit_lead(self, lead_ns: int, /) -> None: ...
    def _rebind(self, node: int, floor: int, /) -> None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

@final
class _SegmentCounter:
    """SegmentCounter's C half; atomic_counter.segment adds the rest."""

    _engine: Any
    def next(self) -> int:
        """Return the next value: unique across every process that uses the sequence, larger than
        every value this counter handed out before.

        Raises SegmentRefusedError when the store could hand out a value twice, StoreTimeoutError
        (a TimeoutError) when no block arrives within the counter's timeout, OverflowError when
        the sequence is used up, ValueError after close(), RuntimeError in a fork child.
        """
    def _bind(
        self,
        engine: Any,
        need: Any,
        collected: Any,
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
    def _poll(self) -> int | None: ...
    def _close(self) -> tuple[int, int, int, int]: ...
    def _state(self) -> tuple[int, int, bool, int]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> int: ...

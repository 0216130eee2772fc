"""Bit layouts of Snowflake-style ids: time | node | sequence. This module owns the id format:
packing, unpacking and the presets; the lease and the command line go through it.

A :class:`Layout` says how a 64-bit id is cut up: its epoch, its time unit, how many bits hold
the time, the node and the sequence, and whether the top bit stays 0 so the id fits a signed
64-bit integer (Postgres ``bigint``, Java ``long``, Arrow ``int64``). ``SnowflakeCounter`` draws
ids of a layout; :meth:`Layout.decode` reads one, :meth:`Layout.decode_many` a whole array,
:meth:`Layout.first_id_at` and :meth:`Layout.range` turn times into ids for range queries.

Kept cheap to import (no dataclasses, enum, re or typing at run time): the command line loads
it on every call.
"""

from __future__ import annotations

from ._core import _decode_many  # the package has loaded the native core already

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from datetime import datetime
    from typing import Any

__all__ = ["UNITS", "Decoded", "Layout"]

#: Time units a layout may count in, in nanoseconds.
UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "10ms": 10_000_000,
    "100ms": 100_000_000,
    "s": 1_000_000_000,
}


def _utc_from_unix_ns(ns: int) -> datetime:
    from datetime import datetime, timedelta, timezone

    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ns // 1000)


def _unix_ns(when: datetime, call: str, arg: str) -> int:
    """ns since the Unix epoch of an aware datetime; TypeError for anything else (a date, a
    string, a number) and ValueError for a naive datetime, each naming the call and argument."""
    from datetime import datetime, timedelta, timezone

    if not isinstance(when, datetime):
        raise TypeError(
            f"{call} argument '{arg}' must be a timezone-aware datetime.datetime, "
            f"not {type(when).__name__}"
        )
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{call} argument '{arg}': datetime must be timezone-aware (naive datetimes are "
            "ambiguous)"
        )
    return (when - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) * 1000


def _int(value: object, call: str, arg: str, allowed: str) -> int:
    """value as an int: ints and objects with __index__ (numpy integers), never bools, floats
    or strings; TypeError naming the call, the argument and its range otherwise."""
    if type(value) is int:
        return value
    index = getattr(type(value), "__index__", None)
    if index is None or isinstance(value, bool):
        raise TypeError(
            f"{call} argument '{arg}' must be an int {allowed}, not {type(value).__name__}"
        )
    return int(index(value))


def _str(value: object, call: str, arg: str, allowed: str) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"{call} argument '{arg}' must be a str ({allowed}), not {type(value).__name__}"
        )
    return value


_FIELDS = ("epoch_ns", "unit", "time_bits", "node_bits", "sequence_bits", "positive_int64", "name")


def _validate(
    call: str,
    epoch_ns: int,
    unit: str,
    time_bits: int,
    node_bits: int,
    sequence_bits: int,
    positive_int64: bool,
    name: str,
) -> tuple[int, str, int, int, int, bool, str]:
    """Layout's fields checked and normalised (ints from __index__, a bool), every message
    naming the call that received them."""
    epoch_ns = _int(epoch_ns, call, "epoch_ns", "in [0, 2**64 - 1]")
    time_bits = _int(time_bits, call, "time_bits", "in [1, 63]")
    node_bits = _int(node_bits, call, "node_bits", "in [0, 63]")
    sequence_bits = _int(sequence_bits, call, "sequence_bits", "in [0, 63]")
    if not 0 <= epoch_ns <= 2**64 - 1:
        raise ValueError(f"{call} argument 'epoch_ns' must be in [0, 2**64 - 1], got {epoch_ns}")
    _str(unit, call, "unit", f"one of {', '.join(UNITS)}")
    if unit not in UNITS:
        raise ValueError(f"{call} argument 'unit' must be one of {sorted(UNITS)}, got {unit!r}")
    if not isinstance(positive_int64, int):  # True, False (and 0 or 1, as bool() reads them)
        raise TypeError(
            f"{call} argument 'positive_int64' must be a bool, not {type(positive_int64).__name__}"
        )
    _str(name, call, "name", "a label for messages and repr")
    width = 63 if positive_int64 else 64
    bits = (time_bits, node_bits, sequence_bits)
    if time_bits < 1 or min(bits) < 0 or max(bits) > 63 or sum(bits) > width:
        raise ValueError(
            f"{call}: time_bits ({time_bits}) + node_bits ({node_bits}) + sequence_bits "
            f"({sequence_bits}) must be in [1, {width}] with time_bits >= 1"
            + (" (the top bit stays 0)" if positive_int64 else "")
        )
    return epoch_ns, unit, time_bits, node_bits, sequence_bits, bool(positive_int64), name


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - exercised without numpy
        raise ImportError(
            "Layout.decode_many() needs numpy: pip install atomic-counter[numpy]"
        ) from exc
    return numpy


def _id_array(np: Any, ids: Any) -> Any:
    """ids as a numpy array of 64-bit integers in native byte order (without a copy when they
    already are)."""
    if not isinstance(ids, np.ndarray):
        # A buffer of bytes (bytearray, bytes, memoryview, array('B'), mmap) holds ids as
        # next_many(out=) writes them there: 8 bytes each, never one id a byte.
        try:
            view = memoryview(ids)
        except TypeError:
            view = None
        if view is not None and view.itemsize == 1:
            if view.nbytes % 8:
                raise ValueError(
                    f"Layout.decode_many() argument 'ids' is a buffer of {view.nbytes} bytes, "
                    f"not a whole number of 8-byte ids"
                )
            return np.frombuffer(view if view.c_contiguous else view.tobytes(), np.uint64)
    values = np.asarray(ids)
    if values.size == 0 and values.dtype.kind == "f":
        values = values.astype(np.uint64)  # an empty list: numpy makes it float64
    if values.dtype.kind not in "iu":
        raise TypeError(
            f"Layout.decode_many() argument 'ids' must hold integer ids, not {values.dtype} "
            f"(from {type(ids).__name__})"
        )
    # Narrower integers widen to uint64: a negative one becomes a value above any layout's
    # max_id, refused by the one range check (as a negative int64 is, read as uint64).
    if values.dtype.itemsize != 8 or not values.dtype.isnative:
        values = values.astype(np.uint64)
    return values


_DATETIME64_US: list[Any] = []  # numpy.dtype("datetime64[us]"), made on first use


def _datetime64_us() -> Any:
    if not _DATETIME64_US:
        _DATETIME64_US.append(_numpy().dtype("datetime64[us]"))
    return _DATETIME64_US[0]


def _int64_target(target: Any, index: int) -> Any:
    """out[index] as a buffer of 64-bit integers: a datetime64[us] numpy array as its int64
    view (numpy gives datetime64 no buffer), anything else as it is."""
    dtype = getattr(target, "dtype", None)
    if getattr(dtype, "kind", None) != "M":
        return target
    if dtype != _datetime64_us():
        raise TypeError(
            f"Layout.decode_many() argument 'out[{index}]' must be datetime64[us] to hold "
            f"times, not {dtype}"
        )
    return target.view("int64")


def _describe(value: object) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return type(value).__name__


class Decoded(tuple):  # type: ignore[type-arg]
    """An id taken apart: when it was drawn (the start of its tick, UTC, to the microsecond),
    by which node, with which sequence number, its ticks since the layout's epoch and the Unix
    time of its tick in ns. A tuple, so it unpacks: ``when, node, seq, ticks, ns = decoded``."""

    __slots__ = ()
    _fields = ("datetime", "node", "sequence", "ticks", "unix_ns")

    def __new__(
        cls, datetime: datetime, node: int, sequence: int, ticks: int, unix_ns: int
    ) -> Decoded:
        return tuple.__new__(cls, (datetime, node, sequence, ticks, unix_ns))

    @property
    def datetime(self) -> datetime:
        return self[0]  # type: ignore[no-any-return]

    @property
    def node(self) -> int:
        return self[1]  # type: ignore[no-any-return]

    @property
    def sequence(self) -> int:
        return self[2]  # type: ignore[no-any-return]

    @property
    def ticks(self) -> int:
        return self[3]  # type: ignore[no-any-return]

    @property
    def unix_ns(self) -> int:
        return self[4]  # type: ignore[no-any-return]

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True)
        )
        return f"Decoded({inner})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)


class Layout:
    """The layout of a 64-bit id: ``[0 if positive_int64] time | node | sequence``.

    ``epoch_ns`` is the epoch in ns since the Unix epoch (:meth:`create` takes a datetime);
    ``unit`` one of :data:`UNITS`. Bits: ``time_bits >= 1`` and ``time_bits + node_bits +
    sequence_bits`` at most 63 when ``positive_int64`` (the top bit stays 0), else 64. Invalid
    values raise TypeError or ValueError naming the field and its range. Immutable and
    hashable; two layouts are equal when every field but the name is.
    """

    __slots__ = (
        "_decoding",
        "epoch_ns",
        "name",
        "node_bits",
        "positive_int64",
        "sequence_bits",
        "time_bits",
        "unit",
    )

    epoch_ns: int
    unit: str
    time_bits: int
    node_bits: int
    sequence_bits: int
    positive_int64: bool
    name: str
    _decoding: tuple[int, int, int, int, int, bool]

    TIME_COUNTER: Layout
    TWITTER: Layout
    DISCORD: Layout
    INT64: Layout
    JS_SAFE: Layout
    PRESETS: dict[str, Layout]

    def __init__(
        self,
        epoch_ns: int,
        unit: str,
        time_bits: int,
        node_bits: int,
        sequence_bits: int,
        positive_int64: bool = True,
        name: str = "custom",
    ) -> None:
        values = _validate(
            "Layout()", epoch_ns, unit, time_bits, node_bits, sequence_bits, positive_int64, name
        )
        for field, setting in zip(_FIELDS, values, strict=True):
            object.__setattr__(self, field, setting)
        # What _core._decode_many needs to know of the layout, in its order.
        decoding = (epoch_ns, UNITS[unit], time_bits, node_bits, sequence_bits, positive_int64)
        object.__setattr__(self, "_decoding", decoding)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Layout is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Layout is immutable: cannot delete {name!r}")

    def _key(self) -> tuple[int, str, int, int, int, bool]:
        return (
            self.epoch_ns,
            self.unit,
            self.time_bits,
            self.node_bits,
            self.sequence_bits,
            self.positive_int64,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layout):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Layout, (*self._key(), self.name))

    def __repr__(self) -> str:
        preset = Layout.PRESETS.get(self.name) if hasattr(Layout, "PRESETS") else None
        if preset is not None and preset == self:
            return f"Layout.{self.name.upper()}"
        return (
            f"Layout(epoch_ns={self.epoch_ns}, unit={self.unit!r}, time_bits={self.time_bits}, "
            f"node_bits={self.node_bits}, sequence_bits={self.sequence_bits}, "
            f"positive_int64={self.positive_int64}, name={self.name!r})"
        )

    @classmethod
    def create(
        cls,
        epoch: datetime,
        unit: str,
        time_bits: int,
        node_bits: int,
        sequence_bits: int,
        positive_int64: bool = True,
        name: str = "custom",
    ) -> Layout:
        """A layout from an aware datetime epoch."""
        call = "Layout.create()"
        values = _validate(
            call,
            _unix_ns(epoch, call, "epoch"),
            unit,
            time_bits,
            node_bits,
            sequence_bits,
            positive_int64,
            name,
        )
        return cls(*values)

    @classmethod
    def preset(cls, name: str) -> Layout:
        """A preset by name, in any case (as the attribute: ``Layout.preset("INT64") is
        Layout.INT64``): time_counter, twitter, discord, int64 or js_safe."""
        names = ", ".join(cls.PRESETS)
        _str(name, "Layout.preset()", "name", names)
        try:
            return cls.PRESETS[name.lower()]
        except KeyError:
            raise ValueError(
                f"Layout.preset(): unknown layout {name!r}; the presets are {names} (in any case)"
            ) from None

    @property
    def tick_ns(self) -> int:
        """The time unit in nanoseconds."""
        return UNITS[self.unit]

    @property
    def epoch(self) -> datetime:
        """The epoch as an aware UTC datetime."""
        return _utc_from_unix_ns(self.epoch_ns)

    @property
    def width(self) -> int:
        """Bits in use: time + node + sequence (at most 63 when positive_int64)."""
        return self.time_bits + self.node_bits + self.sequence_bits

    @property
    def max_ticks(self) -> int:
        """The last tick since the epoch that ids of the layout can hold."""
        return (1 << self.time_bits) - 1

    @property
    def max_node(self) -> int:
        """The largest node id: node ids are in [0, max_node]."""
        return (1 << self.node_bits) - 1

    @property
    def max_sequence(self) -> int:
        """The largest sequence number within one tick."""
        return (1 << self.sequence_bits) - 1

    @property
    def max_id(self) -> int:
        """The largest id of the layout (2**width - 1)."""
        return (1 << self.width) - 1

    @property
    def ids_per_tick(self) -> int:
        """Ids one node can draw per time unit before borrowing from the next."""
        return 1 << self.sequence_bits

    @property
    def end(self) -> datetime:
        """When the time bits run out: no id exists for a later time."""
        return _utc_from_unix_ns(self.epoch_ns + (1 << self.time_bits) * self.tick_ns)

    @property
    def fingerprint(self) -> str:
        """The fields that decide what an id means, as one string: two layouts with the same
        fingerprint read every id the same way (the name is left out)."""
        return (
            f"{self.epoch_ns}/{self.tick_ns}/{self.time_bits}/{self.node_bits}/"
            f"{self.sequence_bits}/{int(self.positive_int64)}"
        )

    # -- the id format: packing and unpacking ------------------------------------------------

    def pack(self, ticks: int, node: int, sequence: int) -> int:
        """The id of (ticks, node, sequence); TypeError for a field that is not an int,
        ValueError for one out of its range."""
        return self._pack("Layout.pack()", ticks, node, sequence)

    def _pack(self, call: str, ticks: int, node: int, sequence: int) -> int:
        checked = []
        for field, value, top in (
            ("ticks", ticks, self.max_ticks),
            ("node", node, self.max_node),
            ("sequence", sequence, self.max_sequence),
        ):
            value = _int(value, call, field, f"in [0, {top}]")
            if not 0 <= value <= top:
                raise ValueError(
                    f"{call} argument '{field}' must be in [0, {top}] for the {self.name} "
                    f"layout, got {value!r}"
                )
            checked.append(value)
        ticks, node, sequence = checked
        return (
            (ticks << (self.node_bits + self.sequence_bits))
            | (node << self.sequence_bits)
            | sequence
        )

    def ticks_at(self, unix_ns: int) -> int:
        """Ticks since the epoch at a Unix time in ns: 0 before the epoch, the largest tick the
        time bits hold past the end."""
        unix_ns = _int(unix_ns, "Layout.ticks_at()", "unix_ns", "(ns since 1970)")
        return min(max(0, unix_ns - self.epoch_ns) // self.tick_ns, self.max_ticks)

    def decode(self, value: int) -> Decoded:
        """The time (the start of its tick, UTC, to the microsecond), node and sequence of an
        id."""
        value = _int(value, "Layout.decode()", "value", f"in [0, {self.max_id}]")
        if not 0 <= value <= self.max_id:
            raise ValueError(
                f"Layout.decode() argument 'value' must be in [0, {self.max_id}] for the "
                f"{self.name} layout, got {value}"
            )
        ticks = value >> (self.node_bits + self.sequence_bits)
        unix_ns = self.epoch_ns + ticks * self.tick_ns
        return Decoded(
            _utc_from_unix_ns(unix_ns),
            (value >> self.sequence_bits) & self.max_node,
            value & self.max_sequence,
            ticks,
            unix_ns,
        )

    def decode_many(self, ids: Any, out: Any = None) -> tuple[Any, Any, Any]:
        """Decodes an array of ids (a next_many() buffer, a numpy array, or anything
        numpy.asarray takes: a list, a pandas or pyarrow column) in one pass, without a Python
        loop: the times (the start of each id's tick, in microseconds since 1970), the nodes and
        the sequences. A buffer of bytes (bytearray, bytes, array('B')) holds 8 bytes per id,
        as next_many(out=) writes them. The ids must not change while the call runs (another
        thread writing them may see its writes decoded unchecked).

        Without ``out``, returns three new numpy arrays: the times as datetime64[us], the nodes
        and the sequences as int64. With ``out=(times, nodes, sequences)``, writes into those
        three writable buffers of as many 64-bit integers as there are ids (numpy arrays,
        datetime64[us] ones for the times included, array.array, bytearray, memoryview) without
        a copy, and returns ``out``; numpy is then needed only for ids that are not already a
        buffer of 64-bit integers.

        TypeError for ids that are not integers and for an ``out`` of another kind;
        ValueError, writing nothing, for an id wider than the layout (or whose time passes
        2**63 - 1 microseconds) and for an ``out`` of another length.
        """
        if out is None:
            np = _numpy()
            values = _id_array(np, ids)
            times = np.empty(values.shape, "datetime64[us]")
            nodes = np.empty(values.shape, np.int64)
            sequences = np.empty(values.shape, np.int64)
            us = times.view(np.int64)
            if _decode_many(values, us, nodes, sequences, *self._decoding) is NotImplemented:
                # Not C-contiguous, or not aligned: a copy that is.
                values = np.require(values, requirements="CA")
                _decode_many(values, us, nodes, sequences, *self._decoding)
            return times, nodes, sequences
        if not isinstance(out, tuple) or len(out) != 3:
            raise TypeError(
                "Layout.decode_many() argument 'out' must be a tuple of three buffers "
                f"(times, nodes, sequences), not {_describe(out)}"
            )
        times, nodes, sequences = (_int64_target(target, i) for i, target in enumerate(out))
        if _decode_many(ids, times, nodes, sequences, *self._decoding) is NotImplemented:
            np = _numpy()
            values = np.require(_id_array(np, ids), requirements="CA")
            _decode_many(values, times, nodes, sequences, *self._decoding)
        return out

    # -- times to ids ----------------------------------------------------------------------

    def _ticks_of(self, when: datetime, call: str, arg: str, *, round_up: bool = False) -> int:
        ns = _unix_ns(when, call, arg) - self.epoch_ns
        if ns < 0:
            raise ValueError(
                f"{call} argument '{arg}': {when.isoformat()} is before the {self.name} layout's "
                f"epoch {self.epoch.isoformat()}"
            )
        ticks = -(-ns // self.tick_ns) if round_up else ns // self.tick_ns
        if ticks >> self.time_bits:
            raise ValueError(
                f"{call} argument '{arg}': {when.isoformat()} is past the {self.name} layout's "
                f"end {self.end.isoformat()}"
            )
        return ticks

    def first_id_at(self, when: datetime, node: int = 0, sequence: int = 0) -> int:
        """The smallest id of ``node`` in the tick that holds ``when`` (an aware datetime):
        every id drawn at or after ``when`` is at least this, so ``id >= first_id_at(midnight)``
        selects "ids from today" (with ``node=0``, across all nodes)."""
        call = "Layout.first_id_at()"
        return self._pack(call, self._ticks_of(when, call, "when"), node, sequence)

    def encode(self, when: datetime, node: int = 0, sequence: int = 0) -> int:
        """The same as :meth:`first_id_at` (its older name, kept for compatibility)."""
        call = "Layout.encode()"
        return self._pack(call, self._ticks_of(when, call, "when"), node, sequence)

    def range(self, start: datetime, end: datetime) -> tuple[int, int]:
        """The lowest and highest ids (inclusive, every node) whose time, the start of their
        tick, lies in the half-open window [start, end): for ``WHERE id BETWEEN low AND high``.
        Windows whose bounds fall on tick boundaries (whole ms, seconds, days) select exactly
        the ids drawn in them. ValueError when the window is empty or outside the layout."""
        call = "Layout.range()"
        first = self._ticks_of(start, call, "start", round_up=True)
        last = self._ticks_of(end, call, "end", round_up=True) - 1
        if last < first:
            raise ValueError(
                f"Layout.range(): [{start.isoformat()}, {end.isoformat()}) holds no "
                f"tick of the {self.name} layout"
            )
        return self.pack(first, 0, 0), self.pack(last, self.max_node, self.max_sequence)


Layout.TIME_COUNTER = Layout(0, "us", 52, 0, 12, positive_int64=False, name="time_counter")
Layout.TWITTER = Layout(1288834974657 * 1_000_000, "ms", 41, 10, 12, name="twitter")
Layout.DISCORD = Layout(1420070400000 * 1_000_000, "ms", 41, 10, 12, name="discord")
Layout.INT64 = Layout(1704067200000 * 1_000_000, "ms", 41, 10, 12, name="int64")
Layout.JS_SAFE = Layout(1704067200000 * 1_000_000, "ms", 41, 6, 6, name="js_safe")
Layout.PRESETS = {
    layout.name: layout
    for layout in (
        Layout.TIME_COUNTER,
        Layout.TWITTER,
        Layout.DISCORD,
        Layout.INT64,
        Layout.JS_SAFE,
    )
}

"""Bit layouts of Snowflake-style ids: time | node | sequence.

A :class:`Layout` says how a 64-bit id is cut up: its epoch, its time unit, how many bits hold
the time, the node and the sequence, and whether the top bit stays 0 so the id fits a signed
64-bit integer (Postgres ``bigint``, Java ``long``, Arrow ``int64``). ``SnowflakeCounter`` draws
ids of a layout; :meth:`Layout.decode` and :meth:`Layout.encode` read and build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import ClassVar, NamedTuple

__all__ = ["Decoded", "Layout", "UNITS"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Time units a layout may count in, in nanoseconds.
UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "10ms": 10_000_000,
    "100ms": 100_000_000,
    "s": 1_000_000_000,
}


class Decoded(NamedTuple):
    """An id taken apart: when it was drawn, by which node, with which sequence number."""

    datetime: datetime
    node: int
    sequence: int
    ticks: int
    unix_ns: int


def _ns_since_unix_epoch(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("datetime must be timezone-aware (naive datetimes are ambiguous)")
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True, repr=False)
class Layout:
    """The layout of a 64-bit id: ``[0 if positive_int64] time | node | sequence``.

    ``epoch`` is an aware datetime (or ns since the Unix epoch, as ``epoch_ns``); ``unit`` one of
    :data:`UNITS`. Bits: ``time_bits >= 1`` and ``time_bits + node_bits + sequence_bits`` at
    most 63 when ``positive_int64`` (the top bit stays 0), else 64. Invalid values raise
    ValueError naming the field and its range.
    """

    epoch_ns: int
    unit: str
    time_bits: int
    node_bits: int
    sequence_bits: int
    positive_int64: bool = True
    name: str = field(default="custom", compare=False)

    TIME_COUNTER: ClassVar[Layout]
    TWITTER: ClassVar[Layout]
    DISCORD: ClassVar[Layout]
    INT64: ClassVar[Layout]
    JS_SAFE: ClassVar[Layout]
    PRESETS: ClassVar[dict[str, Layout]]

    def __post_init__(self) -> None:
        for name in ("epoch_ns", "time_bits", "node_bits", "sequence_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Layout {name} must be an int, not {type(value).__name__}")
        if not 0 <= self.epoch_ns <= 2**64 - 1:
            raise ValueError(f"Layout epoch_ns must be in [0, 2**64 - 1], got {self.epoch_ns}")
        if self.unit not in UNITS:
            raise ValueError(f"Layout unit must be one of {sorted(UNITS)}, got {self.unit!r}")
        width = 63 if self.positive_int64 else 64
        bits = (self.time_bits, self.node_bits, self.sequence_bits)
        if self.time_bits < 1 or min(bits) < 0 or max(bits) > 63 or sum(bits) > width:
            raise ValueError(
                f"Layout time_bits ({self.time_bits}) + node_bits ({self.node_bits}) + "
                f"sequence_bits ({self.sequence_bits}) must be in [1, {width}] with "
                f"time_bits >= 1" + (" (the top bit stays 0)" if self.positive_int64 else "")
            )

    def __repr__(self) -> str:
        preset = Layout.PRESETS.get(self.name) if hasattr(Layout, "PRESETS") else None
        if preset is not None and preset == self:
            return f"Layout.{self.name.upper()}"
        return (f"Layout(epoch_ns={self.epoch_ns}, unit={self.unit!r}, time_bits={self.time_bits}, "
                f"node_bits={self.node_bits}, sequence_bits={self.sequence_bits}, "
                f"positive_int64={self.positive_int64}, name={self.name!r})")

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
        return cls(_ns_since_unix_epoch(epoch), unit, time_bits, node_bits, sequence_bits,
                   positive_int64, name)

    @classmethod
    def preset(cls, name: str) -> Layout:
        """A preset by name: time_counter, twitter, discord, int64 or js_safe."""
        try:
            return cls.PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown layout {name!r}; the presets are {', '.join(cls.PRESETS)}"
            ) from None

    @property
    def tick_ns(self) -> int:
        """The time unit in nanoseconds."""
        return UNITS[self.unit]

    @property
    def epoch(self) -> datetime:
        """The epoch as an aware UTC datetime."""
        return _EPOCH + timedelta(microseconds=self.epoch_ns // 1000)

    @property
    def width(self) -> int:
        """Bits in use: time + node + sequence (at most 63 when positive_int64)."""
        return self.time_bits + self.node_bits + self.sequence_bits

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
        end_ns = self.epoch_ns + (1 << self.time_bits) * self.tick_ns
        return _EPOCH + timedelta(microseconds=end_ns // 1000)

    def ticks_at(self, unix_ns: int) -> int:
        """Ticks since the epoch at a Unix time in ns: 0 before the epoch, the largest tick the
        time bits hold past the end."""
        return min(max(0, unix_ns - self.epoch_ns) // self.tick_ns, (1 << self.time_bits) - 1)

    def pack(self, ticks: int, node: int, sequence: int) -> int:
        """The id of (ticks, node, sequence); ValueError for a field out of its range."""
        for name, value, top in (("ticks", ticks, (1 << self.time_bits) - 1),
                                 ("node", node, self.max_node),
                                 ("sequence", sequence, self.max_sequence)):
            if not 0 <= value <= top:
                raise ValueError(f"{name} must be in [0, {top}] for the {self.name} layout, "
                                 f"got {value}")
        return (ticks << (self.node_bits + self.sequence_bits)) | (node << self.sequence_bits) | sequence

    @property
    def fingerprint(self) -> str:
        """The fields that decide what an id means, as one string: two layouts with the same
        fingerprint read every id the same way (the name is left out)."""
        return (f"{self.epoch_ns}/{self.tick_ns}/{self.time_bits}/{self.node_bits}/"
                f"{self.sequence_bits}/{int(self.positive_int64)}")

    def decode(self, value: int) -> Decoded:
        """The time (UTC, truncated to the microsecond), node and sequence of an id."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"Layout.decode() argument must be an int, not {type(value).__name__}")
        if not 0 <= value <= self.max_id:
            raise ValueError(
                f"Layout.decode() argument must be in [0, {self.max_id}] for the {self.name} "
                f"layout, got {value}"
            )
        ticks = value >> (self.node_bits + self.sequence_bits)
        unix_ns = self.epoch_ns + ticks * self.tick_ns
        return Decoded(
            datetime=_EPOCH + timedelta(microseconds=unix_ns // 1000),
            node=(value >> self.sequence_bits) & self.max_node,
            sequence=value & self.max_sequence,
            ticks=ticks,
            unix_ns=unix_ns,
        )

    def encode(self, when: datetime, node: int = 0, sequence: int = 0) -> int:
        """The smallest id of ``node`` at time ``when`` (an aware datetime): every id drawn at or
        after ``when`` is >= it, so ``id >= layout.encode(midnight)`` selects "ids from today"
        (with ``node=0``, across all nodes)."""
        ns = _ns_since_unix_epoch(when)
        if ns < self.epoch_ns:
            raise ValueError(f"{when.isoformat()} is before the {self.name} layout's epoch "
                             f"{self.epoch.isoformat()}")
        ticks = (ns - self.epoch_ns) // self.tick_ns
        if ticks >> self.time_bits:
            raise ValueError(f"{when.isoformat()} is past the {self.name} layout's end "
                             f"{self.end.isoformat()}")
        return self.pack(ticks, node, sequence)


def _ms(year: int, month: int, day: int) -> int:
    return _ns_since_unix_epoch(datetime(year, month, day, tzinfo=timezone.utc))


Layout.TIME_COUNTER = Layout(0, "us", 52, 0, 12, positive_int64=False, name="time_counter")
Layout.TWITTER = Layout(1288834974657 * 1_000_000, "ms", 41, 10, 12, name="twitter")
Layout.DISCORD = Layout(1420070400000 * 1_000_000, "ms", 41, 10, 12, name="discord")
Layout.INT64 = Layout(_ms(2024, 1, 1), "ms", 41, 10, 12, name="int64")
Layout.JS_SAFE = Layout(_ms(2024, 1, 1), "ms", 41, 6, 6, name="js_safe")
Layout.PRESETS = {
    layout.name: layout
    for layout in (Layout.TIME_COUNTER, Layout.TWITTER, Layout.DISCORD, Layout.INT64,
                   Layout.JS_SAFE)
}

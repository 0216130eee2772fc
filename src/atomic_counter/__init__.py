"""Unique, monotonically increasing 64-bit ids: lock-free counters with a C++ core.

A drop-in replacement for the original atomic-counter (0.1.4): the same names, constants and
bit layout, so ids continue its sequences. ``Counter`` counts nanoseconds since a base plus one
interval per draw; ``TimeCounter`` ids are (microseconds since the Unix epoch << 12) | sequence.
Both are safe to share between threads. ``SharedCounter`` and ``SharedTimeCounter`` are the same
counters in shared memory: one sequence for every process on the host that opens the same name.
``SnowflakeCounter`` draws time | node | sequence ids of a ``Layout`` for one node, and
``lease_node_id`` leases node ids from Redis or PostgreSQL so that a whole fleet never
collides. ``FleetCounter`` is both in one object that is right in every process model: it
leases a node in each process that draws from it. ``SegmentCounter`` hands out a dense sequence
shared by a fleet from blocks reserved in PostgreSQL or Redis.

Importing the package loads only the native core: the layouts and the leases load on first use,
so that `import atomic_counter` costs no more than the original's.
"""

from __future__ import annotations

# Module attributes of the original atomic-counter kept outside __all__, as there.
from ._core import _BASE as _BASE
from ._core import (
    Counter,
    LeaseExpiredError,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
    format_id,
    parse_id,
)
from ._core import __version__ as __version__
from ._core import get_timedelta as get_timedelta
from ._core import to_datetime as to_datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo

    from .errors import (
        LeaseRefusedError,
        NoFreeNodeError,
        SegmentRefusedError,
        StoreTimeoutError,
        StoreUnavailableError,
    )
    from .fleet import FleetCounter
    from .layout import Decoded, Layout
    from .lease import AsyncNodeLease, NodeLease, alease_node_id, lease_node_id
    from .segment import SegmentCounter


__all__ = [
    "AsyncNodeLease",
    "Counter",
    "Decoded",
    "FleetCounter",
    "Layout",
    "LeaseExpiredError",
    "LeaseRefusedError",
    "NoFreeNodeError",
    "NodeLease",
    "SegmentCounter",
    "SegmentRefusedError",
    "SharedCounter",
    "SharedTimeCounter",
    "SnowflakeCounter",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "TimeCounter",
    "alease_node_id",
    "daily",
    "format_id",
    "lease_node_id",
    "parse_id",
]

# Names loaded on first use, and the module that defines each.
_LAZY = {
    "Decoded": "layout",
    "Layout": "layout",
    "AsyncNodeLease": "lease",
    "NodeLease": "lease",
    "alease_node_id": "lease",
    "lease_node_id": "lease",
    "SegmentCounter": "segment",
    "FleetCounter": "fleet",
    "LeaseRefusedError": "errors",
    "NoFreeNodeError": "errors",
    "SegmentRefusedError": "errors",
    "StoreTimeoutError": "errors",
    "StoreUnavailableError": "errors",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atomic_counter' has no attribute {name!r}")
    # The import statement's machinery, not importlib.import_module: importing importlib (and
    # the warnings module it loads) would cost more than layout.py itself.
    value = getattr(__import__(f"{__name__}.{module}", None, None, (name,)), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def daily(tz: tzinfo | None = None) -> Counter:
    """Return a Counter whose base is today's midnight, so its values restart each day.

    The values are nanoseconds since midnight (plus one per draw), unique for the day down to
    the nanosecond whenever the counter is created. ``tz`` is the time zone whose midnight
    counts (for example ``zoneinfo.ZoneInfo("America/New_York")`` for an exchange's trading
    day); the default is UTC, as in the original atomic-counter.
    """
    from datetime import datetime, time, timedelta, timezone, tzinfo

    if tz is None:
        tz = timezone.utc
    elif not isinstance(tz, tzinfo):
        raise TypeError(
            f"daily() argument 'tz' must be a datetime.tzinfo or None, not {type(tz).__name__}"
        )
    today = datetime.now(tz).date()
    midnight = datetime.combine(today, time(0), tzinfo=tz)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    base_ns = (midnight - epoch) // timedelta(microseconds=1) * 1000
    return Counter(base_ns)

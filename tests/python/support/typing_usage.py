"""Every public name of atomic_counter, used with its types: checked by `mypy --strict` in CI
(test_typing.py), and run as a script too."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import atomic_counter
from atomic_counter import (
    AsyncNodeLease,
    Counter,
    Decoded,
    FleetCounter,
    Layout,
    LeaseExpiredError,
    LeaseRefusedError,
    NodeLease,
    NoFreeNodeError,
    SharedCounter,
    SharedTimeCounter,
    SnowflakeCounter,
    TimeCounter,
    alease_node_id,
    daily,
    get_timedelta,
    lease_node_id,
    to_datetime,
)


def use_counters() -> list[int]:
    c: Counter = Counter(0, 0, 1)
    values: list[int] = [c.next(), next(c), c.current(), c.base, c.interval, c.limit]
    c.set(5)
    c.advance_to(6)
    block: memoryview = c.next_many(3)
    values.extend(block.tolist())
    t = TimeCounter()
    stamp: datetime = TimeCounter.to_datetime(t.next())
    delta: timedelta = TimeCounter.get_timedelta(t.next(), t.current())
    t.advance_to(t.current())
    us: int = TimeCounter.decode_timestamp_microseconds(t.current()) + t.lead_us()
    assert stamp.tzinfo is not None and delta >= timedelta(0) and us > 0
    assert to_datetime(t.current()) == TimeCounter.to_datetime(t.current())
    assert get_timedelta(t.current(), 0) > timedelta(0)
    values.append(daily(timezone.utc).next())
    return values


def use_shared() -> int:
    name = f"atomic-counter-typing-{os.getpid()}"
    with SharedCounter(name, 0, 0, 1, mode=0o600, allow_other_owner=False) as shared:
        shared.set(1)
        shared.advance_to(2)
        assert shared.path == name and len(shared.region_id) == 32
        total = shared.next() + shared.current() + shared.limit + len(shared.next_many(2))
        assert shared.name == name and not shared.closed and not shared.durable
        assert shared.block is None
        shared.unlink()
    with SharedTimeCounter(name + "-t", durable=None, mode=0o600) as stamps:
        stamps.advance_to(stamps.current())
        total += stamps.next() + stamps.lead_us()
        assert stamps.path == name + "-t" and len(stamps.region_id) == 32
        assert SharedTimeCounter.to_datetime(stamps.current()).year >= 2024
        stamps.unlink()
    return total


def use_layouts() -> Decoded:
    layout: Layout = Layout.preset("int64")
    counter = SnowflakeCounter(layout, 3, floor=None)
    first: int = counter.next()
    assert counter.node == 3 and counter.lead_ns() >= 0
    decoded: Decoded = layout.decode(first)
    lowest: int = layout.first_id_at(decoded.datetime, node=0)
    same: Layout = counter.layout
    assert lowest <= first and layout.end > layout.epoch and same is layout
    custom = Layout.create(datetime(2025, 1, 1, tzinfo=timezone.utc), "ms", 41, 10, 12)
    assert custom.max_node == 1023
    return decoded


def lease_type(lease: NodeLease) -> SnowflakeCounter:
    """Not run (it needs Redis); type-checked."""
    if not lease.valid:
        raise LeaseExpiredError("lease lost")
    return lease.counter()


def lease_call(url: str) -> NodeLease:
    """Not run (it needs Redis); type-checked."""
    try:
        return lease_node_id(
            url,
            "orders",
            layout=Layout.TWITTER,
            ttl=10.0,
            max_nodes=8,
            wait=1.0,
            max_skew=1.0,
            max_lead=2.0,
        )
    except (NoFreeNodeError, LeaseRefusedError):
        raise


async def async_lease_call(url: str) -> int:
    """Not run (it needs Redis); type-checked."""
    lease: AsyncNodeLease = await alease_node_id(url, "orders", ttl=10.0)
    async with lease:
        return lease.counter().next()


def fleet_config() -> FleetCounter:
    """Run: a FleetCounter is configuration until it draws."""
    ids = FleetCounter(
        "redis://localhost:6379/0",
        "orders",
        layout=Layout.INT64,
        ttl=3.0,
        max_skew=1.0,
        max_lead=2.0,
        max_nodes=None,
        wait=10.0,
        trust_store=False,
    )
    node: int | None = ids.node
    assert node is None and ids.layout is Layout.INT64 and ids.namespace == "orders"
    return ids


def fleet_draws(ids: FleetCounter) -> list[int]:
    """Not run (it needs Redis); type-checked."""
    ids.warm()
    drawn: list[int] = [ids.next(), next(ids), *ids.next_many(3).tolist()]
    ids.close()
    return drawn


async def fleet_async_draw(ids: FleetCounter) -> int:
    """Not run (it needs Redis); type-checked."""
    return await ids.anext()


if __name__ == "__main__":
    print(atomic_counter.__version__, len(use_counters()), use_shared() > 0, use_layouts().node)
    print(repr(fleet_config()))

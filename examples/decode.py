"""Decoding ids: TimeCounter ids, Snowflake layouts, and the lowest id of a day for range
queries."""

from __future__ import annotations

from datetime import datetime, timezone

from atomic_counter import Layout, SnowflakeCounter, TimeCounter


def main() -> None:
    event = TimeCounter().next()
    print(
        f"TimeCounter id {event}: {TimeCounter.to_datetime(event).isoformat()}, "
        f"sequence {event & 0xFFF}"
    )

    # Discord's documented example id.
    discord = Layout.DISCORD.decode(175928847299117063)
    print(
        f"Discord id 175928847299117063: {discord.datetime.isoformat()}, "
        f"worker {discord.node >> 5}, process {discord.node & 31}, increment {discord.sequence}"
    )

    ids = SnowflakeCounter(Layout.INT64, node=42)
    order = ids.next()
    parts = Layout.INT64.decode(order)
    print(
        f"int64 layout id {order}: {parts.datetime.isoformat()}, node {parts.node}, "
        f"sequence {parts.sequence}"
    )

    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    lowest = Layout.INT64.encode(today)
    assert order >= lowest
    print(f"every int64-layout id drawn today is >= {lowest} (WHERE id >= {lowest})")

    for layout in Layout.PRESETS.values():
        print(
            f"{layout.name:>12}: {layout.time_bits}/{layout.node_bits}/{layout.sequence_bits} "
            f"bits of {layout.unit}, ids up to {layout.max_id}, runs out {layout.end.date()}"
        )


if __name__ == "__main__":
    main()

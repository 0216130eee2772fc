"""Draws a few ids from each counter and decodes them: the README's main job."""

from datetime import timezone
from zoneinfo import ZoneInfo

import atomic_counter
from atomic_counter import Counter, TimeCounter, daily


def main() -> None:
    print(f"atomic_counter {atomic_counter.__version__}")

    orders = Counter()  # ns since 2020-01-01T05:00Z, +1 per draw
    print("\nCounter(): nanoseconds since the base, one interval per draw")
    for _ in range(3):
        print(f"  {orders.next()}")

    trading_day = daily(ZoneInfo("America/New_York"))
    print("\ndaily(ZoneInfo('America/New_York')): restarts at the exchange's midnight")
    for _ in range(3):
        print(f"  {trading_day.next()}")

    events = TimeCounter()
    print("\nTimeCounter(): (microseconds since 1970 << 12) | sequence, decoded")
    ids = [events.next() for _ in range(5)]
    for event_id in ids:
        when = TimeCounter.to_datetime(event_id).astimezone(timezone.utc)
        print(f"  {event_id}  {when.isoformat()}  sequence {event_id & 0xFFF}")
    span = TimeCounter.get_timedelta(ids[-1], ids[0])
    print(f"\n  first to last: {span}, lead over the clock: {events.lead_us()} us")


if __name__ == "__main__":
    main()

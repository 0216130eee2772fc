"""Daily order sequences that restart at each exchange's midnight, in its own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from atomic_counter import daily

EXCHANGES = {"NYSE": "America/New_York", "LSE": "Europe/London", "TSE": "Asia/Tokyo"}


def main() -> None:
    for exchange, zone in EXCHANGES.items():
        tz = ZoneInfo(zone)
        orders = daily(tz)
        first = orders.next()
        midnight = datetime.fromtimestamp(orders.base / 1e9, tz)
        since = timedelta(microseconds=first // 1000)
        print(
            f"{exchange}: day began {midnight.isoformat()}, order id {first} ({since} into the day)"
        )


if __name__ == "__main__":
    main()

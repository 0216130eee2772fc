"""SQLAlchemy and PostgreSQL: a BIGINT primary key drawn from a FleetCounter (INT64 ids, positive
int64 until 2093, unique across every process that inserts), and the orders of one day found by
a range of ids, with no column or index for the time.

    DATABASE_URL=postgresql+psycopg://user@host/db python examples/recipes/sqlalchemy_orders.py

The node leases live in the same PostgreSQL (ATOMIC_COUNTER_STORE may name a Redis instead).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from atomic_counter import FleetCounter, Layout
from atomic_counter.sqlalchemy import fleet_id

# At import, in every process: no I/O until the first id, and then a node of the process's own.
# (The lease store takes a plain postgresql:// URL.) The tests shorten the lease's timings
# through ATOMIC_COUNTER_OPTIONS.
ORDER_IDS = FleetCounter(
    os.environ.get("ATOMIC_COUNTER_STORE")
    or os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"),
    "orders",
    **json.loads(os.environ.get("ATOMIC_COUNTER_OPTIONS", "{}")),
)


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    # BIGINT PRIMARY KEY, drawn in Python before the INSERT: no round trip to a sequence.
    id: Mapped[int] = fleet_id(ORDER_IDS)
    item: Mapped[str] = mapped_column(String(40))


def main() -> None:
    ORDER_IDS.warm()  # at startup: the claim's wait runs while the engine connects
    engine = create_engine(os.environ["DATABASE_URL"])
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(Order(item=f"item {i}") for i in range(5))
        session.commit()
        midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        low, high = Layout.INT64.range(midnight, midnight + timedelta(days=1))
        today = session.scalars(
            select(Order).where(Order.id.between(low, high)).order_by(Order.id)
        ).all()
        print(
            f"{len(today)} orders today, in the order they were made: "
            f"{[o.item for o in today] == [f'item {i}' for i in range(5)]}"
        )
        first = Layout.INT64.decode(today[0].id)
        print(
            f"first: id {today[0].id}, made {first.datetime:%Y-%m-%d} on node {first.node} "
            f"(this process's: {first.node == ORDER_IDS.node})"
        )


if __name__ == "__main__":
    main()

"""SQLAlchemy and PostgreSQL: a BIGINT primary key drawn from a SnowflakeCounter of the INT64
layout (ids positive int64 until 2093), and the orders of one day found by a range of ids,
with no column or index for the time.

    DATABASE_URL=postgresql+psycopg://user@host/db python examples/recipes/sqlalchemy_orders.py
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from atomic_counter import Layout, SnowflakeCounter

# One process here; in a fleet: ids = lease_node_id(redis_url, "orders", layout=Layout.INT64)
# .counter(), a node of its own for every process.
ids = SnowflakeCounter(Layout.INT64, node=1)


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    # The id is drawn in Python, before the INSERT: no round trip to a sequence.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=ids.next)
    item: Mapped[str] = mapped_column(String(40))


def main() -> None:
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
        print(f"first: id {today[0].id}, made {first.datetime:%Y-%m-%d} by node {first.node}")


if __name__ == "__main__":
    main()

"""SQLAlchemy 2.0: BIGINT columns whose values are ids unique across the fleet, drawn from a
FleetCounter in Python before the INSERT (no round trip to a sequence).

    from atomic_counter import FleetCounter
    from atomic_counter.sqlalchemy import fleet_id

    ORDER_IDS = FleetCounter("redis://localhost:6379/0", "orders")   # no I/O

    class Order(Base):
        __tablename__ = "orders"
        id: Mapped[int] = fleet_id(ORDER_IDS)          # BIGINT PRIMARY KEY, default ORDER_IDS.next

``fleet_id_column()`` is the same for a Core ``Table``. Each process (each worker of an app
server, each child of a pool) leases a node of its own at its first draw; ``warm()`` the counter
at startup so the first INSERT does not wait for the claim. With an AsyncSession the default
runs inside the flush, on the event loop: warm the counter at startup, or set the id yourself
with ``await ORDER_IDS.anext()``.

``insert(table).from_select(...)``, and an INSERT inside another statement (a CTE), is refused
(a ValueError, which SQLAlchemy raises as the ``orig`` of a StatementError) when it leaves the id
to the default:
SQLAlchemy computes a Python default once per statement, so every row selected would get the
same id. Draw the ids with ``next_many()`` and insert them as values instead.

Not imported by ``import atomic_counter``; SQLAlchemy is imported when a column is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fleet import FleetCounter

if TYPE_CHECKING:
    from sqlalchemy import Column  # type: ignore[import-not-found, unused-ignore]
    from sqlalchemy.orm import MappedColumn  # type: ignore[import-not-found, unused-ignore]

__all__ = ["fleet_id", "fleet_id_column"]


def _checked(counter: object, call: str, kwargs: dict[str, Any]) -> FleetCounter:
    if not isinstance(counter, FleetCounter):
        raise TypeError(
            f"{call} argument 'counter' must be an atomic_counter.FleetCounter, not "
            f"{type(counter).__name__}"
        )
    if not counter.layout.positive_int64:
        raise ValueError(
            f"{call}: the {counter.layout.name} layout's ids pass 2**63 - 1, beyond a BIGINT "
            f"column; use a FleetCounter with a positive_int64 layout (Layout.INT64)"
        )
    for taken in ("default", "insert_default", "autoincrement", "type_"):
        if taken in kwargs:
            raise TypeError(f"{call} takes no {taken!r}: the column's values come from the counter")
    return counter


class _Draw:
    """The column's default: the counter's next id for each row. SQLAlchemy passes it the
    statement's execution context (it takes one argument), so that an INSERT ... FROM SELECT,
    whose Python default is computed once for all its rows, is refused."""

    __slots__ = ("counter", "name")

    def __init__(self, counter: FleetCounter, name: str | None) -> None:
        self.counter = counter
        self.name = name

    def __call__(self, context: Any) -> int:
        statement = getattr(getattr(context, "compiled", None), "statement", None)
        # An INSERT ... FROM SELECT, or an INSERT inside another statement (a CTE of a SELECT):
        # the default is computed once for all the rows the statement makes.
        if not getattr(context, "isinsert", True) or getattr(statement, "select", None) is not None:
            column = f"the id column {self.name!r}" if self.name else "the id column"
            raise ValueError(
                f"INSERT ... FROM SELECT (or an INSERT inside another statement) with {column} "
                f"left to its default: SQLAlchemy computes the default once for the whole "
                f"statement, so every row would get the same id. Draw the ids with next_many() "
                f"and insert them as values"
            )
        return self.counter.next()


def fleet_id(
    counter: FleetCounter, *, primary_key: bool = True, **kwargs: Any
) -> MappedColumn[int]:
    """``mapped_column(BigInteger, primary_key=primary_key, default=counter.next,
    autoincrement=False, **kwargs)``: an ORM column of ids from ``counter``."""
    from sqlalchemy import BigInteger  # type: ignore[import-not-found, unused-ignore]
    from sqlalchemy.orm import mapped_column  # type: ignore[import-not-found, unused-ignore]

    ids = _checked(counter, "fleet_id()", kwargs)
    name = kwargs.get("name")
    column: MappedColumn[int] = mapped_column(
        BigInteger,
        primary_key=primary_key,
        default=_Draw(ids, name),
        autoincrement=False,
        **kwargs,
    )
    return column


def fleet_id_column(
    name: str, counter: FleetCounter, *, primary_key: bool = True, **kwargs: Any
) -> Column[int]:
    """``Column(name, BigInteger, primary_key=primary_key, default=counter.next,
    autoincrement=False, **kwargs)``: a Core column of ids from ``counter``."""
    from sqlalchemy import BigInteger, Column  # type: ignore[import-not-found, unused-ignore]

    if not isinstance(name, str):
        raise TypeError(
            f"fleet_id_column() argument 'name' must be a str, not {type(name).__name__}"
        )
    ids = _checked(counter, "fleet_id_column()", kwargs)
    column: Column[int] = Column(
        name,
        BigInteger,
        primary_key=primary_key,
        default=_Draw(ids, name),
        autoincrement=False,
        **kwargs,
    )
    return column

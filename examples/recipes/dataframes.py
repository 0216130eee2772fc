"""pandas and pyarrow: a million ids as an int64 column in one call, decoded into times, nodes
and sequences without a Python loop, and written to PostgreSQL as BIGINT (pandas refuses
unsigned 64-bit columns; ids of the INT64 layout are signed).

    DATABASE_URL=postgresql+psycopg://user@host/db python examples/recipes/dataframes.py
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa

from atomic_counter import Layout, SnowflakeCounter

ids = SnowflakeCounter(Layout.INT64, node=3)


def main() -> None:
    column = np.asarray(ids.next_many(1_000_000))  # int64, no copy
    times, nodes, sequences = Layout.INT64.decode_many(column)
    frame = pd.DataFrame({"id": column, "at": times, "node": nodes, "sequence": sequences})
    print(frame.dtypes.to_dict())
    table = pa.Table.from_pandas(frame, preserve_index=False)
    print("arrow id column:", table.schema.field("id").type)
    url = os.environ.get("DATABASE_URL")
    if url:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        frame.head(10_000).to_sql("events", engine, if_exists="replace", index=False)
        with engine.connect() as connection:
            kind = connection.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'events' AND column_name = 'id'"
                )
            ).scalar()
            count = connection.execute(text("SELECT count(*) FROM events")).scalar()
        print(f"PostgreSQL: {count} rows, id column {kind}")


if __name__ == "__main__":
    main()

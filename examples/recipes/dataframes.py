"""pandas and pyarrow: a million ids as an int64 column in one call, decoded into times, nodes
and sequences without a Python loop, and written to PostgreSQL as BIGINT.

Draw ids for dataframes and databases from an int64 layout, SnowflakeCounter(Layout.INT64,
node), not from TimeCounter: TimeCounter ids use all 64 bits (they pass 2**63 in 2041), so
next_many() gives them as uint64, which pandas' to_sql refuses ("Unsigned 64 bit integer
datatype is not supported") and no signed BIGINT column could hold after 2041. Ids of the INT64
layout stay positive int64 until 2093 and come from next_many() as int64, ready for to_sql,
Arrow and BIGINT. In a fleet, lease the node (lease_node_id) rather than hard-coding it.

    DATABASE_URL=postgresql+psycopg://user@host/db python examples/recipes/dataframes.py
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa

from atomic_counter import Layout, SnowflakeCounter, TimeCounter

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
        rows = frame.head(10_000)
        rows.to_sql("events", engine, if_exists="replace", index=False)
        with engine.connect() as connection:
            kind = connection.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'events' AND column_name = 'id'"
                )
            ).scalar()
            back = pd.read_sql("SELECT id FROM events ORDER BY id", connection)["id"]
        same = back.dtype == np.int64 and back.tolist() == rows["id"].tolist()
        print(f"PostgreSQL: {len(back)} rows, id column {kind}, every id read back: {same}")

        # Why not TimeCounter: its ids are uint64, which to_sql refuses.
        uint64 = pd.DataFrame({"id": np.asarray(TimeCounter().next_many(10))})
        try:
            uint64.to_sql("time_counter_events", engine, if_exists="replace", index=False)
        except ValueError as refused:
            print(f"TimeCounter ids ({uint64['id'].dtype}): to_sql refuses them: {refused}")


if __name__ == "__main__":
    main()

"""SnowflakeCounter: time | node | sequence ids of a Layout for one node, as int64 where the layout
promises it (leases, which give it its node, are tested in test_lease*.py)."""

from __future__ import annotations

import pytest

from atomic_counter import (
    Counter,
    Layout,
    SnowflakeCounter,
)


def test_positive_int64_layouts_give_int64_buffers():
    np = pytest.importorskip("numpy")
    assert SnowflakeCounter(Layout.INT64, 1).next_many(4).format == "q"
    assert SnowflakeCounter(Layout.TWITTER, 1).next_many(4).format == "q"
    assert SnowflakeCounter(Layout.TIME_COUNTER, 0).next_many(4).format == "Q"
    assert Counter().next_many(4).format == "Q"  # Counter and TimeCounter: all 64 bits
    ids = np.asarray(SnowflakeCounter(Layout.INT64, 2).next_many(1000))
    assert ids.dtype == np.int64 and (ids > 0).all() and (np.diff(ids) > 0).all()


def test_pandas_and_pyarrow_take_them_as_int64():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    ids = SnowflakeCounter(Layout.INT64, 3).next_many(100)
    assert pd.Series(ids).dtype == "int64"
    assert pa.array(ids).type == pa.int64()

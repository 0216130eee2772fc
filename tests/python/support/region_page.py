"""A shared region's page as the tests read and write it (include/atomic_counter/detail/
shared_region.hpp has the layout): the value field holds the value's distance below the region's
end mark, so that bytes a truncation zeroes can only move it up, and all zero reads as the end."""

from __future__ import annotations

import sys

VALUE_OFFSET = 128
MAGIC_AND_VERSION = (0x3152544E43434D41).to_bytes(8, sys.byteorder) + (3).to_bytes(4, sys.byteorder)


def _u64(page: bytes | bytearray, offset: int) -> int:
    return int.from_bytes(page[offset : offset + 8], sys.byteorder)


def end_mark(page: bytes | bytearray) -> int:
    """The region's end mark, from its kind (offset 12) and interval (offset 24)."""
    kind = int.from_bytes(page[12:16], sys.byteorder)
    interval = _u64(page, 24)
    if kind != 1:
        return 2**64 - 1  # SharedTimeCounter
    if interval <= 2**31:
        return 2**64 - 1 - (interval << 32) + (interval << 31)
    return 2**64 - 1 - interval + 1


def value_of(page: bytes | bytearray) -> int:
    return (end_mark(page) - _u64(page, VALUE_OFFSET)) % 2**64


def store_value(page: bytearray, value: int) -> None:
    stored = (end_mark(page) - value) % 2**64
    page[VALUE_OFFSET : VALUE_OFFSET + 8] = stored.to_bytes(8, sys.byteorder)


def start_of(page: bytes | bytearray) -> int:
    return _u64(page, 40)

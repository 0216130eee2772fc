"""Argument checks shared by the fleet rungs (leases, segments): a wrong type is a TypeError, a
value out of range a ValueError, each naming the call, the argument and what it takes."""

from __future__ import annotations

import math
from typing import Any


def check_int(func: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func} argument {name!r} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{func} argument {name!r} must be in [{low}, {high}], got {value}")
    return int(value)


def check_seconds(
    func: str, name: str, value: Any, low: float, high: float, *, above_low: bool = False
) -> float:
    """A number of seconds in [low, high] (in (low, high] with above_low)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{func} argument {name!r} must be a number of seconds, not {type(value).__name__}"
        )
    above = low < value if above_low else low <= value
    if not math.isfinite(value) or not above or value > high:
        opening = "(" if above_low else "["
        raise ValueError(
            f"{func} argument {name!r} must be in {opening}{low:g}, {high:g}] seconds, "
            f"got {value!r}"
        )
    return float(value)


def check_bool(func: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{func} argument {name!r} must be a bool, not {type(value).__name__}")
    return value


def check_name(func: str, name: str, value: Any, longest: int, forbidden: str = "") -> str:
    """A non-empty str of at most `longest` characters, none of `forbidden`."""
    if not isinstance(value, str):
        raise TypeError(f"{func} argument {name!r} must be a str, not {type(value).__name__}")
    if not 1 <= len(value) <= longest or any(c in value for c in forbidden):
        without = f" without {' or '.join(repr(c) for c in forbidden)}" if forbidden else ""
        raise ValueError(
            f"{func} argument {name!r} must be 1 to {longest} characters{without}, got "
            f"{len(value)}: {value[:40]!r}"
        )
    return value

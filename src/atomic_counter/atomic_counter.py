"""The original atomic-counter's native module path, kept so ``from atomic_counter.atomic_counter
import Counter`` still works."""

from ._core import Counter, TimeCounter

__all__ = ["Counter", "TimeCounter"]

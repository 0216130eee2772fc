"""The one sans-IO pattern of the package, written once for each kind of caller.

Every protocol of the fleet rungs is a generator that yields what it needs done (a store
request, a statement, a sleep) and receives the result, or the exception, at the yield: the
lease protocol (_lease_protocol.py), the operations of each store (stores/), and the sessions
that wrap them in connections and transactions. Nothing in those generators performs I/O, so one
protocol serves a thread, an asyncio task and the simulator alike. ``drive`` runs one with a
blocking ``perform``; ``adrive`` with an awaitable one. These two loops are the only places where
the synchronous and asynchronous paths differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")

# A protocol: yields requests, receives each one's result, returns T.
Steps = Generator[Any, Any, T]


def drive(steps: Steps[T], perform: Callable[[Any], Any]) -> T:
    """Runs `steps` to its end, answering each request with perform(request); an exception
    from perform is raised inside the generator at its yield."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply, error = None, None
        try:
            reply = perform(request)
        except Exception as exc:
            error = exc


async def adrive(steps: Steps[T], perform: Callable[[Any], Awaitable[Any]]) -> T:
    """drive() with an awaitable perform. Cancellation is not thrown into the generator: it
    ends the drive (the generator is closed, running its finally blocks)."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply, error = None, None
        try:
            reply = await perform(request)
        except Exception as exc:
            error = exc

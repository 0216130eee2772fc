"""The stores behind leases and segments: a URL or a client in, an engine's store out.

Each engine is one module of this package (redis.py, postgres.py) holding everything that talks
to it, and provides the names of protocols.Engine. The factories below find the engine modules
by listing this package, so a new engine is a new file here and nothing else. An engine module
imports its driver (redis-py, psycopg) only when a store of its is made, so listing and
importing the engines costs no driver import.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from .protocols import Engine, LeaseStore, SegmentStore, StoreIO

__all__ = ["engines", "for_leases", "for_segments"]

_engines: list[Engine] | None = None


def engines() -> list[Engine]:
    """Every engine module of this package, in name order."""
    global _engines
    if _engines is None:
        names = sorted(
            info.name
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name != "protocols"
        )
        modules: list[Any] = [importlib.import_module(f"{__name__}.{name}") for name in names]
        _engines = modules
    return _engines


def _advertised() -> list[Engine]:
    """The engines that messages name (memory.py, the simulator's, is left out)."""
    return [engine for engine in engines() if getattr(engine, "ADVERTISED", True)]


def _engine_for(target: Any, func: str, argument: str) -> Engine:
    found = engines()
    schemes = " or ".join(engine.SCHEMES[0] for engine in _advertised())
    if isinstance(target, str):
        for engine in found:
            if target.startswith(engine.SCHEMES):
                return engine
        given = f", got {target.split('://')[0]!r}://..." if "://" in target else ""
        raise ValueError(
            f"{func} argument {argument!r} must be a {schemes} URL (or a client){given}"
        )
    for engine in found:
        if engine.accepts(target):
            return engine
    clients = " or ".join(engine.CLIENTS for engine in _advertised())
    raise TypeError(
        f"{func} argument {argument!r} must be a {schemes} URL or {clients}, not "
        f"{type(target).__name__}"
    )


def for_leases(
    client: Any, namespace: str, *, timeout: float, asynchronous: bool, trust_store: bool
) -> tuple[LeaseStore, Any]:
    """The lease store and its I/O (a StoreIO, or an AsyncStoreIO when `asynchronous`) for a
    URL or a client."""
    func = "alease_node_id()" if asynchronous else "lease_node_id()"
    engine = _engine_for(client, func, "client")
    if not isinstance(client, str) and engine.is_async(client) != asynchronous:
        sync = " or ".join(engine.SYNC_CLIENT for engine in _advertised())
        asyncio = " or ".join(engine.ASYNC_CLIENT for engine in _advertised())
        if asynchronous:
            raise TypeError(
                f"alease_node_id() needs an asyncio client ({asyncio}); for a {sync} use "
                f"lease_node_id()"
            )
        raise TypeError(
            f"lease_node_id() needs a synchronous client ({sync}); for a {asyncio} use "
            f"alease_node_id()"
        )
    return engine.lease_store(
        client,
        namespace,
        timeout=timeout,
        asynchronous=asynchronous,
        func=func,
        trust_store=trust_store,
    )


def for_segments(
    store: Any, name: str, *, timeout: float, trust_failover: bool, assume_durable: bool
) -> tuple[SegmentStore, StoreIO]:
    """The segment store and its I/O for a URL or a client."""
    engine = _engine_for(store, "SegmentCounter()", "store")
    return engine.segment_store(
        store,
        name,
        timeout=timeout,
        trust_failover=trust_failover,
        assume_durable=assume_durable,
    )

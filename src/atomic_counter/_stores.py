"""What the leases (lease.py) and the segment counters (segment.py) share about their stores:
how a URL becomes a client, which errors are worth retrying, and how PostgreSQL names its clock
and its incarnation. redis-py and psycopg are imported only when a store of theirs is used, and
psycopg only here: the package type-checks without the extra (hence the ignores, which are
unused where psycopg is installed)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# The server's clock in ms, and its incarnation: its system identifier and timeline. A restart
# or a crash keeps both; a promoted standby or a restored backup starts a new timeline.
POSTGRES_NOW = (
    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint, "
    "(SELECT system_identifier FROM pg_control_system())::text || '/' || "
    "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
)

# Redis errors worth retrying: the server is loading, busy, failing over or unreachable.
_REDIS_TRANSIENT_PREFIXES = (
    "BUSY",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "NOREPLICAS",
    "OOM",
)


def is_async_client(client: Any) -> bool:
    method = getattr(client, "eval", None) or getattr(client, "execute", None)
    return type(client).__module__.startswith(("redis.asyncio", "psycopg.connection_async")) or (
        inspect.iscoroutinefunction(method)
    )


def is_postgres_client(client: Any) -> bool:
    return type(client).__module__.startswith("psycopg")


def redis_client(url: str, timeout: float, *, func: str, asynchronous: bool = False) -> Any:
    """A redis-py client for the URL whose calls fail after `timeout` seconds."""
    try:
        if asynchronous:
            import redis.asyncio as module
        else:
            import redis as module  # type: ignore[no-redef]
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            f"{func} with a redis:// URL needs redis-py: pip install atomic-counter[redis]"
        ) from exc
    return module.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def postgres_connector(
    url: str, timeout: float, *, func: str, application: str, asynchronous: bool = False
) -> Callable[[], Any]:
    """A function that opens a psycopg connection to the URL (in autocommit), whose calls
    return or fail within about `timeout` seconds: the server ends a statement or a lock wait
    that takes longer, and the kernel gives up on a connection that stops acknowledging."""
    try:
        import psycopg  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            f"{func} with a postgresql:// URL needs psycopg 3: pip install atomic-counter[postgres]"
        ) from exc
    timeout_ms = int(timeout * 1000)
    params: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(2, timeout_ms // 1000),
        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": timeout_ms,
        "application_name": application,
    }
    if asynchronous:
        return lambda: psycopg.AsyncConnection.connect(url, **params)
    return lambda: psycopg.connect(url, **params)


def url_error(func: str, url: str) -> ValueError:
    scheme = f", got {url.split('://')[0]!r}://..." if "://" in url else ""
    return ValueError(
        f"{func} argument 'client' must be a redis:// or postgresql:// URL (or a client){scheme}"
    )


def redis_transient(exc: BaseException) -> bool:
    try:
        import redis.exceptions as errors
    except ImportError:  # pragma: no cover - no Redis store exists without redis-py
        return False
    if isinstance(exc, (errors.ConnectionError, errors.TimeoutError, OSError)):
        return True
    return isinstance(exc, errors.ResponseError) and str(exc).startswith(_REDIS_TRANSIENT_PREFIXES)


def postgres_transient(exc: BaseException) -> bool:
    try:
        import psycopg  # type: ignore[import-not-found, unused-ignore]
        from psycopg import errors  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - no PostgreSQL store exists without psycopg
        return False
    return isinstance(
        exc,
        (
            psycopg.OperationalError,  # connection lost, server shutting down, timeouts
            psycopg.InterfaceError,  # a connection closed under us
            errors.SerializationFailure,
            errors.DeadlockDetected,
        ),
    )


def postgres_out_of_range(exc: BaseException) -> bool:
    """Whether PostgreSQL refused a value past its column's range (a bigint used up)."""
    try:
        from psycopg import errors  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - no PostgreSQL store exists without psycopg
        return False
    return isinstance(exc, errors.NumericValueOutOfRange)


def postgres_refusal(exc: BaseException, *, tables: str, action: str) -> str | None:
    """Why PostgreSQL refused what retrying cannot fix (privileges, a standby), or None.
    `tables` names the tables the role needs, `action` what the caller cannot do."""
    try:
        from psycopg import errors  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - no PostgreSQL store exists without psycopg
        return None
    if isinstance(exc, errors.InsufficientPrivilege):
        return (
            f"PostgreSQL refused to {action} ({exc}): the role needs CREATE on the schema the "
            f"first time, then SELECT, INSERT and UPDATE on {tables}, and EXECUTE on "
            f"pg_control_system() and pg_current_wal_lsn()"
        )
    if isinstance(exc, (errors.ReadOnlySqlTransaction, errors.ObjectNotInPrerequisiteState)):
        return f"PostgreSQL cannot {action} here ({exc}): connect to the primary, not a standby"
    return None

"""Redis: everything atomic-counter says to a Redis server, for leases and segments.

A lease namespace is one hash, ``atomic_counter:{<namespace>}`` (a hash tag, so that its
scripts run on Redis Cluster too); a segment is one integer key, ``atomic_counter:segment:<name>``.
Every operation is one Lua script, which Redis runs atomically, registered once per client and
run by its SHA1 (redis-py's Script: EVALSHA, loading the script again after a restart emptied
the server's cache). Ids travel as decimal strings, since a Lua number is a double, exact only
below 2**53; times are the server's clock in ms. redis-py is imported when a store is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SegmentRefusedError, StoreUnavailableError
from .protocols import (
    Claim,
    Claimed,
    ClaimReply,
    Confirm,
    Confirmed,
    ConfirmReply,
    Exchange,
    Full,
    Lost,
    Refusal,
    Refused,
    Release,
    Renew,
    Renewed,
    RenewReply,
    Restarted,
    Suspicion,
    T,
)

NAME = "Redis"
CLIENTS = "a redis-py client"  # for messages
SYNC_CLIENT, ASYNC_CLIENT = "redis.Redis", "redis.asyncio.Redis"
SCHEMES = ("redis://", "rediss://", "unix://")

# Errors that say the server cannot serve now but may soon: loading, busy, failing over.
_TRANSIENT_PREFIXES = (
    "BUSY",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "NOREPLICAS",
    "OOM",
)


# -- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """Run a Lua script (by its SHA1) with KEYS and ARGV."""

    lua: str
    keys: tuple[str, ...]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Command:
    """Run one command."""

    args: tuple[Any, ...]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- lease scripts -----------------------------------------------------------------------------
# Each runs on the namespace's hash (KEYS[1]) and starts with the prelude: the server's time, a
# refusal when it may evict the hash, its run_id (one INFO read).

_PRELUDE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local info = redis.call('INFO')
local policy = string.match(info, 'maxmemory_policy:([%w%-]+)') or ''
if string.sub(policy, 1, 7) == 'allkeys' then return {'eviction', policy} end
local run_id = string.match(info, 'run_id:(%w+)') or ''
local function raise_hwm(node, id)
  local old = redis.call('HGET', key, 'hwm:' .. node) or '0'
  if #id > #old or (#id == #old and id > old) then redis.call('HSET', key, 'hwm:' .. node, id) end
end
"""

# ARGV: token, ttl ms, node count, layout fingerprint, highest generation this lease has seen.
# -> {'ok', node, hwm, floor ms, suspicion ('' when none), now ms, generation, longest ttl ms,
#     run id} | {'full'} | {'layout', stored} | {'eviction', policy}
_CLAIM = (
    _PRELUDE
    + """
local token, ttl, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local layout, seen = ARGV[4], tonumber(ARGV[5])
local suspicion = ''
if redis.call('EXISTS', key) == 0 then
  suspicion = 'missing'
  redis.call('HSET', key, 'version', '2', 'layout', layout, 'incarnation', '', 'gen', '0',
             'floor_ms', '0', 'max_ttl_ms', tostring(ttl))
else
  local stored = redis.call('HGET', key, 'layout') or ''
  if stored ~= layout then return {'layout', stored} end
  local incarnation = redis.call('HGET', key, 'incarnation') or ''
  if incarnation == '' then suspicion = 'unconfirmed'
  elseif incarnation ~= run_id then suspicion = 'restarted' end
  if tonumber(redis.call('HGET', key, 'gen') or '0') < seen then
    suspicion = 'rolled back'
    redis.call('HSET', key, 'incarnation', '')
  end
  if ttl > tonumber(redis.call('HGET', key, 'max_ttl_ms') or '0') then
    redis.call('HSET', key, 'max_ttl_ms', tostring(ttl))
  end
end
local max_ttl = tonumber(redis.call('HGET', key, 'max_ttl_ms'))
for i = 0, count - 1 do
  local owner = redis.call('HGET', key, 'owner:' .. i)
  local expires = tonumber(redis.call('HGET', key, 'expires:' .. i) or '0')
  -- An expiry further away than the longest ttl means Redis's clock went back: the holder's
  -- own deadline (its monotonic clock) has passed, and the node's high-water mark fences it.
  if not owner or expires <= now or expires > now + max_ttl then
    redis.call('HSET', key, 'owner:' .. i, token, 'expires:' .. i, tostring(now + ttl))
    local gen = redis.call('HINCRBY', key, 'gen', 1)
    return {'ok', i, redis.call('HGET', key, 'hwm:' .. i) or '0',
            redis.call('HGET', key, 'floor_ms'), suspicion, tostring(now), gen, tostring(max_ttl),
            run_id}
  end
end
return {'full'}
"""
)

# ARGV: token, node, ttl ms, high-water mark, highest generation seen.
# -> {'ok' | 'rolled back', now ms, generation, run id} | {'lost'} | {'eviction', policy}
_RENEW = (
    _PRELUDE
    + """
local token, node, ttl, mark, seen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {'lost'} end
local status = 'ok'
if tonumber(redis.call('HGET', key, 'gen') or '0') < seen then
  status = 'rolled back'
  redis.call('HSET', key, 'incarnation', '')
end
redis.call('HSET', key, 'expires:' .. node, tostring(now + ttl))
raise_hwm(node, mark)
local gen = redis.call('HINCRBY', key, 'gen', 1)
return {status, tostring(now), gen, run_id}
"""
)

# After a claimant's wait: the namespace is whole again on this server.
# ARGV: token, node, run id at the claim, floor ms. -> {'ok', floor ms, generation} | {'lost'}
#   | {'restarted'} | {'eviction', policy}
_CONFIRM = (
    _PRELUDE
    + """
local token, node, claimed_on, floor = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {'lost'} end
if run_id ~= claimed_on then return {'restarted'} end
local old = tonumber(redis.call('HGET', key, 'floor_ms') or '0')
if floor > old then redis.call('HSET', key, 'floor_ms', tostring(floor)) else floor = old end
redis.call('HSET', key, 'incarnation', run_id)
local gen = redis.call('HINCRBY', key, 'gen', 1)
return {'ok', tostring(floor), gen}
"""
)

# Lets the node go. ARGV: token, node, high-water mark ('' to leave it as it is: a node given
# back before anything was drawn on it). -> {1} | {0} (not ours) | {'eviction', policy}
_RELEASE = (
    _PRELUDE
    + """
local token, node, mark = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {0} end
-- The sealed counter's mark is at or above every id this holder drew, and its renewals recorded
-- more (a reservation): the exact mark lets the next holder start right above the last id.
if mark ~= '' then redis.call('HSET', key, 'hwm:' .. node, mark) end
redis.call('HDEL', key, 'owner:' .. node, 'expires:' .. node)
redis.call('HINCRBY', key, 'gen', 1)
return {1}
"""
)


def _refused(reply: Any) -> Refused | None:
    status = _text(reply[0])
    if status == "eviction":
        return Refused(Refusal.EVICTION, _text(reply[1]))
    if status == "layout":
        return Refused(Refusal.LAYOUT, _text(reply[1]))
    return None


class RedisLeases:
    """A lease namespace in one hash (protocols.LeaseStore)."""

    name = NAME

    def __init__(self, namespace: str) -> None:
        self.key = f"atomic_counter:{{{namespace}}}"
        self._legacy = f"atomic_counter:{namespace}:safe_after"

    def _script(self, lua: str, *args: Any) -> Exchange[Any]:
        return (yield Script(lua, (self.key,), args))

    def claim(self, request: Claim) -> Exchange[ClaimReply]:
        reply = yield from self._script(
            _CLAIM, request.token, request.ttl_ms, request.nodes, request.layout, request.seen_gen
        )
        refused = _refused(reply)
        if refused is not None:
            return refused
        if _text(reply[0]) == "full":
            return Full()
        suspicion = _text(reply[4])
        return Claimed(
            node=int(reply[1]),
            hwm=int(_text(reply[2])),
            floor_ms=int(_text(reply[3])),
            suspicion=Suspicion(suspicion) if suspicion else None,
            store_ms=int(_text(reply[5])),
            gen=int(reply[6]),
            max_ttl_ms=int(_text(reply[7])),
            incarnation=_text(reply[8]),
        )

    def renew(self, request: Renew) -> Exchange[RenewReply]:
        reply = yield from self._script(
            _RENEW,
            request.token,
            request.node,
            request.ttl_ms,
            str(request.mark),
            request.seen_gen,
        )
        refused = _refused(reply)
        if refused is not None:
            return refused
        status = _text(reply[0])
        if status == "lost":
            return Lost()
        return Renewed(
            rolled_back=status == "rolled back",
            store_ms=int(_text(reply[1])),
            gen=int(reply[2]),
            incarnation=_text(reply[3]),
        )

    def confirm(self, request: Confirm) -> Exchange[ConfirmReply]:
        reply = yield from self._script(
            _CONFIRM, request.token, request.node, request.claimed_on, request.floor_ms
        )
        refused = _refused(reply)
        if refused is not None:
            return refused
        status = _text(reply[0])
        if status == "lost":
            return Lost()
        if status == "restarted":
            return Restarted()
        return Confirmed(floor_ms=int(_text(reply[1])), gen=int(reply[2]))

    def release(self, request: Release) -> Exchange[bool]:
        mark = "" if request.mark is None else str(request.mark)
        reply = yield from self._script(_RELEASE, request.token, request.node, mark)
        return _refused(reply) is None and int(reply[0]) == 1

    def legacy_key(self) -> Exchange[str | None]:
        exists = yield Command(("EXISTS", self._legacy))
        return self._legacy if int(exists) else None


# -- segments ----------------------------------------------------------------------------------

# INCRBY's reply would reach the script as a Lua number, a double, exact only below 2**53: the
# script returns the stored string instead, exact to 2**63 - 1.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('INCRBY', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
"""

_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""

_SKIP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
"""


class RedisSegment:
    """A sequence in one integer key (protocols.SegmentStore). The server must persist every
    write before it replies and must never evict the key: the first reservation checks its
    settings (CONFIG GET, ROLE), unless the caller vouches for them (assume_durable)."""

    name = NAME

    def __init__(self, name: str, *, assume_durable: bool) -> None:
        self._name = name
        self.key = f"atomic_counter:segment:{name}"
        self._checked = assume_durable

    def _check_durability(self) -> Exchange[None]:
        """Refuses a server that can lose or evict the key: a reservation it forgets would be
        handed out again."""
        import redis.exceptions

        config: dict[str, str] = {}
        try:
            for key in ("appendonly", "appendfsync", "maxmemory-policy"):
                pairs = yield Command(("CONFIG", "GET", key))
                if isinstance(pairs, dict):
                    pairs = [x for kv in pairs.items() for x in kv]
                config.update(
                    {_text(k): _text(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}
                )
            role = _text((yield Command(("ROLE",)))[0])
        except redis.exceptions.ResponseError as exc:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: cannot read the Redis server's persistence "
                f"settings ({exc}); pass assume_durable=True if it runs appendonly yes with "
                f"appendfsync always and never evicts the key"
            ) from exc
        problems = []
        if config.get("appendonly") != "yes" or config.get("appendfsync") != "always":
            problems.append(
                f"appendonly {config.get('appendonly')}, appendfsync {config.get('appendfsync')}"
                f" (a crash would forget acknowledged reservations: needs appendonly yes and "
                f"appendfsync always)"
            )
        if config.get("maxmemory-policy", "").startswith("allkeys"):
            problems.append(
                f"maxmemory-policy {config['maxmemory-policy']} (may evict the sequence's key)"
            )
        if role != "master":
            problems.append(f"role {role} (connect to the primary)")
        if problems:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: this Redis server could hand out a value "
                f"twice: {'; '.join(problems)}. Use PostgreSQL, fix the settings, or pass "
                f"assume_durable=True if something else makes writes durable"
            )
        self._checked = True

    def reserve(self, start: int, n: int) -> Exchange[tuple[int, int]]:
        import redis.exceptions

        if not self._checked:
            yield from self._check_durability()
        try:
            hi = int((yield Script(_RESERVE, (self.key,), (start, n))))
        except redis.exceptions.ResponseError as exc:
            if "overflow" in str(exc):
                raise OverflowError(
                    f"SegmentCounter {self._name!r} is used up: its next block would pass "
                    f"2**63 - 1 (a Redis integer)"
                ) from exc
            if "WRONGTYPE" in str(exc) or "not an integer" in str(exc):
                raise SegmentRefusedError(
                    f"SegmentCounter {self._name!r}: the Redis key {self.key!r} holds "
                    f"something other than the sequence ({exc})"
                ) from exc
            raise
        return hi - n, hi

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        return bool((yield Script(_GIVE_BACK, (self.key,), (lo, hi))))

    def skip(self, by: int) -> Exchange[int]:
        reply = yield Script(_SKIP, (self.key,), (by,))
        if reply is None:
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(reply)


# -- I/O ---------------------------------------------------------------------------------------


def _unavailable(exc: BaseException) -> StoreUnavailableError | None:
    """The package's error for a failure worth retrying (the server unreachable, loading,
    failing over, busy), or None."""
    import redis.exceptions as errors

    if isinstance(exc, (errors.ConnectionError, errors.TimeoutError, OSError)) or (
        isinstance(exc, errors.ResponseError) and str(exc).startswith(_TRANSIENT_PREFIXES)
    ):
        return StoreUnavailableError(f"Redis is unavailable: {type(exc).__name__}: {exc}")
    return None


class _Scripts:
    """What the two I/O kinds share: the client and its registered scripts."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._registered: dict[str, Any] = {}

    def _request(self, request: Script | Command) -> Callable[[], Any]:
        """The call that performs `request` (a coroutine function for an asyncio client)."""
        if isinstance(request, Command):
            return lambda: self.client.execute_command(*request.args)
        script = self._registered.get(request.lua)
        if script is None:
            script = self._registered[request.lua] = self.client.register_script(request.lua)
        return lambda: script(keys=list(request.keys), args=list(request.args))

    def _session(self, exchange: Exchange[T]) -> Exchange[T]:
        try:
            return (yield from exchange)
        except Exception as exc:
            unavailable = _unavailable(exc)
            if unavailable is not None:
                raise unavailable from exc
            raise


class RedisIO(_Scripts):
    """Runs exchanges on a redis-py client (protocols.StoreIO); redis-py's pool makes it safe
    from any thread."""

    def __init__(self, client: Any, *, owned: bool) -> None:
        super().__init__(client)
        self._owned = owned

    def run(self, exchange: Exchange[T]) -> T:
        from .._drive import drive

        return drive(self._session(exchange), lambda request: self._request(request)())

    def close(self) -> None:
        if self._owned:
            self.client.close()


class AsyncRedisIO(_Scripts):
    """RedisIO for a redis.asyncio client."""

    def __init__(self, client: Any, *, owned: bool) -> None:
        super().__init__(client)
        self._owned = owned

    async def run(self, exchange: Exchange[T]) -> T:
        from .._drive import adrive

        return await adrive(self._session(exchange), lambda request: self._request(request)())

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()


# -- the engine (protocols.Engine) -------------------------------------------------------------


def accepts(client: Any) -> bool:
    return type(client).__module__.startswith("redis.") or (
        callable(getattr(client, "eval", None)) and callable(getattr(client, "evalsha", None))
    )


def is_async(client: Any) -> bool:
    import inspect

    return type(client).__module__.startswith("redis.asyncio") or inspect.iscoroutinefunction(
        getattr(client, "evalsha", None)
    )


def _client(url: str, timeout: float, *, func: str, asynchronous: bool) -> Any:
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


def lease_store(
    client: Any, namespace: str, *, timeout: float, asynchronous: bool, func: str
) -> tuple[RedisLeases, RedisIO | AsyncRedisIO]:
    owned = isinstance(client, str)
    if owned:
        client = _client(client, timeout, func=func, asynchronous=asynchronous)
    io = (AsyncRedisIO if asynchronous else RedisIO)(client, owned=owned)
    return RedisLeases(namespace), io


def segment_store(
    client: Any, name: str, *, timeout: float, trust_failover: bool, assume_durable: bool
) -> tuple[RedisSegment, RedisIO]:
    owned = isinstance(client, str)
    if owned:
        client = _client(client, timeout, func="SegmentCounter()", asynchronous=False)
    elif is_async(client):
        raise TypeError(
            "SegmentCounter() argument 'store' must be a synchronous redis.Redis client or a "
            "URL: it reserves from a thread of its own"
        )
    return RedisSegment(name, assume_durable=assume_durable), RedisIO(client, owned=owned)

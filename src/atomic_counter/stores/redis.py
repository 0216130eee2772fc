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
from typing import Any, NoReturn

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


@dataclass(frozen=True)
class Transaction:
    """Run these in one MULTI/EXEC (nothing else runs between them); the reply is the list of
    their replies, an exception object where one failed."""

    steps: tuple[Script | Command, ...]


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

# ARGV: token, ttl ms, node count, layout fingerprint, highest generation this lease has seen,
# max_skew ms, max_lead ms.
# -> {'ok', node, hwm, floor ms, suspicion ('' when none), now ms, generation, longest ttl ms,
#     run id, longest max_skew ms, longest max_lead ms} | {'full'} | {'layout', stored}
#    | {'eviction', policy}
_CLAIM = (
    _PRELUDE
    + """
local token, ttl, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local layout, seen = ARGV[4], tonumber(ARGV[5])
local limits = {max_ttl_ms = ttl, max_skew_ms = tonumber(ARGV[6]), max_lead_ms = tonumber(ARGV[7])}
local suspicion = ''
if redis.call('EXISTS', key) == 0 then
  suspicion = 'missing'
  redis.call('HSET', key, 'version', '2', 'layout', layout, 'incarnation', '', 'gen', '0',
             'floor_ms', '0')
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
end
-- The longest ttl, max_skew and max_lead of any claimant: the waits use them (A4).
for field, value in pairs(limits) do
  local old = redis.call('HGET', key, field)
  if not old or value > tonumber(old) then
    redis.call('HSET', key, field, tostring(value))
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
            run_id, redis.call('HGET', key, 'max_skew_ms'), redis.call('HGET', key, 'max_lead_ms')}
  end
end
return {'full'}
"""
)

# ARGV: token, node, ttl ms, high-water mark, highest generation seen, the mark this lease's
# last renewal recorded. 'rolled back' when the generation or the node's mark went below them.
# -> {'ok' | 'rolled back', now ms, generation, run id} | {'lost'} | {'eviction', policy}
_RENEW = (
    _PRELUDE
    + """
local token, node, ttl, mark, seen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local last = ARGV[6]
if redis.call('HGET', key, 'owner:' .. node) ~= token then return {'lost'} end
local status = 'ok'
local stored = redis.call('HGET', key, 'hwm:' .. node) or '0'
if tonumber(redis.call('HGET', key, 'gen') or '0') < seen
    or #stored < #last or (#stored == #last and stored < last) then
  status = 'rolled back'
  redis.call('HSET', key, 'incarnation', '')
end
redis.call('HSET', key, 'expires:' .. node, tostring(now + ttl))
raise_hwm(node, mark)
local gen = redis.call('HINCRBY', key, 'gen', 1)
local function longest(field) return redis.call('HGET', key, field) or '0' end
return {status, tostring(now), gen, run_id, longest('max_ttl_ms'), longest('max_skew_ms'),
        longest('max_lead_ms')}
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
            _CLAIM,
            request.token,
            request.ttl_ms,
            request.nodes,
            request.layout,
            request.seen_gen,
            request.skew_ms,
            request.lead_ms,
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
            max_skew_ms=int(_text(reply[9])),
            max_lead_ms=int(_text(reply[10])),
        )

    def renew(self, request: Renew) -> Exchange[RenewReply]:
        reply = yield from self._script(
            _RENEW,
            request.token,
            request.node,
            request.ttl_ms,
            str(request.mark),
            request.seen_gen,
            str(request.last_mark),
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
            max_ttl_ms=int(_text(reply[4])),
            max_skew_ms=int(_text(reply[5])),
            max_lead_ms=int(_text(reply[6])),
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
# A sequence is one integer key, created once (SET NX) and never by a reservation: a key that
# vanished is refused, not restarted (design.md, Segments, R1).

# KEYS[1]: the sequence. ARGV: n, whether to check that the server persists (1 or 0).
# -> {'ok', new value} | {'missing'} | {'role', role} | {'eviction', policy} | {'appendonly'}
# Refusals write nothing. INCRBY's reply would reach the script as a Lua number, a double, exact
# only below 2**53: the script returns the stored string instead, exact to 2**63 - 1.
_RESERVE = """
local info = redis.call('INFO')
local role = string.match(info, 'role:(%w+)') or ''
if role ~= 'master' then return {'role', role} end
local policy = string.match(info, 'maxmemory_policy:([%w%-]+)') or ''
if string.sub(policy, 1, 7) == 'allkeys' then return {'eviction', policy} end
if ARGV[2] == '1' and string.match(info, 'aof_enabled:(%d)') ~= '1' then
  return {'appendonly'}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
redis.call('INCRBY', KEYS[1], ARGV[1])
return {'ok', redis.call('GET', KEYS[1])}
"""

# KEYS[1]: the sequence. ARGV: lo, hi. Moves it down to lo if it is still at hi. -> 1 | 0
_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""

# KEYS[1]: the sequence. ARGV: by, to. -> the new value | false (missing)
_SKIP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('INCRBY', KEYS[1], ARGV[1])
local value = redis.call('GET', KEYS[1])
local to = ARGV[2]
if #to > #value or (#to == #value and to > value) then
  redis.call('SET', KEYS[1], to)
  value = to
end
return value
"""


def _config_value(reply: Any) -> str | None:
    """CONFIG GET's reply (a flat list under RESP2, a map under RESP3): the one value."""
    values = list(reply.values()) if isinstance(reply, dict) else list(reply)[1::2]
    return _text(values[0]) if values else None


class RedisSegment:
    """A sequence in one integer key (protocols.SegmentStore). Every reservation checks, in the
    same MULTI/EXEC, that the server persists it before replying (appendonly yes, appendfsync
    always), keeps the key (no allkeys-* eviction) and is the primary; assume_durable skips the
    persistence half for a server that hides CONFIG and persists by other means."""

    name = NAME

    def __init__(self, name: str, *, assume_durable: bool) -> None:
        self._name = name
        self.key = f"atomic_counter:segment:{name}"
        self._assume_durable = assume_durable

    def _refused(self, problem: str) -> SegmentRefusedError:
        return SegmentRefusedError(
            f"SegmentCounter {self._name!r}: this Redis server could hand out a value twice: "
            f"{problem}. Use PostgreSQL, fix the setting (CONFIG SET, and in redis.conf too, "
            f"CONFIG REWRITE: a restart brings the old one back; if the server already ran "
            f"without it, a crash may have lost reservations: skip_ahead above them first), or "
            f"pass assume_durable=True if something else makes writes durable"
        )

    def create(self, start: int) -> Exchange[int | None]:
        created = yield Command(("SET", self.key, start, "NX"))
        if created:
            return None
        return int(_text((yield Command(("GET", self.key)))))

    def reserve(self, n: int) -> Exchange[tuple[int, int]]:
        import redis.exceptions

        check = not self._assume_durable
        script = Script(_RESERVE, (self.key,), (n, 1 if check else 0))
        steps: tuple[Script | Command, ...] = (script,)
        if check:
            # Read in the same MULTI/EXEC as the reservation: appendfsync always, and no rewrite
            # or snapshot that would skip the fsync meanwhile (no-appendfsync-on-rewrite no).
            steps = (
                Command(("CONFIG", "GET", "appendfsync")),
                Command(("CONFIG", "GET", "no-appendfsync-on-rewrite")),
                script,
            )
        try:
            replies = yield Transaction(steps)
        except redis.exceptions.ResponseError as exc:  # a command refused as it was queued
            self._raise(exc)
        for reply in replies:
            if isinstance(reply, redis.exceptions.ResponseError):
                self._raise(reply)
            if isinstance(reply, Exception):
                raise reply
        reply = replies[-1]
        status = _text(reply[0])
        if status == "missing":
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: Redis has no such sequence (key {self.key!r}): "
                f"it was never created, or Redis lost it (FLUSHALL, DEL, eviction, a restart "
                f"without persistence). A lost sequence is never restarted at its start: stop "
                f"every process that uses it, then create it again above everything reserved, "
                f"SegmentCounter.create(store, {self._name!r}, start=last + 1) with last the last "
                f"value handed out; a new one with SegmentCounter.create()"
            )
        if status == "role":
            raise self._refused(f"role {_text(reply[1])} (connect to the primary)")
        if status == "eviction":
            raise self._refused(
                f"maxmemory-policy {_text(reply[1])} (may evict the sequence's key)"
            )
        if status == "appendonly":
            raise self._refused(
                "appendonly no (a crash would forget acknowledged reservations: needs "
                "appendonly yes and appendfsync always)"
            )
        hi = int(_text(reply[1]))
        if check:
            # Reserved, but a crash could forget it: the range is a gap, never handed out.
            fsync, skipped = _config_value(replies[0]), _config_value(replies[1])
            if fsync != "always":
                raise self._refused(
                    f"appendfsync {fsync} (a crash would forget acknowledged reservations: "
                    f"needs appendonly yes and appendfsync always)"
                )
            if skipped != "no":
                raise self._refused(
                    f"no-appendfsync-on-rewrite {skipped} (writes acknowledged during a "
                    f"rewrite or a snapshot are not fsynced: needs no)"
                )
        return hi - n, hi

    def _raise(self, exc: Exception) -> NoReturn:
        text = str(exc)
        if "overflow" in text:
            raise OverflowError(
                f"SegmentCounter {self._name!r} is used up: its next block would pass "
                f"2**63 - 1 (a Redis integer)"
            ) from exc
        if "WRONGTYPE" in text or "not an integer" in text:
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: the Redis key {self.key!r} holds something "
                f"other than the sequence ({exc})"
            ) from exc
        import redis.exceptions

        # redis-py strips the NOPERM prefix (NoPermissionError); a script's own call that the
        # ACL refuses says "can't run this command".
        if isinstance(exc, redis.exceptions.NoPermissionError) or any(
            words in text for words in ("NOPERM", "can't run this command", "no permissions")
        ):
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: the Redis user may not run a command the "
                f"reservation needs ({exc}): grant it +info, +config|get (the persistence "
                f"checks) and the sequence's key; assume_durable=True does not avoid INFO"
            ) from exc
        if text.startswith(("ERR unknown command", "ERR unknown subcommand")):
            raise SegmentRefusedError(
                f"SegmentCounter {self._name!r}: cannot read the Redis server's persistence "
                f"settings ({exc}); pass assume_durable=True if it runs appendonly yes with "
                f"appendfsync always and never evicts the key"
            ) from exc
        raise exc

    def give_back(self, lo: int, hi: int) -> Exchange[bool]:
        return bool((yield Script(_GIVE_BACK, (self.key,), (lo, hi))))

    def skip(self, by: int, to: int) -> Exchange[int]:
        reply = yield Script(_SKIP, (self.key,), (by, to))
        if reply is None:
            raise ValueError(f"SegmentCounter.skip_ahead(): no sequence named {self._name!r}")
        return int(_text(reply))


# -- I/O ---------------------------------------------------------------------------------------


def _unavailable(exc: BaseException) -> StoreUnavailableError | None:
    """The package's error for a failure worth retrying (the server unreachable, loading,
    failing over, busy), or None."""
    import redis.exceptions as errors

    # redis-py raises READONLY (a primary that became a replica) as ReadOnlyError, with the
    # prefix stripped from its message.
    if isinstance(
        exc, (errors.ConnectionError, errors.TimeoutError, errors.ReadOnlyError, OSError)
    ) or (isinstance(exc, errors.ResponseError) and str(exc).startswith(_TRANSIENT_PREFIXES)):
        return StoreUnavailableError(f"Redis is unavailable: {type(exc).__name__}: {exc}")
    return None


class _Scripts:
    """What the two I/O kinds share: the client and its registered scripts."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._registered: dict[str, Any] = {}

    def _request(self, request: Script | Command, target: Any = None) -> Callable[[], Any]:
        """The call that performs `request` on the client or a pipeline of it (a coroutine
        function for an asyncio client)."""
        target = self.client if target is None else target
        if isinstance(request, Command):
            return lambda: target.execute_command(*request.args)
        script = self._registered.get(request.lua)
        if script is None:
            script = self._registered[request.lua] = self.client.register_script(request.lua)
        return lambda: script(keys=list(request.keys), args=list(request.args), client=target)

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

        return drive(self._session(exchange), self._perform)

    def _perform(self, request: Script | Command | Transaction) -> Any:
        if not isinstance(request, Transaction):
            return self._request(request)()
        pipe = self.client.pipeline(transaction=True)
        for step in request.steps:
            self._request(step, pipe)()
        return pipe.execute(raise_on_error=False)

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

        return await adrive(self._session(exchange), self._perform)

    async def _perform(self, request: Script | Command | Transaction) -> Any:
        if isinstance(request, Transaction):  # only segments use them, and they are synchronous
            raise TypeError("a Redis transaction needs the synchronous client")
        return await self._request(request)()

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
    client: Any,
    namespace: str,
    *,
    timeout: float,
    asynchronous: bool,
    func: str,
    trust_store: bool,
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

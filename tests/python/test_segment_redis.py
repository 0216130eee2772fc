"""SegmentCounter on Redis: the server killed mid-run, a server that hangs while a counter closes,
and the settings under which Redis could forget a reservation. The behaviour every store shares
is in test_segment.py."""

from __future__ import annotations

import time

import pytest
from conftest import linux_only, needs_redis_server
from redis_server import RedisServer
from segment_harness import check_runs, draw_through, draw_until_refused, try_draw

from atomic_counter import SegmentCounter, SegmentRefusedError

pytestmark = linux_only


def test_redis_killed_mid_run_with_appendfsync_always(aof_redis, name, tmp_path):
    def outage() -> None:
        aof_redis.kill()
        time.sleep(0.3)
        aof_redis.start()  # the AOF replays every acknowledged INCRBY

    draw_through(aof_redis.url, name, tmp_path, outage)


def test_close_returns_while_the_store_hangs(aof_redis, name):
    SegmentCounter.create(aof_redis.url, name)
    counter = SegmentCounter(aof_redis.url, name, block=2)  # a reservation for every value
    counter.next()
    time.sleep(0.3)  # the spare arrives
    aof_redis.pause()
    try:
        counter.next()  # starts on the spare: the next reservation hangs on the paused server
        started = time.monotonic()
        counter.close()
        assert time.monotonic() - started < 10, "close() waited out the 30 s timeout"
    finally:
        aof_redis.resume()
    with pytest.raises(ValueError, match="closed"):
        counter.next()


def test_a_redis_that_can_forget_is_refused(tmp_path, name):
    pytest.importorskip("redis")
    if needs_redis_server.args[0]:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "volatile", persistence="none")
    server.start()
    try:
        SegmentCounter.create(server.url, name)
        with pytest.raises(SegmentRefusedError, match="appendonly no"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("appendonly", "yes")
        server.client().config_set("appendfsync", "everysec")
        with pytest.raises(SegmentRefusedError, match="appendfsync everysec"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("appendfsync", "always")
        server.client().config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(SegmentRefusedError, match="may evict"):
            SegmentCounter(server.url, name, timeout=5)
        server.client().config_set("maxmemory-policy", "noeviction")
        with SegmentCounter(server.url, name, timeout=5) as counter:
            # The reservation refused for appendfsync everysec left its range as a gap.
            assert counter.next() == 501
        server.client().set(f"atomic_counter:segment:{name}-x", "not a number")
        with pytest.raises(SegmentRefusedError, match="holds something other"):
            SegmentCounter(server.url, name + "-x", timeout=5)
    finally:
        server.kill()


# -------------------------------------------------------------------------------------------
# Issue 20: a key that vanishes, settings changed at run time, a value set back by hand.


@pytest.mark.parametrize("loss", ["flushall", "del"])
def test_a_lost_sequence_is_refused_never_restarted_at_its_start(aof_redis, name, loss):
    url, client = aof_redis.url, aof_redis.client()
    SegmentCounter.create(url, name)
    live = SegmentCounter(url, name, block=10, timeout=5)
    drawn = [live.next() for _ in range(25)]
    if loss == "flushall":
        client.flushall()
    else:
        client.delete(f"atomic_counter:segment:{name}")
    more, refused = draw_until_refused(live)  # its next reservation finds the key gone
    newcomer, refused_new = try_draw(url, name, 50)  # a counter started after the loss
    live.close()
    check_runs([drawn + more, newcomer])
    for exc in (refused, refused_new):
        assert exc is not None and "no such sequence" in str(exc), exc
    assert f"SegmentCounter.create(store, '{name}', start=last + 1)" in str(refused)


def test_an_eviction_policy_set_at_run_time_stops_the_next_reservation(aof_redis, name):
    url, client = aof_redis.url, aof_redis.client()
    SegmentCounter.create(url, name)
    counter = SegmentCounter(url, name, block=10, timeout=5)
    drawn = [counter.next() for _ in range(12)]
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        more, refused = draw_until_refused(counter)
    finally:
        client.config_set("maxmemory-policy", "noeviction")
    counter.close()
    assert refused is not None and "maxmemory-policy allkeys-lru" in str(refused), refused
    assert len(more) < 10  # at most what was reserved before the change
    check_runs([drawn + more])


def test_persistence_switched_off_at_run_time_then_a_crash(tmp_path, name):
    """appendonly turned off while a counter draws: the AOF stops where it was. The next
    reservation is refused, so no value is handed out that the AOF does not cover; after a
    crash and a restart from the AOF, a new counter continues above every value handed out."""
    srv = RedisServer(tmp_path / "redis")  # appendonly yes, appendfsync always
    srv.start()
    try:
        SegmentCounter.create(srv.url, name)
        first = SegmentCounter(srv.url, name, block=10, timeout=5)
        drawn = [first.next() for _ in range(12)]
        srv.client().config_set("appendonly", "no")
        more, refused = draw_until_refused(first, 500)
        srv.kill()  # a crash: what the AOF does not hold is gone
        srv.start()  # appendonly yes again, from its configuration
        after, _ = try_draw(srv.url, name, 100)
        check_runs([drawn + more, after])
        assert refused is not None and "appendonly no" in str(refused), refused
        assert len(after) == 100
    finally:
        srv.kill()


def test_a_sequence_set_back_by_hand_stops_a_live_counter(aof_redis, name):
    """The C half never accepts a block below one it had (R2): the counter stops instead of
    handing its own values out again."""
    url, client = aof_redis.url, aof_redis.client()
    SegmentCounter.create(url, name)
    counter = SegmentCounter(url, name, block=10, timeout=5)
    drawn = [counter.next() for _ in range(12)]
    client.set(f"atomic_counter:segment:{name}", 3)  # an operator's mistake
    more, refused = draw_until_refused(counter)
    check_runs([drawn + more])
    with pytest.raises(SegmentRefusedError, match="below"):
        counter.next()  # and every later draw
    counter.close()
    assert refused is not None, "the counter accepted a block below its own"
    assert "below" in str(refused) and "skip_ahead" in str(refused)


def test_no_appendfsync_on_rewrite_is_refused(aof_redis, name):
    """With no-appendfsync-on-rewrite yes, writes acknowledged during a rewrite or a snapshot
    are not fsynced: a crash then could forget a reservation."""
    url, client = aof_redis.url, aof_redis.client()
    SegmentCounter.create(url, name)
    client.config_set("no-appendfsync-on-rewrite", "yes")
    try:
        with pytest.raises(SegmentRefusedError, match="no-appendfsync-on-rewrite yes"):
            SegmentCounter(url, name, timeout=5)
    finally:
        client.config_set("no-appendfsync-on-rewrite", "no")


def test_skip_ahead_needs_by_or_to(aof_redis, name):
    SegmentCounter.create(aof_redis.url, name)
    with pytest.raises(TypeError, match="needs 'by' or 'to'"):
        SegmentCounter.skip_ahead(aof_redis.url, name)
    # by=0 alone moves nothing: as accepting the store without an argument, refused.
    with pytest.raises(ValueError, match=r"argument 'by' must be in \[1, "):
        SegmentCounter.skip_ahead(aof_redis.url, name, by=0)
    assert SegmentCounter.skip_ahead(aof_redis.url, name, to=100) == 100


@pytest.mark.parametrize("durable", [False, True], ids=["checked", "assume_durable"])
def test_a_redis_user_without_the_rights_it_needs_is_refused_by_name(aof_redis, name, durable):
    """An ACL user without INFO and CONFIG: redis-py's own NoPermissionError (or a script's
    "can't run this command") came through raw; it is a SegmentRefusedError naming the rights."""
    SegmentCounter.create(aof_redis.url, name)
    user = f"u{name.replace('-', '')[:20]}"
    aof_redis.client().acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-info", "-config"]
    )
    url = aof_redis.url.replace("redis://", f"redis://{user}:pw@")
    with pytest.raises(SegmentRefusedError, match=r"\+info, \+config\|get"):
        SegmentCounter(url, name, timeout=5, assume_durable=durable)

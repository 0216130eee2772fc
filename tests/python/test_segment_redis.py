"""SegmentCounter on Redis: the server killed mid-run, a server that hangs while a counter closes,
and the settings under which Redis could forget a reservation. The behaviour every store shares
is in test_segment.py."""

from __future__ import annotations

import time

import pytest
from conftest import linux_only, needs_redis_server
from redis_server import RedisServer
from segment_harness import draw_through

from atomic_counter import SegmentCounter, SegmentRefusedError

pytestmark = linux_only


def test_redis_killed_mid_run_with_appendfsync_always(aof_redis, name, tmp_path):
    def outage() -> None:
        aof_redis.kill()
        time.sleep(0.3)
        aof_redis.start()  # the AOF replays every acknowledged INCRBY

    draw_through(aof_redis.url, name, tmp_path, outage)


def test_close_returns_while_the_store_hangs(aof_redis, name):
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
            assert counter.next() == 1
        server.client().set(f"atomic_counter:segment:{name}-x", "not a number")
        with pytest.raises(SegmentRefusedError, match="holds something other"):
            SegmentCounter(server.url, name + "-x", timeout=5)
    finally:
        server.kill()

"""The lease nemesis: holder processes draw ids as fast as they can on leased nodes and write
every one to a file, while a controller, in a seeded random order, does what production does
to them: pauses and kills holders past the ttl, steps and skews the holders' wall clocks, and
breaks the store.
- Redis: pauses it, kill -9s it and restarts it empty, from an older RDB snapshot or with its
  append-only file, promotes a replica that missed writes (clients switched over by a proxy),
  runs FLUSHALL, deletes the namespace (an eviction), rolls it back in place (RESTORE of an
  older DUMP of the hash, DEBUG RELOAD NOSAVE to the last snapshot: same run_id, same
  replication id), jumps its clock.
- PostgreSQL: pauses it, restarts it, kill -9s it and starts it again (crash recovery), kills the
  holders' connections (pg_terminate_backend), promotes a standby that missed writes (a new
  timeline; clients switched by a proxy), restores an older pg_dump of the tables into the
  running server (same system identifier and timeline), deletes the sequence's row, jumps its
  clock. Beside the lease holders, processes draw from one SegmentCounter
  (segment_holder.py), paused and killed too; after a failover, a restore or a deletion their
  counters refuse, and the controller does what an operator would: moves the sequence past what
  may have been lost (SegmentCounter.skip_ahead, or create() again at the value it noted
  before a restore) and starts drawers again.
At the end every id of every holder is checked: no id twice across all files, strictly
increasing within each; the same for the segment values.

    python tests/python/support/lease_nemesis.py --seconds 1800 --seed 42        # the release run
    python tests/python/support/lease_nemesis.py --store postgres --seconds 1800  # ... and this
    python tests/python/support/lease_nemesis.py --seconds 60                    # what CI runs

The holders use ttl 1 s, max_skew 0.2 s and max_lead 0.5 s, and the JS_SAFE layout (64 ids a
ms a node): half of them draw batches of 64 at full speed, so they live at max_lead.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from lease_harness import Holder
from redis_server import Proxy, RedisServer
from shims import ClockOffset, build_shim, preload

TTL, SKEW, LEAD = 1.0, 0.2, 0.5
NAMESPACE = "nemesis"
HOLDERS = 5
DRAWERS = 3  # SegmentCounter processes (PostgreSQL only)
MARGIN = 1_000_000  # what an operator adds for reservations made while a restore starts
SEGMENT_HOLDER = Path(__file__).with_name("segment_holder.py")


class Nemesis:
    """What every store's nemesis does: the holders, their faults, the run and the check. A
    subclass starts its store behind self.proxy, then the holders, and adds its faults."""

    STORE_FAULTS: tuple[str, ...] = ()
    HOLDER_FAULTS = ("pause_holder", "kill_holder", "skew_clock", "step_clock")

    def __init__(self, workdir: Path, seed: int, log: bool = True) -> None:
        self.dir = workdir
        self.rng = random.Random(seed)
        self.log = log
        self.shim = build_shim("clock_shim", workdir)
        self.store_clock = ClockOffset(workdir / "store.clock")
        # The store gets the clock shim alone (never the sanitizer run's libasan).
        self.store_env = {
            "LD_PRELOAD": str(self.shim),
            "AC_SHIM_CLOCK_FILE": str(self.store_clock.path),
        }
        self.proxy: Proxy
        self.holders: list[Holder] = []
        self.clocks: list[ClockOffset] = []
        self.done: list[Holder] = []
        self.actions: collections.Counter[str] = collections.Counter()
        self.started = 0

    @property
    def url(self) -> str:
        raise NotImplementedError

    def servers(self) -> list[Any]:
        raise NotImplementedError

    def start_holders(self) -> None:
        for _ in range(HOLDERS):
            self.start_holder()

    def say(self, text: str) -> None:
        if self.log:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def start_holder(self, slot: int | None = None) -> None:
        n = self.started
        self.started += 1
        clock = ClockOffset(self.dir / f"holder{n}.clock")
        clock.set(self.rng.uniform(-SKEW / 2, SKEW / 2) * 0.9)
        full_speed = n % 2 == 0
        holder = Holder(
            self.url,
            NAMESPACE,
            self.dir / f"holder{n}.bin",
            env=preload(self.shim, AC_SHIM_CLOCK_FILE=str(clock.path)),
            layout="js_safe",
            batch=64 if full_speed else 1,
            ttl=TTL,
            max_skew=SKEW,
            max_lead=LEAD,
        )
        if slot is None:
            self.holders.append(holder)
            self.clocks.append(clock)
        else:
            self.holders[slot] = holder
            self.clocks[slot] = clock

    # -- the holders' faults ----------------------------------------------------------------

    def pause_holder(self) -> None:
        i = self.rng.randrange(len(self.holders))
        seconds = self.rng.uniform(0.5, 3.0) * TTL
        self.say(f"pause holder {i} for {seconds:.2f} s")
        self.holders[i].pause()
        time.sleep(seconds)
        self.holders[i].resume()

    def kill_holder(self) -> None:
        i = self.rng.randrange(len(self.holders))
        self.say(f"kill -9 holder {i}, start another")
        self.holders[i].kill()
        self.done.append(self.holders[i])
        self.start_holder(i)

    def skew_clock(self) -> None:
        i = self.rng.randrange(len(self.holders))
        offset = self.rng.uniform(-SKEW / 2, SKEW / 2) * 0.9
        self.say(f"holder {i}'s clock skewed to {offset:+.3f} s")
        self.clocks[i].set(offset)

    def step_clock(self) -> None:
        i = self.rng.randrange(len(self.holders))
        step = self.rng.choice([-60.0, -5.0, 5.0, 3600.0])
        seconds = self.rng.uniform(0.5, 3.0)
        self.say(f"holder {i}'s clock stepped {step:+.0f} s for {seconds:.1f} s")
        before = self.clocks[i].get()
        self.clocks[i].set(before + step)
        time.sleep(seconds)
        self.clocks[i].set(before)

    # -- the run -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before the first fault, once the holders are ready."""

    def after_fault(self) -> None:
        """After each fault."""

    def run(self, seconds: float) -> dict[str, object]:
        end = time.monotonic() + seconds
        for h in self.holders:
            h.wait_ready(120)
        self.prepare()
        faults = self.HOLDER_FAULTS + self.STORE_FAULTS
        while time.monotonic() < end:
            fault = self.rng.choice(faults)
            self.actions[fault] += 1
            getattr(self, fault)()
            self.after_fault()
            time.sleep(self.rng.uniform(0.2, 1.5))
        self.say("stopping the holders")
        for h in self.holders:
            h.stop(timeout=60)
        return self.check()

    @staticmethod
    def tally(holders: list[Holder]) -> dict[str, Any]:
        runs = [np.array(h.ids(), dtype=np.uint64) for h in holders]
        backwards = sum(int(np.count_nonzero(r[1:] <= r[:-1])) for r in runs)
        everything = np.sort(np.concatenate(runs)) if runs else np.array([], dtype=np.uint64)
        duplicates = int(np.count_nonzero(everything[1:] == everything[:-1]))
        return {
            "ids": int(everything.size),
            "duplicates": duplicates,
            "backwards": backwards,
            "holders": len(runs),
            "per_holder": [int(r.size) for r in runs],
        }

    def check(self) -> dict[str, object]:
        report: dict[str, object] = self.tally(self.done + self.holders)
        report["faults"] = dict(self.actions)
        return report

    def close(self) -> None:
        for h in self.holders:
            if h.process.poll() is None:
                h.kill()
        self.proxy.close()
        for server in self.servers():
            try:
                server.stop()
            except Exception:
                server.kill()


class RedisNemesis(Nemesis):
    STORE_FAULTS = (
        "pause_redis",
        "restart_empty",
        "restart_with_aof",
        "restart_from_snapshot",
        "snapshot",
        "failover",
        "flushall",
        "evict",
        "restore_hash",
        "reload_in_place",
        "jump_redis_clock",
    )

    def __init__(self, workdir: Path, seed: int, log: bool = True) -> None:
        super().__init__(workdir, seed, log)
        debug = ("--enable-debug-command", "yes")  # for DEBUG RELOAD, a rollback in place
        self.primary = RedisServer(workdir / "redis-a", env=self.store_env, extra=debug)
        self.replica = RedisServer(workdir / "redis-b", env=self.store_env, extra=debug)
        self.primary.start()
        self.replica.start()
        self.replica.replicate(self.primary)
        self.proxy = Proxy(self.primary.port)
        self.snapshots: list[Path] = []
        self.dumps: list[bytes] = []  # DUMPs of the namespace's hash, for RESTORE
        self.start_holders()

    @property
    def url(self) -> str:
        return self.proxy.url

    def servers(self) -> list[Any]:
        return [self.primary, self.replica]

    def prepare(self) -> None:
        self.snapshot()

    def pause_redis(self) -> None:
        seconds = self.rng.uniform(0.5, 2.0) * TTL
        self.say(f"pause Redis for {seconds:.2f} s")
        self.primary.pause()
        time.sleep(seconds)
        self.primary.resume()

    def restart_empty(self) -> None:
        self.say("kill -9 Redis, restart it with no data")
        self.primary.restart_empty()

    def restart_with_aof(self) -> None:
        self.say("kill -9 Redis, restart it from its append-only file")
        self.primary.restart_keeping_data()

    def restart_from_snapshot(self) -> None:
        if not self.snapshots:
            return self.snapshot()
        snapshot = self.rng.choice(self.snapshots)
        self.say(f"kill -9 Redis, restart it from the older snapshot {snapshot.name}")
        self.primary.restart_from(snapshot)

    def snapshot(self) -> None:
        path = self.dir / f"snapshot{len(self.snapshots)}.rdb"
        self.primary.snapshot(path)
        self.snapshots.append(path)
        dumped = self.primary.client().dump(f"atomic_counter:{{{NAMESPACE}}}")
        if dumped is not None:
            self.dumps.append(dumped)
        self.say(f"snapshot {path.name}")

    def restore_hash(self) -> None:
        """An operator restores the namespace's hash from an older DUMP, in the running server
        (same run_id, same replication id)."""
        if not self.dumps:
            return self.snapshot()
        i = self.rng.randrange(len(self.dumps))
        self.say(f"RESTORE the namespace's hash from dump {i} (in the running server)")
        key = f"atomic_counter:{{{NAMESPACE}}}"
        self.primary.client().restore(key, 0, self.dumps[i], replace=True)

    def reload_in_place(self) -> None:
        """The running server goes back to its last RDB (DEBUG RELOAD NOSAVE): every write
        since the last snapshot is gone, with the same run_id and replication id."""
        self.say("DEBUG RELOAD NOSAVE: the running server goes back to its last snapshot")
        self.primary.client().execute_command("DEBUG", "RELOAD", "NOSAVE")

    def failover(self) -> None:
        missed = self.rng.uniform(0.1, 1.0)
        self.say(
            f"the replica stops replicating; {missed:.2f} s of writes later the primary "
            "dies and the replica is promoted"
        )
        self.replica.promote()
        time.sleep(missed)
        self.primary.kill()
        self.proxy.switch(self.replica.port)
        self.primary, self.replica = self.replica, self.primary
        self.replica.wipe()
        self.replica.start()
        self.replica.replicate(self.primary)

    def flushall(self) -> None:
        self.say("FLUSHALL")
        self.primary.client().flushall()

    def evict(self) -> None:
        self.say("the namespace's hash is evicted")
        self.primary.client().delete(f"atomic_counter:{{{NAMESPACE}}}")

    def jump_redis_clock(self) -> None:
        jump = self.rng.choice([60.0, -60.0, 3.0])
        seconds = self.rng.uniform(0.5, 2.0)
        self.say(f"Redis's clock jumps {jump:+.0f} s for {seconds:.1f} s")
        self.store_clock.set(jump)
        time.sleep(seconds)
        self.store_clock.set(0.0)


class PostgresNemesis(Nemesis):
    STORE_FAULTS = (
        "pause_postgres",
        "restart_postgres",
        "crash_postgres",
        "terminate_connections",
        "failover",
        "dump_tables",
        "logical_restore",
        "delete_sequence",
        "jump_postgres_clock",
        "pause_drawer",
        "kill_drawer",
    )

    def __init__(self, workdir: Path, seed: int, log: bool = True) -> None:
        from postgres_server import PostgresServer

        super().__init__(workdir, seed, log)
        self.primary = PostgresServer(env=self.store_env)
        self.primary.start()
        self.standby = PostgresServer(replica_of=self.primary, env=self.store_env)
        self.standby.start()
        self.proxy = Proxy(self.primary.port)
        self.start_holders()
        self.drawers: list[Holder] = []
        self.drawers_done: list[Holder] = []
        self.skipped = 0
        self.dumps: list[bytes] = []  # pg_dumps of the three tables, for logical restores
        from atomic_counter import SegmentCounter

        SegmentCounter.create(self.url, NAMESPACE)
        for _ in range(DRAWERS):
            self.drawers.append(self.start_drawer())

    @property
    def url(self) -> str:
        return f"postgresql://app@127.0.0.1:{self.proxy.port}/postgres"

    # -- the SegmentCounter drawers ----------------------------------------------------------

    def start_drawer(self) -> Holder:
        n = self.started
        self.started += 1
        return Holder(
            self.url,
            NAMESPACE,
            self.dir / f"drawer{n}.bin",
            script=SEGMENT_HOLDER,
            block=self.rng.choice([10, 200, 5000]),
            rate=self.rng.choice([2_000, 20_000]),
            timeout=60,
        )

    def replace_ended_drawers(self) -> None:
        """A drawer whose counter refused (after a failover) has ended: start another."""
        for i, drawer in enumerate(self.drawers):
            if drawer.process.poll() is not None:
                self.drawers_done.append(drawer)
                self.drawers[i] = self.start_drawer()

    def pause_drawer(self) -> None:
        i = self.rng.randrange(len(self.drawers))
        seconds = self.rng.uniform(0.5, 3.0)
        self.say(f"pause segment drawer {i} for {seconds:.2f} s")
        self.drawers[i].pause()
        time.sleep(seconds)
        self.drawers[i].resume()

    def kill_drawer(self) -> None:
        i = self.rng.randrange(len(self.drawers))
        self.say(f"kill -9 segment drawer {i}, start another")
        self.drawers[i].kill()
        self.drawers_done.append(self.drawers[i])
        self.drawers[i] = self.start_drawer()

    def prepare(self) -> None:
        for d in self.drawers:
            d.wait_ready(120)

    def after_fault(self) -> None:
        self.replace_ended_drawers()

    def check(self) -> dict[str, object]:
        for d in self.drawers:
            if d.process.poll() is None:
                d.stop(timeout=60)
        report = super().check()
        segments = self.tally(self.drawers_done + self.drawers)
        report["segments"] = {**segments, "skipped_ahead": self.skipped}
        report["duplicates"] = int(report["duplicates"]) + segments["duplicates"]  # type: ignore[call-overload]
        report["backwards"] = int(report["backwards"]) + segments["backwards"]  # type: ignore[call-overload]
        return report

    def servers(self) -> list[Any]:
        return [self.primary, self.standby]

    def close(self) -> None:
        for d in self.drawers:
            if d.process.poll() is None:
                d.kill()
        super().close()
        for server in self.servers():
            server.remove()

    def pause_postgres(self) -> None:
        seconds = self.rng.uniform(0.5, 2.0) * TTL
        self.say(f"pause PostgreSQL for {seconds:.2f} s")
        self.primary.pause()
        time.sleep(seconds)
        self.primary.resume()

    def restart_postgres(self) -> None:
        self.say("restart PostgreSQL (a fast shutdown)")
        self.primary.restart()

    def crash_postgres(self) -> None:
        down = self.rng.uniform(0.0, 2.0) * TTL
        self.say(f"kill -9 PostgreSQL, start it again {down:.2f} s later (crash recovery)")
        self.primary.kill()
        time.sleep(down)
        self.primary.start()

    def terminate_connections(self) -> None:
        count = self.primary.terminate("atomic-counter lease")
        count += self.primary.terminate("atomic_counter segment")
        self.say(f"pg_terminate_backend on the holders' and drawers' {count} connections")

    def failover(self) -> None:
        from postgres_server import PostgresServer

        missed = self.rng.uniform(0.1, 1.0)
        self.say(
            f"the standby stops; {missed:.2f} s of writes later the primary dies and the "
            "standby is promoted (a new timeline)"
        )
        self.standby.stop()
        time.sleep(missed)
        self.primary.kill()
        self.standby.start()
        self.standby.promote()
        self.proxy.switch(self.standby.port)
        old, self.primary = self.primary, self.standby
        old.remove()
        # The operator's part for the segments: the standby missed at most `missed` seconds of
        # reservations (the drawers draw at most 60,000 values a second, in blocks of at most
        # 5,000, at most two ahead each); move the sequence past them.
        from atomic_counter import SegmentCounter

        by = 10_000_000
        SegmentCounter.skip_ahead(self.url, NAMESPACE, by=by)
        self.skipped += 1
        self.standby = PostgresServer(replica_of=self.primary, env=self.store_env)
        self.standby.start()

    # -- data that goes back on the same server and timeline --------------------------------

    TABLES = (
        "atomic_counter_lease_namespaces",
        "atomic_counter_lease_nodes",
        "atomic_counter_segments",
    )

    def next_value(self) -> int:
        rows = self.primary.sql(
            "SELECT next_value FROM atomic_counter_segments WHERE name = %s", (NAMESPACE,)
        )
        return int(rows[0][0]) if rows else 0

    def dump_tables(self) -> None:
        self.say(f"pg_dump of the tables (dump {len(self.dumps)})")
        self.dumps.append(self.primary.dump(*self.TABLES))

    def logical_restore(self) -> None:
        """An operator restores an older pg_dump of the tables into the running server (same
        system identifier, same timeline). Leases wait it out by construction; the segment
        drawers refuse (their rows' writer changed) until the operator, who noted the sequence
        before the restore, moves it back above everything reserved."""
        if not self.dumps:
            return self.dump_tables()
        i = self.rng.randrange(len(self.dumps))
        # Drawers keep reserving until the restore replaces the table: the operator notes the
        # sequence, and adds a margin for what may be reserved in the moments before the
        # restore takes its lock (3 drawers, blocks of at most 5,000, 20,000 values a second).
        noted = self.next_value() + MARGIN
        self.say(f"logical restore of dump {i} into the running server (noted {noted})")
        self.primary.restore(self.dumps[i])
        self.operator_resumes(noted)

    def delete_sequence(self) -> None:
        """The sequence's row is deleted (a cleanup gone wrong): drawers refuse, never restart
        at its start; the operator creates it again above everything reserved."""
        from atomic_counter import SegmentCounter

        rows = self.primary.sql(
            "DELETE FROM atomic_counter_segments WHERE name = %s RETURNING next_value",
            (NAMESPACE,),
        )
        noted = int(rows[0][0]) if rows else self.next_value()
        self.say(f"DELETE the sequence's row (it was at {noted}); the operator creates it again")
        time.sleep(self.rng.uniform(0.0, 1.0))  # drawers meet the loss meanwhile
        SegmentCounter.create(self.url, NAMESPACE, start=noted)
        self.skipped += 1

    def operator_resumes(self, noted: int) -> None:
        from atomic_counter import SegmentCounter

        time.sleep(self.rng.uniform(0.0, 1.0))  # drawers meet the restored rows meanwhile
        try:
            SegmentCounter.skip_ahead(self.url, NAMESPACE, to=noted)
        except ValueError:  # the dump is older than the sequence: create it again
            SegmentCounter.create(self.url, NAMESPACE, start=noted)
        self.skipped += 1

    def jump_postgres_clock(self) -> None:
        jump = self.rng.choice([60.0, -60.0, 3.0])
        seconds = self.rng.uniform(0.5, 2.0)
        self.say(f"PostgreSQL's clock jumps {jump:+.0f} s for {seconds:.1f} s")
        self.store_clock.set(jump)
        time.sleep(seconds)
        self.store_clock.set(0.0)


STORES: dict[str, type[Nemesis]] = {"redis": RedisNemesis, "postgres": PostgresNemesis}


def run(
    seconds: float,
    seed: int,
    workdir: Path | None = None,
    log: bool = True,
    store: str = "redis",
) -> dict[str, object]:
    own = workdir is None
    directory = Path(tempfile.mkdtemp(prefix="ac-nemesis-")) if own else workdir
    nemesis = STORES[store](directory, seed, log)
    try:
        report = nemesis.run(seconds)
    finally:
        nemesis.close()
        if own:
            shutil.rmtree(directory, ignore_errors=True)
    report.update(seed=seed, seconds=seconds, store=store)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--store", choices=sorted(STORES), default="redis")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    report = run(args.seconds, seed, store=args.store)
    print(json.dumps(report, indent=1))
    sys.exit(0 if report["duplicates"] == 0 and report["backwards"] == 0 else 1)


if __name__ == "__main__":
    main()

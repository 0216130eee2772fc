"""What the lease tests and the nemesis share: holder processes that write every id they draw to
a file, and the check that no id appears twice across all of them."""

from __future__ import annotations

import array
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HOLDER = Path(__file__).with_name("lease_holder.py")


class Holder:
    """A lease_holder.py process drawing ids into its own file (or another script that takes
    the same arguments and prints "ready": segment_holder.py)."""

    def __init__(
        self,
        url: str,
        namespace: str,
        out: Path,
        *,
        env: dict[str, str] | None = None,
        script: Path = HOLDER,
        **options: object,
    ) -> None:
        self.out = out
        args = [sys.executable, str(script), url, namespace, str(out)]
        for key, value in options.items():
            flag = f"--{key.replace('_', '-')}"
            if value is True:
                args.append(flag)  # a switch
            elif value is not False:
                args += [flag, str(value)]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())
            if line.strip() == "ready":
                self._ready.set()

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip())

    def wait_ready(self, timeout: float = 60) -> None:
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"holder never became ready: {self.errors[-5:]}")

    @property
    def nodes(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith("node ")]

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM: the holder closes its lease and exits."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def ids(self) -> list[int]:
        data = self.out.read_bytes() if self.out.exists() else b""
        values = array.array("Q")
        values.frombytes(data[: len(data) // 8 * 8])
        return values.tolist()


def wait_for_ids(holder: Holder, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while holder.out.stat().st_size // 8 < count if holder.out.exists() else True:
        assert time.monotonic() < deadline, f"holder drew too few ids: {holder.errors[-5:]}"
        time.sleep(0.02)


def check_no_duplicates(runs: list[list[int]]) -> int:
    """Every run strictly increases; no id appears in two places. Returns the number of ids."""
    for i, run in enumerate(runs):
        bad = next((k for k in range(1, len(run)) if run[k] <= run[k - 1]), None)
        assert bad is None, f"run {i} went backwards at {bad}: {run[bad - 1]} then {run[bad]}"
    union = [v for run in runs for v in run]
    duplicates = len(union) - len(set(union))
    assert duplicates == 0, f"{duplicates} duplicate ids among {len(union)}"
    return len(union)


async def two_async_leases(
    first: object, second: object, namespace: str, **options: object
) -> tuple[list[int], int, int]:
    """Two asyncio leases on a namespace (from `first` and `second`, a client or a URL each);
    the first draws across three ttls of renewals by its task. Returns the ids both drew and
    their nodes."""
    import asyncio

    from atomic_counter import alease_node_id

    ttl = float(options["ttl"])  # type: ignore[arg-type]
    async with await alease_node_id(first, namespace, **options) as lease:
        other = await alease_node_id(second, namespace, **options)
        ids = [lease.counter().next() for _ in range(1000)]
        await asyncio.sleep(3 * ttl)  # the task keeps renewing
        ids += [lease.counter().next() for _ in range(1000)]
        ids += [other.counter().next() for _ in range(1000)]
        nodes = lease.node, other.node
        await other.aclose()
    return ids, *nodes


def run_then_stop(holders: list[Holder], seconds: float) -> list[list[int]]:
    """Lets the holders draw for `seconds`, stops them, and returns the ids of each."""
    time.sleep(seconds)
    for h in holders:
        h.stop()
    return [h.ids() for h in holders]


def assert_offset(message: str, expected: float, store: str) -> None:
    """A skew refusal names this host's offset from the store's clock: within 50 ms (half a
    few round trips) of the offset the clock shim set."""
    found = re.search(r"this host's clock is ([+-]\d+\.\d{3}) s from (\w+)'s", message)
    assert found, message
    assert abs(float(found.group(1)) - expected) < 0.05, message
    assert found.group(2) == store, message


def redis_key(namespace: str) -> str:
    """The Redis hash that holds a lease namespace."""
    return f"atomic_counter:{{{namespace}}}"

"""Throwaway redis-servers for the tests: Debian's binary, on free loopback ports, in temporary
directories. A server can be killed (-9), paused, restarted with or without its data, restored
from an older snapshot, made a replica, promoted, and run under the clock shim. A Proxy in
front lets clients be switched to another server, as a failover does."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    while True:
        with socket.socket() as s, socket.socket() as bus:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port + 10000 > 65535:
                continue
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server. persistence: "aof" (append-only file, fsync always: a restart keeps
    every acknowledged write) or "none" (a restart loses everything)."""

    def __init__(
        self,
        directory: Path,
        *,
        persistence: str = "aof",
        port: int | None = None,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (tools/test.sh installs it)")
        self.binary = binary
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persistence = persistence
        self.extra = extra
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self, *, appendonly: bool | None = None) -> list[str]:
        aof = self.persistence == "aof" if appendonly is None else appendonly
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--protected-mode",
            "no",
            "--appendonly",
            "yes" if aof else "no",
            "--appendfsync",
            "always",
            "--dbfilename",
            "dump.rdb",
            *self.extra,
        ]

    def start(self, *, appendonly: bool | None = None, extra: tuple[str, ...] = ()) -> None:
        env = {**os.environ, **self.env} if self.env else None
        self.process = subprocess.Popen(
            self.args(appendonly=appendonly) + list(extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _ping(self.port):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)
                self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def kill(self) -> None:
        """kill -9: nothing is written on the way down."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=20)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def client(self, **kwargs: object):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **kwargs)

    def wipe(self) -> None:
        """Removes every data file (use with the server down)."""
        for entry in self.directory.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            elif entry.name.endswith((".rdb", ".aof")) or entry.name == "appendonlydir":
                entry.unlink()

    def snapshot(self, dest: Path) -> Path:
        """Writes an RDB snapshot of the data now and keeps a copy at dest."""
        self.client().save()
        shutil.copy(self.directory / "dump.rdb", dest)
        return dest

    def restart_empty(self) -> None:
        self.kill()
        self.wipe()
        self.start()

    def restart_keeping_data(self) -> None:
        """kill -9, then start on the same files (with AOF fsync always, nothing is lost)."""
        self.kill()
        self.start()

    def restart_from(self, snapshot: Path) -> None:
        """kill -9, then start from an older RDB snapshot: every write since it is lost."""
        self.kill()
        self.wipe()
        shutil.copy(snapshot, self.directory / "dump.rdb")
        self.start(appendonly=False)
        if self.persistence == "aof":
            self.client().config_set("appendonly", "yes")
            deadline = time.monotonic() + 20
            while self.client().info("persistence").get("aof_rewrite_in_progress"):
                assert time.monotonic() < deadline
                time.sleep(0.02)

    def replicate(self, primary: RedisServer) -> None:
        self.client().replicaof("127.0.0.1", primary.port)

    def wait_synced(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.02)

    def promote(self) -> None:
        self.client().replicaof("NO", "ONE")


class Proxy:
    """A TCP proxy on a free loopback port that forwards every connection to a target port.
    switch() points it at another server and drops the connections it has, as clients see a
    failover: their next command reconnects, to the new server."""

    def __init__(self, target: int, *, delay: float = 0.0) -> None:
        self.target = target
        self.delay = delay  # seconds added to every chunk, each way: a slow network or server
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def switch(self, target: int) -> None:
        with self._lock:
            self.target = target
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.switch(self.target)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

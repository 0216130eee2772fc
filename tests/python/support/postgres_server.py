"""A throwaway PostgreSQL for the tests: Debian's server binaries, a fresh cluster (initdb) in a
temporary directory, on a free loopback port, trusting local connections. Run as the `postgres`
user when the tests run as root (initdb refuses root). It can be stopped, killed (-9) and
started again on the same data."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from redis_server import free_port

TOOLS = ("initdb", "postgres", "pg_isready", "createdb", "pg_basebackup", "pg_dump", "psql")


def server_bin() -> Path | None:
    """A directory holding every server program we use: Debian keeps them off PATH, in a
    versioned directory (the newest wins); otherwise PATH's."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    on_path = shutil.which("initdb")
    candidates = [Path(v) for v in reversed(versions)]
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all((directory / tool).exists() for tool in TOOLS):
            return directory
    return None


class PostgresServer:
    """One server. `replica_of` makes it a streaming standby of another (pg_basebackup), which
    promote() turns into a primary on a new timeline, as a failover does."""

    def __init__(
        self, *, replica_of: PostgresServer | None = None, env: dict[str, str] | None = None
    ) -> None:
        bin_dir = server_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (tools/test.sh installs it)")
        self.bin = bin_dir
        self.port = free_port()
        # Outside pytest's private temporary directory: the server may run as another user.
        self.root = Path(tempfile.mkdtemp(prefix="ac-postgres-"))
        self.data = self.root / "data"
        self.user: pwd.struct_passwd | None = (
            pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        )
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.process: subprocess.Popen[bytes] | None = None
        self.server_env = env or {}  # for the server process alone (a clock shim)
        if replica_of is not None:
            self._run(
                [
                    "pg_basebackup",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(replica_of.port),
                    "-U",
                    "app",
                    "-D",
                    str(self.data),
                    "-R",  # standby.signal and primary_conninfo: it follows the primary
                    "-X",
                    "stream",
                    "--checkpoint=fast",  # not a spread checkpoint of minutes
                ]
            )
            return
        self._run(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "app",
                "--auth=trust",
                "--no-instructions",
                "-E",
                "UTF8",
            ]
        )

    @property
    def url(self) -> str:
        return f"postgresql://app@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://app@127.0.0.1:{self.port}/{database}"

    @staticmethod
    def _env() -> dict[str, str]:
        # The server is not what is under test: it runs without the suite's preloads (the
        # ASan run's libasan makes `postgres -V` hang in initdb).
        return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}

    def _as_user(self) -> dict[str, object]:
        # As root, the server runs as `postgres` (initdb refuses root).
        if self.user is None:
            return {"env": self._env()}
        user = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return {**user, "env": self._env()}

    def _run(self, args: list[str]) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=120,
            **self._as_user(),
        )  # type: ignore[call-overload]

    def start(self) -> None:
        """Starts the server and waits until it accepts connections. A server killed a moment
        ago may leave backends that still hold its shared memory: the new postmaster then exits
        at once, and is started again until the deadline."""
        deadline = time.monotonic() + 60
        while True:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "max_connections=100",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # away from the terminal's signals
                **{**self._as_user(), "env": {**self._env(), **self.server_env}},
            )
            if self._ready(deadline):
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"postgres on port {self.port} did not start")

    def _ready(self, deadline: float) -> bool:
        """Waits until the server accepts connections (True) or exits (False), until deadline."""
        assert self.process is not None
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [
                    str(self.bin / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "app",
                    "-d",
                    "postgres",
                ],
                capture_output=True,
                timeout=30,
                env=self._env(),
            )
            if ready.returncode == 0:
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def create_database(self, name: str) -> str:
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "app",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=60,
            env=self._env(),
        )
        return name

    def stop(self) -> None:
        """A fast shutdown: connections are closed, everything committed is on disk."""
        if self.process is not None:
            if self.process.poll() is None:
                self.resume()  # a paused server shuts down too
                self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
            self.process = None

    def kill(self) -> None:
        """kill -9: the server recovers from its write-ahead log at the next start."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=60)
            self.process = None

    def _children(self) -> list[int]:
        """The postmaster's processes (each backend is a session of its own, so no process
        group reaches them all)."""
        assert self.process is not None
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                children.append(int(entry.name))
        return children

    def pause(self) -> None:
        """SIGSTOP to the postmaster, then every backend: connections stay open, nothing
        answers, and no new backend starts."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        for pid in self._children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        for pid in self._children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """One statement as the superuser, in autocommit; its rows (if any)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []

    def dump(self, *tables: str) -> bytes:
        """pg_dump of these tables (schema and data, with DROP ... IF EXISTS first), as an
        operator's nightly logical backup would be."""
        return subprocess.run(
            [
                str(self.bin / "pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "app",
                "--clean",
                "--if-exists",
                *[arg for table in tables for arg in ("-t", table)],
                "postgres",
            ],
            check=True,
            capture_output=True,
            timeout=60,
            env=self._env(),
        ).stdout

    def restore(self, dumped: bytes) -> None:
        """Replays a dump into the running server (psql): the tables are dropped and made again
        from it, as a logical restore of last night's backup does."""
        subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "app",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
            ],
            input=dumped,
            check=True,
            capture_output=True,
            timeout=60,
            env=self._env(),
        )

    def new_role(self, *, owns_database: bool) -> str:
        """A new login role with a database of its own name, and a URL for it. A role that does
        not own its database cannot create tables there (PUBLIC's CREATE on schema public is
        revoked, as PostgreSQL 15 does by default)."""
        role = f"r{uuid.uuid4().hex[:8]}"
        self.sql(f"CREATE ROLE {role} LOGIN")
        self.sql(f"CREATE DATABASE {role}" + (f" OWNER {role}" if owns_database else ""))
        self.sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        return f"postgresql://{role}@127.0.0.1:{self.port}/{role}"

    def terminate(self, application_name: str) -> int:
        """pg_terminate_backend on every connection of that application; how many."""
        rows = self.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        )
        return int(rows[0][0])  # type: ignore[call-overload]

    def promote(self) -> None:
        """Ends a standby's recovery: it takes writes, on a new timeline."""
        self.sql("SELECT pg_promote(true, 60)")

    def wait_caught_up(self, primary: PostgresServer, timeout: float = 30) -> None:
        """Until this standby has replayed everything the primary has written so far."""
        target = primary.sql("SELECT pg_current_wal_lsn()")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0][0]
            if done:
                return
            time.sleep(0.05)
        raise RuntimeError("the standby did not catch up")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

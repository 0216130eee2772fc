import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

LINUX = sys.platform.startswith("linux")
# For the suite's Linux-specific parts, when cibuildwheel runs it on macOS and Windows.
linux_only = pytest.mark.skipif(
    not LINUX,
    reason="POSIX shared memory in /dev/shm, fork, LD_PRELOAD shims or a second user: Linux only",
)
# For the lease tests, when no redis-server is installed (cibuildwheel's containers).
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (tools/test.sh installs it)",
)


@pytest.fixture
def run_python():
    """Runs a Python snippet in a fresh interpreter with a timeout, so a deadlock or a crash in
    native code reads as a test failure instead of hanging or killing the test run."""

    def run(code: str, timeout: float = 120.0) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    return run


@pytest.fixture
def namespace():
    """A fresh lease namespace for one test."""
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def name():
    """A fresh sequence name for one test."""
    return f"s-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(tmp_path):
    """A fresh redis-server for one test (support/redis_server.py: AOF, fsync always)."""
    from redis_server import RedisServer

    srv = RedisServer(tmp_path / "redis")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def aof_redis(tmp_path_factory):
    """A redis-server for the module that persists every write before it replies (appendonly
    yes, appendfsync always), as a SegmentCounter requires."""
    pytest.importorskip("redis")
    if needs_redis_server.args[0]:
        pytest.skip("redis-server is not installed (tools/test.sh installs it)")
    from redis_server import RedisServer

    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL server for the module (support/postgres_server.py), on a loopback port."""
    pytest.importorskip("psycopg")
    from postgres_server import PostgresServer, server_bin

    if server_bin() is None:
        pytest.skip("PostgreSQL is not installed (tools/test.sh installs it)")
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def clock_shim(tmp_path_factory):
    """support/shims/clock_shim.c built once: an LD_PRELOAD that moves the wall clock."""
    from shims import build_shim

    return build_shim("clock_shim", tmp_path_factory.mktemp("clock-shim"))

"""The README's Python examples run as written: every ```pycon block is a doctest, checked
against its printed output. Only the environment is swapped in: a redis-server started here for
localhost:6379, a PostgreSQL server for postgresql://localhost/shop, names unique to this run
for the shared-memory names, a scratch directory under build/ as the working directory."""

from __future__ import annotations

import doctest
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import linux_only

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(1)))
    return found


def test_the_readme_has_examples():
    # A regex that stopped matching would otherwise pass every example by running none.
    assert len(blocks()) >= 4
    assert all(">>> " in body for _, body in blocks())


@linux_only
@pytest.mark.parametrize("line, body", blocks(), ids=[f"README.md:{n}" for n, _ in blocks()])
def test_readme_example(line, body, tmp_path, monkeypatch, request):
    suffix = f"-readme-{os.getpid()}"
    names = {'"orders"': f'"orders{suffix}"', '"events"': f'"events{suffix}"'}
    server = None
    if "redis://localhost:6379/0" in body:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (tools/test.sh installs it)")
        from redis_server import RedisServer

        server = RedisServer(tmp_path / "redis")
        server.start()
        request.addfinalizer(server.stop)
        body = body.replace("redis://localhost:6379/0", server.url)
    if "postgresql://localhost/shop" in body:
        pytest.importorskip("psycopg")
        from postgres_server import PostgresServer, server_bin

        if server_bin() is None:
            pytest.skip("PostgreSQL is not installed (tools/test.sh installs it)")
        pg = PostgresServer()
        pg.start()
        request.addfinalizer(pg.remove)
        body = body.replace("postgresql://localhost/shop", pg.url)
    for old, new in names.items():
        body = body.replace(old, new)
    # The durable example refuses tmpfs, which /tmp may be: work under build/ instead.
    cwd = README.parent / "build" / f"readme-{os.getpid()}"
    cwd.mkdir(parents=True, exist_ok=True)
    request.addfinalizer(lambda: shutil.rmtree(cwd, ignore_errors=True))
    monkeypatch.chdir(cwd)

    parser = doctest.DocTestParser()
    test = parser.get_doctest(body, {}, f"README.md:{line}", str(README), line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    try:
        runner.run(test, out=report.append)
    finally:
        for name in names.values():
            shm = Path("/dev/shm") / name.strip('"')
            if shm.exists():
                shm.unlink()
        test.globs.clear()
    assert runner.failures == 0, "".join(report)

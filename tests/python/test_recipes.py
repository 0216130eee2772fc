"""The recipes in examples/recipes run against the real thing: a PostgreSQL server the test
starts (support/postgres_server.py), SQLAlchemy with psycopg, Django's makemigrations and
migrate, Pydantic, pandas and pyarrow. Their ids come from FleetCounters whose leases live in
the same PostgreSQL, with the lease's timings shortened (a claim waits ~1.45 s)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import linux_only

pytestmark = linux_only

RECIPES = Path(__file__).resolve().parents[2] / "examples" / "recipes"
FAST = {"ATOMIC_COUNTER_OPTIONS": json.dumps({"ttl": 1.0, "max_skew": 0.2, "max_lead": 0.5})}


@pytest.fixture
def database(pg):
    return pg.create_database(f"recipe_{uuid.uuid4().hex[:8]}")


def run(script: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_recipe_is_tested():
    assert sorted(p.name for p in RECIPES.iterdir()) == [
        "dataframes.py",
        "django_orders",
        "pydantic_ids.py",
        "sqlalchemy_orders.py",
    ]


def test_sqlalchemy_bigint_primary_keys_and_a_range_query_by_time(pg, database):
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    env = {"DATABASE_URL": pg.url_for(database, "psycopg"), **FAST}
    out = run(RECIPES / "sqlalchemy_orders.py", env)
    lines = out.splitlines()
    assert lines[0] == "5 orders today, in the order they were made: True"
    assert lines[1].startswith("first: id ") and lines[1].endswith("(this process's: True)")
    # BIGINT, drawn in Python: no sequence behind the column.
    import psycopg

    with psycopg.connect(pg.url_for(database)) as conn:
        row = conn.execute(
            "SELECT data_type, column_default FROM information_schema.columns "
            "WHERE table_name = 'orders' AND column_name = 'id'"
        ).fetchone()
    assert row == ("bigint", None)


def test_django_fleet_id_field_migrates_and_draws(pg, database, tmp_path):
    pytest.importorskip("django")
    pytest.importorskip("psycopg")
    project = tmp_path / "django_orders"
    shutil.copytree(RECIPES / "django_orders", project)
    env = {
        "DATABASE_URL": pg.url_for(database),
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(project),
        **FAST,
    }
    # makemigrations --check after makemigrations: the field written down reads back the same.
    for command in (["makemigrations", "orders"], ["migrate"], ["makemigrations", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "django", *command],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=project,
            env={**os.environ, **env},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No changes detected" in proc.stdout
    migration = next((project / "orders" / "migrations").glob("0001_*.py")).read_text()
    assert "import atomic_counter.django" in migration
    assert "atomic_counter.django.FleetIdField(primary_key=True, serialize=False)" in migration
    # The rows come back in the order they were made, drawn on this process's leased node.
    assert run(project / "make_orders.py", env, cwd=project).split() == ["True", "True"]


def test_pydantic_ids_travel_as_strings(pg, database):
    pytest.importorskip("pydantic")
    out = run(RECIPES / "pydantic_ids.py", {"ATOMIC_COUNTER_STORE": pg.url_for(database), **FAST})
    assert out.splitlines() == [
        '{"id":"<id>","kind":"click"}',
        "in Python: int",
        "an int and its decimal string read back: True",
        "base62 and hex read back: True",
        "written: True 11 characters",
        "refused: Value error, '12345678901234567890123' is not an id in the form decimal",
        "a JSON number refused: Value error, an id sent as a JSON number must be at most 2**53 - 1",
        "schema: string ^(0|[1-9][0-9]{0,19})$",
    ]


def test_dataframes_get_int64_columns_and_postgres_bigint(pg, database):
    for module in ("numpy", "pandas", "pyarrow", "sqlalchemy", "psycopg"):
        pytest.importorskip(module)
    out = run(RECIPES / "dataframes.py", {"DATABASE_URL": pg.url_for(database, "psycopg")})
    lines = out.splitlines()
    assert "'id': dtype('int64')" in lines[0] and "'at': dtype('<M8[us]')" in lines[0]
    assert lines[1] == "arrow id column: int64"
    # to_sql into the real PostgreSQL: BIGINT, and every id comes back as it went in.
    assert lines[2] == "PostgreSQL: 10000 rows, id column bigint, every id read back: True"
    # The recipe steers away from TimeCounter ids, showing why: uint64, refused by to_sql.
    assert lines[3] == (
        "TimeCounter ids (uint64): to_sql refuses them: "
        "Unsigned 64 bit integer datatype is not supported"
    )
    source = (RECIPES / "dataframes.py").read_text()
    assert "SnowflakeCounter(Layout.INT64" in source and "not from TimeCounter" in source

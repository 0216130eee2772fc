"""What importing costs: the package loads only its native core; layouts, leases, segments and
the command line load their modules when first used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "dataclasses",
    "inspect",
    "enum",
    "re",
    "typing",
    "logging",
    "uuid",
    "argparse",
    "json",
    "datetime",
    "atomic_counter.layout",
    "atomic_counter.lease",
    "atomic_counter.fleet",
    # The integrations, and their frameworks: never loaded by the package itself.
    "atomic_counter.django",
    "atomic_counter.sqlalchemy",
    "atomic_counter.pydantic",
    "django",
    "sqlalchemy",
    "pydantic",
)


def loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_the_package_loads_only_its_core():
    baseline = loaded("")
    after = loaded("import atomic_counter")
    assert not (after - baseline) & set(HEAVY), sorted((after - baseline) & set(HEAVY))
    # ... and the rest comes when it is used
    assert "atomic_counter.layout" in loaded("import atomic_counter; atomic_counter.Layout")


def test_the_command_line_loads_only_what_next_needs():
    code = (
        "import io, contextlib\nfrom atomic_counter.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['next', '-n', '3'])"
    )
    baseline = loaded("import io, contextlib")
    extra = (loaded(code) - baseline) & set(HEAVY)
    assert not extra, sorted(extra)


def test_a_fleet_counter_loads_the_leases_at_its_first_claim():
    # A FleetCounter is configuration until it draws: the lease protocol and the store's client
    # library load at the first claim.
    after = loaded("from atomic_counter import FleetCounter\nFleetCounter('redis://h/0', 'x')")
    assert not {"atomic_counter.lease", "redis", "psycopg"} & after


def test_the_integrations_load_their_framework_only_when_used():
    # Pydantic when a model uses the type; SQLAlchemy when a column is made. (Django's field is a
    # class of Django's: importing atomic_counter.django is using Django.)
    assert "pydantic" not in loaded("import atomic_counter.pydantic")
    assert "sqlalchemy" not in loaded("import atomic_counter.sqlalchemy")
    pytest.importorskip("pydantic")
    assert "pydantic" in loaded(
        "from pydantic import TypeAdapter\nfrom atomic_counter.pydantic import Id\nTypeAdapter(Id)"
    )

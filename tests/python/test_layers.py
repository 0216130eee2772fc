"""The package's layers are kept by import-linter (pyproject.toml, [tool.importlinter]): the real
sources keep every contract, and an upward import breaks one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[2]


def lint(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), str(ROOT / "pyproject.toml")],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )


def test_the_sources_keep_every_contract():
    proc = lint(ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A store reaching up into the lease protocol.
        ("stores/redis.py", "from ..lease import NodeLease", "The layers of the package"),
        # One engine importing another.
        ("stores/postgres.py", "from . import redis", "The engines use the protocols"),
        # The protocol importing the facade.
        ("lease.py", "import atomic_counter", "Only the command line imports the facade"),
        ("_lease_protocol.py", "import atomic_counter", "Only the command line imports the facade"),
        # The lease protocol reaching up into FleetCounter or its drivers, and FleetCounter into an
        # integration.
        ("lease.py", "from .fleet import FleetCounter", "The layers of the package"),
        ("_lease_protocol.py", "from .lease import NodeLease", "The layers of the package"),
        ("fleet.py", "from . import django", "The layers of the package"),
        # One integration importing another.
        ("django.py", "from . import pydantic", "The layers of the package"),
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, contract):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "atomic_counter", src / "atomic_counter")
    target = src / "atomic_counter" / module
    text = target.read_text()
    # After the module's docstring and `from __future__`, as a real import would be.
    anchor = "from __future__ import annotations\n"
    assert anchor in text
    target.write_text(text.replace(anchor, anchor + line + "\n", 1))
    proc = lint(src)
    assert proc.returncode != 0, proc.stdout
    broken = [row for row in proc.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), proc.stdout

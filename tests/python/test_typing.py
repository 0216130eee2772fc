"""Types: the stubs match the extension (mypy.stubtest) and `mypy --strict` passes on the
examples and on a file that uses every public name."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mypy")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests" / "python",
        timeout=600,
    )


def test_mypy_strict_on_examples_and_every_public_name():
    files = [str(p) for p in sorted((ROOT / "examples").glob("*.py"))]
    files.append(str(ROOT / "tests" / "python" / "support" / "typing_usage.py"))
    proc = run("mypy", "--strict", "--no-incremental", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_the_package():
    proc = run("mypy", "--strict", "--no-incremental", str(ROOT / "src" / "atomic_counter"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stubs_match_the_extension():
    proc = run("mypy.stubtest", "atomic_counter._core", "--ignore-missing-stub")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_typing_usage_runs():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "python" / "support" / "typing_usage.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_package_ships_py_typed_and_stubs():
    import atomic_counter

    package = Path(atomic_counter.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_core.pyi").exists()

"""Builds tests/python/shims/region_shim.c (an LD_PRELOAD shim that slows or gates msync and
logs fsync) once per test session, with the C compiler the machine has."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).parent / "shims" / "region_shim.c"


def build_region_shim(directory: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise RuntimeError("no C compiler to build the test shim (tools/test.sh installs g++)")
    out = directory / "region_shim.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(out), str(SOURCE), "-ldl"],
                   check=True)
    return out

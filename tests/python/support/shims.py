"""Builds the LD_PRELOAD shims under tests/python/support/shims/ once per test session, with the C
compiler the machine has: region_shim.c (slows, gates or fails msync, logs fsync) and clock_shim.c
(moves CLOCK_REALTIME by an offset a controller can change while the process runs)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

SHIMS = Path(__file__).parent / "shims"


def build_shim(name: str, directory: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise RuntimeError("no C compiler to build the test shims (tools/test.sh installs g++)")
    out = directory / f"{name}.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(out), str(SHIMS / f"{name}.c"), "-ldl"],
        check=True,
    )
    return out


def build_region_shim(directory: Path) -> Path:
    return build_shim("region_shim", directory)


def preload(library: Path | str, **settings: str) -> dict[str, str]:
    """Environment that preloads `library` after whatever is preloaded already (the sanitizer
    run's libasan must stay first)."""
    first = os.environ.get("LD_PRELOAD", "")
    return {"LD_PRELOAD": f"{first} {library}".strip(), **settings}


class ClockOffset:
    """The file a process running under clock_shim.so reads its wall-clock offset from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_bytes(struct.pack("=q", 0))

    def set(self, seconds: float) -> None:
        with open(self.path, "r+b") as f:
            f.write(struct.pack("=q", int(seconds * 1e9)))

    def get(self) -> float:
        return struct.unpack("=q", self.path.read_bytes()[:8])[0] / 1e9

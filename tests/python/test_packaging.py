"""Packaging: cibuildwheel builds exactly the intended wheels on every platform (one abi3 wheel
per platform and architecture from CPython 3.10, plus version-specific free-threaded wheels for
3.13t and 3.14t), and the installed distribution carries its license and metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "linux": [
        f"{py}-{libc}_{arch}"
        for arch in ("x86_64", "aarch64")
        for libc in ("manylinux", "musllinux")
        for py in ("cp310", "cp313t", "cp314t")
    ],
    "macos": [
        f"{py}-macosx_{arch}"
        for arch in ("x86_64", "arm64")
        for py in ("cp310", "cp313t", "cp314t")
    ],
    "windows": [
        f"{py}-win_{arch}" for arch in ("amd64", "arm64") for py in ("cp310", "cp313t", "cp314t")
    ],
}


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_cibuildwheel_builds_exactly_the_intended_wheels(platform):
    pytest.importorskip("cibuildwheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            platform,
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == sorted(EXPECTED[platform])


def test_the_distribution_carries_its_license_and_metadata():
    dist = importlib.metadata.distribution("atomic-counter")
    assert dist.metadata["License-Expression"] == "Apache-2.0"
    license_file = next(f for f in dist.files or [] if f.name == "LICENSE")
    assert "Apache License" in license_file.read_text()
    classifiers = dist.metadata.get_all("Classifier") or []
    for expected in (
        "Operating System :: Microsoft :: Windows",
        "Operating System :: MacOS",
        "Programming Language :: Python :: 3.14",
        "Typing :: Typed",
    ):
        assert expected in classifiers
    assert dist.metadata.get_all("Project-URL")

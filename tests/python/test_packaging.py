"""Packaging: cibuildwheel builds exactly the intended wheels on every platform (one abi3 wheel
per platform and architecture from CPython 3.10, plus version-specific free-threaded wheels for
3.13t and 3.14t), and the installed distribution carries its license and metadata."""

from __future__ import annotations

import importlib.metadata
import re
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


# The package index shows the README and the project's URLs; a link relative to the checkout
# is dead there. Everything points at the repository's main branch.
HOME = "https://github.com/atomic-counter/atomic-counter"
INTO_REPO = re.compile(
    r"^(?:https://github\.com/atomic-counter/atomic-counter/(?P<kind>blob|tree)/main/"
    r"|https://raw\.githubusercontent\.com/atomic-counter/atomic-counter/main/)"
    r"(?P<path>[^#?]+)(?:#(?P<anchor>.*))?$"
)


def readme_links(text: str) -> list[str]:
    """Every link and image target of a Markdown text, outside code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # fenced blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans
    links = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)", text)  # [text](url), ![alt](url)
    links += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", text, flags=re.M)  # [ref]: url
    links += re.findall(r"""<(?:img|a|source)\b[^>]*?\b(?:src|href|srcset)=["']([^"']+)""", text)
    return links


def github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_the_link_finder_finds_relative_links():
    found = readme_links(
        "[a](docs/design.md) ![b](docs/x.png) [c](#faq) [d]: ../x\n"
        '<img src="y.png"> `[e](not/a/link)`\n```\n[f](in/code)\n```\n'
    )
    assert found == ["docs/design.md", "docs/x.png", "#faq", "y.png"]


def test_the_readme_links_are_absolute_and_lead_somewhere():
    links = readme_links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(links) >= 10
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == [], "dead on the package index: make them absolute (see HOME)"
    for link in links:
        match = INTO_REPO.match(link)
        if link.startswith(HOME + "/") and not link.startswith(HOME + "/issues"):
            assert match, f"{link}: link into the repository's main branch"
        if not match:
            continue
        target = ROOT / match["path"]
        if match["kind"] == "tree":
            assert target.is_dir(), link
        else:
            assert target.is_file(), link
        if match["anchor"]:
            headings = re.findall(r"^#+ (.*)$", target.read_text(encoding="utf-8"), re.M)
            assert match["anchor"] in {github_anchor(h) for h in headings}, link
    assert any(link.endswith("/docs/benchmarks.png") for link in links)  # the chart


def test_the_metadata_carries_the_project_urls():
    dist = importlib.metadata.distribution("atomic-counter")
    urls = dict(entry.split(", ", 1) for entry in dist.metadata.get_all("Project-URL") or [])
    assert urls["Repository"] == HOME
    assert urls["Homepage"] == HOME
    assert urls["Documentation"].startswith(HOME)
    assert urls["Issues"] == HOME + "/issues"
    assert urls["Changelog"] == HOME + "/blob/main/CHANGELOG.md"
    for url in urls.values():
        match = INTO_REPO.match(url)
        assert url.startswith("https://") and (not match or (ROOT / match["path"]).exists())
    assert dist.metadata["Description-Content-Type"] == "text/markdown"

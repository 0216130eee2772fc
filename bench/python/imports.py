"""What the first use of each feature costs: a fresh interpreter per measurement, the feature's
first use timed inside it (time.perf_counter_ns around the statements), and the modules that
use loaded. The original atomic-counter 0.1.4's import is measured the same way in its own
environment.

`python -X importtime` alone would not do: the package loads Layout, the leases and
SegmentCounter on first use, after `import atomic_counter` has returned, and importtime reports
no module that importlib.import_module loads.

Run by bench/run.py (tools/bench.sh), which writes the table into docs/benchmarks.md; also on
its own:

    .venv/bin/python bench/python/imports.py [--rounds 21] [--original PATH/TO/python]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# label: (statements run first, untimed; the statements timed). Each label's timing starts in
# an interpreter that has run only its own start-up and the untimed statements.
FEATURES: dict[str, tuple[str, str]] = {
    "import atomic_counter (the core classes)": ("", "import atomic_counter"),
    "then Layout: SnowflakeCounter(Layout.INT64, 1).next()": (
        "import atomic_counter",
        "from atomic_counter import Layout, SnowflakeCounter\n"
        "SnowflakeCounter(Layout.INT64, 1).next()",
    ),
    "then Layout.INT64.decode(id) (datetime)": (
        "import atomic_counter",
        "from atomic_counter import Layout\nLayout.INT64.decode(1)",
    ),
    "then lease_node_id (lease.py)": (
        "import atomic_counter",
        "from atomic_counter import lease_node_id",
    ),
    "then lease_node_id and redis-py": (
        "import atomic_counter",
        "from atomic_counter import lease_node_id\nimport redis",
    ),
    "then SegmentCounter (segment.py)": (
        "import atomic_counter",
        "from atomic_counter import SegmentCounter",
    ),
    "then SegmentCounter and psycopg": (
        "import atomic_counter",
        "from atomic_counter import SegmentCounter\nimport psycopg",
    ),
    "command line: import, main(['next'])": (
        "import io\nsys.stdout = io.StringIO()",
        "from atomic_counter.cli import main\nmain(['next'])",
    ),
    "command line: import, main(['next', '--json'])": (
        "import io\nsys.stdout = io.StringIO()",
        "from atomic_counter.cli import main\nmain(['next', '--json'])",
    ),
}

# The original has the core classes only.
ORIGINAL = {"original 0.1.4: import atomic_counter": ("", "import atomic_counter")}

# Modules named in the table when a feature loads them: the ones that cost the most.
NOTABLE = (
    "argparse",
    "asyncio",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "importlib",
    "inspect",
    "json",
    "logging",
    "psycopg",
    "re",
    "redis",
    "threading",
    "typing",
    "uuid",
    "warnings",
    "zoneinfo",
)

PROBE = """\
import sys, time
{setup}
before = set(sys.modules)
start = time.perf_counter_ns()
{code}
elapsed = time.perf_counter_ns() - start
loaded = set(sys.modules) - before
sys.__stdout__.write(f"{{elapsed}} {{len(loaded)}} {{','.join(sorted(loaded))}}\\n")
"""


def available(python: str, module: str) -> bool:
    return (
        subprocess.run(
            [python, "-c", f"import {module}"], capture_output=True, cwd="/", check=False
        ).returncode
        == 0
    )


def probe(python: str, setup: str, code: str) -> tuple[float, list[str]]:
    """ms the statements took in a fresh interpreter, and the modules they loaded."""
    out = subprocess.run(
        [python, "-c", PROBE.format(setup=setup, code=code)],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    elapsed, _, modules = out.rstrip("\n").split(" ", 2)
    return int(elapsed) / 1e6, [m for m in modules.split(",") if m]


def wall_ms(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, cwd="/")
    return (time.perf_counter() - start) * 1e3


def measure_imports(
    python: str | Path = sys.executable, original: str | Path | None = None, rounds: int = 21
) -> dict[str, dict]:
    """{label: {"ms": median, "min_ms": fastest, "modules": count, "notable": [names]}} for
    every feature (those
    whose third-party module is not installed left out), the original's import when an
    interpreter of its environment is given, and whole processes (`python -c pass`,
    `atomic-counter next`, with --json), measured interleaved in `rounds` rounds."""
    # Absolute (the probes run from /), not resolved: a venv's python is a symlink to its base.
    python = os.path.abspath(python)
    original = os.path.abspath(original) if original else None
    probes: dict[str, tuple[str, str, str]] = {}
    for label, (setup, code) in FEATURES.items():
        extra = {"redis", "psycopg"} & set(code.split())
        if all(available(python, module) for module in extra):
            probes[label] = (python, setup, code)
    if original:
        for label, (setup, code) in ORIGINAL.items():
            probes[label] = (str(original), setup, code)
    script = Path(python).parent / "atomic-counter"
    processes = {
        "process: python -c pass": [python, "-c", "pass"],
        "process: atomic-counter next": [str(script), "next"],
        "process: atomic-counter next --json": [str(script), "next", "--json"],
    }
    if original:
        processes["process: original 0.1.4, python -c drawing one id"] = [
            str(original),
            "-c",
            "import atomic_counter; print(atomic_counter.TimeCounter().next())",
        ]
    samples: dict[str, list[float]] = {label: [] for label in (*probes, *processes)}
    loaded: dict[str, list[str]] = {}
    for label, (interpreter, setup, code) in probes.items():  # warm the page cache
        loaded[label] = probe(interpreter, setup, code)[1]
    for argv in processes.values():
        wall_ms(argv)
    for _ in range(rounds):
        for label, (interpreter, setup, code) in probes.items():
            samples[label].append(probe(interpreter, setup, code)[0])
        for label, argv in processes.items():
            samples[label].append(wall_ms(argv))
    results: dict[str, dict] = {}
    for label, values in samples.items():
        modules = loaded.get(label)
        results[label] = {
            "ms": statistics.median(values),
            "min_ms": min(values),
            "modules": None if modules is None else len(modules),
            "notable": []
            if modules is None
            else sorted({m.split(".")[0] for m in modules} & set(NOTABLE)),
        }
    return results


def table(results: dict[str, dict]) -> list[str]:
    """The Markdown table docs/benchmarks.md shows."""
    lines = [
        "| first use, in a fresh interpreter | ms (median) | ms (fastest) | modules loaded "
        "| among them |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, r in results.items():
        modules = "" if r["modules"] is None else str(r["modules"])
        lines.append(
            f"| {label} | {r['ms']:.2f} | {r['min_ms']:.2f} | {modules} | "
            f"{', '.join(r['notable'])} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (median)")
    parser.add_argument("--original", help="the python of an environment with 0.1.4")
    args = parser.parse_args()
    print("\n".join(table(measure_imports(sys.executable, args.original, args.rounds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

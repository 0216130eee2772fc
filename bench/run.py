"""The benchmark suite: atomic_counter beside every peer a user would pick instead.

Runs with the project's environment (tools/bench.sh sets it up):
  1. builds the reference extension (bench/python/_reference.c: the floor for a C method that
     returns a fresh int),
  2. measures our Python API and the peers side by side, as medians of interleaved rounds; bulk
     ids (next_many of every counter type, Layout.decode_many) against n from 1k to 100M ids,
     beside numpy doing the least the same result needs (bench/python/bulk.py),
  3. measures the original atomic-counter 0.1.4 in a virtual environment of its own, as ratios
     to the reference measured in that same process, and the start-up of both (import time
     with -X importtime, whole processes drawing one id, our command line), and what the first
     use of each of our features costs (bench/python/imports.py: Layout, leases, segments, the
     command line, each in a fresh interpreter, beside the original's import),
  4. measures SegmentCounter against a PostgreSQL it starts (bench/python/segments.py): per id
     beside Counter.next() and SELECT nextval(), ids a second from 8 processes, next() latency
     while the database is slowed,
  5. builds and runs the C++ Google Benchmark suite (bench/cpp),
  6. writes docs/benchmarks.md (tables, targets, machine, Python, date) and docs/benchmarks.png
     (ns per id of the single draws; ids a second against n for the bulk calls).

Every target is a ratio of medians from one run, never an absolute time. `--only bulk` measures
the bulk calls alone and rewrites their section of docs/benchmarks.md and the chart (the other
figures stay as the last full run wrote them).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import itertools
import json
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import sys
import sysconfig
import time
import uuid
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
sys.path.insert(0, str(ROOT / "bench" / "python"))

import bulk  # noqa: E402
from imports import measure_imports  # noqa: E402
from imports import table as first_use_table  # noqa: E402
from measure import measure  # noqa: E402
from segments import PROCESSES, measure_segments  # noqa: E402


def build_reference() -> None:
    """Compiles _reference.c for this interpreter into build/bench."""
    BUILD.mkdir(parents=True, exist_ok=True)
    target = BUILD / "_reference.abi3.so"
    source = ROOT / "bench" / "python" / "_reference.c"
    include = sysconfig.get_paths()["include"]
    cc = os.environ.get("CC", "cc")
    subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(target)], check=True
    )
    sys.path.insert(0, str(BUILD))


def python_candidates() -> dict[str, dict[str, tuple[str, dict]]]:
    """Groups of candidates, each group measured interleaved."""
    import _reference
    import snowflake
    import uuid_utils

    import atomic_counter
    from atomic_counter import (
        Counter,
        Layout,
        SharedCounter,
        SharedTimeCounter,
        SnowflakeCounter,
        TimeCounter,
    )

    shared_name = f"atomic-counter-bench-{os.getpid()}"
    shared = SharedCounter(shared_name)
    shared_time = SharedTimeCounter(shared_name + "-time")
    # The names go at exit (unlink ends a region's sequence, so not before the measurements).
    atexit.register(shared_time.unlink)
    atexit.register(shared.unlink)

    ours_snowflake = SnowflakeCounter(Layout.TWITTER, 1)
    # As a lease keeps it: a deadline on the monotonic clock, a high-water mark and a lead
    # limit, all checked on every draw. Far enough here that the benchmark never hits them (it
    # draws faster than the layout's 4096 ids a ms, so a real lease's 2 s lead would refuse).
    leased = SnowflakeCounter(Layout.TWITTER, 2)
    leased._extend(time.monotonic_ns() + 3600 * 10**9, Layout.TWITTER.max_id)
    leased._limit_lead(10**6 * 10**9)

    lock_value = multiprocessing.Value("Q", 0)

    def locked_increment() -> int:
        with lock_value.get_lock():
            lock_value.value += 1
            return lock_value.value

    v = TimeCounter().next()
    ns = {
        "ref": _reference.Reference(),
        "c": Counter(),
        "t": TimeCounter(),
        "sc": shared,
        "st": shared_time,
        "sf": ours_snowflake,
        "lsf": leased,
        "count_next": itertools.count().__next__,
        "time_ns": time.time_ns,
        "uuid4": uuid.uuid4,
        "uuid7": uuid_utils.uuid7,
        "snowflake_gen": snowflake.SnowflakeGenerator(42),
        "locked_increment": locked_increment,
        "to_datetime": atomic_counter.TimeCounter.to_datetime,
        "fromtimestamp": dt.datetime.fromtimestamp,
        "utc": dt.timezone.utc,
        "v": v,
        "v_us": v >> 12,
    }
    return {
        "single": {
            "reference METH_NOARGS": ("ref.next()", ns),
            "Counter.next": ("c.next()", ns),
            "next(Counter)": ("next(c)", ns),
            "TimeCounter.next": ("t.next()", ns),
            "SharedCounter.next": ("sc.next()", ns),
            "SharedTimeCounter.next": ("st.next()", ns),
            "SnowflakeCounter.next": ("sf.next()", ns),
            "SnowflakeCounter.next (leased)": ("lsf.next()", ns),
            "itertools.count().__next__": ("count_next()", ns),
            "time.time_ns": ("time_ns()", ns),
            "uuid.uuid4": ("uuid4()", ns),
            "uuid_utils.uuid7": ("uuid7()", ns),
            "snowflake-id": ("next(snowflake_gen)", ns),
            "multiprocessing.Value('Q') + lock": ("locked_increment()", ns),
        },
        "decode": {
            "TimeCounter.to_datetime": ("to_datetime(v)", ns),
            "datetime.fromtimestamp(us / 1e6, tz=utc)": ("fromtimestamp(v_us / 1e6, tz=utc)", ns),
        },
    }


def original_python() -> Path | None:
    """The interpreter of a virtual environment holding the original atomic-counter 0.1.4 (it
    also imports as atomic_counter), created on first use; None when PyPI cannot be reached."""
    env_dir = BUILD / "original-venv"
    python = env_dir / "bin" / "python"
    if not python.exists():
        venv.create(env_dir, with_pip=True)
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "atomic-counter==0.1.4",
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        print(f"could not install atomic-counter 0.1.4:\n{install.stderr}", file=sys.stderr)
        return None
    return python


def measure_original(python: Path, rounds: int, number: int) -> dict[str, float]:
    """The original's counters as ns per call, beside the reference measured in its process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BUILD), str(ROOT / "bench" / "python")]))
    out = subprocess.run(
        [str(python), str(ROOT / "bench" / "python" / "measure.py"), str(rounds), str(number)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=True,
    ).stdout
    return json.loads(out)


ONE_ID = "import atomic_counter; print(atomic_counter.TimeCounter().next())"


def import_us(python: Path | str) -> float:
    """Cumulative `-X importtime` of `import atomic_counter` in a fresh interpreter, in us."""
    err = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import atomic_counter"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stderr
    for line in reversed(err.splitlines()):
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 3 and fields[2] == "atomic_counter":
            return float(fields[1])
    raise RuntimeError(f"no atomic_counter line in -X importtime output:\n{err}")


def wall_ms(argv: list[str]) -> float:
    """Wall time of one run of a command, in ms (its output must be one id)."""
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd="/").stdout
    elapsed = (time.perf_counter() - start) * 1e3
    int(out.split()[0])  # it did draw an id
    return elapsed


def measure_startup(original: Path | None, rounds: int) -> dict[str, float]:
    """Import time and whole-process start-up, ours beside the original's, interleaved."""
    ours = Path(sys.executable)
    cli = ours.parent / "atomic-counter"
    probes = {
        "import atomic_counter (us, cumulative)": lambda: import_us(ours),
        "python -c: import, draw one id, print (ms)": lambda: wall_ms([str(ours), "-c", ONE_ID]),
        "atomic-counter next (ms)": lambda: wall_ms([str(cli), "next"]),
        "python -c 'pass' (ms)": lambda: wall_ms([str(ours), "-c", "print(0)"]),
    }
    if original:
        probes["original 0.1.4: import atomic_counter (us, cumulative)"] = lambda: import_us(
            original
        )
        probes["original 0.1.4: python -c, one id (ms)"] = lambda: wall_ms(
            [str(original), "-c", ONE_ID]
        )
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for probe in probes.values():  # warm the page cache
        probe()
    for _ in range(rounds):
        for name, probe in probes.items():
            samples[name].append(probe())
    return {name: statistics.median(values) for name, values in samples.items()}


def measure_bulk(sizes: list[int], rounds: int) -> dict[int, dict[str, float]]:
    """{n: {candidate: ns per call}}: next_many and decode_many beside their numpy floors."""
    figures = bulk.measure_next_many(sizes, rounds)
    for n, row in bulk.measure_decode_many(sizes, rounds).items():
        figures[n].update(row)
    return figures


def run_cpp(repetitions: int) -> dict[str, float] | None:
    """Builds bench/cpp and returns the median real time per iteration (ns) by benchmark name."""
    build = ROOT / "build" / "bench-cpp"
    try:
        subprocess.run(
            [
                "cmake",
                "-S",
                str(ROOT / "bench" / "cpp"),
                "-B",
                str(build),
                "-G",
                "Ninja",
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        print(f"C++ benchmarks not built:\n{exc.stdout}\n{exc.stderr}", file=sys.stderr)
        return None
    out = subprocess.run(
        [
            str(build / "core_bench"),
            "--benchmark_format=json",
            f"--benchmark_repetitions={repetitions}",
            "--benchmark_enable_random_interleaving=true",
            "--benchmark_report_aggregates_only=true",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    results = {}
    for bench in json.loads(out)["benchmarks"]:
        if bench.get("aggregate_name") == "median":
            name = bench["run_name"].replace("/real_time", "")
            results[name] = bench["real_time"]
    return results


def targets(
    py: dict[str, float],
    original: dict[str, float] | None,
    cpp: dict[str, float] | None,
    startup: dict[str, float],
    segments: dict[str, float] | None = None,
    first_use: dict[str, dict] | None = None,
) -> list[tuple[str, str, float, bool]]:
    """(target, measured as text, ratio, met) for every target of the suite."""
    rows = []
    theirs = (first_use or {}).get("original 0.1.4: import atomic_counter")
    if first_use and theirs:
        ours = (
            first_use["import atomic_counter (the core classes)"]["ms"]
            + first_use["then Layout: SnowflakeCounter(Layout.INT64, 1).next()"]["ms"]
        )
        r = ours / theirs["ms"]
        rows.append(
            (
                "import atomic_counter, then a first Layout id <= the original 0.1.4's import "
                "(in a fresh interpreter)",
                f"{ours:.2f} / {theirs['ms']:.2f} ms",
                r,
                r <= 1.0,
            )
        )
    theirs_import = startup.get("original 0.1.4: import atomic_counter (us, cumulative)")
    if theirs_import:
        ours_import = startup["import atomic_counter (us, cumulative)"]
        r = ours_import / theirs_import
        rows.append(
            (
                "import atomic_counter <= the original 0.1.4's (-X importtime, cumulative)",
                f"{ours_import / 1e3:.2f} / {theirs_import / 1e3:.2f} ms",
                r,
                r <= 1.0,
            )
        )
        theirs_run = startup["original 0.1.4: python -c, one id (ms)"]
        for name in ("python -c: import, draw one id, print (ms)", "atomic-counter next (ms)"):
            # Whole processes: the interpreter's own start-up (python -c 'pass') is most of it.
            r = startup[name] / theirs_run
            rows.append(
                (
                    f"{name.removesuffix(' (ms)')} <= 1.05 x the original's python -c",
                    f"{startup[name]:.1f} / {theirs_run:.1f} ms",
                    r,
                    r <= 1.05,
                )
            )

    def ratio(name: str, a: float, b: float, limit: float, strict: bool = False) -> None:
        r = a / b
        rows.append((name, f"{a:.1f} / {b:.1f} ns", r, r < limit if strict else r <= limit))

    ref = py["reference METH_NOARGS"]
    ratio("Counter.next <= 1.10 x reference METH_NOARGS", py["Counter.next"], ref, 1.10)
    ratio(
        "Counter.next <= itertools.count().__next__",
        py["Counter.next"],
        py["itertools.count().__next__"],
        1.0,
    )
    ratio("TimeCounter.next <= 1.0 x time.time_ns", py["TimeCounter.next"], py["time.time_ns"], 1.0)
    if original:
        # The original's figures are ratios to the reference in its own process.
        for name in ("Counter.next", "TimeCounter.next"):
            theirs = original[name] / original["reference"] * ref
            ratio(f"{name} faster than the original 0.1.4's", py[name], theirs, 1.0, strict=True)
    ratio(
        "SharedCounter.next <= 1.2 x Counter.next",
        py["SharedCounter.next"],
        py["Counter.next"],
        1.2,
    )
    ratio(
        "SnowflakeCounter.next leased <= 1.1 x unleased",
        py["SnowflakeCounter.next (leased)"],
        py["SnowflakeCounter.next"],
        1.1,
    )
    locked = py["multiprocessing.Value('Q') + lock"]
    speedup = locked / py["SharedCounter.next"]
    rows.append(
        (
            "SharedCounter.next >= 20 x faster than multiprocessing.Value('Q') + lock",
            f"{py['SharedCounter.next']:.1f} / {locked:.1f} ns",
            1 / speedup,
            speedup >= 20,
        )
    )
    ratio(
        "to_datetime <= datetime.fromtimestamp",
        py["TimeCounter.to_datetime"],
        py["datetime.fromtimestamp(us / 1e6, tz=utc)"],
        1.0,
    )
    if segments:
        ratio(
            "SegmentCounter.next (a block at hand) <= 1.1 x Counter.next",
            segments["SegmentCounter.next(), block 2,000,000 (ns per id)"],
            segments["Counter.next() (ns per id)"],
            1.1,
        )
        ours = segments[f"{PROCESSES} processes: SegmentCounter, block 100,000 (ids/s)"]
        theirs = segments[f"{PROCESSES} processes: nextval() per id (ids/s)"]
        rows.append(
            (
                f"SegmentCounter >= 100 x nextval() per id, ids/s from {PROCESSES} processes",
                f"{ours / 1e6:.1f} M / {theirs / 1e3:.1f} k ids/s",
                100 * theirs / ours,
                ours >= 100 * theirs,
            )
        )
        waited = segments[
            "20k ids/s, block 50,000, +50 ms each way: next() calls that waited (count)"
        ]
        rows.append(
            (
                "no next() waits on a database slowed by 50 ms each way (20k ids/s, block 50,000)",
                f"{waited:.0f} waited",
                waited,
                waited == 0,
            )
        )
    if cpp:
        for threads in (1, 2):
            suffix = f"/threads:{threads}"
            ratio(
                f"C++ counter::next <= 1.2 x fetch_add ({threads} thread{'s' * (threads > 1)})",
                cpp["counter_next" + suffix],
                cpp["floor_fetch_add" + suffix],
                1.2,
            )
            ratio(
                f"C++ time_counter::next <= 1.3 x clock + CAS ({threads} thread"
                f"{'s' * (threads > 1)})",
                cpp["time_counter_next" + suffix],
                cpp["floor_clock_plus_cas" + suffix],
                1.3,
            )
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


BULK_HEADING = "## Python: bulk, ids a second against n"


def bulk_section(figures: dict[int, dict[str, float]], rounds: int) -> list[str]:
    """The bulk section of the report: its targets (every ratio at every n), the ratios and the
    rates, with when and where they were measured (--only bulk reruns this section alone)."""
    import atomic_counter

    sizes = sorted(figures)
    span = f"{bulk.label(sizes[0])} .. {bulk.label(sizes[-1])}"
    lines = [
        BULK_HEADING,
        "",
        f"atomic_counter {atomic_counter.__version__}, CPython {platform.python_version()}, "
        f"{machine()}, {dt.date.today().isoformat()}; each n measured on its own, medians of "
        f"{rounds} interleaved rounds (`python bench/run.py --only bulk` reruns this section).",
        "The floors: numpy's `np.empty(n, np.uint64).fill(1)` for next_many(n) (fresh memory, one "
        "write per id), `a.fill(1)` into an existing array for next_many(n, out=a), and for "
        "`Layout.INT64.decode_many(ids)` numpy's vectorized shifts, masks, multiply and add "
        "producing the same three columns.",
        "",
        "| target | worst ratio (at n) | met |",
        "| --- | --- | --- |",
    ]
    table = bulk.ratios(figures)
    for ours in bulk.TARGETED:
        worst = max(table[ours], key=lambda n: table[ours][n])
        r = table[ours][worst]
        floor = dict(bulk.PAIRS)[ours]
        lines.append(
            f"| {ours} <= {bulk.TARGET} x {floor} at every n in {span} | {r:.2f} "
            f"({bulk.label(worst)}) | {'yes' if r <= bulk.TARGET else '**no**'} |"
        )
    lines += ["", "Ours / floor at each n (lower is better):", "", *bulk.ratio_table(figures)]
    lines += ["", "Millions of ids a second:", "", *bulk.rate_table(figures), ""]
    return lines


def replace_section(text: str, heading: str, section: list[str]) -> str:
    """text with the section that starts at `heading` (up to the next ## heading, or the end)
    replaced by `section`; appended when there is none."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    except StopIteration:
        return "\n".join([*lines, "", *section]).rstrip("\n") + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join([*lines[:start], *section, *lines[end:]]).rstrip("\n") + "\n"


def singles_from_report(text: str) -> tuple[dict[str, float], float]:
    """The one-id-per-call figures of an existing report (for a chart redrawn by --only bulk)."""
    singles: dict[str, float] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Python: one id per call")
            continue
        match = re.match(r"\| (.+?) \| ([0-9.]+) \| [0-9.]+ \|$", line) if inside else None
        if match:
            singles[match.group(1)] = float(match.group(2))
    return singles, singles.get("reference METH_NOARGS", 0.0)


def write_report(
    py: dict[str, float],
    single_names: list[str],
    original: dict[str, float] | None,
    cpp: dict[str, float] | None,
    startup: dict[str, float],
    figures: dict[int, dict[str, float]],
    rows: list,
    rounds: int,
    out_dir: Path,
    segments: dict[str, float] | None = None,
    first_use: dict[str, dict] | None = None,
) -> None:
    import atomic_counter

    ref = py["reference METH_NOARGS"]
    lines = [
        "# Benchmarks",
        "",
        f"atomic_counter {atomic_counter.__version__}, CPython {platform.python_version()}, "
        f"{machine()}, {dt.date.today().isoformat()}. Medians of {rounds} interleaved rounds; "
        "reproduce with `bash tools/bench.sh`.",
        "",
        "![ns per id of single draws; ids a second of bulk draws against n](benchmarks.png)",
        "",
        "## Targets",
        "",
        "| target | measured | ratio | met |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {text} | {r:.2f} | {'yes' if ok else '**no**'} |" for name, text, r, ok in rows
    ]
    lines.append("| bulk: next_many and decode_many at every n (1k .. 100M) | see below | | |")
    lines += [
        "",
        "## Python: one id per call",
        "",
        "| what | ns per id | x reference |",
        "| --- | --- | --- |",
    ]
    singles = {name: py[name] for name in single_names}
    if original:
        # The original's figures, scaled by the reference measured in its own process.
        for name in ("Counter.next", "TimeCounter.next"):
            singles[f"original 0.1.4 {name}"] = original[name] / original["reference"] * ref
    for name, value in sorted(singles.items(), key=lambda kv: kv[1]):
        lines.append(f"| {name} | {value:.1f} | {value / ref:.2f} |")
    lines += ["", "## Python: decoding", "", "| what | ns per call |", "| --- | --- |"]
    for name in ("TimeCounter.to_datetime", "datetime.fromtimestamp(us / 1e6, tz=utc)"):
        lines.append(f"| {name} | {py[name]:.1f} |")
    lines += ["", *bulk_section(figures, rounds)]
    lines += [
        "## Start-up (a fresh interpreter each time; original 0.1.4 in its own environment)",
        "",
        "| what | median |",
        "| --- | --- |",
    ]
    for name, value in startup.items():
        lines.append(f"| {name} | {value:.2f} |")
    if first_use:
        lines += [
            "",
            "## First use of each feature",
            "",
            "bench/python/imports.py. Each row in a fresh interpreter: the time its statements "
            "take (perf_counter) after the interpreter's start-up and, for rows marked 'then', "
            "after `import atomic_counter`; the modules they load, and the costly ones among "
            "them. Medians and fastest of interleaved rounds.",
            "",
            *first_use_table(first_use),
        ]
    if segments:
        lines += [
            "",
            "## SegmentCounter (PostgreSQL on loopback, started by the benchmark)",
            "",
            "| what | figure |",
            "| --- | --- |",
        ]
        for name, value in segments.items():
            lines.append(
                f"| {name} | {value:,.1f} |" if value < 1000 else f"| {name} | {value:,.0f} |"
            )
    if cpp:
        lines += [
            "",
            "## C++ (Google Benchmark, real time, one counter shared by the threads)",
            "",
            "| benchmark | ns per iteration |",
            "| --- | --- |",
        ]
        lines += [f"| {name} | {value:.2f} |" for name, value in sorted(cpp.items())]
    (out_dir / "benchmarks.md").write_text("\n".join(lines) + "\n")
    draw_chart(singles, ref, figures, out_dir / "benchmarks.png")


def draw_chart(
    singles: dict[str, float], ref: float, figures: dict[int, dict[str, float]], path: Path
) -> None:
    """Two panels: ns per id of the single draws (bars), ids a second of the bulk calls and
    their floors against n (lines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(singles.items(), key=lambda kv: kv[1], reverse=True)
    names = [k for k, _ in items]
    values = [v for _, v in items]
    ours = {
        "Counter.next",
        "next(Counter)",
        "TimeCounter.next",
        "SharedCounter.next",
        "SharedTimeCounter.next",
        "SnowflakeCounter.next",
        "SnowflakeCounter.next (leased)",
    }
    colors = [
        "#1f77b4" if n in ours else "#bbbbbb" if "reference" in n else "#ff7f0e" for n in names
    ]
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(17, max(6.0, 0.42 * len(items) + 1.2)), width_ratios=[1, 1]
    )
    bars = ax.barh(names, values, color=colors)
    ax.set_xscale("log")
    ax.set_xlabel("ns per id (log scale; lower is better)")
    ax.set_title(
        f"One id per call, CPython {platform.python_version()}\n"
        "blue: atomic_counter, orange: peers, grey: the C-method floor",
        fontsize=10,
    )
    for bar, value in zip(bars, values, strict=True):
        ax.text(
            value * 1.03,
            bar.get_y() + bar.get_height() / 2,
            f"{value:.0f}",
            va="center",
            fontsize=8,
        )
    ax.axvline(ref, color="#888888", linestyle=":", linewidth=1)

    sizes = sorted(figures)
    styles = {
        bulk.FLOOR: ("#555555", "--", "o"),
        **{kind: (blue, "-", ".") for kind, blue in zip(bulk.KINDS, BLUES, strict=True)},
        bulk.DECODE_FLOOR: ("#555555", ":", "s"),
        "Layout.decode_many": ("#ff7f0e", "-", "s"),
    }
    for name, (color, line, marker) in styles.items():
        rates = [n / figures[n][name] * 1e3 for n in sizes if name in figures[n]]
        label = f"{name} (floor)" if name in (bulk.FLOOR, bulk.DECODE_FLOOR) else name
        bx.plot(sizes[: len(rates)], rates, line, marker=marker, color=color, label=label)
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("n, ids per call (log scale)")
    bx.set_ylabel("millions of ids a second (log scale; higher is better)")
    bx.set_title(
        "Bulk: next_many(n) beside numpy's empty + fill, decode_many beside\n"
        "numpy's shifts and masks (grey: the floors)",
        fontsize=10,
    )
    bx.grid(True, which="major", color="#eeeeee")
    bx.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# The five counter types' lines: shades of the single draws' blue.
BLUES = ["#1f77b4", "#4a90c8", "#7aaedb", "#174a7c", "#2ca0c8"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (median)")
    parser.add_argument("--number", type=int, default=200_000, help="calls per round")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the report goes")
    parser.add_argument("--no-cpp", action="store_true", help="skip the C++ benchmarks")
    parser.add_argument("--no-original", action="store_true", help="skip atomic-counter 0.1.4")
    parser.add_argument(
        "--no-segments", action="store_true", help="skip SegmentCounter (needs PostgreSQL)"
    )
    parser.add_argument(
        "--only",
        choices=["bulk"],
        help="measure only the bulk calls and rewrite their section and the chart",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in bulk.SIZES),
        help="the n of the bulk calls, comma-separated (1e3 and the like accepted)",
    )
    args = parser.parse_args()
    sizes = [int(float(n)) for n in args.sizes.split(",")]

    if args.only == "bulk":
        report = args.out / "benchmarks.md"
        print("Python: bulk", file=sys.stderr)
        figures = measure_bulk(sizes, args.rounds)
        text = replace_section(report.read_text(), BULK_HEADING, bulk_section(figures, args.rounds))
        report.write_text(text)
        singles, ref = singles_from_report(text)
        draw_chart(singles, ref, figures, args.out / "benchmarks.png")
        print("\n".join(bulk_section(figures, args.rounds)))
        return 0

    build_reference()
    groups = python_candidates()
    py: dict[str, float] = {}
    print("Python: single draws", file=sys.stderr)
    py.update(measure(groups["single"], args.rounds, args.number))
    print("Python: decoding", file=sys.stderr)
    py.update(measure(groups["decode"], args.rounds, args.number // 4))
    print("Python: bulk", file=sys.stderr)
    figures = measure_bulk(sizes, args.rounds)
    theirs = None if args.no_original else original_python()
    original = measure_original(theirs, args.rounds, args.number) if theirs else None
    print("start-up", file=sys.stderr)
    startup = measure_startup(theirs, args.rounds)
    print("first use of each feature", file=sys.stderr)
    first_use = measure_imports(sys.executable, theirs, args.rounds)
    print("SegmentCounter against PostgreSQL", file=sys.stderr)
    segments = None if args.no_segments else measure_segments(args.rounds, args.number)
    cpp = None if args.no_cpp else run_cpp(max(3, args.rounds // 4))
    rows = targets(py, original, cpp, startup, segments, first_use)
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(
        py,
        list(groups["single"]),
        original,
        cpp,
        startup,
        figures,
        rows,
        args.rounds,
        args.out,
        segments,
        first_use,
    )
    print((args.out / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

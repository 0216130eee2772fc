"""The atomic-counter console script, driven in a subprocess as a user would."""

import contextlib
import doctest
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import linux_only
from hypothesis import given
from hypothesis import strategies as st

from atomic_counter import Layout, TimeCounter, __version__
from atomic_counter.cli import _json_line


def script() -> list[str]:
    found = shutil.which("atomic-counter", path=str(Path(sys.executable).parent))
    assert found, "the console script is installed beside the interpreter"
    return [found]


def cli(*args: str, stdin: str | None = None, module: bool = False):
    command = [sys.executable, "-m", "atomic_counter"] if module else script()
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"atomic-counter {__version__}"


def test_help_lists_the_subcommands():
    proc = cli("--help")
    for word in ("next", "decode", "bench", "--version"):
        assert word in proc.stdout


def test_next_prints_increasing_time_ids():
    before = TimeCounter().next()
    proc = cli("next", "-n", "5")
    ids = [int(line) for line in proc.stdout.split()]
    assert len(ids) == 5 and ids == sorted(set(ids)) and ids[0] > before


def test_python_dash_m_is_the_same_program():
    proc = cli("next", "--kind", "counter", "--base", "0", "--now", "0", "-n", "3", module=True)
    assert proc.stdout.split() == ["1", "2", "3"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_next_json_lines_and_kinds(tmp_path):
    proc = cli(
        "next",
        "--kind",
        "counter",
        "--base",
        "100",
        "--now",
        "150",
        "--interval",
        "5",
        "-n",
        "2",
        "--json",
    )
    assert json_lines(proc.stdout) == [
        {"id": "55", "kind": "counter"},
        {"id": "60", "kind": "counter"},
    ]
    proc = cli("next", "--kind", "daily", "--tz", "Asia/Tokyo", "--json")
    [doc] = json_lines(proc.stdout)
    assert doc["kind"] == "daily" and int(doc["id"]) > 0 and int(doc["base"]) > 2**53
    proc = cli("next", "--kind", "snowflake", "--layout", "discord", "--node", "33", "--json")
    [doc] = json_lines(proc.stdout)
    assert Layout.DISCORD.decode(int(doc["id"])).node == 33 and doc["node"] == 33
    path = str(tmp_path / "region")
    first = cli("next", "--kind", "shared", "--name", path, "--create", "--base", "0", "--now", "0")
    second = cli("next", "--kind", "shared", "--name", path)
    assert (first.stdout.strip(), second.stdout.strip()) == ("1", "2")
    proc = cli(
        "next", "--kind", "shared-time", "--name", str(tmp_path / "t"), "-n", "2", "--create"
    )
    assert len(proc.stdout.split()) == 2


def test_decode_arguments_and_stdin():
    value = (1_795_662_617_814_075 << 12) | 9
    proc = cli("decode", str(value), hex(value))
    assert proc.stdout.splitlines() == [
        f"{value} 2026-11-26T03:10:17.814075+00:00 sequence=9",
        f"{value} 2026-11-26T03:10:17.814075+00:00 sequence=9",
    ]
    proc = cli("decode", "--layout", "discord", "--json", stdin="175928847299117063\n")
    assert json_lines(proc.stdout) == [
        {
            "id": "175928847299117063",
            "datetime": "2016-04-30T11:18:25.796000+00:00",
            "node": 32,
            "sequence": 7,
        }
    ]


def test_string_forms_in_and_out():
    for form, width in (("base32", 13), ("base62", 11), ("hex", 16)):
        texts = cli("next", "-n", "3", "--format", form).stdout.split()
        assert [len(t) for t in texts] == [width] * 3 and texts == sorted(texts)
        # Read back without --format: by their length, except words of digits alone, which
        # are decimal (a hex id that happens to be all digits, about 1 in 700, is read so).
        texts = [t for t in texts if not t.isdigit()]
        if not texts:
            continue
        decoded = cli("decode", *texts).stdout.splitlines()
        assert [int(line.split()[0]) for line in decoded] == [
            int(line.split()[0])
            for line in cli("decode", "--format", form, *texts).stdout.splitlines()
        ]
        [record] = json_lines(cli("next", "--format", form, "--json").stdout)
        assert len(record[form]) == width and int(record["id"]) > 0
    assert cli("decode", "--format", "hex", "0000000000003039").stdout.startswith("12345 ")
    assert cli("decode", "0000000000003039").stdout.startswith("3039 ")  # digits: decimal


def test_a_stream_stays_a_stream():
    proc = subprocess.Popen(
        [*script(), "decode", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    proc.stdin.write("7355046520290336768\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())  # answered before the input ends
    proc.stdin.write("7355046520290336769\n")
    proc.stdin.close()
    second = json.loads(proc.stdout.readline())
    assert (first["id"], second["id"]) == ("7355046520290336768", "7355046520290336769")
    assert proc.wait(timeout=60) == 0


def test_a_bare_call_prints_the_usage():
    proc = cli()
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: atomic-counter")
    for command in ("next", "decode", "bench"):
        assert f"  {command} " in proc.stderr
    assert "--format" in cli("next", "--help").stdout


def test_next_piped_into_decode():
    ids = cli("next", "-n", "3").stdout
    proc = cli("decode", "-", stdin=ids)
    assert len(proc.stdout.splitlines()) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["decode", "abc"], "not an id: 'abc'"),
        (["decode", "-1"], "not an id: '-1'"),
        (["decode", "-5"], "not an id: '-5' (ids are never negative: they are in [0, 2**64 - 1])"),
        (["decode", "--", "-5"], "not an id: '-5' (ids are never negative"),
        (["decode", "-0x5"], "not an id: '-0x5' (ids are never negative"),
        (["decode", "--", "--json"], "not an id: '--json'"),
        (["next", "--", "5"], "unexpected argument '5'"),
        (["next", "--json-numbers"], "--json-numbers needs --json"),
        (["decode", "--json-numbers", "1"], "--json-numbers needs --json"),
        (["next", "--create"], "--create does not apply to --kind time"),
        (["decode", str(2**64)], "must be in [0, 18446744073709551615]"),
        (["decode", "--format", "base32", "ZZZZZZZZZZZZZ"], "is not a base32 id (above 2**64"),
        (["decode", "--layout", "nope", "1"], "--layout: invalid choice 'nope'"),
        (["next", "--kind", "snowflake", "--layout", "INT63"], "--layout: invalid choice 'INT63'"),
        (["decode", "--layout", "twitter", str(2**63)], "must be in [0, 9223372036854775807]"),
        (
            ["next", "--kind", "counter", "--base", "10", "--now", "5"],
            "now (5) must be >= base (10)",
        ),
        (["next", "--kind", "counter", "--interval", "0"], "interval must be in [1, 2**64 - 1]"),
        (["next", "--kind", "counter", "--base", "-1"], "argument 'base' must be in"),
        (["next", "--kind", "daily", "--tz", "Nowhere/Else"], "unknown time zone 'Nowhere/Else'"),
        (["next", "--kind", "shared"], "--kind shared needs --name"),
        (["next", "--kind", "time", "--base", "1"], "--base does not apply to --kind time"),
        (["next", "--kind", "snowflake", "--node", "5000"], "node must be in [0, 1023]"),
        (["next", "-n", "x"], "not an integer: 'x'"),
        (["next", "-n", "-3"], "must be in [0, 10000000]"),
        (["next", "--kind", "nope"], "--kind: invalid choice 'nope'"),
        (["next", "--format", "octal"], "--format: invalid choice 'octal'"),
        (["next", "--json=yes"], "--json takes no value"),
        (["next", "stray"], "unexpected argument 'stray'"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ],
)
def test_user_errors_are_one_line_and_status_2(args, message):
    proc = cli(*args)
    assert proc.returncode == 2, proc
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") <= 1 or "usage:" in proc.stderr


def test_region_errors_are_user_errors(tmp_path):
    path = tmp_path / "not-a-region"
    path.write_bytes(b"x" * 100)
    proc = cli("next", "--kind", "shared", "--name", str(path))
    assert proc.returncode == 2 and "truncated" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_prints_a_table_or_json_lines():
    proc = cli("bench", "--rounds", "1", "--number", "2000", "--json")
    records = json_lines(proc.stdout)  # JSON Lines, as every subcommand: one per measurement
    ns = {r["what"]: r["ns_per_id"] for r in records}
    assert len(ns) == len(records) >= 5
    assert all(r["atomic_counter"] == __version__ and r["rounds"] == 1 for r in records)
    for name in (
        "Counter.next",
        "TimeCounter.next",
        "SharedCounter.next",
        "time.time_ns",
        "uuid.uuid4",
    ):
        assert ns[name] > 0
    assert list(ns.values()) == sorted(ns.values())  # fastest first, as the table
    text = cli("bench", "--rounds", "1", "--number", "2000").stdout
    assert "ns per id" in text and "Counter.next" in text
    if os.path.isdir("/dev/shm"):
        assert not [n for n in os.listdir("/dev/shm") if n.startswith("atomic-counter-cli-bench")]


# --------------------------------------------------------------------------------------------
# JSON: ids as strings, so that no reader rounds them


def test_json_ids_are_strings_that_jq_reads_back_exactly():
    # jq 1.6 (Debian 12) holds every JSON number as a double: an id written as a number comes
    # back rounded to another id. As strings they come back exact, in every jq.
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (tools/test.sh installs it)")

    def jq(program: str, text: str) -> list[str]:
        proc = subprocess.run(
            ["jq", "-r", program], input=text, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    for args in (
        ["next", "-n", "50"],
        ["next", "-n", "50", "--kind", "snowflake", "--layout", "int64", "--node", "1023"],
        ["next", "-n", "5", "--format", "base32"],
    ):
        lines = cli(*args, "--json").stdout
        ids = [json.loads(line)["id"] for line in lines.splitlines()]
        assert all(int(i) > 2**53 for i in ids)
        assert jq(".id", lines) == ids
        assert set(jq(".id | type", lines)) == {"string"}
    ids = cli("next", "-n", "20").stdout.split()
    decoded = cli("decode", "--json", *ids).stdout
    assert jq(".id", decoded) == ids
    assert set(jq(".id | type", decoded)) == {"string"}
    daily = cli("next", "--kind", "daily", "--json").stdout
    assert jq(".base", daily) == [str(json.loads(daily)["base"])]


def test_json_numbers_when_asked():
    proc = cli("next", "--kind", "counter", "--base", "0", "--now", "0", "--json", "--json-numbers")
    assert proc.stdout == '{"id": 1, "kind": "counter"}\n'
    ids = cli("next", "-n", "3").stdout.split()
    records = json_lines(cli("decode", "--json", "--json-numbers", *ids).stdout)
    assert [r["id"] for r in records] == [int(i) for i in ids]  # Python keeps 64-bit ints


def test_help_documents_ids_as_strings():
    for command in ("next", "decode"):
        text = cli(command, "--help").stdout
        assert "ids as strings" in text and "--json-numbers" in text and "2**53" in text
    assert "JSON Lines" in cli("bench", "--help").stdout


@given(
    st.dictionaries(
        st.text(), st.one_of(st.text(), st.integers(min_value=-(2**64), max_value=2**64))
    )
)
def test_json_lines_are_what_json_dumps_writes(record):
    # The command line writes its JSON Lines without the json module (it costs more than the
    # whole command): every key and value, any character, byte for byte as json.dumps.
    assert _json_line(record) == json.dumps(record) + "\n"


def test_json_names_any_path(tmp_path):
    path = tmp_path / 'odd "name" \\ é ☃ \t 😀'
    proc = cli("next", "--kind", "shared-time", "--name", str(path), "--create", "--json")
    [record] = json_lines(proc.stdout)
    assert record["name"] == str(path) and record["kind"] == "shared-time"


# --------------------------------------------------------------------------------------------
# Shared kinds: the command line draws from the applications' regions, and creates one only
# when asked


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_shared_example() -> str:
    """The README's pycon block on SharedCounter("orders", base=0, now=0)."""
    blocks = re.findall(r"^```pycon\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    [body] = [b for b in blocks if 'SharedCounter("orders", base=0, now=0)' in b]
    return body


def readme_shared_commands() -> list[list[str]]:
    """The README's `atomic-counter next --kind shared ...` lines, as argument lists."""
    lines = [
        line.split("#")[0].split()
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("atomic-counter next --kind shared ")
    ]
    assert lines
    return [words[1:] for words in lines]


def run_doctest(body: str, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(where)  # the example's durable file wants a disk, not the tmpfs /tmp may be
    try:
        test = doctest.DocTestParser().get_doctest(body, {}, "README.md", str(README), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append)
        test.globs.clear()
    finally:
        os.chdir(cwd)
    assert runner.failures == 0, "".join(report)


@linux_only
def test_the_readme_shared_commands_then_the_readme_example(request):
    # As a user would try the README: its command lines first, then its Python example on the
    # same name. A command line that made up a region for "orders" (with today's time as its
    # base) would make SharedCounter("orders", base=0, now=0) refuse it.
    suffix = f"-cli-readme-{os.getpid()}"
    names = {f'"{n}"': f'"{n}{suffix}"' for n in ("orders", "events")}
    where = README.parent / "build" / f"cli-readme-{os.getpid()}"
    request.addfinalizer(lambda: shutil.rmtree(where, ignore_errors=True))

    def cleanup():
        for name in names.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"/dev/shm/{name.strip(chr(34))}")

    request.addfinalizer(cleanup)
    body = readme_shared_example()
    for old, new in names.items():
        body = body.replace(old, new)
    for args in readme_shared_commands():
        args = [a + suffix if a in ("orders", "events") else a for a in args]
        name = args[args.index("--name") + 1]
        assert "--create" in args or f'"{name}"' in body  # the README's own name
        proc = cli(*args)
        run_doctest(body, where)  # then the README's example, on the same names, as written
        if "--create" in args:
            assert proc.returncode == 0 and proc.stdout.strip() == "1", proc.stderr
            assert f'"{name}"' not in body, "the --create example is to use a name of its own"
        else:
            assert proc.returncode == 2 and "Traceback" not in proc.stderr
            assert (
                f"no SharedCounter named '{name}' on this host; --create makes one" in proc.stderr
            )
            assert not os.path.exists(f"/dev/shm/{name}")  # nothing left behind
        cleanup()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/dev/shm/{name}")


@linux_only
def test_the_command_line_draws_from_an_applications_region(tmp_path):
    from atomic_counter import SharedCounter, SharedTimeCounter

    path = str(tmp_path / "orders")
    with SharedCounter(path, base=0, now=0, interval=10) as app:
        assert app.next() == 10
        assert cli("next", "--kind", "shared", "--name", path, "-n", "2").stdout.split() == [
            "20",
            "30",
        ]
        assert app.next() == 40
        refused = cli("next", "--kind", "shared", "--name", path, "--base", "5", "--create")
        assert refused.returncode == 2 and "base 5 differs from the region's 0" in refused.stderr
        other_kind = cli("next", "--kind", "shared-time", "--name", path)
        assert other_kind.returncode == 2 and "Traceback" not in other_kind.stderr
    events = str(tmp_path / "events")
    proc = cli("next", "--kind", "shared-time", "--name", events)
    assert proc.returncode == 2
    assert f"no SharedTimeCounter named '{events}'" in proc.stderr and not os.path.exists(events)
    assert cli("next", "--kind", "shared-time", "--name", events, "--create").returncode == 0
    with SharedTimeCounter(events) as app:
        assert int(cli("next", "--kind", "shared-time", "--name", events).stdout) < app.next()


# --------------------------------------------------------------------------------------------
# Start-up


def test_next_loads_no_heavy_module(run_python):
    # `atomic-counter next`, with or without --json, loads the package and the command line
    # alone: not argparse, json, re (the figures are in docs/benchmarks.md).
    heavy = {"argparse", "json", "re", "enum", "typing", "decimal", "datetime", "importlib"}
    out = run_python(
        f"""
        import io, sys
        start = set(sys.modules)
        from atomic_counter.cli import main
        sys.stdout = io.StringIO()
        main(["next", "-n", "3"])
        main(["next", "--json", "--format", "base32"])
        main(["next", "--kind", "snowflake", "--layout", "INT64", "--json"])
        sys.stdout = sys.__stdout__
        loaded = set(sys.modules) - start
        print(sorted(m for m in loaded if m.split(".")[0] in {sorted(heavy)!r}))
        """
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "kind",
    [
        ("--kind", "snowflake", "--layout", "js_safe", "--node", "7"),  # 64 ids a ms
        (
            "--kind",
            "time",
        ),  # 4,096 ids a µs... of its 12 sequence bits
        ("--kind", "counter", "--interval", "1000"),  # 1 µs an id
    ],
    ids=["snowflake", "time", "counter"],
)
def test_runs_one_after_another_never_repeat_an_id(kind):
    """A burst of ids runs ahead of the clock, and each run starts a new counter from the
    clock: a run that printed its ids and exited at once let the next one repeat them (2,678
    of 20,000 for JS_SAFE). The command prints only once the clock has passed its last id."""
    seen: list[int] = []
    for _ in range(3):
        proc = cli("next", *kind, "-n", "20000")
        assert proc.returncode == 0, proc.stderr
        ids = [int(line) for line in proc.stdout.split()]
        assert len(ids) == 20000 and ids == sorted(set(ids))
        seen += ids
    assert len(seen) == len(set(seen))
